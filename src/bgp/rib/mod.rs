//! The RIB: Adj-RIB-In per peer, import policy, Loc-RIB with best path and ECMP, Adj-RIB-Out per peer — one single-writer state, pure.
//!
//! The agent's RIB task owns one [`Rib`] and feeds it what the peer tasks
//! report; every call returns [`RibOutput`]s: kernel route changes for the
//! FIB task and encoded UPDATEs for peer tasks. No locks, no I/O here, so the
//! whole route logic is unit-tested with plain values.

mod export;
mod import;
mod loc_rib;
mod paths;
mod reflected;
mod stale;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bytes::Bytes;
use ipnet::IpNet;

pub use export::PeerOut;
use export::family_of;
pub use import::{ImportPolicy, Rejection};
pub use loc_rib::{Dest, LocRib, Path, Reachability, RouteAttrs};
pub use paths::Paths;

use super::attribute::{MpNextHop, Origin};
use super::best_path::{Candidate, select};
use super::context::CodecContext;
use super::nlri::Nlri;
use super::types::{Asn, Family, RouterId};
use super::update::Update;
use crate::control::RouteView;

/// The RIB's fixed configuration.
#[derive(Debug, Clone)]
pub struct RibConfig {
    pub local_asn: Asn,
    pub router_id: RouterId,
    /// RFC 4456 §7 cluster ID, used when reflecting.
    pub cluster_id: Ipv4Addr,
    /// The node's own pod prefixes, originated to every peer.
    pub own_prefixes: Vec<IpNet>,
    pub import: ImportPolicy,
    /// Install every equal-cost path, not just the best.
    pub ecmp: bool,
}

/// What the RIB knows about an established peer.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub address: IpAddr,
    pub asn: Asn,
    /// The peer's BGP Identifier, from its OPEN.
    pub router_id: RouterId,
    /// Our address on this session: the NEXT_HOP we announce.
    pub local_address: IpAddr,
    pub route_reflector_client: bool,
    pub next_hop_self: bool,
    pub allow_own_as: u8,
    /// Families negotiated on the session.
    pub families: Vec<Family>,
    /// Prefix limit and the count at which to warn.
    pub max_prefixes: Option<PrefixLimit>,
    /// How to encode what we send.
    pub send: CodecContext,
}

impl PeerInfo {
    pub fn is_ebgp(&self, local: Asn) -> bool {
        self.asn != local
    }
}

/// A list of BGP next hops, shared between the prefixes that have it.
pub type NextHops = Arc<[IpAddr]>;

/// A peer's prefix limit (RFC 4486 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixLimit {
    pub limit: u32,
    /// Accepted prefixes at which a warning is logged and counted.
    pub warning_at: u32,
}

/// A change for the kernel: the next hops `prefix` should have; empty means
/// remove the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibChange {
    pub prefix: IpNet,
    pub next_hops: NextHops,
}

impl FibChange {
    /// Remove `prefix` from the kernel.
    pub fn remove(prefix: IpNet) -> Self {
        FibChange {
            prefix,
            next_hops: no_next_hops(),
        }
    }
}

/// Work the RIB hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum RibOutput {
    Fib(FibChange),
    /// Whole encoded messages for an established peer, in order.
    Send {
        peer: IpAddr,
        messages: Vec<Bytes>,
    },
    /// The peer sent more prefixes than its limit: close the session with
    /// this Cease/Maximum Number of Prefixes Reached.
    PrefixLimitExceeded {
        peer: IpAddr,
        notification: super::notification::Notification,
    },
    /// A next hop the RIB has not seen before: the FIB should tell, now
    /// and whenever it changes, whether it resolves
    /// ([`Rib::next_hop_reachability`]).
    TrackNextHop(IpAddr),
}

/// Per-peer counters, for `podroute show neighbors`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounts {
    pub received: u64,
    pub accepted: u64,
    pub advertised: u64,
    /// Times the accepted count reached the warning threshold.
    pub limit_warnings: u64,
    /// Paths kept as stale while the peer restarts.
    pub stale: u64,
}

