//! The BGP session state machine (RFC 4271 §8) with connection collision detection (§6.8), pure: events in, actions out.
//!
//! One [`Session`] per configured peer. It owns no socket and no clock: the
//! peer task feeds it [`Event`]s (with the current time) and carries out the
//! [`Action`]s it returns — open or close a TCP connection, send a message,
//! arm or cancel a timer, tell the RIB a session came up or went down.
//!
//! RFC 4271 runs one state machine per TCP connection; two can exist at once
//! while a collision is being resolved. Here the session tracks up to two
//! [`Connection`]s, each in OpenSent, OpenConfirm or Established, and its
//! reported [`State`] is the most advanced of them (or Idle/Connect/Active
//! when there is none).

use std::time::{Duration, Instant};

use super::message::Message;
use super::negotiate::{AsPair, Negotiated, negotiate};
use super::notification::{CeaseSubcode, ErrorCode, FsmError, Notification, OpenError};
use super::open::Open;
use super::route_refresh::RouteRefresh;
use super::types::{Asn, RouterId};
use super::update::Update;

/// RFC 4271 §8.2.2 session states, with their RFC names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

/// Identifies one TCP connection of a session; chosen by the peer task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Who opened a connection; decides collisions (RFC 4271 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

/// The session's timers. Hold and keepalive run per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// RFC 4271 §8: time between connection attempts.
    ConnectRetry,
    /// Wait before restarting after a failure (RFC 4271 §8.1.1
    /// IdleHoldTimer; grows for a flapping peer).
    IdleHold,
    Hold(ConnId),
    Keepalive(ConnId),
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// ManualStart / AutomaticStart: the peer is configured and may run.
    Start,
    /// ManualStop: close with this NOTIFICATION (normally Cease/
    /// Administrative Shutdown with a message) and stay Idle.
    Stop(Notification),
    /// A TCP connection is up (ours completed, or the peer's accepted).
    Connected(ConnId, Direction),
    /// An outgoing connection attempt failed.
    ConnectFailed(ConnectFailure),
    /// A connection was closed or broke.
    Closed(ConnId),
    TimerExpired(Timer),
    /// A decoded, validated message arrived on a connection.
    Received(ConnId, Message),
    /// A message on this connection could not be decoded; send this.
    DecodeError(ConnId, Notification),
}

/// How an outgoing connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The peer's host answered with a reset: it is up but nothing listens
    /// on the BGP port yet (an agent starting or restarting).
    Refused,
    /// Timed out, unreachable, or a local error.
    Other,
}

/// Why an established session ended, for logs and `show neighbors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// We sent this NOTIFICATION.
    Sent(Notification),
    /// The peer sent this NOTIFICATION.
    Received(Notification),
    /// The connection closed without a NOTIFICATION.
    ConnectionLost,
}

/// What to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start an outgoing TCP connection (abandoning any attempt in progress);
    /// report `Connected(.., Outbound)` or `ConnectFailed`.
    Connect,
    Send(ConnId, Message),
    /// Close the connection once what was sent before is flushed.
    Close(ConnId),
    SetTimer(Timer, Duration),
    CancelTimer(Timer),
    /// The session is Established: the RIB may start exchanging routes.
    Up(Box<Negotiated>),
    /// The Established session ended: the RIB withdraws (or, with graceful
    /// restart, marks stale) what it learned from the peer.
    Down(DownReason),
    /// Routes for the RIB.
    Deliver(Update),
    /// The peer asks us to re-send our routes (RFC 2918, RFC 7313).
    RefreshRequested(RouteRefresh),
}

/// A session's fixed configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub local_asn: Asn,
    pub peer_asn: Asn,
    pub router_id: RouterId,
    /// The OPEN we send; its hold time is the one we offer.
    pub local_open: Open,
    /// Only accept connections, never initiate.
    pub passive: bool,
    pub connect_retry: Duration,
}

