//! The desired table: per prefix, what the RIB wants and what podroute believes the kernel holds, plus the pending set.
//!
//! A change only marks its prefix pending; the kernel operation is derived
//! at flush time by comparing "wanted" with "held". So a change undone
//! before the flush (add then withdraw, or a next hop flapping back)
//! compares equal and never reaches the kernel.
//!
//! Sized for a million prefixes: entries are 12 octets (targets are
//! interned: a million routes share a handful of next-hop sets), an IPv4
//! slot 16 with its key (see [`super::desired_maps`]), so the table stays
//! a fraction of the size a map of full route objects would take; staging
//! time at that scale is dominated by cache and TLB misses, i.e. by bytes
//! per entry.

use std::collections::HashMap;

use ipnet::IpNet;

use super::desired_maps::{Maps, Pending};
use super::types::{KernelRoute, NextHops, RouteTarget};

/// What a podroute route in the kernel amounts to.
pub(crate) fn held_of(k: &KernelRoute) -> Held {
    k.target().map(Held::Yes).unwrap_or(Held::Other)
}

/// A podroute route the kernel holds at a prefix (at podroute's metric);
/// "holds none" is the absence of a `Held`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Held {
    Yes(RouteTarget),
    /// A podroute route that is none of the targets podroute programs
    /// (e.g. changed by hand to `unreachable`): replaced or deleted.
    Other,
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

/// An interned target: NONE, BLACKHOLE, OTHER, or a next-hop set.
type Tid = u32;
const NONE: Tid = 0;
const BLACKHOLE: Tid = 1;
const OTHER: Tid = 2;
const FIRST_SET: Tid = 3;

/// Reference-counted next-hop sets, by id.
#[derive(Debug, Default)]
struct Interner {
    slots: Vec<(Option<NextHops>, u32)>,
    index: HashMap<NextHops, Tid>,
    free: Vec<Tid>,
    /// The set interned last: the RIB hands over clones of one `Arc` for
    /// runs of routes, so a pointer compare usually skips the hashing.
    last: Option<(NextHops, Tid)>,
}

impl Interner {
    fn acquire(&mut self, t: &RouteTarget) -> Tid {
        match t {
            RouteTarget::Blackhole => BLACKHOLE,
            RouteTarget::Unicast(h) => {
                if let Some((lh, id)) = &self.last
                    && lh.ptr_eq(h)
                {
                    let id = *id;
                    self.slots[(id - FIRST_SET) as usize].1 += 1;
                    return id;
                }
                let id = match self.index.get(h) {
                    Some(&id) => id,
                    None => {
                        let id = match self.free.pop() {
                            Some(id) => id,
                            None => {
                                self.slots.push((None, 0));
                                FIRST_SET + (self.slots.len() - 1) as Tid
                            }
                        };
                        self.slots[(id - FIRST_SET) as usize].0 = Some(h.clone());
                        self.index.insert(h.clone(), id);
                        id
                    }
                };
                self.slots[(id - FIRST_SET) as usize].1 += 1;
                self.last = Some((h.clone(), id));
                id
            }
        }
    }

    fn acquire_held(&mut self, h: &Held) -> Tid {
        match h {
            Held::Other => OTHER,
            Held::Yes(t) => self.acquire(t),
        }
    }

    fn retain(&mut self, id: Tid) {
        if id >= FIRST_SET {
            self.slots[(id - FIRST_SET) as usize].1 += 1;
        }
    }

    fn release(&mut self, id: Tid) {
        if id < FIRST_SET {
            return;
        }
        let slot = &mut self.slots[(id - FIRST_SET) as usize];
        slot.1 = slot.1.saturating_sub(1);
        if slot.1 == 0
            && let Some(h) = slot.0.take()
        {
            self.index.remove(&h);
            self.free.push(id);
            if self.last.as_ref().is_some_and(|(_, l)| *l == id) {
                self.last = None;
            }
        }
    }

    fn target(&self, id: Tid) -> Option<RouteTarget> {
        match id {
            BLACKHOLE => Some(RouteTarget::Blackhole),
            id if id >= FIRST_SET => self.slots[(id - FIRST_SET) as usize]
                .0
                .clone()
                .map(RouteTarget::Unicast),
            _ => None,
        }
    }
}

