//! `podroute agent`: wires the config, the peer tasks, the RIB task, the FIB thread, the listeners, the control socket and signals together.

mod fib_thread;
mod listener;
mod malloc;
mod rib_task;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::bgp::budget::RouteBudget;
use crate::bgp::capability::Capability;
use crate::bgp::fsm::SessionConfig;
use crate::bgp::graceful::{LocalRestart, SharedRestart};
use crate::bgp::notification::{CeaseSubcode, Notification};
use crate::bgp::open::Open;
use crate::bgp::peer::{self, PeerCommand, PeerEvent, PeerHandle, PeerSettings};
use crate::bgp::rib::{ImportPolicy, Rib, RibConfig};
use crate::bgp::types::{Family, RouterId};
use crate::config::{Config, ConfigError, PeerConfig};
use crate::fib::FibError;

use fib_thread::{FibHandle, FibRequest};
use listener::InboundMap;
use rib_task::{RibInput, RibTask};

/// Why the agent could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the kernel routing table: {0}")]
    Fib(FibError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Control {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Stopped(&'static str),
}

/// Runs the agent in the foreground from a TOML file until SIGTERM or
/// SIGINT; SIGHUP re-reads the file.
pub fn run(config_path: &Path) -> Result<(), AgentError> {
    let config = Config::load(config_path)?;
    runtime()?.block_on(serve(config, ConfigSource::File(config_path.to_path_buf())))
}

/// The multi-threaded runtime the agent runs on (two workers: the RIB and
/// the peers; the FIB has its own thread).
pub fn runtime() -> Result<tokio::runtime::Runtime, AgentError> {
    malloc::tune();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("podroute")
        .enable_all()
        .build()?)
}

/// Where the running configuration comes from after the start.
pub enum ConfigSource {
    /// A TOML file, re-read on SIGHUP.
    File(PathBuf),
    /// Whole configurations pushed by another part of the process (the
    /// Kubernetes watcher); each one is applied like a SIGHUP reload, so
    /// sessions whose settings did not change keep running.
    Channel(mpsc::Receiver<Config>),
}

/// Runs the agent until SIGTERM or SIGINT (or, for a channel source, until
/// the sender is dropped), applying every new configuration on the way.
pub async fn serve(config: Config, source: ConfigSource) -> Result<(), AgentError> {
    let mut agent = Agent::start(config).await?;
    agent.run(source).await
}

fn rib_config(config: &Arc<Config>) -> RibConfig {
    RibConfig {
        local_asn: config.node.asn,
        router_id: RouterId(config.node.router_id),
        cluster_id: config.cluster_id(),
        own_prefixes: config.node.pod_cidrs.clone(),
        import: ImportPolicy::new(config.clone()),
        ecmp: config.fib.ecmp,
    }
}

/// The OPEN podroute sends: IPv4 and IPv6 unicast, route refresh and
/// enhanced route refresh, 4-octet AS (added by `Open::new`), extended
/// messages; graceful restart is added per connection by the peer task.
fn local_open(config: &Config, peer: &PeerConfig) -> Open {
    Open::new(
        config.node.asn,
        config.hold_time(peer).seconds(),
        RouterId(config.node.router_id),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::ExtendedMessage,
        ],
    )
}

/// Graceful restart is on for this peer (the global switch, or its override).
fn graceful_for(config: &Config, peer: &PeerConfig) -> bool {
    peer.graceful_restart.unwrap_or(config.bgp.graceful_restart)
}

fn peer_settings(config: &Config, peer: &PeerConfig, restart: &SharedRestart) -> PeerSettings {
    PeerSettings {
        restart: graceful_for(config, peer).then(|| restart.clone()),
        address: peer.address,
        port: peer.port,
        local_address: peer.local_address,
        password: peer.password.clone(),
        ttl_security: peer.ttl_security.map(|h| h.0),
        session: SessionConfig {
            local_asn: config.node.asn,
            peer_asn: peer.asn,
            router_id: RouterId(config.node.router_id),
            local_open: local_open(config, peer),
            passive: peer.passive,
            connect_retry: config.bgp.connect_retry.duration(),
        },
    }
}

