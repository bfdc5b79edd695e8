//! The RIB task: the single owner of routing state and of what `podroute show` reports; peers and the control socket talk to it by channel.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, warn};

use super::fib_thread::{FibEvent, FibRequest};
use crate::bgp::fsm::State;
use crate::bgp::graceful::{self, SharedRestart};
use crate::bgp::negotiate::Negotiated;
use crate::bgp::peer::{PeerCommand, PeerEvent};
use crate::bgp::rib::{FibChange, PeerInfo, PrefixLimit, Rib, RibOutput};
use crate::bgp::types::Family;
use crate::config::{Config, PeerConfig};
use crate::control::{ControlRequest, LatencyHistogram, NeighborView, Query, Reply, StatsView};

/// What the RIB task is told besides peer events.
#[derive(Debug)]
pub enum RibInput {
    Control(ControlRequest),
    /// The configuration was reloaded: peers may have been added, changed or removed.
    Config(Arc<Config>),
    /// The import policy changed: apply it and ask every established peer
    /// to send its routes again.
    Import(Arc<Config>),
    /// A peer was removed from the configuration (its task is stopping).
    PeerRemoved(IpAddr),
    /// Global settings changed: forget every route (the kernel keeps none of
    /// them) and start over with this RIB; peers are restarted by the agent.
    Reset(Box<Rib>, Arc<Config>),
    /// Stop processing; reply when done.
    Shutdown(oneshot::Sender<()>),
}

struct Neighbor {
    state: State,
    since: Instant,
    last_error: Option<String>,
    commands: Option<mpsc::UnboundedSender<PeerCommand>>,
    /// Families of the established session, and whether the peer takes
    /// ROUTE-REFRESH.
    families: Vec<Family>,
    route_refresh: bool,
    /// What the established session negotiated (graceful restart decisions).
    negotiated: Option<Box<Negotiated>>,
    /// Families the peer has sent End-of-RIB for on this session.
    end_of_rib: Vec<Family>,
}

/// After a graceful end of a peer's session, how long its routes stay stale
/// once it is back but has not sent End-of-RIB (FRR's default stalepath-time;
/// RFC 4724 §4.2 leaves it local).
pub const STALE_PATH_TIME: Duration = Duration::from_secs(360);
/// Longest our own start waits for every peer's End-of-RIB before deciding
/// routes and telling peers ours (RFC 4724 §4.1 selection deferral).
pub const SELECTION_DEFERRAL: Duration = Duration::from_secs(30);

/// UPDATEs the RIB applies between two hand-overs of its outputs (a
/// full-size UPDATE holds ~1,000 IPv4 prefixes).
const UPDATES_PER_STEP: usize = 4;

/// Our own start, until every peer has sent its table (RFC 4724 §4.1).
struct Startup {
    deadline: Instant,
    /// Configured peers whose End-of-RIB has not arrived for every family.
    waiting: HashSet<IpAddr>,
    /// Routes of the previous instance are in the kernel: kernel changes and
    /// our initial tables wait for the end of the startup, so the
    /// forwarding state kept across the restart is replaced in one step by
    /// the complete new one.
    restarting: bool,
}

pub struct RibTask {
    rib: Rib,
    config: Arc<Config>,
    fib: Sender<FibRequest>,
    neighbors: HashMap<IpAddr, Neighbor>,
    /// Peers whose routes are kept as stale, and until when.
    retained: HashMap<IpAddr, Instant>,
    startup: Option<Startup>,
    /// The graceful-restart state our OPENs carry (`None`: GR is off).
    restart_state: Option<SharedRestart>,
    /// Time to process one batch of UPDATEs (`podroute show stats`).
    update_latency: LatencyHistogram,
}

impl RibTask {
    /// `restarting`: the kernel still holds the previous instance's routes.
    pub fn new(
        rib: Rib,
        config: Arc<Config>,
        fib: Sender<FibRequest>,
        restarting: bool,
        restart_state: Option<SharedRestart>,
    ) -> Self {
        let startup = Startup {
            deadline: Instant::now() + SELECTION_DEFERRAL,
            waiting: config.bgp.peers.iter().map(|p| p.address).collect(),
            restarting,
        };
        if restarting {
            info!(
                peers = startup.waiting.len(),
                deferral_s = SELECTION_DEFERRAL.as_secs(),
                "restart: the kernel keeps the previous routes until every peer has sent End-of-RIB"
            );
        }
        let mut task = RibTask {
            rib,
            config,
            fib,
            neighbors: HashMap::new(),
            retained: HashMap::new(),
            startup: Some(startup),
            restart_state,
            update_latency: LatencyHistogram::default(),
        };
        task.check_startup(Instant::now());
        task
    }