/// One peer slot: the index its paths carry.
#[derive(Debug)]
struct PeerSlot {
    info: PeerInfo,
    out: PeerOut,
    /// Prefixes the peer announced that policy refused (kept only to count
    /// them and to forget them on withdrawal).
    rejected: std::collections::HashSet<(IpNet, u32)>,
    accepted: u64,
    limit_warnings: u64,
    /// Above the warning threshold now (a warning is counted per crossing).
    warned: bool,
    /// The limit was exceeded (in this family): reported once.
    over_limit: Option<Family>,
    limit_reported: bool,
    /// The session is Established. A slot whose session ended stays while
    /// graceful restart keeps the peer's routes as stale.
    up: bool,
    /// Our initial table is held back until the end of our own restart
    /// (RFC 4724 §4.1: the restarting speaker defers its advertisements).
    deferred: bool,
    /// Some of the peer's paths may be stale (set by a graceful session
    /// end, cleared once a sweep finds none): spares the full scans
    /// otherwise.
    may_have_stale: bool,
}

impl PeerSlot {
    /// The peer has an established session that hears our updates now.
    fn hears_updates(&self) -> bool {
        self.up && !self.deferred
    }
}

/// The whole routing state.
#[derive(Debug)]
pub struct Rib {
    config: RibConfig,
    loc: LocRib,
    /// Slot index → peer; paths refer to peers by index to stay small.
    slots: Vec<Option<PeerSlot>>,
    by_addr: HashMap<IpAddr, u16>,
    /// Every next hop seen, with its shared reachability flag.
    next_hops: HashMap<IpAddr, Reachability>,
    /// Attributes as reflected, shared by the clients they go to.
    reflected: reflected::Reflected,
}

impl Rib {
    pub fn new(config: RibConfig) -> Self {
        Rib {
            config,
            loc: LocRib::default(),
            slots: Vec::new(),
            by_addr: HashMap::new(),
            next_hops: HashMap::new(),
            reflected: reflected::Reflected::default(),
        }
    }

    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Replaces the import policy. Routes already accepted are judged again
    /// when their peer re-sends them (the agent asks with ROUTE-REFRESH).
    pub fn set_import(&mut self, import: ImportPolicy) {
        self.config.import = import;
    }

    /// Number of prefixes in the Loc-RIB.
    pub fn len(&self) -> usize {
        self.loc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.loc.is_empty()
    }

    pub fn counts(&self, peer: IpAddr) -> Option<PeerCounts> {
        let slot = self.slot(peer)?;
        Some(PeerCounts {
            received: slot.accepted + slot.rejected.len() as u64,
            accepted: slot.accepted,
            advertised: slot.out.len() as u64,
            limit_warnings: slot.limit_warnings,
            stale: self.stale_count(peer),
        })
    }

    fn slot(&self, peer: IpAddr) -> Option<&PeerSlot> {
        let i = *self.by_addr.get(&peer)?;
        self.slots.get(usize::from(i))?.as_ref()
    }

    /// A session came up: remember the peer, send it our table and End-of-RIB.
    pub fn peer_up(&mut self, info: PeerInfo) -> Vec<RibOutput> {
        self.session_up(info, false)
    }

    /// A session came up while we are restarting: remember the peer, and
    /// send it our table only with [`Rib::release_deferred`].
    pub fn peer_up_deferred(&mut self, info: PeerInfo) -> Vec<RibOutput> {
        self.session_up(info, true)
    }

    fn session_up(&mut self, info: PeerInfo, deferred: bool) -> Vec<RibOutput> {
        let mut out = Vec::new();
        let addr = info.address;
        let kept = self
            .slot(addr)
            .is_some_and(|s| !s.up)
            .then(|| self.by_addr[&addr]);
        let index16 = match kept {
            // Graceful restart: the stale paths stay attached to the slot
            // until the peer re-announces them or its End-of-RIB arrives.
            Some(i) => i,
            None => {
                if self.by_addr.contains_key(&addr) {
                    out.extend(self.peer_down(addr));
                }
                let index = match self.slots.iter().position(Option::is_none) {
                    Some(i) => i,
                    None => {
                        self.slots.push(None);
                        self.slots.len() - 1
                    }
                };
                let Ok(index16) = u16::try_from(index) else {
                    tracing::error!(peer = %addr, "more than 65535 peers; ignoring this one");
                    return out;
                };
                index16
            }
        };
        let accepted = kept
            .and_then(|i| self.slots[usize::from(i)].as_ref())
            .map_or(0, |s| s.accepted);
        self.by_addr.insert(addr, index16);
        self.slots[usize::from(index16)] = Some(PeerSlot {
            out: PeerOut::default(),
            info,
            rejected: Default::default(),
            accepted,
            limit_warnings: 0,
            warned: false,
            over_limit: None,
            limit_reported: false,
            up: true,
            deferred,
            may_have_stale: kept.is_some(),
        });
        if !deferred {
            out.extend(self.send_initial(index16));
        }
        out
    }