struct RunningPeer {
    config: PeerConfig,
    handle: PeerHandle,
}

struct Agent {
    config: Arc<Config>,
    peers: HashMap<IpAddr, RunningPeer>,
    inbound: InboundMap,
    peer_events: mpsc::Sender<PeerEvent>,
    /// Decoded routes all peers may have queued for the RIB.
    route_budget: RouteBudget,
    rib: mpsc::Sender<RibInput>,
    rib_task: tokio::task::JoinHandle<()>,
    fib: FibHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Listening sockets (IPv6?, fd), for the peers' TCP-MD5 keys.
    listen_fds: Vec<(bool, std::os::fd::RawFd)>,
    /// What our OPENs say about graceful restart (R and F bits).
    restart: SharedRestart,
}

impl Agent {
    async fn start(config: Config) -> Result<Agent, AgentError> {
        let config = Arc::new(config);
        info!(node = %config.node.name, asn = %config.node.asn, router_id = %config.node.router_id, peers = config.bgp.peers.len(), "podroute agent starting");
        let (nh_reports, nh_rx) = mpsc::unbounded_channel();
        let fib = fib_thread::spawn(config.fib.table.id(), nh_reports)?;
        // RFC 4724 §4.1: it is a restart only if forwarding state survived
        // (our routes are still in the kernel); a fresh start is not one.
        let restarting = !fib.adopted.is_empty();
        let gr = config.bgp.graceful_restart;
        let restart = SharedRestart::new(LocalRestart {
            restart_time: config.bgp.restart_time.seconds(),
            restarting: restarting && gr,
            forwarding: if gr { fib.adopted.clone() } else { Vec::new() },
        });
        if restarting {
            info!(families = ?fib.adopted, graceful_restart = gr, "routes of a previous instance are in the kernel: restarting");
        }
        let _ = fib
            .requests
            .send(FibRequest::OwnPrefixes(config.node.pod_cidrs.clone()));

        let (peer_events, peer_rx) = mpsc::channel(64);
        let (rib, rib_rx) = mpsc::channel(64);
        let task = RibTask::new(
            Rib::new(rib_config(&config)),
            config.clone(),
            fib.requests.clone(),
            restarting,
            Some(restart.clone()),
        );
        let rib_task = tokio::spawn(task.run(peer_rx, rib_rx, nh_rx));

        let mut tasks = Vec::new();
        let (control_tx, mut control_rx) = mpsc::channel(16);
        let socket = config.control.socket.clone();
        // Bind now so a bad path fails the start, not later.
        let control = {
            let socket = socket.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::control::serve(&socket, control_tx).await {
                    error!(path = %socket.display(), error = %e, "control socket failed");
                }
            })
        };
        tasks.push(control);
        let rib_for_control = rib.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(req) = control_rx.recv().await {
                if rib_for_control.send(RibInput::Control(req)).await.is_err() {
                    return;
                }
            }
        }));

        let inbound: InboundMap = Arc::new(Mutex::new(HashMap::new()));
        let mut listen_fds = Vec::new();
        for addr in &config.bgp.listen {
            let l = listener::bind(*addr).map_err(|source| AgentError::Listen {
                addr: *addr,
                source,
            })?;
            // The fd stays valid as long as the listener task owns the socket.
            listen_fds.push((addr.is_ipv6(), std::os::fd::AsRawFd::as_raw_fd(&l)));
            tasks.push(tokio::spawn(listener::serve(l, inbound.clone())));
        }

        let mut agent = Agent {
            config: config.clone(),
            peers: HashMap::new(),
            inbound,
            peer_events,
            route_budget: RouteBudget::default(),
            rib,
            rib_task,
            fib,
            tasks,
            listen_fds,
            restart,
        };
        for p in config.bgp.peers.clone() {
            agent.start_peer(p);
        }
        Ok(agent)
    }

    /// Binds (or with `None` removes) a peer's TCP-MD5 key on every
    /// listening socket of its family (RFC 2385: the SYN of an incoming
    /// connection is checked against it).
    fn listen_key(&self, addr: IpAddr, key: Option<&crate::config::Password>) {
        for (v6, fd) in &self.listen_fds {
            if *v6 != addr.is_ipv6() {
                continue;
            }
            let bytes = key.map_or(&[][..], |k| k.as_bytes());
            if let Err(e) = crate::bgp::tcp_md5::set_key(*fd, addr, bytes) {
                error!(peer = %addr, error = %e, "TCP-MD5 key not set on the listening socket; the peer cannot connect to us");
            }
        }
    }

    fn start_peer(&mut self, p: PeerConfig) {
        if p.password.is_some() {
            self.listen_key(p.address, p.password.as_ref());
        }
        let handle = peer::spawn(
            peer_settings(&self.config, &p, &self.restart),
            self.peer_events.clone(),
            self.route_budget.clone(),
        );
        if let Ok(mut m) = self.inbound.lock() {
            m.insert(p.address, handle.inbound.clone());
        }
        info!(peer = %p.address, asn = %p.asn, "peer configured");
        self.peers
            .insert(p.address, RunningPeer { config: p, handle });
    }

    async fn stop_peer(&mut self, addr: IpAddr, why: Notification) {
        if let Ok(mut m) = self.inbound.lock() {
            m.remove(&addr);
        }
        if self
            .peers
            .get(&addr)
            .is_some_and(|p| p.config.password.is_some())
        {
            self.listen_key(addr, None);
        }
        if let Some(p) = self.peers.remove(&addr) {
            let _ = p.handle.commands.send(PeerCommand::Stop(why));
            let _ = tokio::time::timeout(Duration::from_secs(3), p.handle.task).await;
        }
        let _ = self.rib.send(RibInput::PeerRemoved(addr)).await;
    }

    async fn run(&mut self, mut source: ConfigSource) -> Result<(), AgentError> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    if let ConfigSource::File(path) = &source {
                        match Config::load(path) {
                            Ok(c) => self.apply(c).await,
                            Err(e) => error!(error = %e, "reload refused; the running configuration stays"),
                        }
                    }
                }
                new = async {
                    match &mut source {
                        ConfigSource::Channel(rx) => rx.recv().await,
                        ConfigSource::File(_) => std::future::pending().await,
                    }
                } => match new {
                    Some(c) => self.apply(c).await,
                    None => break,
                },
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// A new configuration (SIGHUP or pushed): peers added, removed or
    /// changed are started, stopped or restarted, and the others keep their
    /// sessions.
    async fn apply(&mut self, new: Config) {
        let new = Arc::new(new);
        let old = self.config.clone();
        if new.fib != old.fib || new.control != old.control || new.bgp.listen != old.bgp.listen {
            error!("reload refused: [fib], [control] and bgp.listen change only with a restart");
            return;
        }
        let globals_changed = new.node != old.node
            || new.bgp.hold_time != old.bgp.hold_time
            || new.bgp.connect_retry != old.bgp.connect_retry
            || new.bgp.cluster_id != old.bgp.cluster_id;
        // The import policy (filters, pod pools) changes without a reset:
        // peers are asked to send their routes again (ROUTE-REFRESH, RFC
        // 2918), which the new policy then judges.
        let import_changed = new.bgp.import != old.bgp.import || new.cluster != old.cluster;
        self.config = new.clone();
        if globals_changed {
            warn!("node, cluster or global BGP settings changed: restarting every session");
            let addrs: Vec<IpAddr> = self.peers.keys().copied().collect();
            for a in addrs {
                self.stop_peer(
                    a,
                    Notification::cease(CeaseSubcode::OtherConfigurationChange, []),
                )
                .await;
            }
            let _ = self
                .rib
                .send(RibInput::Reset(
                    Box::new(Rib::new(rib_config(&new))),
                    new.clone(),
                ))
                .await;
            let _ = self
                .fib
                .requests
                .send(FibRequest::OwnPrefixes(new.node.pod_cidrs.clone()));
            for p in new.bgp.peers.clone() {
                self.start_peer(p);
            }
            info!("configuration reloaded");
            return;
        }
        // Graceful restart is negotiated in the OPEN: a change takes every
        // session through a restart (routes stay; the RIB is not reset).
        let gr_changed = new.bgp.graceful_restart != old.bgp.graceful_restart
            || new.bgp.restart_time != old.bgp.restart_time;
        if gr_changed {
            self.restart
                .set_restart_time(new.bgp.restart_time.seconds());
        }
        let _ = self.rib.send(RibInput::Config(new.clone())).await;
        if import_changed {
            info!("import policy changed: asking peers to refresh their routes");
            let _ = self.rib.send(RibInput::Import(new.clone())).await;
        }
        let wanted: HashMap<IpAddr, &PeerConfig> =
            new.bgp.peers.iter().map(|p| (p.address, p)).collect();
        let running: Vec<IpAddr> = self.peers.keys().copied().collect();
        for addr in running {
            match wanted.get(&addr) {
                None => {
                    info!(peer = %addr, "peer removed from the configuration");
                    self.stop_peer(
                        addr,
                        Notification::cease(CeaseSubcode::PeerDeconfigured, []),
                    )
                    .await;
                }
                Some(p) if **p != self.peers[&addr].config || gr_changed => {
                    info!(peer = %addr, "peer settings changed: restarting its session");
                    self.stop_peer(
                        addr,
                        Notification::cease(CeaseSubcode::OtherConfigurationChange, []),
                    )
                    .await;
                    self.start_peer((*p).clone());
                }
                Some(_) => {}
            }
        }
        for p in &new.bgp.peers {
            if !self.peers.contains_key(&p.address) {
                self.start_peer(p.clone());
            }
        }
        info!("configuration reloaded");
    }

    async fn shutdown(&mut self) {
        // With graceful restart the kernel keeps forwarding through our
        // routes and peers keep theirs towards us: sessions are closed
        // without a NOTIFICATION (RFC 4724 §4.2 treats that as a restart)
        // and the next instance adopts the routes.
        let graceful = self.config.bgp.graceful_restart;
        let peers: Vec<RunningPeer> = self.peers.drain().map(|(_, p)| p).collect();
        if graceful {
            info!(
                "stopping for a graceful restart: closing sessions without NOTIFICATION, kernel routes stay"
            );
        } else {
            info!("stopping: closing sessions");
        }
        let why = Notification::admin_shutdown(
            CeaseSubcode::AdministrativeShutdown,
            "podroute agent stopping",
        );
        for p in &peers {
            let command = if graceful_for(&self.config, &p.config) {
                PeerCommand::Detach
            } else {
                PeerCommand::Stop(why.clone())
            };
            let _ = p.handle.commands.send(command);
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            for p in peers {
                let _ = p.handle.task.await;
            }
        })
        .await;
        let (done, wait) = oneshot::channel();
        if self.rib.send(RibInput::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
        // Without graceful restart a stopped agent must not leave routes that
        // nothing maintains.
        let (done, wait) = oneshot::channel();
        if self
            .fib
            .requests
            .send(FibRequest::Shutdown {
                keep_routes: graceful,
                done,
            })
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
        }
        for t in &self.tasks {
            t.abort();
        }
        self.rib_task.abort();
        let _ = std::fs::remove_file(&self.config.control.socket);
        info!("stopped");
    }
}