/// RFC 4271 §8: hold timer in OpenSent "SHOULD be 4 minutes".
pub const OPEN_SENT_HOLD: Duration = Duration::from_secs(240);
/// A session that lasted less than this before failing counts as a flap.
pub const STABLE_SESSION: Duration = Duration::from_secs(60);
/// Longest wait before restarting a flapping peer.
pub const MAX_IDLE_HOLD: Duration = Duration::from_secs(120);
/// First retry after a refused connection; doubles per refusal in a row up
/// to the ConnectRetryTimer.
pub const REFUSED_RETRY: Duration = Duration::from_millis(100);

/// One TCP connection past the TCP handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: ConnId,
    pub direction: Direction,
    pub state: State,
    /// Set once the peer's OPEN arrived.
    pub negotiated: Option<Negotiated>,
    /// The peer's BGP Identifier, from its OPEN.
    pub peer_router_id: Option<RouterId>,
}

/// The state machine of one configured peer.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    /// Idle, Connect or Active while no connection exists.
    base: State,
    conns: Vec<Connection>,
    established_at: Option<Instant>,
    /// Sessions that failed soon after coming up, in a row.
    flaps: u32,
    /// Outgoing connections refused in a row (see `REFUSED_RETRY`).
    refused: u32,
    /// Sessions lost to a collision race since one lasted (see `after_loss`).
    collisions: u32,
    stopped: bool,
}

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            base: State::Idle,
            conns: Vec::new(),
            established_at: None,
            flaps: 0,
            refused: 0,
            collisions: 0,
            stopped: true,
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Replaces the Graceful Restart capability of the OPENs sent from now
    /// on (the R and F bits change once a restart is over).
    pub fn set_graceful_restart(&mut self, capability: super::capability::Capability) {
        super::graceful::set_capability(&mut self.config.local_open.capabilities, capability);
    }

    /// The RFC 4271 state to report: the most advanced connection's.
    pub fn state(&self) -> State {
        self.conns
            .iter()
            .map(|c| c.state)
            .max()
            .unwrap_or(self.base)
    }

    /// When the current session became Established.
    pub fn established_at(&self) -> Option<Instant> {
        self.established_at
    }

    /// The established connection and what it negotiated.
    pub fn established(&self) -> Option<(ConnId, &Negotiated)> {
        self.conns
            .iter()
            .find(|c| c.state == State::Established)
            .and_then(|c| Some((c.id, c.negotiated.as_ref()?)))
    }

    pub fn connections(&self) -> &[Connection] {
        &self.conns
    }

    /// Feeds one event; returns what to do.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => self.start(&mut out),
            Event::Stop(n) => self.stop(n, &mut out),
            Event::Connected(id, dir) => self.connected(id, dir, &mut out),
            Event::ConnectFailed(how) => self.connect_failed(how, &mut out),
            Event::Closed(id) => {
                if let Some(conn) = self.remove(id, &mut out) {
                    self.after_loss(conn, DownReason::ConnectionLost, now, &mut out);
                }
            }
            Event::TimerExpired(t) => self.timer(t, now, &mut out),
            Event::Received(id, m) => self.received(id, m, now, &mut out),
            Event::DecodeError(id, n) => self.fail(id, DownReason::Sent(n), now, &mut out),
        }
        out
    }

    fn start(&mut self, out: &mut Vec<Action>) {
        if !self.stopped {
            return;
        }
        self.stopped = false;
        self.begin_connecting(out);
    }

    /// Idle → Connect (or Active for a passive peer) with the
    /// ConnectRetryTimer running.
    fn begin_connecting(&mut self, out: &mut Vec<Action>) {
        if self.config.passive {
            self.base = State::Active;
            return;
        }
        self.base = State::Connect;
        out.push(Action::Connect);
        out.push(Action::SetTimer(
            Timer::ConnectRetry,
            self.config.connect_retry,
        ));
    }

    fn connect_failed(&mut self, how: ConnectFailure, out: &mut Vec<Action>) {
        if self.base == State::Connect {
            // §8.2.2 Connect, TcpConnectionFails: to Active; the
            // ConnectRetryTimer, still running, tries again.
            self.base = State::Active;
        }
        if how != ConnectFailure::Refused || self.stopped || !self.conns.is_empty() {
            return;
        }
        // A refusal means the peer's host is up and its speaker is not
        // listening yet: when nodes start together each may try the other
        // first. Waiting a whole ConnectRetryTimer (whose value §10 leaves
        // to us) would put that wait into every cold start, so the timer
        // starts short and grows back to its configured value.
        let quick = short_retry(&mut self.refused);
        if quick < self.config.connect_retry {
            out.push(Action::SetTimer(Timer::ConnectRetry, quick));
        }
    }

    fn stop(&mut self, notification: Notification, out: &mut Vec<Action>) {
        self.stopped = true;
        out.push(Action::CancelTimer(Timer::ConnectRetry));
        out.push(Action::CancelTimer(Timer::IdleHold));
        let was_up = self.state() == State::Established;
        for conn in std::mem::take(&mut self.conns) {
            out.push(Action::Send(
                conn.id,
                Message::Notification(notification.clone()),
            ));
            close(&conn, out);
        }
        if was_up {
            out.push(Action::Down(DownReason::Sent(notification)));
        }
        self.established_at = None;
        self.base = State::Idle;
    }

    fn connected(&mut self, id: ConnId, direction: Direction, out: &mut Vec<Action>) {
        // A connection beside an Established session with a graceful
        // restart peer is heard out: its OPEN tells a restart from a
        // collision (`open_received`).
        let refuse = self.stopped
            || self.conns.len() >= 2
            || self.conns.iter().any(|c| {
                (c.state == State::Established && !graceful_peer(c)) || c.direction == direction
            });
        if refuse {
            // RFC 4486 §4: Connection Rejected for a connection we will not
            // run; §6.8: a connection colliding with an Established one is
            // closed.
            out.push(Action::Send(
                id,
                Message::Notification(Notification::cease(CeaseSubcode::ConnectionRejected, [])),
            ));
            out.push(Action::Close(id));
            return;
        }
        if direction == Direction::Outbound || self.conns.is_empty() {
            out.push(Action::CancelTimer(Timer::ConnectRetry));
        }
        self.refused = 0;
        self.conns.push(Connection {
            id,
            direction,
            state: State::OpenSent,
            negotiated: None,
            peer_router_id: None,
        });
        out.push(Action::Send(
            id,
            Message::Open(self.config.local_open.clone()),
        ));
        out.push(Action::SetTimer(Timer::Hold(id), OPEN_SENT_HOLD));
    }

    /// Whether an OPEN that arrived on a new connection while the session
    /// is Established on another (with a peer that sent the Graceful
    /// Restart capability) ends that session. RFC 4724 §4.2: a peer that
    /// restarted before we noticed (power loss, no FIN) comes back this
    /// way, and its old session is to end as if its TCP connection had,
    /// keeping the routes as stale. Two
    /// speakers that connect to each other at once see the same thing for
    /// a moment, though: one side's session comes up while the other
    /// side's OPEN is on its way. That is a §6.8 collision with an
    /// Established connection, and the new connection is the one to close
    /// (the peer, whose session is up on the same connection, closes it
    /// too; replacing the session instead lost both). The Restart State
    /// bit tells the two apart: a restarted peer sets it, a peer in the
    /// middle of its first session does not.
    fn says_restarted(open: &Open) -> bool {
        open.capabilities.iter().any(
            |c| matches!(c, super::capability::Capability::GracefulRestart(gr) if gr.restart_state),
        )
    }

    fn timer(&mut self, timer: Timer, now: Instant, out: &mut Vec<Action>) {
        match timer {
            Timer::ConnectRetry => {
                if !self.stopped && self.conns.is_empty() && !self.config.passive {
                    self.begin_connecting(out);
                }
            }
            Timer::IdleHold => {
                if !self.stopped && self.conns.is_empty() {
                    self.begin_connecting(out);
                }
            }
            Timer::Hold(id) => {
                if self.conn(id).is_some() {
                    let n = Notification::bare(ErrorCode::HoldTimerExpired);
                    self.fail(id, DownReason::Sent(n), now, out);
                }
            }
            Timer::Keepalive(id) => {
                if let Some(conn) = self.conn(id) {
                    let hold = conn.negotiated.as_ref().map_or(0, |n| n.hold_time);
                    if hold > 0 && conn.state != State::OpenSent {
                        out.push(Action::Send(id, Message::Keepalive));
                        out.push(Action::SetTimer(
                            Timer::Keepalive(id),
                            keepalive_interval(hold),
                        ));
                    }
                }
            }
        }
    }

    fn received(&mut self, id: ConnId, message: Message, now: Instant, out: &mut Vec<Action>) {
        let Some(state) = self.conn(id).map(|c| c.state) else {
            return;
        };
        match (state, message) {
            (_, Message::Notification(n)) => {
                // §8.2.2: NotifMsg in any state closes the connection; no
                // NOTIFICATION is sent back.
                if let Some(conn) = self.remove(id, out) {
                    self.after_loss(conn, DownReason::Received(n), now, out);
                }
            }
            (State::OpenSent, Message::Open(open)) => self.open_received(id, open, now, out),
            (State::OpenConfirm, Message::Keepalive) => {
                self.set_state(id, State::Established);
                self.restart_hold(id, out);
                // §6.8: of two connections, only the Established one stays.
                let others: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|c| c.id != id)
                    .map(|c| c.id)
                    .collect();
                for other in others {
                    self.collision_close(other, out);
                }
                self.established_at = Some(now);
                if let Some(n) = self.conn(id).and_then(|c| c.negotiated.clone()) {
                    out.push(Action::Up(Box::new(n)));
                }
            }
            (State::Established, Message::Keepalive) => self.restart_hold(id, out),
            (State::Established, Message::Update(u)) => {
                self.restart_hold(id, out);
                out.push(Action::Deliver(u));
            }
            (State::Established, Message::RouteRefresh(r)) => {
                out.push(Action::RefreshRequested(r));
            }
            (state, _) => {
                // RFC 6608: the subcode names the state the unexpected
                // message arrived in.
                let sub = match state {
                    State::OpenSent => FsmError::UnexpectedMessageInOpenSent,
                    State::OpenConfirm => FsmError::UnexpectedMessageInOpenConfirm,
                    State::Established => FsmError::UnexpectedMessageInEstablished,
                    _ => FsmError::Unspecified,
                };
                let n = Notification::bare(ErrorCode::Fsm(sub));
                self.fail(id, DownReason::Sent(n), now, out);
            }
        }
    }

    fn open_received(&mut self, id: ConnId, open: Open, now: Instant, out: &mut Vec<Action>) {
        if let Err(n) = self.check_open(&open) {
            self.fail(id, DownReason::Sent(n), now, out);
            return;
        }
        if let Some(old) = self
            .conns
            .iter()
            .find(|c| c.id != id && c.state == State::Established)
            .map(|c| c.id)
        {
            if !Self::says_restarted(&open) {
                self.collision_close(id, out);
                return;
            }
            // Closed without a NOTIFICATION, as a lost connection.
            self.remove(old, out);
            self.established_at = None;
            out.push(Action::Down(DownReason::ConnectionLost));
        }
        // RFC 4271 §6.8: with the peer's BGP Identifier known, keep the
        // connection opened by the speaker with the higher identifier.
        if let Some(other) = self
            .conns
            .iter()
            .find(|c| c.id != id)
            .map(|c| (c.id, c.direction))
        {
            let keep = keep_direction(self.config.router_id, open.router_id);
            let this_dir = self.conn(id).map(|c| c.direction);
            if this_dir != Some(keep) {
                self.collision_close(id, out);
                return;
            }
            self.collision_close(other.0, out);
        }
        let asns = AsPair {
            local: self.config.local_asn,
            peer: self.config.peer_asn,
        };
        let negotiated = negotiate(&self.config.local_open, &open, asns);
        let hold = negotiated.hold_time;
        if let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) {
            conn.state = State::OpenConfirm;
            conn.negotiated = Some(negotiated);
            conn.peer_router_id = Some(open.router_id);
        }
        out.push(Action::Send(id, Message::Keepalive));
        if hold > 0 {
            out.push(Action::SetTimer(
                Timer::Hold(id),
                Duration::from_secs(hold.into()),
            ));
            out.push(Action::SetTimer(
                Timer::Keepalive(id),
                keepalive_interval(hold),
            ));
        } else {
            out.push(Action::CancelTimer(Timer::Hold(id)));
        }
    }

    /// RFC 4271 §6.2 checks that need the configuration.
    fn check_open(&self, open: &Open) -> Result<(), Notification> {
        let peer_as = open.asn();
        if peer_as != self.config.peer_asn {
            // §6.2: Bad Peer AS; RFC 6793 §4.1 compares the 4-octet AS if present.
            return Err(Notification::open(
                OpenError::BadPeerAs,
                open.my_as.to_be_bytes(),
            ));
        }
        if self.config.local_asn == self.config.peer_asn && open.router_id == self.config.router_id
        {
            // RFC 6286 §2.2: within an AS, identifiers must differ.
            return Err(Notification::open(
                OpenError::BadBgpIdentifier,
                open.router_id.0.octets(),
            ));
        }
        Ok(())
    }

    fn restart_hold(&self, id: ConnId, out: &mut Vec<Action>) {
        if let Some(hold) = self
            .conn(id)
            .and_then(|c| c.negotiated.as_ref())
            .map(|n| n.hold_time)
            && hold > 0
        {
            out.push(Action::SetTimer(
                Timer::Hold(id),
                Duration::from_secs(hold.into()),
            ));
        }
    }

    /// Sends `reason`'s NOTIFICATION (when we are the one sending), closes
    /// the connection and handles the loss.
    fn fail(&mut self, id: ConnId, reason: DownReason, now: Instant, out: &mut Vec<Action>) {
        if let DownReason::Sent(n) = &reason {
            out.push(Action::Send(id, Message::Notification(n.clone())));
        }
        if let Some(conn) = self.remove(id, out) {
            self.after_loss(conn, reason, now, out);
        }
    }

    fn collision_close(&mut self, id: ConnId, out: &mut Vec<Action>) {
        out.push(Action::Send(
            id,
            Message::Notification(Notification::cease(
                CeaseSubcode::ConnectionCollisionResolution,
                [],
            )),
        ));
        if let Some(i) = self.conns.iter().position(|c| c.id == id) {
            let conn = self.conns.remove(i);
            close(&conn, out);
        }
    }

    fn remove(&mut self, id: ConnId, out: &mut Vec<Action>) -> Option<Connection> {
        let i = self.conns.iter().position(|c| c.id == id)?;
        let conn = self.conns.remove(i);
        close(&conn, out);
        Some(conn)
    }

    /// After a connection ended: report the session down if it was up, and
    /// schedule the restart, later for a flapping peer.
    fn after_loss(
        &mut self,
        conn: Connection,
        reason: DownReason,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if !self.conns.is_empty() {
            // The other connection of a collision carries on.
            return;
        }
        // Two speakers that connect to each other at once can each resolve
        // the collision (§6.8) on a different connection, one of them
        // already Established, and lose both. Nothing is wrong with either
        // peer, so that retry comes soon, growing per collision in a row
        // so that a peer that always answers so cannot make a loop.
        let collision = matches!(&reason, DownReason::Sent(n) | DownReason::Received(n)
            if n.error == ErrorCode::Cease(CeaseSubcode::ConnectionCollisionResolution));
        if conn.state != State::Established {
            // A connection that failed before the session came up (refused
            // OPEN, reset) is retried on the ConnectRetryTimer, never at
            // once: a misconfigured peer must not become a loop.
            self.base = if self.stopped {
                State::Idle
            } else {
                State::Active
            };
            if !self.stopped && !self.config.passive {
                let wait = if collision {
                    self.collision_retry()
                } else {
                    self.config.connect_retry
                };
                out.push(Action::SetTimer(Timer::ConnectRetry, wait));
            }
            return;
        }
        let lasted = self
            .established_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        // A session lost to a collision race at its start is not a flap.
        let raced = collision && lasted < STABLE_SESSION;
        if lasted >= STABLE_SESSION {
            self.flaps = 0;
            self.collisions = 0;
        } else if !raced {
            self.flaps = self.flaps.saturating_add(1);
        }
        self.established_at = None;
        out.push(Action::Down(reason));
        self.base = State::Idle;
        if self.stopped {
            return;
        }
        let wait = if raced {
            Some(self.collision_retry())
        } else {
            self.idle_hold()
        };
        match wait {
            None => self.begin_connecting(out),
            Some(wait) => out.push(Action::SetTimer(Timer::IdleHold, wait)),
        }
    }

    /// The wait after a lost collision race: `REFUSED_RETRY` doubling per
    /// race in a row, up to the ConnectRetryTimer.
    fn collision_retry(&mut self) -> Duration {
        short_retry(&mut self.collisions).min(self.config.connect_retry)
    }

    /// RFC 4271 §8.1.1 DampPeerOscillations: no wait after an isolated
    /// failure, then connect_retry doubling per flap up to MAX_IDLE_HOLD.
    fn idle_hold(&self) -> Option<Duration> {
        if self.flaps == 0 {
            return None;
        }
        let factor = 1u32 << (self.flaps - 1).min(8);
        Some((self.config.connect_retry * factor).min(MAX_IDLE_HOLD))
    }

    fn conn(&self, id: ConnId) -> Option<&Connection> {
        self.conns.iter().find(|c| c.id == id)
    }

    fn set_state(&mut self, id: ConnId, state: State) {
        if let Some(c) = self.conns.iter_mut().find(|c| c.id == id) {
            c.state = state;
        }
    }
}

