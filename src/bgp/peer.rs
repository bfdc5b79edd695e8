//! The peer task: runs one [`Session`] over real TCP connections and timers — the I/O edge of the state machine.
//!
//! Per connection a reader task cuts the byte stream into messages and a
//! writer task drains a queue onto the socket, so a slow peer never blocks
//! the session's timers. The peer task decodes each message with the
//! context its connection negotiated, feeds the state machine, and carries
//! out the actions: connect, send, close, arm timers, and report to the RIB.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::budget::{self, Credit, RouteBudget};
use super::context::CodecContext;
use super::fsm::{
    Action, ConnId, ConnectFailure, Direction, DownReason, Event, Session, SessionConfig, State,
};
use super::header::frame_len;
use super::message::Message;
use super::negotiate::Negotiated;
use super::notification::Notification;
use super::route_refresh::RouteRefresh;
use super::types::RouterId;
use super::update::Update;

/// Where and how to reach one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSettings {
    pub address: IpAddr,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    /// TCP-MD5 key (RFC 2385) for the session's sockets.
    pub password: Option<crate::config::Password>,
    /// GTSM (RFC 5082): the peer's distance in hops.
    pub ttl_security: Option<u8>,
    /// Graceful restart (RFC 4724) for this session: the capability of each
    /// OPEN is built from it; `None` sends none.
    pub restart: Option<super::graceful::SharedRestart>,
    pub session: SessionConfig,
}

/// What the RIB (or the agent) asks of a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// Whole encoded messages for the established session, in order.
    Send(Vec<Bytes>),
    /// Close with this NOTIFICATION and end the task.
    Stop(Notification),
    /// Graceful restart of the agent: close the connections without a
    /// NOTIFICATION, so the peer keeps our routes (RFC 4724 §4.2), and end
    /// the task.
    Detach,
    /// Close with this NOTIFICATION and start again at once.
    Restart(Notification),
    /// Too many prefixes: close with this Cease (RFC 4486), stay down, and
    /// start again after `restart_after` (never, with `None`).
    PrefixLimit {
        notification: Notification,
        restart_after: Option<Duration>,
    },
}

/// What a peer task tells the RIB.
#[derive(Debug)]
pub enum PeerEvent {
    /// The session changed state.
    State {
        peer: IpAddr,
        state: State,
        last_error: Option<String>,
    },
    /// The session is Established; send UPDATEs with `commands`.
    Up {
        peer: IpAddr,
        negotiated: Box<Negotiated>,
        /// The peer's BGP Identifier.
        router_id: RouterId,
        /// Our address on the session: the NEXT_HOP we announce.
        local_address: IpAddr,
        commands: mpsc::UnboundedSender<PeerCommand>,
    },
    /// Validated UPDATEs, in arrival order.
    Updates {
        peer: IpAddr,
        updates: Vec<Update>,
        /// Returned to the shared budget when the RIB drops the event.
        credit: Credit,
    },
    RefreshRequested {
        peer: IpAddr,
        request: RouteRefresh,
    },
    /// The Established session ended.
    Down {
        peer: IpAddr,
        reason: DownReason,
    },
}

/// The agent's handle on a running peer task.
#[derive(Debug)]
pub struct PeerHandle {
    /// Unbounded: the RIB must never wait on a peer that waits on the RIB.
    pub commands: mpsc::UnboundedSender<PeerCommand>,
    /// Connections the listener accepted from this peer's address.
    pub inbound: mpsc::Sender<TcpStream>,
    pub task: JoinHandle<()>,
}

/// Starts the task for one peer; it begins connecting at once.
pub fn spawn(
    settings: PeerSettings,
    to_rib: mpsc::Sender<PeerEvent>,
    budget: RouteBudget,
) -> PeerHandle {
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (inbound_tx, inbound) = mpsc::channel(4);
    let task = Peer::new(settings, to_rib, budget, commands_tx.clone());
    let task = tokio::spawn(task.run(commands, inbound));
    PeerHandle {
        commands: commands_tx,
        inbound: inbound_tx,
        task,
    }
}

