//! The FIB thread: the single writer of the kernel table, fed by the RIB, resolving BGP next hops and reconciling periodically.
//!
//! The FIB code is synchronous (blocking netlink with deadlines, see
//! `src/fib/`), so it runs on its own OS thread. Requests arrive on a
//! channel; many queued changes are applied as one batch.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::AgentError;
use crate::bgp::rib::{FibChange, NextHops as NextHopList};

/// A resolved kernel target, or `None` when no next hop is reachable.
type RouteChangeTarget = Option<RouteTarget>;
use crate::control::{FibCounters, FibView};
use crate::fib::{
    Fib, FibConfig, FibError, Resolution, Resolver, ResolverConfig, RouteChange, RouteProtocol,
    RouteTarget, RouteType, RouteWatch, WatchEvent,
};

/// Requests to the FIB thread.
#[derive(Debug)]
pub enum FibRequest {
    /// BGP-level changes from the RIB (next hops as learned).
    Apply(Vec<FibChange>),
    /// Next hops the RIB wants reachability reports for.
    Track(Vec<IpAddr>),
    /// The node's own pod CIDRs, held as blackhole routes.
    OwnPrefixes(Vec<IpNet>),
    /// The podroute routes the kernel holds now.
    Dump(oneshot::Sender<Result<Vec<FibView>, String>>),
    /// The FIB's running totals (operations, refusals, retries).
    Stats(oneshot::Sender<FibCounters>),
    /// The RIB has sent everything it wants after a restart: routes of the
    /// previous instance it did not confirm are removed now.
    PurgeStale,
    /// Stop; without `keep_routes`, remove every podroute route first.
    Shutdown {
        keep_routes: bool,
        done: oneshot::Sender<()>,
    },
}

/// What the FIB thread tells the RIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FibEvent {
    /// Whether a tracked BGP next hop resolves in the kernel (now), and
    /// the metric of the route that resolves it (the IGP cost).
    NextHop {
        next_hop: IpAddr,
        reachable: bool,
        metric: u32,
    },
    /// The kernel's routes changed: send the whole desired table again so
    /// every next hop is resolved anew. (The RIB holds the BGP next hops;
    /// keeping a second copy here would double the memory per prefix.)
    Resync,
}

/// Metric of the agent's routes. Above the kernel's 256 for IPv6 connected
/// routes: the blackhole for the node's own pod CIDR must lose to the pod
/// bridge's connected route (IPv4's have metric 0) or the node cannot reach
/// its own pods. Routes learned for other nodes' CIDRs compete with nothing.
const ROUTE_METRIC: u32 = 1024;

/// Routes per kernel exchange between two looks at the request queue. The
/// RIB's changes wait in the channel (40 octets each) while a chunk is in
/// the kernel; 8 Ki (~20 ms) keeps that backlog to a few MB during a table
/// transfer (16 Ki gave a 1M-prefix load a peak RSS a few MB higher).
const FLUSH_CHUNK: usize = 8 * 1024;

/// How often the kernel table is compared with what podroute wants.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(30);

/// Handle on the running FIB thread.
pub struct FibHandle {
    pub requests: Sender<FibRequest>,
    /// Families of the podroute routes an earlier instance left in the
    /// kernel (still forwarding, until [`FibRequest::PurgeStale`]).
    pub adopted: Vec<crate::bgp::types::Family>,
    #[allow(dead_code)]
    pub thread: JoinHandle<()>,
}