    /// Our whole table and End-of-RIB, to a peer that just came up.
    fn send_initial(&mut self, index: u16) -> Vec<RibOutput> {
        let Some(addr) = self
            .slots
            .get(usize::from(index))
            .and_then(|s| s.as_ref())
            .map(|s| s.info.address)
        else {
            return Vec::new();
        };
        let prefixes = self.exportable_prefixes();
        let messages = self.export_to(index, prefixes.into_iter(), true);
        if messages.is_empty() {
            return Vec::new();
        }
        vec![RibOutput::Send {
            peer: addr,
            messages,
        }]
    }

    /// Every prefix a peer may hear of: the node's own, then the Loc-RIB's.
    fn exportable_prefixes(&self) -> Vec<IpNet> {
        self.config
            .own_prefixes
            .iter()
            .copied()
            .chain(self.loc.keys())
            .collect()
    }

    /// The session ended: everything learned from the peer goes.
    pub fn peer_down(&mut self, peer: IpAddr) -> Vec<RibOutput> {
        let Some(&index) = self.by_addr.get(&peer) else {
            return Vec::new();
        };
        // The slot stays until every path is gone, so the state before each
        // removal is judged with the peer still known.
        let batch = self.remove_paths(index, |_, _| true);
        self.by_addr.remove(&peer);
        self.slots[usize::from(index)] = None;
        self.finish(batch)
    }

