//! The attributes a route reflector sends on, built once per learned attribute set and shared by every client it goes to.
//!
//! Reflection (RFC 4456 §8) adds ORIGINATOR_ID and our CLUSTER_ID to the
//! learned attributes. Built per client and per prefix, a reflector of 100
//! clients each announcing its pod CIDR held 10,000 copies in its
//! Adj-RIBs-Out (~70 KiB per session in `scripts/bench-converge.sh`); the
//! result depends only on the learned set, the originator and the NEXT_HOP
//! attribute (set for IPv4 prefixes), so one copy serves them all.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::bgp::attribute::PathAttributes;
use crate::bgp::types::RouterId;

/// The learned set by identity. The entry keeps the set alive, so its
/// address cannot be reused by another set while the entry exists.
type Key = (usize, RouterId, Option<Ipv4Addr>);

struct Entry {
    learned: Arc<PathAttributes>,
    sent: Arc<PathAttributes>,
}

#[derive(Default)]
pub(super) struct Reflected {
    cache: RefCell<HashMap<Key, Entry>>,
    /// Size after the last sweep: the next one runs at twice that.
    swept_at: RefCell<usize>,
}

impl std::fmt::Debug for Reflected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflected")
            .field("entries", &self.cache.borrow().len())
            .finish()
    }
}

impl Reflected {
    /// The attributes to reflect `learned` with, built by `build` the
    /// first time this (set, originator, NEXT_HOP) is seen.
    pub fn get(
        &self,
        learned: &Arc<PathAttributes>,
        originator: RouterId,
        next_hop: Option<Ipv4Addr>,
        build: impl FnOnce() -> PathAttributes,
    ) -> Arc<PathAttributes> {
        let key = (Arc::as_ptr(learned) as usize, originator, next_hop);
        let mut cache = self.cache.borrow_mut();
        if let Some(e) = cache.get(&key)
            && Arc::ptr_eq(&e.learned, learned)
        {
            return e.sent.clone();
        }
        let sent = Arc::new(build());
        cache.insert(
            key,
            Entry {
                learned: learned.clone(),
                sent: sent.clone(),
            },
        );
        let mut swept_at = self.swept_at.borrow_mut();
        if cache.len() > 2 * (*swept_at).max(64) {
            // Entries only we hold: the route is gone and no Adj-RIB-Out
            // refers to what was sent.
            cache
                .retain(|_, e| Arc::strong_count(&e.learned) > 1 || Arc::strong_count(&e.sent) > 1);
            *swept_at = cache.len();
        }
        sent
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.cache.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_learned_set_and_next_hop() {
        let r = Reflected::default();
        let learned = Arc::new(PathAttributes::default());
        let id = RouterId(Ipv4Addr::new(192, 0, 2, 1));
        let nh = Some(Ipv4Addr::new(192, 0, 2, 1));
        let mut built = 0;
        let a = r.get(&learned, id, nh, || {
            built += 1;
            PathAttributes::default()
        });
        let b = r.get(&learned, id, nh, || {
            built += 1;
            PathAttributes::default()
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(built, 1);
        let other = Some(Ipv4Addr::new(192, 0, 2, 9));
        let c = r.get(&learned, id, other, PathAttributes::default);
        assert!(!Arc::ptr_eq(&a, &c), "another next hop is another set");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn entries_nobody_uses_are_swept() {
        let r = Reflected::default();
        let id = RouterId(Ipv4Addr::new(192, 0, 2, 1));
        let nh = None;
        let kept = Arc::new(PathAttributes::default());
        let _sent = r.get(&kept, id, nh, PathAttributes::default);
        for _ in 0..1000 {
            // Learned and dropped at once: nothing refers to it after.
            let gone = Arc::new(PathAttributes::default());
            drop(r.get(&gone, id, nh, PathAttributes::default));
        }
        assert!(r.len() <= 130, "{}", r.len());
        let again = r.get(&kept, id, nh, || unreachable!("still cached"));
        assert!(Arc::ptr_eq(&again, &_sent));
    }
}