    /// Graceful restart applies to this peer (global switch or override).
    fn graceful_for(&self, peer: IpAddr) -> bool {
        self.peer_config(peer)
            .and_then(|p| p.graceful_restart)
            .unwrap_or(self.config.bgp.graceful_restart)
    }

    /// Ends the startup when every peer is done or the deferral is over:
    /// hand the kernel the whole table, drop the previous instance's routes
    /// nobody re-announced, send the held initial tables, and advertise the
    /// R bit no more.
    fn check_startup(&mut self, now: Instant) {
        let Some(s) = &self.startup else {
            return;
        };
        let done = s.waiting.is_empty();
        if !done && now < s.deadline {
            return;
        }
        let restarting = s.restarting;
        if !done {
            let late: Vec<String> = s.waiting.iter().map(|a| a.to_string()).collect();
            warn!(peers = %late.join(","), "selection deferral over without End-of-RIB from every peer");
        }
        self.startup = None;
        if let Some(r) = &self.restart_state {
            r.finish(&[Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
        }
        if restarting {
            let all = self.rib.desired_fib();
            info!(
                routes = all.len(),
                "restart complete: installing the new table"
            );
            let _ = self.fib.send(FibRequest::Apply(all));
            let _ = self.fib.send(FibRequest::PurgeStale);
            let out = self.rib.release_deferred();
            self.dispatch(out);
        }
    }

    /// The earliest timer: startup deferral or a stale-route deadline.
    fn next_deadline(&self) -> Option<Instant> {
        let stale = self.retained.values().min().copied();
        let startup = self.startup.as_ref().map(|s| s.deadline);
        match (stale, startup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn timers_expired(&mut self) {
        let now = Instant::now();
        let due: Vec<IpAddr> = self
            .retained
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            self.retained.remove(&peer);
            warn!(%peer, "graceful restart of the peer not completed in time: removing its stale routes");
            let out = self.rib.purge_stale(peer, None);
            self.dispatch(out);
        }
        self.check_startup(now);
    }

    pub async fn run(
        mut self,
        mut peers: mpsc::Receiver<PeerEvent>,
        mut input: mpsc::Receiver<RibInput>,
        mut fib_events: mpsc::UnboundedReceiver<FibEvent>,
    ) {
        loop {
            let deadline = self.next_deadline();
            let msg = tokio::select! {
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.timers_expired();
                    continue;
                }
                Some(ev) = peers.recv() => {
                    self.peer_event(ev);
                    continue;
                }
                Some(ev) = fib_events.recv() => {
                    match ev {
                        FibEvent::NextHop { next_hop, reachable, metric } => {
                            let out = self.rib.next_hop_reachability(next_hop, reachable, metric);
                            self.dispatch(out);
                        }
                        FibEvent::Resync if self.holding_fib() => {}
                        FibEvent::Resync => {
                            let all = self.rib.desired_fib();
                            if !all.is_empty() {
                                let _ = self.fib.send(FibRequest::Apply(all));
                            }
                        }
                    }
                    continue;
                }
                msg = input.recv() => match msg {
                    Some(m) => m,
                    None => return,
                },
            };
            match msg {
                RibInput::Control(req) => self.control(req),
                RibInput::Reset(rib, config) => {
                    let gone: Vec<_> = self
                        .rib
                        .desired_fib()
                        .into_iter()
                        .map(|c| FibChange::remove(c.prefix))
                        .collect();
                    if !gone.is_empty() {
                        let _ = self.fib.send(FibRequest::Apply(gone));
                    }
                    self.rib = *rib;
                    self.config = config;
                    self.neighbors.clear();
                    self.retained.clear();
                }
                RibInput::Config(c) => {
                    if let Some(s) = &mut self.startup {
                        s.waiting
                            .retain(|a| c.bgp.peers.iter().any(|p| p.address == *a));
                    }
                    self.config = c;
                    self.check_startup(Instant::now());
                }
                RibInput::Import(c) => {
                    self.rib
                        .set_import(crate::bgp::rib::ImportPolicy::new(c.clone()));
                    self.config = c;
                    self.request_refresh();
                }
                RibInput::PeerRemoved(addr) => {
                    self.neighbors.remove(&addr);
                    self.retained.remove(&addr);
                    let out = self.rib.peer_down(addr);
                    self.dispatch(out);
                    if let Some(s) = &mut self.startup {
                        s.waiting.remove(&addr);
                    }
                    self.check_startup(Instant::now());
                }
                RibInput::Shutdown(done) => {
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    fn peer_config(&self, addr: IpAddr) -> Option<&PeerConfig> {
        self.config.bgp.peers.iter().find(|p| p.address == addr)
    }

    fn neighbor(&mut self, addr: IpAddr) -> &mut Neighbor {
        self.neighbors.entry(addr).or_insert_with(|| Neighbor {
            state: State::Idle,
            since: Instant::now(),
            last_error: None,
            commands: None,
            families: Vec::new(),
            route_refresh: false,
            negotiated: None,
            end_of_rib: Vec::new(),
        })
    }

    /// Kernel changes wait while we restart (the previous routes forward).
    fn holding_fib(&self) -> bool {
        self.startup.as_ref().is_some_and(|s| s.restarting)
    }

    fn peer_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::State {
                peer,
                state,
                last_error,
            } => {
                let n = self.neighbor(peer);
                if n.state != state {
                    n.state = state;
                    n.since = Instant::now();
                }
                n.last_error = last_error;
            }
            PeerEvent::Up {
                peer,
                negotiated,
                router_id,
                local_address,
                commands,
            } => {
                let Some(pc) = self.peer_config(peer).cloned() else {
                    warn!(%peer, "session up for a peer no longer configured");
                    return;
                };
                let n = self.neighbor(peer);
                n.commands = Some(commands);
                n.families = negotiated.families.clone();
                n.route_refresh = negotiated.route_refresh;
                n.state = State::Established;
                n.since = Instant::now();
                n.negotiated = Some(negotiated.clone());
                n.end_of_rib.clear();
                if self.retained.contains_key(&peer) {
                    let stale = self.rib.stale_families(peer);
                    for f in graceful::flush_at_reconnect(&negotiated, &stale) {
                        info!(%peer, family = %f, "peer back without forwarding state for the family: removing its stale routes");
                        let out = self.rib.purge_stale(peer, Some(f));
                        self.dispatch(out);
                    }
                    self.retained.insert(peer, Instant::now() + STALE_PATH_TIME);
                }
                let info = PeerInfo {
                    address: peer,
                    asn: pc.asn,
                    router_id,
                    local_address,
                    route_reflector_client: pc.route_reflector_client,
                    next_hop_self: pc.next_hop_self,
                    allow_own_as: pc.allow_own_as,
                    families: negotiated.families.clone(),
                    max_prefixes: pc.max_prefixes.map(|m| PrefixLimit {
                        limit: m.0,
                        warning_at: (u64::from(m.0) * u64::from(pc.max_prefixes_warning.0))
                            .div_ceil(100) as u32,
                    }),
                    send: negotiated.send.clone(),
                };
                // RFC 4724 §3: a peer that restarted itself (R bit) must not
                // wait for our End-of-RIB, nor we for its, or two restarting
                // speakers would wait on each other until the deferral ends.
                let peer_restarting = negotiated
                    .peer_graceful_restart
                    .as_ref()
                    .is_some_and(|g| g.restart_state);
                let out = if self.holding_fib() && !peer_restarting {
                    self.rib.peer_up_deferred(info)
                } else {
                    self.rib.peer_up(info)
                };
                self.dispatch(out);
            }
            PeerEvent::Updates { peer, updates, .. } => {
                // The wall clock, not tokio's (which tests may pause).
                let started = std::time::Instant::now();
                let eors: Vec<Family> = updates
                    .iter()
                    .filter_map(|u| u.end_of_rib_family())
                    .collect();
                // A read's worth of UPDATEs (tens of thousands of prefixes)
                // in small steps: the per-prefix outputs of one step are
                // handed on before the next, so they never pile up.
                for step in updates.chunks(UPDATES_PER_STEP) {
                    let out = self.rib.updates(peer, step);
                    self.dispatch(out);
                }
                self.update_latency.observe(started.elapsed());
                if !eors.is_empty() {
                    self.end_of_rib(peer, &eors);
                }
            }
            PeerEvent::RefreshRequested { peer, request } => self.route_refresh(peer, request),
            PeerEvent::Down { peer, reason } => {
                let negotiated = self.neighbors.get_mut(&peer).and_then(|n| {
                    n.commands = None;
                    n.negotiated.take()
                });
                let keep = negotiated
                    .and_then(|neg| graceful::retention(self.graceful_for(peer), &neg, &reason));
                let out = match &keep {
                    Some(r) => {
                        info!(%peer, restart_time_s = r.restart_time.as_secs(), "session ended; the peer may be restarting: keeping its routes as stale (graceful restart)");
                        self.retained.insert(peer, Instant::now() + r.restart_time);
                        self.rib.peer_down_graceful(peer, &r.families)
                    }
                    None => {
                        self.retained.remove(&peer);
                        self.rib.peer_down(peer)
                    }
                };
                self.dispatch(out);
                if keep.is_some() && self.rib.stale_families(peer).is_empty() {
                    self.retained.remove(&peer);
                }
            }
        }
    }

    /// A ROUTE-REFRESH from the peer: a request (answered with our routes,
    /// between BoRR and EoRR when enhanced route refresh is negotiated,
    /// RFC 7313 §4), or the demarcation of its own answer to ours (BoRR
    /// marks its routes of the family stale, EoRR sweeps those it did not
    /// send again).
    fn route_refresh(&mut self, peer: IpAddr, request: crate::bgp::RouteRefresh) {
        use crate::bgp::RouteRefreshSubtype as Sub;
        let family = request.family;
        match request.subtype {
            Sub::BeginningOfRouteRefresh => {
                let n = self.rib.mark_stale(peer, family);
                info!(%peer, %family, stale = n, "enhanced route refresh begins");
                // RFC 7313 §4.2: purge if the EoRR never comes.
                self.retained
                    .entry(peer)
                    .or_insert_with(|| Instant::now() + STALE_PATH_TIME);
            }
            Sub::EndOfRouteRefresh => {
                info!(%peer, %family, "enhanced route refresh ends");
                let out = self.rib.purge_stale(peer, Some(family));
                self.dispatch(out);
                if self.rib.stale_families(peer).is_empty() {
                    self.retained.remove(&peer);
                }
            }
            Sub::Normal => {
                info!(%peer, %family, "route refresh requested");
                let mut out = self.rib.refresh(peer, family);
                let enhanced = self
                    .neighbors
                    .get(&peer)
                    .and_then(|n| n.negotiated.as_ref())
                    .is_some_and(|n| n.enhanced_route_refresh);
                if enhanced {
                    let marker = |subtype| {
                        let m = crate::bgp::Message::RouteRefresh(crate::bgp::RouteRefresh {
                            family,
                            subtype,
                            orf: Vec::new(),
                        });
                        m.to_bytes(&crate::bgp::CodecContext::default())
                            .ok()
                            .map(bytes::Bytes::from)
                    };
                    let mut messages: Vec<bytes::Bytes> =
                        marker(Sub::BeginningOfRouteRefresh).into_iter().collect();
                    for o in out.drain(..) {
                        if let RibOutput::Send { messages: m, .. } = o {
                            messages.extend(m);
                        }
                    }
                    messages.extend(marker(Sub::EndOfRouteRefresh));
                    out.push(RibOutput::Send { peer, messages });
                }
                self.dispatch(out);
            }
            other => {
                warn!(%peer, %family, subtype = ?other, "ROUTE-REFRESH of unknown subtype ignored")
            }
        }
    }

    /// End-of-RIB from a peer: its restart (if any) is complete for those
    /// families, and our startup may be too.
    fn end_of_rib(&mut self, peer: IpAddr, families: &[Family]) {
        let Some(n) = self.neighbors.get_mut(&peer) else {
            return;
        };
        for f in families {
            if !n.end_of_rib.contains(f) {
                n.end_of_rib.push(*f);
            }
        }
        let complete = n.families.iter().all(|f| n.end_of_rib.contains(f));
        info!(%peer, families = ?families, "End-of-RIB received");
        if self.retained.contains_key(&peer) && self.rib.stale_families(peer).is_empty() {
            self.retained.remove(&peer);
            info!(%peer, "peer's graceful restart complete");
        }
        if complete && let Some(s) = &mut self.startup {
            s.waiting.remove(&peer);
            self.check_startup(Instant::now());
        }
    }

    /// ROUTE-REFRESH for every family of every established peer that takes
    /// it; a peer that does not is restarted, the only way to get its
    /// routes judged again.
    fn request_refresh(&mut self) {
        use crate::bgp::message::Message;
        use crate::bgp::route_refresh::RouteRefresh;
        for (addr, n) in &self.neighbors {
            let Some(tx) = n.commands.as_ref() else {
                continue;
            };
            if n.route_refresh {
                let ctx = crate::bgp::CodecContext::default();
                let messages = n
                    .families
                    .iter()
                    .filter_map(|f| {
                        Message::RouteRefresh(RouteRefresh::request(*f))
                            .to_bytes(&ctx)
                            .ok()
                    })
                    .map(bytes::Bytes::from)
                    .collect();
                info!(peer = %addr, "route refresh requested");
                let _ = tx.send(PeerCommand::Send(messages));
            } else {
                warn!(peer = %addr, "peer does not support route refresh: restarting its session for the new import policy");
                let _ = tx.send(PeerCommand::Restart(
                    crate::bgp::notification::Notification::cease(
                        crate::bgp::notification::CeaseSubcode::OtherConfigurationChange,
                        [],
                    ),
                ));
            }
        }
    }

    fn dispatch(&mut self, outputs: Vec<RibOutput>) {
        let mut fib = Vec::new();
        let mut track = Vec::new();
        let hold = self.holding_fib();
        for o in outputs {
            match o {
                // Recomputed whole at the end of the restart.
                RibOutput::Fib(_) if hold => {}
                RibOutput::Fib(c) => fib.push(c),
                RibOutput::TrackNextHop(nh) => track.push(nh),
                RibOutput::PrefixLimitExceeded { peer, notification } => {
                    let restart = self.peer_config(peer).map_or(0, |p| p.max_prefixes_restart);
                    if let Some(tx) = self.neighbors.get(&peer).and_then(|n| n.commands.as_ref()) {
                        let _ = tx.send(PeerCommand::PrefixLimit {
                            notification,
                            restart_after: (restart > 0)
                                .then(|| std::time::Duration::from_secs(restart.into())),
                        });
                    }
                }
                RibOutput::Send { peer, messages } => {
                    if let Some(tx) = self.neighbors.get(&peer).and_then(|n| n.commands.as_ref()) {
                        let _ = tx.send(PeerCommand::Send(messages));
                    }
                }
            }
        }
        if !track.is_empty() {
            let _ = self.fib.send(FibRequest::Track(track));
        }
        if !fib.is_empty() && self.fib.send(FibRequest::Apply(fib)).is_err() {
            warn!("the FIB thread is gone; kernel routes are no longer updated");
        }
    }

    /// Asks the FIB thread and answers the control request from a task:
    /// a kernel dump must not hold up route processing.
    fn answer_from_fib<T: Send + 'static>(
        &self,
        reply: oneshot::Sender<Reply>,
        request: impl FnOnce(oneshot::Sender<T>) -> FibRequest,
        answer: impl FnOnce(T) -> Reply + Send + 'static,
    ) {
        let (tx, rx) = oneshot::channel();
        if self.fib.send(request(tx)).is_err() {
            let _ = reply.send(Reply::Error("the FIB thread is gone".into()));
            return;
        }
        tokio::spawn(async move {
            let r = match rx.await {
                Ok(v) => answer(v),
                Err(_) => Reply::Error("the FIB thread did not answer".into()),
            };
            let _ = reply.send(r);
        });
    }

    fn control(&mut self, req: ControlRequest) {
        let reply = match req.query {
            Query::Neighbors => Reply::Neighbors(self.neighbor_views()),
            Query::Routes => Reply::Routes(self.rib.routes()),
            Query::Fib => {
                self.answer_from_fib(req.reply, FibRequest::Dump, |r| match r {
                    Ok(v) => Reply::Fib(v),
                    Err(e) => Reply::Error(format!("reading the kernel table failed: {e}")),
                });
                return;
            }
            Query::Stats => {
                let update_latency = self.update_latency.view();
                self.answer_from_fib(req.reply, FibRequest::Stats, move |fib| {
                    Reply::Stats(Box::new(StatsView {
                        fib,
                        update_latency,
                    }))
                });
                return;
            }
        };
        let _ = req.reply.send(reply);
    }

    fn neighbor_views(&self) -> Vec<NeighborView> {
        self.config
            .bgp
            .peers
            .iter()
            .map(|p| {
                let n = self.neighbors.get(&p.address);
                let counts = self.rib.counts(p.address).unwrap_or_default();
                NeighborView {
                    address: p.address,
                    asn: p.asn.0,
                    state: n.map_or(State::Idle, |n| n.state).name().to_string(),
                    uptime_s: n.map_or(0, |n| n.since.elapsed().as_secs()),
                    prefixes_received: counts.received,
                    prefixes_accepted: counts.accepted,
                    prefixes_advertised: counts.advertised,
                    prefix_limit_warnings: counts.limit_warnings,
                    end_of_rib: n.is_some_and(|n| {
                        n.state == State::Established
                            && n.families.iter().all(|f| n.end_of_rib.contains(f))
                    }),
                    stale_prefixes: counts.stale,
                    last_error: n.and_then(|n| n.last_error.clone()),
                }
            })
            .collect()
    }
}