    /// Removes the paths of peer `index` that `doomed` picks, keeping the
    /// accepted count right.
    fn remove_paths(&mut self, index: u16, doomed: impl Fn(IpNet, &Path) -> bool) -> Batch {
        let affected: Vec<IpNet> = self
            .loc
            .iter()
            .filter(|(prefix, d)| {
                d.paths
                    .iter()
                    .any(|p| p.peer == index && doomed(*prefix, p))
            })
            .map(|(p, _)| p)
            .collect();
        let mut batch = Batch::default();
        let mut removed = 0u64;
        for prefix in affected {
            self.change(prefix, false, &mut batch, |d| {
                let before = d.paths.len();
                d.paths.retain(|p| !(p.peer == index && doomed(prefix, p)));
                removed += (before - d.paths.len()) as u64;
                Edit::Removed
            });
        }
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
            slot.accepted = slot.accepted.saturating_sub(removed);
        }
        batch
    }

    /// UPDATEs from an established peer, in arrival order.
    pub fn updates(&mut self, peer: IpAddr, updates: &[Update]) -> Vec<RibOutput> {
        let Some(&index) = self.by_addr.get(&peer) else {
            return Vec::new();
        };
        let mut batch = Batch::default();
        for update in updates {
            if let Some(family) = update.end_of_rib_family() {
                // RFC 4724 §4.2: End-of-RIB ends the peer's restart: what it
                // did not re-announce is gone.
                self.purge_stale_into(index, Some(family), &mut batch);
                continue;
            }
            for (_, nlri) in update.withdrawals() {
                self.withdraw(index, nlri, &mut batch);
            }
            // One shared attribute set per next hop: the NLRI field and
            // MP_REACH may carry different ones.
            let mut shared: Vec<Arc<RouteAttrs>> = Vec::with_capacity(2);
            for (family, nlri) in update.announced() {
                let Some(next_hop) = next_hop_of(update, family) else {
                    continue;
                };
                let attrs = match shared.iter().find(|a| a.next_hop == next_hop) {
                    Some(a) => a.clone(),
                    None => {
                        let reachable = match self.next_hops.get(&next_hop) {
                            Some(r) => r.clone(),
                            None => {
                                let r = Reachability::new();
                                self.next_hops.insert(next_hop, r.clone());
                                batch.track.push(next_hop);
                                r
                            }
                        };
                        let a = Arc::new(RouteAttrs::new(
                            update.attributes.clone(),
                            next_hop,
                            reachable,
                        ));
                        shared.push(a.clone());
                        a
                    }
                };
                self.announce(index, nlri, attrs, &mut batch);
            }
        }
        self.finish(batch)
    }

    fn withdraw(&mut self, index: u16, nlri: &Nlri, batch: &mut Batch) {
        let path_id = nlri.path_id.unwrap_or(0);
        let Some(slot) = self.slots[usize::from(index)].as_mut() else {
            return;
        };
        if !slot.rejected.is_empty() && slot.rejected.remove(&(nlri.prefix, path_id)) {
            return;
        }
        self.remove_path(index, nlri.prefix, path_id, batch);
    }

    fn announce(&mut self, index: u16, nlri: &Nlri, attrs: Arc<RouteAttrs>, batch: &mut Batch) {
        let path_id = nlri.path_id.unwrap_or(0);
        let Some(slot) = self.slots[usize::from(index)].as_mut() else {
            return;
        };
        let verdict = self
            .config
            .import
            .check(&self.config, &slot.info, &nlri.prefix, &attrs);
        if let Err(why) = verdict {
            tracing::debug!(peer = %slot.info.address, prefix = %nlri.prefix, reason = ?why, "route refused by import policy");
            slot.rejected.insert((nlri.prefix, path_id));
            // A refused re-announcement replaces the accepted path it updates.
            self.remove_path(index, nlri.prefix, path_id, batch);
            return;
        }
        if !slot.rejected.is_empty() {
            slot.rejected.remove(&(nlri.prefix, path_id));
        }
        let path = Path {
            peer: index,
            path_id,
            stale: false,
            attrs,
        };
        let edit = self.change(nlri.prefix, true, batch, |d| {
            match d
                .paths
                .iter_mut()
                .find(|p| p.peer == index && p.path_id == path_id)
            {
                Some(existing) => {
                    *existing = path;
                    Edit::Replaced
                }
                None => {
                    d.paths.push(path);
                    Edit::Added
                }
            }
        });
        if edit == Edit::Added
            && let Some(slot) = self.slots[usize::from(index)].as_mut()
        {
            slot.accepted += 1;
            if let Some(limit) = slot.info.max_prefixes {
                let n = slot.accepted;
                if n >= u64::from(limit.warning_at) && !slot.warned {
                    slot.warned = true;
                    slot.limit_warnings += 1;
                    tracing::warn!(peer = %slot.info.address, accepted = n, limit = limit.limit, "prefix count reached the warning threshold");
                }
                if n > u64::from(limit.limit) && slot.over_limit.is_none() {
                    slot.over_limit = Some(family_of(&nlri.prefix));
                }
            }
        }
    }

    /// Removes the accepted path `(index, path_id)` of `prefix`.
    fn remove_path(&mut self, index: u16, prefix: IpNet, path_id: u32, batch: &mut Batch) {
        let edit = self.change(prefix, false, batch, |d| {
            match d
                .paths
                .iter()
                .position(|p| p.peer == index && p.path_id == path_id)
            {
                Some(pos) => {
                    d.paths.swap_remove(pos);
                    Edit::Removed
                }
                None => Edit::None,
            }
        });
        if edit == Edit::Removed
            && let Some(slot) = self.slots[usize::from(index)].as_mut()
        {
            slot.accepted = slot.accepted.saturating_sub(1);
            if slot
                .info
                .max_prefixes
                .is_some_and(|l| slot.accepted < u64::from(l.warning_at))
            {
                slot.warned = false;
            }
        }
    }

    /// Applies `edit` to the destination of `prefix` (created if `create`),
    /// and records what it changed: a kernel change where the next hops
    /// moved, a re-advertisement where the best path moved.
    fn change(
        &mut self,
        prefix: IpNet,
        create: bool,
        batch: &mut Batch,
        edit: impl FnOnce(&mut Dest) -> Edit,
    ) -> Edit {
        let Rib {
            loc, slots, config, ..
        } = self;
        let dest = if create {
            loc.entry(prefix)
        } else {
            match loc.get_mut(&prefix) {
                Some(d) => d,
                None => return Edit::None,
            }
        };
        let before = Snapshot::of(dest, slots, config);
        let what = edit(dest);
        before.record_change(prefix, dest, slots, config, batch);
        if dest.paths.is_empty() {
            loc.remove(&prefix);
        }
        what
    }

    /// Turns a batch into outputs: kernel changes first, then the UPDATEs
    /// every peer needs for the prefixes whose best path moved.
    fn finish(&mut self, batch: Batch) -> Vec<RibOutput> {
        let Batch {
            mut out,
            best_moved,
            track,
        } = batch;
        out.extend(track.into_iter().map(RibOutput::TrackNextHop));
        for slot in self.slots.iter_mut().flatten() {
            if let (Some(family), Some(limit)) = (slot.over_limit, slot.info.max_prefixes)
                && !slot.limit_reported
            {
                slot.limit_reported = true;
                tracing::warn!(peer = %slot.info.address, limit = limit.limit, %family, "maximum number of prefixes exceeded: closing the session");
                out.push(RibOutput::PrefixLimitExceeded {
                    peer: slot.info.address,
                    notification: super::notification::Notification::max_prefixes(
                        family,
                        limit.limit,
                    ),
                });
            }
        }
        if !best_moved.is_empty() {
            let peers: Vec<(u16, IpAddr)> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let s = s.as_ref().filter(|s| s.hears_updates())?;
                    Some((u16::try_from(i).ok()?, s.info.address))
                })
                .collect();
            for (index, addr) in peers {
                let messages = self.export_to(index, best_moved.iter().copied(), false);
                if !messages.is_empty() {
                    out.push(RibOutput::Send {
                        peer: addr,
                        messages,
                    });
                }
            }
        }
        out
    }

    /// The FIB found that `next_hop` does (or no longer does) resolve in the
    /// kernel: paths through it become eligible or ineligible, and the
    /// prefixes using it are decided again.
    pub fn next_hop_reachability(
        &mut self,
        next_hop: IpAddr,
        reachable: bool,
        metric: u32,
    ) -> Vec<RibOutput> {
        let Some(flag) = self.next_hops.get(&next_hop).cloned() else {
            return Vec::new();
        };
        if flag.get() == reachable && flag.metric() == metric {
            return Vec::new();
        }
        let affected: Vec<IpNet> = self
            .loc
            .iter()
            .filter(|(_, d)| d.paths.iter().any(|p| p.attrs.next_hop == next_hop))
            .map(|(p, _)| p)
            .collect();
        let before: Vec<(IpNet, Snapshot)> = affected
            .into_iter()
            .filter_map(|p| {
                Some((
                    p,
                    Snapshot::of(self.loc.get(&p)?, &self.slots, &self.config),
                ))
            })
            .collect();
        flag.set(reachable, metric);
        tracing::info!(%next_hop, reachable, metric, prefixes = before.len(), "next hop resolution changed");
        let mut batch = Batch::default();
        for (prefix, snapshot) in before {
            if let Some(dest) = self.loc.get(&prefix) {
                snapshot.record_change(prefix, dest, &self.slots, &self.config, &mut batch);
            }
        }
        self.finish(batch)
    }

    /// The Loc-RIB as `podroute show routes` prints it, sorted by prefix.
    pub fn routes(&self) -> Vec<RouteView> {
        let mut v: Vec<RouteView> = self
            .loc
            .iter()
            .filter_map(|(prefix, dest)| {
                // A destination without an eligible path is still shown,
                // with the path that would win and `reachable: false`.
                let (best, reachable) = match best_path(dest, &self.slots, &self.config) {
                    Some(b) => (b, true),
                    None => (
                        &dest.paths[decide(dest, &self.slots, &self.config, false)?.0],
                        false,
                    ),
                };
                let attrs = &best.attrs.attrs;
                let from = self
                    .slots
                    .get(usize::from(best.peer))?
                    .as_ref()?
                    .info
                    .address;
                Some(RouteView {
                    prefix,
                    best: if reachable {
                        fib_next_hops(dest, &self.slots, &self.config).to_vec()
                    } else {
                        vec![best.attrs.next_hop]
                    },
                    reachable,
                    stale: best.stale,
                    as_path: attrs
                        .as_path
                        .iter()
                        .flat_map(|p| p.asns())
                        .map(|a| a.0)
                        .collect(),
                    local_pref: effective_local_pref(best, &self.slots, &self.config),
                    origin: origin_name(attrs.origin),
                    from: Some(from),
                })
            })
            .chain(self.config.own_prefixes.iter().map(|p| RouteView {
                prefix: *p,
                best: Vec::new(),
                as_path: Vec::new(),
                local_pref: DEFAULT_LOCAL_PREF,
                origin: "igp".into(),
                from: None,
                reachable: true,
                stale: false,
            }))
            .collect();
        v.sort_by_key(|a| a.prefix);
        v
    }

    /// The next hops the kernel should have for every Loc-RIB prefix: the
    /// full desired table, for reconciliation.
    pub fn desired_fib(&self) -> Vec<FibChange> {
        self.loc
            .iter()
            .map(|(prefix, dest)| FibChange {
                prefix,
                next_hops: fib_next_hops(dest, &self.slots, &self.config),
            })
            .filter(|c| !c.next_hops.is_empty())
            .collect()
    }
}