/// `REFUSED_RETRY` doubled once per earlier retry in the series `count`
/// counts (which this one joins).
fn short_retry(count: &mut u32) -> Duration {
    let wait = REFUSED_RETRY.saturating_mul(1 << (*count).min(16));
    *count = count.saturating_add(1);
    wait
}

/// RFC 4271 §6.8: of two connections, the one opened by the speaker with
/// the higher BGP Identifier stays.
fn keep_direction(local: RouterId, remote: RouterId) -> Direction {
    if local.to_u32() > remote.to_u32() {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

/// The connection's peer sent the Graceful Restart capability.
fn graceful_peer(c: &Connection) -> bool {
    c.negotiated
        .as_ref()
        .is_some_and(|n| n.peer_graceful_restart.is_some())
}

fn close(conn: &Connection, out: &mut Vec<Action>) {
    out.push(Action::CancelTimer(Timer::Hold(conn.id)));
    out.push(Action::CancelTimer(Timer::Keepalive(conn.id)));
    out.push(Action::Close(conn.id));
}

/// RFC 4271 §10: KeepaliveTime is one third of the hold time.
fn keepalive_interval(hold: u16) -> Duration {
    Duration::from_secs(u64::from(hold / 3).max(1))
}

#[cfg(test)]
mod tests;
