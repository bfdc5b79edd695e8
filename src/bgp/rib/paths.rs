//! The candidate paths of one Loc-RIB destination, in 16 octets: nearly every prefix has exactly one.

use std::ops::{Deref, DerefMut};

use super::loc_rib::Path;

/// A destination's paths. One path is held inline (no allocation per
/// prefix); several (other peers, ADD-PATH) go to the heap. 16 octets, the
/// size of one `Path`: the variant tag lives in the niche of `Path::stale`,
/// where a `SmallVec<[Path; 1]>` would add an 8-octet capacity word — at a
/// million prefixes, 8 MB of entries and twice that of table.
#[derive(Debug, Clone, Default)]
pub enum Paths {
    #[default]
    Empty,
    One(Path),
    /// Always two or more.
    Many(Box<Vec<Path>>),
}

const _: () = assert!(std::mem::size_of::<Paths>() == std::mem::size_of::<Path>());

impl Paths {
    pub fn as_slice(&self) -> &[Path] {
        match self {
            Paths::Empty => &[],
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Path] {
        match self {
            Paths::Empty => &mut [],
            Paths::One(p) => std::slice::from_mut(p),
            Paths::Many(v) => v,
        }
    }

    pub fn push(&mut self, path: Path) {
        *self = match std::mem::take(self) {
            Paths::Empty => Paths::One(path),
            Paths::One(first) => Paths::Many(Box::new(vec![first, path])),
            Paths::Many(mut v) => {
                v.push(path);
                Paths::Many(v)
            }
        };
    }

    /// Keeps the paths `keep` approves, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) {
        match self {
            Paths::Empty => {}
            Paths::One(p) => {
                if !keep(p) {
                    *self = Paths::Empty;
                }
            }
            Paths::Many(v) => {
                v.retain(|p| keep(p));
                self.settle();
            }
        }
    }

    /// Removes the path at `index` (the last one takes its place).
    pub fn swap_remove(&mut self, index: usize) -> Path {
        match std::mem::take(self) {
            Paths::Empty => panic!("swap_remove index {index} of no paths"),
            Paths::One(p) => {
                assert_eq!(index, 0, "swap_remove index {index} of one path");
                p
            }
            Paths::Many(mut v) => {
                let p = v.swap_remove(index);
                *self = Paths::Many(v);
                self.settle();
                p
            }
        }
    }

    /// Back to the inline forms when a heap list shrinks to one or none.
    fn settle(&mut self) {
        if let Paths::Many(v) = self
            && v.len() < 2
        {
            *self = match v.pop() {
                Some(p) => Paths::One(p),
                None => Paths::Empty,
            };
        }
    }
}

impl Deref for Paths {
    type Target = [Path];

    fn deref(&self) -> &[Path] {
        self.as_slice()
    }
}

impl DerefMut for Paths {
    fn deref_mut(&mut self) -> &mut [Path] {
        self.as_mut_slice()
    }
}

impl PartialEq for Paths {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Paths {}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::bgp::rib::{Reachability, RouteAttrs};

    fn path(peer: u16) -> Path {
        let attrs = Arc::new(RouteAttrs::new(
            Arc::default(),
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
            Reachability::new(),
        ));
        Path {
            peer,
            path_id: 0,
            stale: false,
            attrs,
        }
    }

    #[test]
    fn grows_to_the_heap_and_back() {
        let mut p = Paths::default();
        assert!(p.is_empty());
        p.push(path(1));
        assert!(matches!(p, Paths::One(_)));
        p.push(path(2));
        p.push(path(3));
        assert_eq!(p.iter().map(|x| x.peer).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(p.swap_remove(0).peer, 1);
        assert_eq!(p.iter().map(|x| x.peer).collect::<Vec<_>>(), [3, 2]);
        p.retain(|x| x.peer != 3);
        assert!(matches!(p, Paths::One(ref x) if x.peer == 2));
        p[0].stale = true;
        assert!(p[0].stale);
        p.retain(|_| false);
        assert!(matches!(p, Paths::Empty));
    }
}