/// Indexes of the paths that share traffic; inline for the usual few, so
/// deciding a single-path prefix allocates nothing.
type Multipath = smallvec::SmallVec<[usize; 4]>;

/// What one batch of path changes produced so far.
#[derive(Debug, Default)]
struct Batch {
    out: Vec<RibOutput>,
    /// Next hops seen for the first time.
    track: Vec<IpAddr>,
    /// Prefixes whose best path changed: to re-advertise.
    best_moved: Vec<IpNet>,
}

/// What an edit did to a destination's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    None,
    Added,
    Replaced,
    Removed,
}

/// Identifies the best path (its peer, path ID and attribute set), to
/// notice when it moves without cloning it.
type BestKey = Option<(u16, u32, *const RouteAttrs)>;

/// What a destination looks like to the kernel and to peers, before a change.
struct Snapshot {
    hops: NextHops,
    best: BestKey,
}

impl Snapshot {
    fn of(dest: &Dest, slots: &[Option<PeerSlot>], config: &RibConfig) -> Self {
        Snapshot {
            hops: fib_next_hops(dest, slots, config),
            best: best_key(dest, slots, config),
        }
    }

    /// Records in `batch` what changed since the snapshot: a kernel change
    /// where the next hops moved, a re-advertisement where the best path did.
    fn record_change(
        self,
        prefix: IpNet,
        dest: &Dest,
        slots: &[Option<PeerSlot>],
        config: &RibConfig,
        batch: &mut Batch,
    ) {
        let hops = fib_next_hops(dest, slots, config);
        if hops != self.hops {
            batch.out.push(RibOutput::Fib(FibChange {
                prefix,
                next_hops: hops,
            }));
        }
        if best_key(dest, slots, config) != self.best {
            batch.best_moved.push(prefix);
        }
    }
}

