//! The RIB task: the single owner of routing state and of what `podroute show` reports; peers and the control socket talk to it by channel.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, warn};

use super::fib_thread::{FibEvent, FibRequest};
use crate::bgp::fsm::State;
use crate::bgp::peer::{PeerCommand, PeerEvent};
use crate::bgp::rib::{FibChange, PeerInfo, PrefixLimit, Rib, RibOutput};
use crate::config::{Config, PeerConfig};
use crate::control::{ControlRequest, NeighborView, Query, Reply};

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
    families: Vec<crate::bgp::types::Family>,
    route_refresh: bool,
}

pub struct RibTask {
    rib: Rib,
    config: Arc<Config>,
    fib: Sender<FibRequest>,
    neighbors: HashMap<IpAddr, Neighbor>,
}

impl RibTask {
    pub fn new(rib: Rib, config: Arc<Config>, fib: Sender<FibRequest>) -> Self {
        RibTask {
            rib,
            config,
            fib,
            neighbors: HashMap::new(),
        }
    }

    pub async fn run(
        mut self,
        mut peers: mpsc::Receiver<PeerEvent>,
        mut input: mpsc::Receiver<RibInput>,
        mut fib_events: mpsc::UnboundedReceiver<FibEvent>,
    ) {
        loop {
            let msg = tokio::select! {
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
                }
                RibInput::Config(c) => self.config = c,
                RibInput::Import(c) => {
                    self.rib
                        .set_import(crate::bgp::rib::ImportPolicy::new(c.clone()));
                    self.config = c;
                    self.request_refresh();
                }
                RibInput::PeerRemoved(addr) => {
                    self.neighbors.remove(&addr);
                    let out = self.rib.peer_down(addr);
                    self.dispatch(out);
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
        })
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
                let out = self.rib.peer_up(info);
                self.dispatch(out);
            }
            PeerEvent::Updates { peer, updates } => {
                let out = self.rib.updates(peer, &updates);
                self.dispatch(out);
            }
            PeerEvent::RefreshRequested { peer, request } => {
                info!(%peer, family = %request.family, "route refresh requested");
                let out = self.rib.refresh(peer, request.family);
                self.dispatch(out);
            }
            PeerEvent::Down { peer, .. } => {
                if let Some(n) = self.neighbors.get_mut(&peer) {
                    n.commands = None;
                }
                let out = self.rib.peer_down(peer);
                self.dispatch(out);
            }
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
        for o in outputs {
            match o {
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

    fn control(&mut self, req: ControlRequest) {
        let reply = match req.query {
            Query::Neighbors => Reply::Neighbors(self.neighbor_views()),
            Query::Routes => Reply::Routes(self.rib.routes()),
            Query::Fib => {
                // The kernel dump runs on the FIB thread; answer from a task
                // so route processing does not wait for it.
                let (tx, rx) = oneshot::channel();
                if self.fib.send(FibRequest::Dump(tx)).is_err() {
                    let _ = req
                        .reply
                        .send(Reply::Error("the FIB thread is gone".into()));
                    return;
                }
                tokio::spawn(async move {
                    let reply = match rx.await {
                        Ok(Ok(v)) => Reply::Fib(v),
                        Ok(Err(e)) => Reply::Error(format!("reading the kernel table failed: {e}")),
                        Err(_) => Reply::Error("the FIB thread did not answer".into()),
                    };
                    let _ = req.reply.send(reply);
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
                    last_error: n.and_then(|n| n.last_error.clone()),
                }
            })
            .collect()
    }
}