/// Messages from a connection's reader task.
enum ConnInput {
    Frames(ConnId, Vec<BytesMut>),
    Bad(ConnId, Notification),
    Closed(ConnId, Option<io::Error>),
}

struct Conn {
    local: Option<SocketAddr>,
    writer: mpsc::Sender<Bytes>,
    writer_task: JoinHandle<()>,
    reader_task: JoinHandle<()>,
}

struct Peer {
    settings: PeerSettings,
    session: Session,
    to_rib: mpsc::Sender<PeerEvent>,
    budget: RouteBudget,
    own_commands: mpsc::UnboundedSender<PeerCommand>,
    conns: HashMap<ConnId, Conn>,
    timers: HashMap<super::fsm::Timer, Instant>,
    connecting: Option<JoinHandle<io::Result<TcpStream>>>,
    next_id: u64,
    conn_tx: mpsc::Sender<ConnInput>,
    conn_rx: Option<mpsc::Receiver<ConnInput>>,
    reported: State,
    last_error: Option<String>,
    pending_updates: Vec<Update>,
    closed_writers: Vec<JoinHandle<()>>,
    /// When to start again after a prefix-limit shutdown.
    restart_at: Option<Instant>,
}

impl Peer {
    fn new(
        settings: PeerSettings,
        to_rib: mpsc::Sender<PeerEvent>,
        budget: RouteBudget,
        own: mpsc::UnboundedSender<PeerCommand>,
    ) -> Self {
        // Each item is one read's frames (up to READ_MAX octets): a few
        // suffice to keep the peer task busy; more would only buffer.
        let (conn_tx, conn_rx) = mpsc::channel(8);
        Peer {
            session: Session::new(settings.session.clone()),
            settings,
            to_rib,
            budget,
            own_commands: own,
            conns: HashMap::new(),
            timers: HashMap::new(),
            connecting: None,
            next_id: 1,
            conn_tx,
            conn_rx: Some(conn_rx),
            reported: State::Idle,
            last_error: None,
            pending_updates: Vec::new(),
            closed_writers: Vec::new(),
            restart_at: None,
        }
    }