fn best_key(dest: &Dest, slots: &[Option<PeerSlot>], config: &RibConfig) -> BestKey {
    best_path(dest, slots, config).map(|p| (p.peer, p.path_id, Arc::as_ptr(&p.attrs)))
}

/// LOCAL_PREF given to routes that carry none (eBGP, RFC 4271 §5.1.5).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

fn origin_name(o: Option<Origin>) -> String {
    match o {
        Some(Origin::Igp) => "igp".into(),
        Some(Origin::Egp) => "egp".into(),
        Some(Origin::Incomplete) | None => "incomplete".into(),
        Some(Origin::Unknown(v)) => format!("unknown({v})"),
    }
}

fn next_hop_of(update: &Update, family: Family) -> Option<IpAddr> {
    if family == Family::IPV4_UNICAST && update.mp_reach.as_ref().is_none_or(|r| r.family != family)
    {
        return update.attributes.next_hop.map(IpAddr::V4);
    }
    match &update.mp_reach.as_ref()?.next_hop {
        MpNextHop::V4(a) => Some(IpAddr::V4(*a)),
        // A global address is routable from anywhere on the segment; a
        // link-local one alone needs the interface, which the FIB resolves.
        MpNextHop::V6 { global, link_local } => {
            if global.is_unspecified() {
                link_local.map(IpAddr::V6)
            } else {
                Some(IpAddr::V6(*global))
            }
        }
        MpNextHop::Raw(_) => None,
    }
}