/// Opens the kernel FIB of this network namespace on a new thread.
/// Fails if netlink cannot be opened (reported before the agent starts).
pub fn spawn(
    table: u32,
    reports: tokio::sync::mpsc::UnboundedSender<FibEvent>,
) -> Result<FibHandle, AgentError> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("podroute-fib".into())
        .spawn(move || match FibThread::open(table, reports) {
            Ok(mut t) => {
                let _ = ready_tx.send(Ok(t.adopted_families()));
                t.run(rx);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(AgentError::Io)?;
    match ready_rx.recv() {
        Ok(Ok(adopted)) => Ok(FibHandle {
            requests: tx,
            adopted,
            thread,
        }),
        Ok(Err(e)) => Err(AgentError::Fib(e)),
        Err(_) => Err(AgentError::Stopped("the FIB thread died at start")),
    }
}

struct FibThread {
    fib: Fib,
    resolver: Resolver,
    watch: RouteWatch,
    table: u32,
    /// Resolutions of the next-hop lists seen since the kernel last changed:
    /// prefixes with the same next hops share one kernel next-hop set.
    resolved: HashMap<NextHopList, RouteChangeTarget>,
    own: Vec<IpNet>,
    /// Next hops the RIB tracks, with what it was last told (reachable, metric).
    tracked: HashMap<IpAddr, (bool, u32)>,
    reports: tokio::sync::mpsc::UnboundedSender<FibEvent>,
    /// Prefixes of the routes adopted at start.
    adopted: Vec<IpNet>,
    next_reconcile: Instant,
    /// A large flush ran since free heap pages were last returned.
    trim_due: bool,
}

impl FibThread {
    fn open(
        table: u32,
        reports: tokio::sync::mpsc::UnboundedSender<FibEvent>,
    ) -> Result<Self, FibError> {
        let mut fib = Fib::open(FibConfig {
            table,
            metric: ROUTE_METRIC,
            ..FibConfig::default()
        })?;
        // Routes an earlier instance installed keep forwarding until the RIB
        // has re-learned its table (RFC 4724 §4.1: forwarding state kept
        // across the restart; also done without graceful restart).
        let adopted = fib.adopt()?;
        if !adopted.is_empty() {
            info!(
                routes = adopted.len(),
                "kept routes of a previous podroute instance"
            );
        }
        let resolver = Resolver::open(resolver_config())?;
        let watch = RouteWatch::open(Some(RouteProtocol::Podroute))?;
        Ok(FibThread {
            fib,
            resolver,
            watch,
            table,
            resolved: HashMap::new(),
            own: Vec::new(),
            tracked: HashMap::new(),
            reports,
            adopted: adopted.iter().map(|r| r.prefix).collect(),
            next_reconcile: Instant::now() + RECONCILE_INTERVAL,
            trim_due: false,
        })
    }

    fn run(&mut self, rx: Receiver<FibRequest>) {
        loop {
            // With work pending, only look at the queue; otherwise wait.
            let first = if self.fib.pending() > 0 {
                match rx.try_recv() {
                    Ok(r) => Some(r),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            // Stage everything queued (cheap), then send one bounded chunk to
            // the kernel: changes wait in the compact desired table, where a
            // later change to the same prefix replaces an earlier one, not in
            // the channel.
            let mut next = first;
            while let Some(r) = next {
                if let FibRequest::Shutdown { keep_routes, done } = r {
                    if !keep_routes {
                        self.remove_all();
                    }
                    let _ = done.send(());
                    return;
                }
                self.handle(r);
                next = rx.try_recv().ok();
            }
            if self.fib.pending() > 0 {
                self.trim_due |= self.fib.pending() >= FLUSH_CHUNK;
                match self.fib.flush_some(FLUSH_CHUNK) {
                    Ok(report) => debug!(?report, "FIB flushed a chunk"),
                    Err(e) => warn!(error = %e, "FIB flush failed; retried on the next one"),
                }
                if self.trim_due && self.fib.pending() == 0 {
                    // The end of a burst (a table transfer, a peer gone):
                    // the buffers that carried it, RIB side and ours, are
                    // free now.
                    self.trim_due = false;
                    super::malloc::release_free();
                }
            }
            self.housekeeping();
        }
    }

    /// Families of the adopted routes, own-prefix blackholes included: they
    /// show the previous instance's kernel state survived (a reboot clears
    /// them), and what we advertise — our pod CIDRs — is forwarded by the
    /// node's connected routes, which an agent restart never touches.
    fn adopted_families(&self) -> Vec<crate::bgp::types::Family> {
        use crate::bgp::types::Family;
        let mut out = Vec::new();
        for p in &self.adopted {
            let f = match p {
                IpNet::V4(_) => Family::IPV4_UNICAST,
                IpNet::V6(_) => Family::IPV6_UNICAST,
            };
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    fn handle(&mut self, request: FibRequest) {
        match request {
            FibRequest::Apply(changes) => {
                for c in changes {
                    if c.next_hops.is_empty() {
                        self.stage(RouteChange::Remove(c.prefix));
                    } else {
                        let change = self.resolve(c.prefix, &c.next_hops);
                        self.stage(change);
                    }
                }
            }
            FibRequest::Track(next_hops) => {
                for nh in next_hops {
                    // The RIB starts from "reachable at cost 0": only the
                    // opposite is news.
                    self.tracked.insert(nh, (true, 0));
                    self.report(nh);
                }
            }
            FibRequest::OwnPrefixes(prefixes) => {
                let gone: Vec<IpNet> = self
                    .own
                    .iter()
                    .filter(|p| !prefixes.contains(p))
                    .copied()
                    .collect();
                for p in gone {
                    self.stage(RouteChange::Remove(p));
                }
                for p in &prefixes {
                    self.stage(RouteChange::Set(*p, RouteTarget::Blackhole));
                }
                self.own = prefixes;
            }
            FibRequest::Dump(reply) => {
                let _ = reply.send(self.dump());
            }
            FibRequest::Stats(reply) => {
                let _ = reply.send(FibCounters::from(self.fib.stats()));
            }
            FibRequest::PurgeStale => match self.fib.purge_stale() {
                Ok(r) => {
                    info!(report = ?r, "removed routes of the previous instance nobody re-announced")
                }
                Err(e) => warn!(error = %e, "removing stale routes failed"),
            },
            FibRequest::Shutdown { .. } => {}
        }
    }

    /// BGP next hops → kernel next hops: each resolved against the kernel's
    /// own routes (recursively, through a route reflector's subnet); the
    /// unreachable ones are dropped, and with none left the route goes.
    fn resolve(&mut self, prefix: IpNet, next_hops: &NextHopList) -> RouteChange {
        let target = match self.resolved.get(next_hops) {
            Some(t) => t.clone(),
            None => {
                let t = self.target_of(next_hops);
                if t.is_none() {
                    debug!(%prefix, next_hops = ?next_hops, "no next hop reachable; route not installed");
                }
                self.resolved.insert(next_hops.clone(), t.clone());
                t
            }
        };
        match target {
            Some(t) => RouteChange::Set(prefix, t),
            None => RouteChange::Remove(prefix),
        }
    }

    /// What `next_hops` resolve to now (uncached).
    fn target_of(&self, next_hops: &NextHopList) -> RouteChangeTarget {
        let mut hops = Vec::new();
        for nh in next_hops.iter() {
            if let Resolution::Reachable(h) = self.resolver.resolve(*nh) {
                hops.extend_from_slice(h.as_slice());
            }
        }
        crate::fib::NextHops::new(hops)
            .ok()
            .map(RouteTarget::Unicast)
    }

    /// Tells the RIB if `nh`'s reachability differs from what it knows.
    fn report(&mut self, nh: IpAddr) {
        let reachable = matches!(self.resolver.resolve(nh), Resolution::Reachable(_));
        let metric = if reachable {
            self.resolver.metric(nh).unwrap_or(0)
        } else {
            0
        };
        if self.tracked.insert(nh, (reachable, metric)) != Some((reachable, metric)) {
            let _ = self.reports.send(FibEvent::NextHop {
                next_hop: nh,
                reachable,
                metric,
            });
        }
    }

    fn stage(&mut self, change: RouteChange) {
        if let Err(e) = self.fib.stage(change) {
            warn!(error = %e, "route change refused");
        }
    }

    fn flush(&mut self) {
        match self.fib.flush() {
            Ok(report) => debug!(?report, "FIB flushed"),
            Err(e) => warn!(error = %e, "FIB flush failed; retried on the next one"),
        }
    }

    fn housekeeping(&mut self) {
        if self.watch.ready() {
            match self.watch.wait(Duration::ZERO) {
                Ok(events) => {
                    if let Some(e) = events.iter().find(|e| affects_resolution(e)) {
                        debug!(event = ?e, "kernel change: re-reading routes for next-hop resolution");
                        self.kernel_changed();
                    }
                }
                Err(e) => warn!(error = %e, "route watch failed"),
            }
        }
        if Instant::now() >= self.next_reconcile || self.fib.needs_reconcile() {
            self.next_reconcile = Instant::now() + RECONCILE_INTERVAL;
            match self.fib.reconcile() {
                Ok((rep, _)) => debug!(?rep, "FIB reconciled"),
                Err(e) => warn!(error = %e, "FIB reconcile failed"),
            }
        }
    }

    /// A non-podroute route, a link, or lost notifications: next hops may
    /// resolve differently now. The RIB is asked for its whole table again
    /// only if some next-hop list in use resolves differently: rebuilding
    /// and re-staging a million routes (a 40 MB request) for, say, the end
    /// of an unrelated interface's IPv6 DAD would stall the FIB.
    fn kernel_changed(&mut self) {
        if let Err(e) = self.resolver.refresh() {
            warn!(error = %e, "cannot re-read the kernel routes for next-hop resolution");
            return;
        }
        let tracked: Vec<IpAddr> = self.tracked.keys().copied().collect();
        for nh in tracked {
            self.report(nh);
        }
        let moved = self
            .resolved
            .iter()
            .any(|(hops, was)| self.target_of(hops) != *was);
        if moved {
            self.resolved.clear();
            let _ = self.reports.send(FibEvent::Resync);
        }
    }

    fn remove_all(&mut self) {
        let mine: Vec<IpNet> = match self.fib.dump() {
            Ok(routes) => routes
                .into_iter()
                .filter(|r| r.protocol == RouteProtocol::Podroute)
                .map(|r| r.prefix)
                .collect(),
            Err(e) => {
                warn!(error = %e, "cannot read the kernel table to remove podroute's routes");
                return;
            }
        };
        for p in mine.into_iter().chain(self.own.clone()) {
            self.stage(RouteChange::Remove(p));
        }
        self.flush();
    }

    fn dump(&mut self) -> Result<Vec<FibView>, String> {
        let routes = self.fib.dump().map_err(|e| e.to_string())?;
        let mut views: Vec<FibView> = routes
            .into_iter()
            .filter(|r| r.protocol == RouteProtocol::Podroute)
            .map(|r| FibView {
                prefix: r.prefix,
                next_hops: r.next_hops.iter().filter_map(|h| h.gateway).collect(),
                table: self.table,
                kind: match r.kind {
                    RouteType::Blackhole => "blackhole".into(),
                    _ => "unicast".into(),
                },
            })
            .collect();
        views.sort_by_key(|v| v.prefix);
        Ok(views)
    }
}

/// Whether a kernel notification can change how next hops resolve:
/// routes of the resolver's table (podroute's own never resolve one),
/// links (IPv4 marks next hops dead at a link down without a route
/// notification), lost notifications. An address change alone cannot:
/// the connected route it adds or removes is notified by itself; nor can
/// routes of other tables (the local table's, e.g. at the end of IPv6
/// DAD).
fn affects_resolution(e: &WatchEvent) -> bool {
    match e {
        WatchEvent::RouteAdded(r) | WatchEvent::RouteDeleted(r) => {
            r.table == resolver_config().table && r.protocol != RouteProtocol::Podroute
        }
        WatchEvent::Address { .. } => false,
        WatchEvent::Link { .. } | WatchEvent::Overrun => true,
    }
}

/// How the agent resolves BGP next hops. A pod node usually has nothing
/// but a default route towards its ToR, and a route reflector in another
/// subnet hands it next hops of other racks that only that default route
/// reaches (the session to the reflector runs over it too): those must
/// resolve, as with BIRD's `gateway recursive`, or no cross-rack route is
/// ever installed. podroute's own routes still never resolve next hops.
fn resolver_config() -> ResolverConfig {
    ResolverConfig {
        via_default: true,
        ..ResolverConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::{KernelNextHop, KernelRoute, NextHop, NextHops, RouteLookup, RouteType};

    #[test]
    fn next_hop_behind_the_default_route_resolves_via_its_gateway() {
        let default = KernelRoute {
            prefix: "0.0.0.0/0".parse().unwrap(),
            table: 254,
            protocol: RouteProtocol::Static,
            kind: RouteType::Unicast,
            scope: 0,
            metric: 0,
            next_hops: vec![KernelNextHop {
                gateway: Some("198.18.1.254".parse().unwrap()),
                ifindex: Some(2),
                flags: 0,
            }],
        };
        let lookup = RouteLookup::new(vec![default], &resolver_config());
        assert_eq!(
            lookup.resolve("198.18.3.1".parse().unwrap()),
            Resolution::Reachable(
                NextHops::single(NextHop::via_dev("198.18.1.254".parse().unwrap(), 2)).unwrap()
            )
        );
    }
}