const QUEUED: u8 = 1;
/// Adopted from the kernel at start and not yet confirmed by the RIB:
/// kept (and repaired) until `purge_stale`.
const STALE: u8 = 2;
/// A route of another protocol holds the same key: not installed until a
/// reconcile sees it gone.
const BLOCKED: u8 = 4;
/// During a reconcile: the kernel holds a podroute route here.
const SEEN: u8 = 8;
/// During a reconcile: a foreign route holds this prefix at podroute's
/// metric.
const FOREIGN_SAME_KEY: u8 = 16;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    wanted: Tid,
    held: Tid,
    /// Consecutive failed attempts.
    failures: u16,
    flags: u8,
    /// The prefix length: part of the key, kept in what would be padding
    /// so an IPv4 slot (address + entry) is 16 octets.
    pub(super) len: u8,
}

impl Entry {
    pub(super) fn new(len: u8) -> Self {
        Entry {
            wanted: NONE,
            held: NONE,
            failures: 0,
            flags: 0,
            len,
        }
    }
}

/// An entry's held state before a speculative [`DesiredTable::take_op`];
/// owns a reference to that state's target.
#[derive(Debug)]
pub(crate) struct Undo {
    held: Tid,
    failures: u16,
}

impl Undo {
    pub fn failures(&self) -> u16 {
        self.failures
    }
}

/// What a reconcile concluded for one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The kernel holds what is wanted.
    Fine,
    /// Wanted, but the kernel lost or changed it: queued for repair.
    Drift,
    /// Held but not wanted: queued for deletion.
    Unwanted,
}

/// The entry for `prefix`, created if absent, queued if not yet.
fn touch<'a>(maps: &'a mut Maps, pending: &mut Pending, prefix: IpNet) -> &'a mut Entry {
    let e = maps.get_or_insert(&prefix);
    if e.flags & QUEUED == 0 {
        e.flags |= QUEUED;
        pending.push(prefix);
    }
    e
}

#[derive(Debug, Default)]
pub(crate) struct DesiredTable {
    maps: Maps,
    ids: Interner,
    pending: Pending,
}

impl DesiredTable {
    pub fn mark(&mut self, prefix: IpNet) {
        touch(&mut self.maps, &mut self.pending, prefix);
    }

    pub fn set(&mut self, prefix: IpNet, target: RouteTarget) {
        let id = self.ids.acquire(&target);
        let e = touch(&mut self.maps, &mut self.pending, prefix);
        e.flags &= !STALE;
        let old = std::mem::replace(&mut e.wanted, id);
        self.ids.release(old);
    }

    pub fn remove(&mut self, prefix: IpNet) {
        if self.maps.get(&prefix).is_some() {
            let e = touch(&mut self.maps, &mut self.pending, prefix);
            e.flags &= !STALE;
            let old = std::mem::replace(&mut e.wanted, NONE);
            self.ids.release(old);
        }
    }

    /// Records a podroute route found in the kernel at start: wanted as it
    /// is, and stale until the RIB confirms or `purge_stale` runs.
    pub fn adopt(&mut self, prefix: IpNet, held: Held) {
        let hid = self.ids.acquire_held(&held);
        let e = touch(&mut self.maps, &mut self.pending, prefix);
        if e.wanted == NONE && hid != NONE && hid != OTHER {
            self.ids.retain(hid);
            e.wanted = hid;
            e.flags |= STALE;
        }
        let old = std::mem::replace(&mut e.held, hid);
        self.ids.release(old);
    }

    /// Ends graceful-restart protection: stale routes become unwanted.
    pub fn purge_stale(&mut self) -> usize {
        let stale: Vec<IpNet> = self
            .maps
            .iter()
            .filter(|(_, e)| e.flags & STALE != 0)
            .map(|(p, _)| p)
            .collect();
        for p in &stale {
            let e = touch(&mut self.maps, &mut self.pending, *p);
            e.flags &= !STALE;
            let old = std::mem::replace(&mut e.wanted, NONE);
            self.ids.release(old);
        }
        stale.len()
    }

    /// The pending prefixes. Each stays flagged as queued until
    /// [`DesiredTable::take_op`] takes it (one lookup per prefix); those
    /// not taken must go back through [`DesiredTable::restore_pending`].
    pub fn take_pending(&mut self) -> Vec<IpNet> {
        self.pending.take(None)
    }