fn effective_local_pref(path: &Path, slots: &[Option<PeerSlot>], config: &RibConfig) -> u32 {
    let ebgp = slots
        .get(usize::from(path.peer))
        .and_then(|s| s.as_ref())
        .is_some_and(|s| s.info.is_ebgp(config.local_asn));
    if ebgp {
        DEFAULT_LOCAL_PREF
    } else {
        path.attrs.attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
    }
}

fn candidate(path: &Path, slots: &[Option<PeerSlot>], config: &RibConfig) -> Option<Candidate> {
    let peer = slots.get(usize::from(path.peer))?.as_ref()?;
    let a = &path.attrs.attrs;
    Some(Candidate {
        local_pref: effective_local_pref(path, slots, config),
        as_path_len: a.as_path.as_ref().map_or(0, |p| p.count() as u32),
        origin: a.origin.map_or(2, u8::from).min(2),
        med: a.med,
        neighbor_as: a.as_path.as_ref().and_then(|p| p.first_as()),
        from_ebgp: peer.info.is_ebgp(config.local_asn),
        igp_cost: path.attrs.reachable.metric(),
        originator_id: a.originator_id.unwrap_or(peer.info.router_id).to_u32(),
        cluster_list_len: a.cluster_list.as_ref().map_or(0, |c| c.len() as u32),
        peer_addr: peer.info.address,
        llgr_stale: false,
    })
}

/// The selection for a destination, over its eligible paths (next hop
/// reachable); the single-path case skips the decision process, which is
/// what 1M prefixes from one peer hit.
fn selection(
    dest: &Dest,
    slots: &[Option<PeerSlot>],
    config: &RibConfig,
) -> Option<(usize, Multipath)> {
    decide(dest, slots, config, true)
}

/// The decision process over the paths of `dest`, only the eligible ones
/// if `eligible_only`.
fn decide(
    dest: &Dest,
    slots: &[Option<PeerSlot>],
    config: &RibConfig,
    eligible_only: bool,
) -> Option<(usize, Multipath)> {
    let usable = |p: &Path| !eligible_only || p.attrs.reachable.get();
    match dest.paths.as_slice() {
        [] => None,
        [only] => usable(only).then(|| (0, Multipath::from_elem(0, 1))),
        paths => {
            let eligible: Vec<usize> = (0..paths.len()).filter(|&i| usable(&paths[i])).collect();
            let candidates: Vec<Candidate> = eligible
                .iter()
                .filter_map(|&i| candidate(&paths[i], slots, config))
                .collect();
            if candidates.len() != eligible.len() {
                return None;
            }
            let s = select(&candidates)?;
            Some((
                eligible[s.best],
                s.multipath.iter().map(|&k| eligible[k]).collect(),
            ))
        }
    }
}

fn best_path<'a>(
    dest: &'a Dest,
    slots: &[Option<PeerSlot>],
    config: &RibConfig,
) -> Option<&'a Path> {
    selection(dest, slots, config).map(|(b, _)| &dest.paths[b])
}

/// The next hops the kernel should have for a destination. A single
/// path (what nearly every prefix has) shares its UPDATE's next-hop list,
/// so a million prefixes from one peer cost no allocation here.
fn fib_next_hops(dest: &Dest, slots: &[Option<PeerSlot>], config: &RibConfig) -> NextHops {
    match dest.paths.as_slice() {
        [] => no_next_hops(),
        [only] if only.attrs.reachable.get() => only.attrs.hops.clone(),
        [_] => no_next_hops(),
        _ => {
            let Some((best, multipath)) = selection(dest, slots, config) else {
                return no_next_hops();
            };
            if !config.ecmp || multipath.len() == 1 {
                return dest.paths[best].attrs.hops.clone();
            }
            let mut hops: Vec<IpAddr> = multipath
                .iter()
                .map(|&i| dest.paths[i].attrs.next_hop)
                .collect();
            hops.sort();
            hops.dedup();
            if hops.len() == 1 {
                return dest.paths[best].attrs.hops.clone();
            }
            Arc::from(hops)
        }
    }
}

fn no_next_hops() -> NextHops {
    static EMPTY: std::sync::OnceLock<NextHops> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(Vec::new())).clone()
}

#[cfg(test)]
mod tests;
