//! The desired table: per prefix, what the RIB wants and what podroute believes the kernel holds, plus the pending set.
//!
//! A change only marks its prefix pending; the kernel operation is derived
//! at flush time by comparing "wanted" with "held". So a change undone
//! before the flush (add then withdraw, or a next hop flapping back)
//! compares equal and never reaches the kernel.

use std::collections::HashMap;

use ipnet::IpNet;

use super::types::RouteTarget;

/// What the kernel holds of podroute's at a prefix (at podroute's metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Held {
    No,
    Yes(RouteTarget),
    /// A podroute route that is none of the targets podroute programs
    /// (e.g. changed by hand to `unreachable`): replaced or deleted.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub wanted: Option<RouteTarget>,
    pub held: Held,
    /// In the pending list already.
    pub queued: bool,
    /// Adopted from the kernel at start and not yet confirmed by the RIB:
    /// kept (and repaired) until `purge_stale`.
    pub stale: bool,
    /// A route of another protocol holds the same key: not installed
    /// until a reconcile sees it gone.
    pub blocked: bool,
    /// Consecutive failed attempts.
    pub failures: u32,
}

/// The kernel operation a pending prefix needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// RTM_NEWROUTE with NLM_F_CREATE|NLM_F_EXCL: never overwrites
    /// another protocol's route (EEXIST instead).
    Add(RouteTarget),
    /// RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE: hitless change of a
    /// route podroute holds.
    Replace(RouteTarget),
    /// RTM_DELROUTE matching podroute's protocol and metric.
    Delete,
}

#[derive(Debug, Default)]
pub(crate) struct DesiredTable {
    entries: HashMap<IpNet, Entry>,
    pending: Vec<IpNet>,
}

impl DesiredTable {
    fn entry(&mut self, prefix: IpNet) -> &mut Entry {
        self.entries.entry(prefix).or_insert(Entry {
            wanted: None,
            held: Held::No,
            queued: false,
            stale: false,
            blocked: false,
            failures: 0,
        })
    }

    pub fn mark(&mut self, prefix: IpNet) {
        let e = self.entry(prefix);
        if !e.queued {
            e.queued = true;
            self.pending.push(prefix);
        }
    }

    pub fn set(&mut self, prefix: IpNet, target: RouteTarget) {
        let e = self.entry(prefix);
        e.wanted = Some(target);
        e.stale = false;
        self.mark(prefix);
    }

    pub fn remove(&mut self, prefix: IpNet) {
        if let Some(e) = self.entries.get_mut(&prefix) {
            e.wanted = None;
            e.stale = false;
            self.mark(prefix);
        }
    }

    /// Records a podroute route found in the kernel at start: wanted as it
    /// is, and stale until the RIB confirms or `purge_stale` runs.
    pub fn adopt(&mut self, prefix: IpNet, held: Held) {
        let e = self.entry(prefix);
        if e.wanted.is_none() {
            e.wanted = match &held {
                Held::Yes(t) => Some(t.clone()),
                _ => None,
            };
            e.stale = e.wanted.is_some();
        }
        e.held = held;
        self.mark(prefix);
    }

    /// Records a podroute route found in the kernel that nobody wants:
    /// queued for deletion (unless the RIB asks for it before the flush).
    pub fn adopt_unwanted(&mut self, prefix: IpNet, held: Held) {
        let e = self.entry(prefix);
        e.held = held;
        self.mark(prefix);
    }

    /// Ends graceful-restart protection: stale routes become unwanted.
    pub fn purge_stale(&mut self) -> usize {
        let stale: Vec<IpNet> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stale)
            .map(|(p, _)| *p)
            .collect();
        for p in &stale {
            if let Some(e) = self.entries.get_mut(p) {
                e.stale = false;
                e.wanted = None;
            }
            self.mark(*p);
        }
        stale.len()
    }

    pub fn take_pending(&mut self) -> Vec<IpNet> {
        let pending = std::mem::take(&mut self.pending);
        for p in &pending {
            if let Some(e) = self.entries.get_mut(p) {
                e.queued = false;
            }
        }
        pending
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The operation a prefix needs now, if any.
    pub fn op_for(&self, prefix: &IpNet) -> Option<Op> {
        let e = self.entries.get(prefix)?;
        match (&e.wanted, &e.held) {
            (None, Held::No) => None,
            (None, _) => Some(Op::Delete),
            (Some(_), Held::No) if e.blocked => None,
            (Some(t), Held::No) => Some(Op::Add(t.clone())),
            (Some(t), Held::Yes(h)) if h.satisfies(t) => None,
            (Some(t), _) => Some(Op::Replace(t.clone())),
        }
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&Entry> {
        self.entries.get(prefix)
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut Entry> {
        self.entries.get_mut(prefix)
    }

    /// Drops an entry that is neither wanted nor held.
    pub fn forget_if_idle(&mut self, prefix: &IpNet) {
        if let Some(e) = self.entries.get(prefix)
            && e.wanted.is_none()
            && e.held == Held::No
            && !e.queued
        {
            self.entries.remove(prefix);
        }
    }

    pub fn prefixes(&self) -> Vec<IpNet> {
        self.entries.keys().copied().collect()
    }

    pub fn wanted_len(&self) -> usize {
        self.entries.values().filter(|e| e.wanted.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::types::{NextHop, NextHops};

    fn via(gw: &str) -> RouteTarget {
        RouteTarget::Unicast(NextHops::single(NextHop::via(gw.parse().unwrap())).unwrap())
    }

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn add_then_remove_before_flush_needs_nothing() {
        let mut t = DesiredTable::default();
        t.set(p("198.19.0.0/24"), via("198.18.0.2"));
        t.remove(p("198.19.0.0/24"));
        let pending = t.take_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(t.op_for(&pending[0]), None);
    }

    #[test]
    fn flap_back_to_held_needs_nothing() {
        let mut t = DesiredTable::default();
        let a = p("198.19.0.0/24");
        t.set(a, via("198.18.0.2"));
        t.take_pending();
        t.get_mut(&a).unwrap().held = Held::Yes(via("198.18.0.2"));
        t.set(a, via("198.18.0.3"));
        t.set(a, via("198.18.0.2"));
        t.take_pending();
        assert_eq!(t.op_for(&a), None);
        t.set(a, via("198.18.0.3"));
        assert_eq!(t.op_for(&a), Some(Op::Replace(via("198.18.0.3"))));
        t.remove(a);
        assert_eq!(t.op_for(&a), Some(Op::Delete));
    }

    #[test]
    fn stale_routes_stay_until_purged() {
        let mut t = DesiredTable::default();
        let a = p("198.19.0.0/24");
        let b = p("198.19.1.0/24");
        t.adopt(a, Held::Yes(via("198.18.0.2")));
        t.adopt(b, Held::Yes(via("198.18.0.2")));
        t.take_pending();
        assert_eq!(t.op_for(&a), None);
        t.set(b, via("198.18.0.2"));
        assert_eq!(t.purge_stale(), 1);
        assert_eq!(t.op_for(&a), Some(Op::Delete));
        assert_eq!(t.op_for(&b), None);
    }

    #[test]
    fn blocked_prefix_is_not_added() {
        let mut t = DesiredTable::default();
        let a = p("198.19.0.0/24");
        t.set(a, RouteTarget::Blackhole);
        t.get_mut(&a).unwrap().blocked = true;
        assert_eq!(t.op_for(&a), None);
    }
}
