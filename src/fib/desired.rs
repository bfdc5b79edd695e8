//! The desired table: per prefix, what the RIB wants and what podroute believes the kernel holds, plus the pending set.
//!
//! A change only marks its prefix pending; the kernel operation is derived
//! at flush time by comparing "wanted" with "held". So a change undone
//! before the flush (add then withdraw, or a next hop flapping back)
//! compares equal and never reaches the kernel.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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

/// An entry's state before a speculative [`DesiredTable::take_op`].
#[derive(Debug, Clone)]
pub(crate) struct Undo {
    pub held: Held,
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

/// A fast non-cryptographic hasher for prefixes (the table is keyed by
/// data podroute itself validated, so flooding resistance buys nothing,
/// and SipHash costs a large share of staging a million routes): an
/// FxHash-style word mix with a murmur3 finaliser, so the low bits that
/// pick a bucket depend on every input bit.
#[derive(Default, Clone, Copy)]
pub(crate) struct PrefixHasher(u64);

impl PrefixHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

type Map = HashMap<IpNet, Entry, BuildHasherDefault<PrefixHasher>>;

#[derive(Debug, Default)]
pub(crate) struct DesiredTable {
    entries: Map,
    pending: Vec<IpNet>,
}

/// The entry for `prefix`, created if absent, queued if not yet.
fn touch<'a>(entries: &'a mut Map, pending: &mut Vec<IpNet>, prefix: IpNet) -> &'a mut Entry {
    let e = entries.entry(prefix).or_insert(Entry {
        wanted: None,
        held: Held::No,
        queued: false,
        stale: false,
        blocked: false,
        failures: 0,
    });
    if !e.queued {
        e.queued = true;
        pending.push(prefix);
    }
    e
}

impl DesiredTable {
    fn entry(&mut self, prefix: IpNet) -> &mut Entry {
        touch(&mut self.entries, &mut self.pending, prefix)
    }

    pub fn mark(&mut self, prefix: IpNet) {
        self.entry(prefix);
    }

    pub fn set(&mut self, prefix: IpNet, target: RouteTarget) {
        let e = self.entry(prefix);
        e.wanted = Some(target);
        e.stale = false;
    }

    pub fn remove(&mut self, prefix: IpNet) {
        if self.entries.contains_key(&prefix) {
            let e = self.entry(prefix);
            e.wanted = None;
            e.stale = false;
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
    }

    /// Records a podroute route found in the kernel that nobody wants:
    /// queued for deletion (unless the RIB asks for it before the flush).
    pub fn adopt_unwanted(&mut self, prefix: IpNet, held: Held) {
        self.entry(prefix).held = held;
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

    /// The pending prefixes. Each stays flagged as queued until
    /// [`DesiredTable::take_op`] takes it (one lookup per prefix); those
    /// not taken must go back through [`DesiredTable::restore_pending`].
    pub fn take_pending(&mut self) -> Vec<IpNet> {
        std::mem::take(&mut self.pending)
    }

    pub fn restore_pending(&mut self, untaken: &[IpNet]) {
        self.pending.extend_from_slice(untaken);
    }

    /// Unqueues a pending prefix and returns the operation it needs. The
    /// entry is updated as if the kernel will accept it (failures are
    /// rare, and this saves a second lookup per route in a million-route
    /// flush); [`DesiredTable::undo`] puts the returned state back if it
    /// does not.
    pub fn take_op(&mut self, prefix: &IpNet) -> Option<(Op, Undo)> {
        let e = self.entries.get_mut(prefix)?;
        e.queued = false;
        let op = op_of(e)?;
        let new = match &op {
            Op::Add(t) | Op::Replace(t) => Held::Yes(t.clone()),
            Op::Delete => Held::No,
        };
        let undo = Undo {
            held: std::mem::replace(&mut e.held, new),
            failures: e.failures,
        };
        e.failures = 0;
        Some((op, undo))
    }

    /// Reverts a [`DesiredTable::take_op`] whose operation did not happen.
    /// Returns the entry for further marks.
    pub fn undo(&mut self, prefix: &IpNet, undo: Undo) -> Option<&mut Entry> {
        let e = self.entries.get_mut(prefix)?;
        e.held = undo.held;
        e.failures = undo.failures;
        Some(e)
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
        self.pending.reserve(n);
    }

    #[cfg(test)]
    pub fn op_for(&self, prefix: &IpNet) -> Option<Op> {
        op_of(self.entries.get(prefix)?)
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

fn op_of(e: &Entry) -> Option<Op> {
    match (&e.wanted, &e.held) {
        (None, Held::No) => None,
        (None, _) => Some(Op::Delete),
        (Some(_), Held::No) if e.blocked => None,
        (Some(t), Held::No) => Some(Op::Add(t.clone())),
        (Some(t), Held::Yes(h)) if h.satisfies(t) => None,
        (Some(t), _) => Some(Op::Replace(t.clone())),
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

    /// What a flush does with the pending list: the ops, in order.
    fn drain(t: &mut DesiredTable) -> Vec<Option<Op>> {
        t.take_pending()
            .iter()
            .map(|p| t.take_op(p).map(|(op, _)| op))
            .collect()
    }

    #[test]
    fn add_then_remove_before_flush_needs_nothing() {
        let mut t = DesiredTable::default();
        t.set(p("198.19.0.0/24"), via("198.18.0.2"));
        t.remove(p("198.19.0.0/24"));
        assert_eq!(drain(&mut t), vec![None]);
    }

    #[test]
    fn flap_back_to_held_needs_nothing() {
        let mut t = DesiredTable::default();
        let a = p("198.19.0.0/24");
        t.set(a, via("198.18.0.2"));
        drain(&mut t);
        t.get_mut(&a).unwrap().held = Held::Yes(via("198.18.0.2"));
        t.set(a, via("198.18.0.3"));
        t.set(a, via("198.18.0.2"));
        drain(&mut t);
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
        drain(&mut t);
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