    fn addr(&self) -> IpAddr {
        self.settings.address
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<PeerCommand>,
        mut inbound: mpsc::Receiver<TcpStream>,
    ) {
        let Some(mut conn_rx) = self.conn_rx.take() else {
            return;
        };
        self.feed(Event::Start).await;
        loop {
            let next_timer = self.timers.values().min().copied();
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(PeerCommand::Send(messages)) => self.send_established(messages).await,
                    Some(PeerCommand::Stop(n)) => {
                        self.feed(Event::Stop(self.deliberate(n))).await;
                        break;
                    }
                    Some(PeerCommand::Detach) => {
                        info!(peer = %self.addr(), "closing without NOTIFICATION for graceful restart");
                        break;
                    }
                    Some(PeerCommand::Restart(n)) => {
                        self.feed(Event::Stop(self.deliberate(n))).await;
                        self.feed(Event::Start).await;
                    }
                    Some(PeerCommand::PrefixLimit { notification, restart_after }) => {
                        let text = match restart_after {
                            Some(d) => format!("maximum number of prefixes exceeded; restarting in {} s", d.as_secs()),
                            None => "maximum number of prefixes exceeded; down until the configuration is reloaded".to_string(),
                        };
                        self.feed(Event::Stop(self.deliberate(notification))).await;
                        self.last_error = Some(text.clone());
                        warn!(peer = %self.addr(), "{text}");
                        self.restart_at = restart_after.map(|d| Instant::now() + d);
                        self.report_state().await;
                    }
                    None => break,
                },
                Some(stream) = inbound.recv() => {
                    if !self.protect_inbound(&stream) {
                        continue;
                    }
                    let id = self.add_conn(stream);
                    self.feed(Event::Connected(id, Direction::Inbound)).await;
                }
                Some(input) = conn_rx.recv() => self.conn_input(input).await,
                result = async { self.connecting.as_mut().expect("guarded by if").await }, if self.connecting.is_some() => {
                    self.connecting = None;
                    match result {
                        Ok(Ok(stream)) => {
                            let id = self.add_conn(stream);
                            self.feed(Event::Connected(id, Direction::Outbound)).await;
                        }
                        Ok(Err(e)) => {
                            // A key mismatch makes the kernel drop every
                            // segment silently: all we see is a timeout.
                            let hint = if e.kind() != io::ErrorKind::TimedOut {
                                ""
                            } else if self.settings.password.is_some() {
                                " (a TCP-MD5 password is configured: a peer with another or no password never answers)"
                            } else if md5_unexpected() {
                                " (TCP-MD5-signed segments arrived without a key for them: does the peer have a password that is not configured here?)"
                            } else {
                                ""
                            };
                            if hint.is_empty() {
                                debug!(peer = %self.addr(), error = %e, "connect failed");
                            } else {
                                warn!(peer = %self.addr(), error = %e, "connect failed{hint}");
                            }
                            self.last_error = Some(format!("connect: {e}{hint}"));
                            let how = if e.kind() == io::ErrorKind::ConnectionRefused {
                                ConnectFailure::Refused
                            } else {
                                ConnectFailure::Other
                            };
                            self.feed(Event::ConnectFailed(how)).await;
                        }
                        Err(_) => {}
                    }
                }
                _ = sleep_until_opt(self.restart_at), if self.restart_at.is_some() => {
                    self.restart_at = None;
                    info!(peer = %self.addr(), "restarting after the prefix limit");
                    self.feed(Event::Start).await;
                }
                _ = sleep_until_opt(next_timer), if next_timer.is_some() => {
                    let now = Instant::now();
                    let due: Vec<_> = self.timers.iter().filter(|(_, at)| **at <= now).map(|(t, _)| *t).collect();
                    for t in due {
                        self.timers.remove(&t);
                        self.feed(Event::TimerExpired(t)).await;
                    }
                }
            }
        }
        // Let the writers flush the final NOTIFICATIONs, boundedly.
        let writers: Vec<_> = self
            .conns
            .drain()
            .map(|(_, c)| {
                c.reader_task.abort();
                c.writer_task
            })
            .chain(self.closed_writers.drain(..))
            .collect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            for w in writers {
                let _ = w.await;
            }
        })
        .await;
        if let Some(c) = self.connecting.take() {
            c.abort();
        }
    }

    async fn conn_input(&mut self, input: ConnInput) {
        match input {
            ConnInput::Frames(id, frames) => {
                for frame in frames {
                    if !self.conns.contains_key(&id) {
                        break;
                    }
                    let ctx = self.receive_context(id);
                    let event = match Message::decode(&frame, &ctx) {
                        Ok(m) => Event::Received(id, m),
                        Err(n) => {
                            warn!(peer = %self.addr(), error = %n, "malformed message, closing the session");
                            Event::DecodeError(id, n)
                        }
                    };
                    self.feed(event).await;
                }
                self.flush_updates().await;
            }
            ConnInput::Bad(id, n) => {
                warn!(peer = %self.addr(), error = %n, "bad message header, closing the session");
                self.feed(Event::DecodeError(id, n)).await;
            }
            ConnInput::Closed(id, error) => {
                if self.conns.contains_key(&id) {
                    if let Some(e) = &error {
                        self.last_error = Some(format!("connection: {e}"));
                    }
                    debug!(peer = %self.addr(), error = ?error, "connection closed");
                    self.feed(Event::Closed(id)).await;
                }
            }
        }
    }

    fn receive_context(&self, id: ConnId) -> CodecContext {
        self.session
            .connections()
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.negotiated.as_ref())
            .map(|n| n.receive.clone())
            .unwrap_or_default()
    }

    /// The NOTIFICATION for a session we end on purpose: Hard Reset
    /// around it where RFC 8538 asks for one.
    fn deliberate(&self, n: Notification) -> Notification {
        super::graceful::deliberate_stop(self.session.established().map(|(_, n)| n), n)
    }

    async fn feed(&mut self, event: Event) {
        if let (Event::Connected(..), Some(restart)) = (&event, &self.settings.restart) {
            let families = super::negotiate::families(&self.settings.session.local_open);
            self.session
                .set_graceful_restart(restart.get().capability(&families));
        }
        let actions = self.session.handle(event, Instant::now().into_std());
        for action in actions {
            self.act(action).await;
        }
        let state = self.session.state();
        if state != self.reported {
            info!(peer = %self.addr(), from = self.reported.name(), to = state.name(), "session state");
            self.reported = state;
            self.report_state().await;
        }
    }

    /// Tells the RIB the session's state and last error.
    async fn report_state(&self) {
        let _ = self
            .to_rib
            .send(PeerEvent::State {
                peer: self.addr(),
                state: self.session.state(),
                last_error: self.last_error.clone(),
            })
            .await;
    }

    async fn act(&mut self, action: Action) {
        let peer = self.addr();
        match action {
            Action::Connect => {
                if let Some(old) = self.connecting.take() {
                    old.abort();
                }
                let remote = SocketAddr::new(peer, self.settings.port);
                let local = self.settings.local_address;
                let limit = self.settings.session.connect_retry;
                let key = self.settings.password.clone();
                let gtsm = self.settings.ttl_security;
                let user_timeout = self.user_timeout();
                self.connecting = Some(tokio::spawn(connect(
                    remote,
                    local,
                    limit,
                    key,
                    gtsm,
                    user_timeout,
                )));
            }
            Action::Send(id, message) => {
                if let Message::Notification(n) = &message {
                    warn!(peer = %peer, notification = %n, "sending NOTIFICATION");
                    self.last_error = Some(format!("sent {n}"));
                }
                let ctx = self
                    .session
                    .connections()
                    .iter()
                    .find(|c| c.id == id)
                    .and_then(|c| c.negotiated.as_ref())
                    .map(|n| n.send.clone())
                    .unwrap_or_default();
                match message.to_bytes(&ctx) {
                    Ok(bytes) => self.write(id, Bytes::from(bytes)).await,
                    Err(e) => warn!(peer = %peer, error = %e, "cannot encode message"),
                }
            }
            Action::Close(id) => {
                if let Some(conn) = self.conns.remove(&id) {
                    // Dropping the queue makes the writer flush and shut the
                    // socket down; the reader has nothing more to deliver.
                    conn.reader_task.abort();
                    drop(conn.writer);
                    self.closed_writers.retain(|w| !w.is_finished());
                    self.closed_writers.push(conn.writer_task);
                }
            }
            Action::SetTimer(t, d) => {
                self.timers.insert(t, Instant::now() + d);
            }
            Action::CancelTimer(t) => {
                self.timers.remove(&t);
            }
            Action::Up(negotiated) => {
                self.flush_updates().await;
                info!(peer = %peer, hold_time = negotiated.hold_time, families = ?negotiated.families, "session established");
                self.last_error = None;
                let conn = self.session.established().map(|(id, _)| id).and_then(|id| {
                    let router_id = self
                        .session
                        .connections()
                        .iter()
                        .find(|c| c.id == id)?
                        .peer_router_id?;
                    Some((router_id, self.conns.get(&id)?.local?))
                });
                let Some((router_id, local)) = conn else {
                    warn!(peer = %peer, "established session without a local address; ignored");
                    return;
                };
                let _ = self
                    .to_rib
                    .send(PeerEvent::Up {
                        peer,
                        negotiated,
                        router_id,
                        local_address: local.ip(),
                        commands: self.own_commands.clone(),
                    })
                    .await;
            }
            Action::Down(reason) => {
                self.flush_updates().await;
                let text = match &reason {
                    DownReason::Sent(n) => format!("sent {n}"),
                    DownReason::Received(n) => format!("received {n}"),
                    DownReason::ConnectionLost => "connection lost".to_string(),
                };
                warn!(peer = %peer, reason = %text, "session down");
                self.last_error = Some(text);
                let _ = self.to_rib.send(PeerEvent::Down { peer, reason }).await;
            }
            Action::Deliver(update) => {
                for e in &update.errors {
                    warn!(peer = %peer, error = ?e, "UPDATE error handled per RFC 7606");
                }
                self.pending_updates.push(update);
            }
            Action::RefreshRequested(request) => {
                self.flush_updates().await;
                let _ = self
                    .to_rib
                    .send(PeerEvent::RefreshRequested { peer, request })
                    .await;
            }
        }
    }

    async fn flush_updates(&mut self) {
        if self.pending_updates.is_empty() {
            return;
        }
        let updates = std::mem::take(&mut self.pending_updates);
        let routes = updates.iter().map(budget::routes_in).sum();
        let credit = self.budget.take(routes).await;
        let _ = self
            .to_rib
            .send(PeerEvent::Updates {
                peer: self.addr(),
                updates,
                credit,
            })
            .await;
    }

    async fn write(&mut self, id: ConnId, bytes: Bytes) {
        if let Some(conn) = self.conns.get(&id)
            && conn.writer.send(bytes).await.is_err()
        {
            debug!(peer = %self.addr(), "writer gone");
        }
    }

    async fn send_established(&mut self, messages: Vec<Bytes>) {
        let Some((id, _)) = self.session.established() else {
            return;
        };
        for m in messages {
            self.write(id, m).await;
        }
    }

    /// With GTSM an incoming connection is refused: the listening socket is
    /// shared with peers that do not use GTSM, so its segments cannot be
    /// filtered from the first one, and whatever arrived before a filter is
    /// set on the accepted socket would pass unchecked. The session runs on
    /// the connection we open, filtered by the kernel from the SYN-ACK on.
    fn protect_inbound(&mut self, _stream: &TcpStream) -> bool {
        if self.settings.ttl_security.is_some() {
            debug!(peer = %self.addr(), "incoming connection refused: with GTSM only our own connection is used");
            return false;
        }
        true
    }

    /// How long sent data may stay unacknowledged before the kernel gives
    /// the connection up: the hold time we offer (at least 10 s), so a peer
    /// that vanished is noticed on the sending side as soon as on the
    /// receiving side, even while our queue is full and no KEEPALIVE of ours
    /// can leave.
    fn user_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.settings.session.local_open.hold_time).max(10))
    }

    fn add_conn(&mut self, stream: TcpStream) -> ConnId {
        if let Err(e) = bound_unacked_data(&socket2::SockRef::from(&stream), self.user_timeout()) {
            warn!(peer = %self.addr(), error = %e, "TCP_USER_TIMEOUT not set");
        }
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok();

        let (read, write) = stream.into_split();
        let (writer, queue) = mpsc::channel::<Bytes>(1024);
        let writer_task = tokio::spawn(write_loop(write, queue));
        let reader_task = tokio::spawn(read_loop(id, read, self.conn_tx.clone()));
        self.conns.insert(
            id,
            Conn {
                local,
                writer,
                writer_task,
                reader_task,
            },
        );
        id
    }
}