    /// Takes the oldest `max` pending prefixes, leaving the rest pending.
    pub fn take_pending_head(&mut self, max: usize) -> Vec<IpNet> {
        self.pending.take(Some(max))
    }

    pub fn restore_pending(&mut self, untaken: &[IpNet]) {
        self.pending.restore(untaken);
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn reserve(&mut self, n: usize) {
        self.maps.reserve_v4(n);
        self.pending.reserve_v4(n);
    }

    /// Unqueues a pending prefix and returns the operation it needs. The
    /// entry is updated as if the kernel will accept it (failures are
    /// rare, and this saves a second lookup per route in a million-route
    /// flush); on success [`DesiredTable::commit`] drops the [`Undo`], on
    /// failure [`DesiredTable::undo`] puts it back.
    pub fn take_op(&mut self, prefix: &IpNet) -> Option<(Op, Undo)> {
        let e = self.maps.get_mut(prefix)?;
        e.flags &= !QUEUED;
        let op = op_of(e, &self.ids)?;
        let new = match op {
            Op::Add(_) | Op::Replace(_) => {
                self.ids.retain(e.wanted);
                e.wanted
            }
            Op::Delete => NONE,
        };
        let undo = Undo {
            held: std::mem::replace(&mut e.held, new),
            failures: e.failures,
        };
        e.failures = 0;
        Some((op, undo))
    }

    pub fn commit(&mut self, undo: Undo) {
        self.ids.release(undo.held);
    }

    pub fn undo(&mut self, prefix: &IpNet, undo: Undo) {
        match self.maps.get_mut(prefix) {
            Some(e) => {
                let cur = std::mem::replace(&mut e.held, undo.held);
                e.failures = undo.failures;
                self.ids.release(cur);
            }
            None => self.ids.release(undo.held),
        }
    }

    /// Counts one more failure; returns the count.
    pub fn bump_failures(&mut self, prefix: &IpNet) -> u16 {
        match self.maps.get_mut(prefix) {
            Some(e) => {
                e.failures = e.failures.saturating_add(1);
                e.failures
            }
            None => 0,
        }
    }

    pub fn set_blocked(&mut self, prefix: &IpNet, blocked: bool) {
        if let Some(e) = self.maps.get_mut(prefix) {
            if blocked {
                e.flags |= BLOCKED;
            } else {
                e.flags &= !BLOCKED;
            }
        }
    }

    #[cfg(test)]
    pub fn set_held(&mut self, prefix: &IpNet, held: Held) {
        let hid = self.ids.acquire_held(&held);
        let e = self.maps.get_or_insert(prefix);
        let old = std::mem::replace(&mut e.held, hid);
        self.ids.release(old);
    }

    /// Reconcile, pass 1: the kernel holds podroute route `k` at
    /// podroute's metric. One lookup; a dump arrives in address order,
    /// which the IPv4 hasher turns into sequential memory access.
    pub fn observe_ours(&mut self, k: &KernelRoute) -> Verdict {
        let e = self.maps.get_or_insert(&k.prefix);
        e.flags |= SEEN;
        let wanted = self.ids.target(e.wanted);
        // The kernel fills in what the request left open (the interface):
        // compare with `matches`, and record the wanted form when equal.
        let (seen, fine) = match &wanted {
            Some(w) if k.matches(w) => {
                self.ids.retain(e.wanted);
                (e.wanted, true)
            }
            _ => (self.ids.acquire_held(&held_of(k)), false),
        };
        let old = std::mem::replace(&mut e.held, seen);
        let changed = old != seen;
        self.ids.release(old);
        if !fine || changed {
            self.mark(k.prefix);
        }
        match (fine, wanted.is_some()) {
            (true, _) => Verdict::Fine,
            (false, true) => Verdict::Drift,
            (false, false) => Verdict::Unwanted,
        }
    }

    /// Reconcile, pass 1: a route of another protocol holds `prefix`
    /// (at podroute's metric if `same_key`). Returns whether podroute
    /// wants the prefix.
    pub fn note_foreign(&mut self, prefix: &IpNet, same_key: bool) -> bool {
        match self.maps.get_mut(prefix) {
            Some(e) => {
                if same_key {
                    e.flags |= FOREIGN_SAME_KEY;
                }
                e.wanted != NONE
            }
            None => false,
        }
    }

    /// Reconcile, pass 2: every entry the kernel holds nothing of
    /// podroute's for. Returns the number of wanted routes found missing
    /// (not counting those a foreign route blocks).
    pub fn sweep(&mut self) -> usize {
        let mut drift = 0;
        let (ids, pending) = (&mut self.ids, &mut self.pending);
        self.maps.for_each_mut(|prefix, e| {
            let seen = e.flags & SEEN != 0;
            let blocked = !seen && e.flags & FOREIGN_SAME_KEY != 0;
            e.flags &= !(SEEN | FOREIGN_SAME_KEY | BLOCKED);
            if blocked {
                e.flags |= BLOCKED;
            }
            if seen {
                return;
            }
            let mut queue = false;
            if e.held != NONE {
                ids.release(std::mem::replace(&mut e.held, NONE));
                queue = true;
            }
            if e.wanted != NONE {
                queue = true;
                if !blocked {
                    drift += 1;
                }
            }
            if queue && e.flags & QUEUED == 0 {
                e.flags |= QUEUED;
                pending.push(prefix);
            }
        });
        drift
    }

    #[cfg(test)]
    pub fn op_for(&self, prefix: &IpNet) -> Option<Op> {
        op_of(self.maps.get(prefix)?, &self.ids)
    }

    /// Drops an entry that is neither wanted nor held.
    pub fn forget_if_idle(&mut self, prefix: &IpNet) {
        if let Some(e) = self.maps.get(prefix)
            && e.wanted == NONE
            && e.held == NONE
            && e.flags & QUEUED == 0
        {
            self.maps.remove(prefix);
        }
    }

    #[cfg(test)]
    pub fn prefixes(&self) -> Vec<IpNet> {
        self.maps.iter().map(|(p, _)| p).collect()
    }

    pub fn wanted_len(&self) -> usize {
        self.maps.iter().filter(|(_, e)| e.wanted != NONE).count()
    }
}

fn op_of(e: &Entry, ids: &Interner) -> Option<Op> {
    match (e.wanted, e.held) {
        (NONE, NONE) => None,
        (NONE, _) => Some(Op::Delete),
        (_, NONE) if e.flags & BLOCKED != 0 => None,
        (w, NONE) => ids.target(w).map(Op::Add),
        (w, h) if w == h => None,
        (w, h) => {
            let want = ids.target(w)?;
            match ids.target(h) {
                Some(have) if have.satisfies(&want) => None,
                _ => Some(Op::Replace(want)),
            }
        }
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
        t.set_held(&a, Held::Yes(via("198.18.0.2")));
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
        t.set_blocked(&a, true);
        assert_eq!(t.op_for(&a), None);
    }
}

#[cfg(test)]
mod interner_tests {
    use super::*;
    use crate::fib::types::NextHop;

    #[test]
    fn sets_are_shared_and_freed() {
        let mut t = DesiredTable::default();
        let h = NextHops::single(NextHop::via("198.18.0.2".parse().unwrap())).unwrap();
        let a: IpNet = "198.19.0.0/24".parse().unwrap();
        let b: IpNet = "198.19.1.0/24".parse().unwrap();
        t.set(a, RouteTarget::Unicast(h.clone()));
        // An equal set built separately interns to the same id.
        let h2 = NextHops::single(NextHop::via("198.18.0.2".parse().unwrap())).unwrap();
        t.set(b, RouteTarget::Unicast(h2));
        assert_eq!(t.ids.index.len(), 1);
        for p in t.take_pending() {
            let (_, undo) = t.take_op(&p).unwrap();
            t.commit(undo);
        }
        assert_eq!(t.ids.slots[0].1, 4, "wanted and held of two entries");
        t.remove(a);
        t.remove(b);
        for p in t.take_pending() {
            let (op, undo) = t.take_op(&p).unwrap();
            assert_eq!(op, Op::Delete);
            t.commit(undo);
            t.forget_if_idle(&p);
        }
        assert!(t.ids.index.is_empty());
        assert!(t.prefixes().is_empty());
    }
}