/// TCP_USER_TIMEOUT (RFC 5482): unacknowledged data older than `timeout`
/// closes the connection.
fn bound_unacked_data(socket: &socket2::SockRef<'_>, timeout: Duration) -> io::Result<()> {
    socket.set_tcp_user_timeout(Some(timeout))
}

/// Whether this namespace's kernel dropped TCP segments that carried an
/// MD5 signature nobody expected (`TcpExt: TCPMD5Unexpected`): the sign of
/// a peer with a password we do not have.
fn md5_unexpected() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/net/netstat") else {
        return false;
    };
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        return names
            .split_whitespace()
            .zip(values.split_whitespace())
            .any(|(n, v)| n == "TCPMD5Unexpected" && v != "0");
    }
    false
}

async fn sleep_until_opt(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

async fn connect(
    remote: SocketAddr,
    local: Option<IpAddr>,
    limit: Duration,
    key: Option<crate::config::Password>,
    gtsm: Option<u8>,
    user_timeout: Duration,
) -> io::Result<TcpStream> {
    let socket = if remote.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(key) = key {
        use std::os::fd::AsRawFd;
        // Before connect: the SYN must already be signed (RFC 2385 §2).
        super::tcp_md5::set_key(socket.as_raw_fd(), remote.ip(), key.as_bytes())
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    if let Some(hops) = gtsm {
        use std::os::fd::AsRawFd;
        super::gtsm::enable(socket.as_raw_fd(), remote.is_ipv6(), hops)
            .map_err(|e| io::Error::other(format!("GTSM socket options: {e}")))?;
    }
    bound_unacked_data(&socket2::SockRef::from(&socket), user_timeout)?;
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    match tokio::time::timeout(limit, socket.connect(remote)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

/// Reads from the socket and hands whole messages to the peer task, many per
/// wakeup. Framing uses the largest limit a session may negotiate; the peer
/// task checks each message against what this connection really negotiated.
async fn read_loop(
    id: ConnId,
    mut read: tokio::net::tcp::OwnedReadHalf,
    to_peer: mpsc::Sender<ConnInput>,
) {
    let framing = CodecContext {
        extended_message: true,
        ..CodecContext::default()
    };
    let mut buf = BytesMut::with_capacity(READ_MIN);
    // Read chunk: small for an idle session (a KEEPALIVE is 19 octets; a
    // route reflector holds a hundred sessions), doubled while reads fill
    // it (a table transfer), halved again when they do not.
    let mut chunk = READ_MIN;
    loop {
        let mut frames = Vec::new();
        loop {
            match frame_len(&buf, &framing) {
                Ok(Some(len)) => frames.push(buf.split_to(len)),
                Ok(None) => break,
                Err(n) => {
                    let _ = to_peer.send(ConnInput::Frames(id, frames)).await;
                    let _ = to_peer.send(ConnInput::Bad(id, n)).await;
                    return;
                }
            }
        }
        if !frames.is_empty() && to_peer.send(ConnInput::Frames(id, frames)).await.is_err() {
            return;
        }
        if buf.is_empty() && buf.capacity() > 2 * chunk {
            // Give a burst's large buffer back once the session is quiet.
            buf = BytesMut::with_capacity(chunk);
        } else if buf.capacity() - buf.len() < chunk / 2 {
            buf.reserve(chunk);
        }
        let spare = buf.capacity() - buf.len();
        match read.read_buf(&mut buf).await {
            Ok(0) => {
                let _ = to_peer.send(ConnInput::Closed(id, None)).await;
                return;
            }
            Ok(n) if n >= spare => chunk = (chunk * 2).min(READ_MAX),
            Ok(n) if n < chunk / 4 => chunk = (chunk / 2).max(READ_MIN),
            Ok(_) => {}
            Err(e) => {
                let _ = to_peer.send(ConnInput::Closed(id, Some(e))).await;
                return;
            }
        }
    }
}

/// Read buffer bounds per connection (see `read_loop`).
const READ_MIN: usize = 4 * 1024;
const READ_MAX: usize = 128 * 1024;

async fn write_loop(mut write: tokio::net::tcp::OwnedWriteHalf, mut queue: mpsc::Receiver<Bytes>) {
    while let Some(bytes) = queue.recv().await {
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unacked_data_is_bounded_on_a_real_socket() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let r = socket2::SockRef::from(&socket);
        bound_unacked_data(&r, Duration::from_secs(90)).unwrap();
        assert_eq!(r.tcp_user_timeout().unwrap(), Some(Duration::from_secs(90)));
    }
}
