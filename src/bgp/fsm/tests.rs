//! Unit tests of the session state machine: RFC 4271 §8 transitions, §6.8 collisions, back-off.

use super::*;
use crate::bgp::capability::Capability;
use crate::bgp::notification::{CeaseSubcode, ErrorCode, FsmError, OpenError};
use crate::bgp::types::Family;

const LOCAL: [u8; 4] = [192, 0, 2, 1];
const PEER: [u8; 4] = [192, 0, 2, 2];

fn open(asn: u32, hold: u16, id: [u8; 4]) -> Open {
    Open::new(
        Asn(asn),
        hold,
        RouterId(id.into()),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
        ],
    )
}

fn config(passive: bool) -> SessionConfig {
    SessionConfig {
        local_asn: Asn(64512),
        peer_asn: Asn(64512),
        router_id: RouterId(LOCAL.into()),
        local_open: open(64512, 90, LOCAL),
        passive,
        connect_retry: Duration::from_secs(5),
    }
}

struct Harness {
    s: Session,
    now: Instant,
}

impl Harness {
    fn new(passive: bool) -> Self {
        Harness {
            s: Session::new(config(passive)),
            now: Instant::now(),
        }
    }

    fn ev(&mut self, e: Event) -> Vec<Action> {
        self.s.handle(e, self.now)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Start, connect outbound as connection 1, exchange OPEN and KEEPALIVE.
    fn establish(&mut self, peer_open: Open) -> Vec<Action> {
        self.ev(Event::Start);
        self.ev(Event::Connected(ConnId(1), Direction::Outbound));
        self.ev(Event::Received(ConnId(1), Message::Open(peer_open)));
        let out = self.ev(Event::Received(ConnId(1), Message::Keepalive));
        assert_eq!(self.s.state(), State::Established);
        out
    }
}

fn sent_notification(out: &[Action]) -> Option<&Notification> {
    out.iter().find_map(|a| match a {
        Action::Send(_, Message::Notification(n)) => Some(n),
        _ => None,
    })
}

fn has_up(out: &[Action]) -> bool {
    out.iter().any(|a| matches!(a, Action::Up(_)))
}

fn down(out: &[Action]) -> Option<&DownReason> {
    out.iter().find_map(|a| match a {
        Action::Down(r) => Some(r),
        _ => None,
    })
}

/// The ConnectRetryTimer value set by these actions, if any.
fn connect_retry_set(out: &[Action]) -> Option<Duration> {
    out.iter().find_map(|a| match a {
        Action::SetTimer(Timer::ConnectRetry, d) => Some(*d),
        _ => None,
    })
}

#[test]
fn starts_idle_and_start_connects_with_retry_timer() {
    let mut h = Harness::new(false);
    assert_eq!(h.s.state(), State::Idle);
    let out = h.ev(Event::Start);
    assert_eq!(
        out,
        vec![
            Action::Connect,
            Action::SetTimer(Timer::ConnectRetry, Duration::from_secs(5))
        ]
    );
    assert_eq!(h.s.state(), State::Connect);
}

#[test]
fn passive_peer_waits_in_active() {
    let mut h = Harness::new(true);
    assert!(h.ev(Event::Start).is_empty());
    assert_eq!(h.s.state(), State::Active);
    assert!(h.ev(Event::TimerExpired(Timer::ConnectRetry)).is_empty());
    let out = h.ev(Event::Connected(ConnId(7), Direction::Inbound));
    assert!(matches!(out[1], Action::Send(ConnId(7), Message::Open(_))));
    assert_eq!(h.s.state(), State::OpenSent);
}

#[test]
fn full_handshake_negotiates_the_smaller_hold_time() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    let out = h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    assert_eq!(
        out,
        vec![
            Action::CancelTimer(Timer::ConnectRetry),
            Action::Send(ConnId(1), Message::Open(config(false).local_open)),
            Action::SetTimer(Timer::Hold(ConnId(1)), OPEN_SENT_HOLD),
        ]
    );
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(64512, 9, PEER)),
    ));
    assert_eq!(
        out,
        vec![
            Action::Send(ConnId(1), Message::Keepalive),
            Action::SetTimer(Timer::Hold(ConnId(1)), Duration::from_secs(9)),
            Action::SetTimer(Timer::Keepalive(ConnId(1)), Duration::from_secs(3)),
        ]
    );
    assert_eq!(h.s.state(), State::OpenConfirm);
    let out = h.ev(Event::Received(ConnId(1), Message::Keepalive));
    assert!(has_up(&out));
    assert_eq!(h.s.state(), State::Established);
    let (id, n) = h.s.established().unwrap();
    assert_eq!((id, n.hold_time), (ConnId(1), 9));
    assert_eq!(h.s.established_at(), Some(h.now));
}

#[test]
fn hold_time_zero_runs_no_timers() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(64512, 0, PEER)),
    ));
    assert!(
        !out.iter().any(|a| matches!(a, Action::SetTimer(..))),
        "{out:?}"
    );
    assert!(out.contains(&Action::CancelTimer(Timer::Hold(ConnId(1)))));
}

#[test]
fn wrong_peer_as_is_bad_peer_as_and_retries() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(65000, 90, PEER)),
    ));
    let n = sent_notification(&out).unwrap();
    assert_eq!(n.error, ErrorCode::Open(OpenError::BadPeerAs));
    assert_eq!(n.data, 65000u16.to_be_bytes());
    assert!(out.contains(&Action::Close(ConnId(1))));
    assert!(down(&out).is_none(), "never established");
    assert!(
        !out.contains(&Action::Connect),
        "no reconnect loop: {out:?}"
    );
    assert!(out.contains(&Action::SetTimer(
        Timer::ConnectRetry,
        Duration::from_secs(5)
    )));
    assert_eq!(h.s.state(), State::Active);
    assert!(
        h.ev(Event::TimerExpired(Timer::ConnectRetry))
            .contains(&Action::Connect)
    );
}

#[test]
fn four_octet_peer_as_is_compared_in_full() {
    let mut h = Harness::new(false);
    h.s.config.peer_asn = Asn(4_200_000_002);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(4_200_000_002, 90, PEER)),
    ));
    assert!(sent_notification(&out).is_none(), "{out:?}");
    assert_eq!(h.s.state(), State::OpenConfirm);
}

#[test]
fn own_router_id_on_ibgp_is_bad_bgp_identifier() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(64512, 90, LOCAL)),
    ));
    let n = sent_notification(&out).unwrap();
    assert_eq!(n.error, ErrorCode::Open(OpenError::BadBgpIdentifier));
    assert_eq!(n.data, LOCAL);
}

#[test]
fn hold_timer_expiry_sends_notification_and_reports_down() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 9, PEER));
    h.advance(Duration::from_secs(600));
    let out = h.ev(Event::TimerExpired(Timer::Hold(ConnId(1))));
    let n = sent_notification(&out).unwrap();
    assert_eq!(n.error, ErrorCode::HoldTimerExpired);
    assert!(out.contains(&Action::Close(ConnId(1))));
    assert_eq!(down(&out), Some(&DownReason::Sent(n.clone())));
    // A stable session that failed once reconnects at once.
    assert!(out.contains(&Action::Connect), "{out:?}");
    assert_eq!(h.s.state(), State::Connect);
}

#[test]
fn keepalive_timer_sends_and_rearms() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 30, PEER));
    let out = h.ev(Event::TimerExpired(Timer::Keepalive(ConnId(1))));
    assert_eq!(
        out,
        vec![
            Action::Send(ConnId(1), Message::Keepalive),
            Action::SetTimer(Timer::Keepalive(ConnId(1)), Duration::from_secs(10)),
        ]
    );
}

#[test]
fn received_keepalive_and_update_restart_the_hold_timer() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 30, PEER));
    let out = h.ev(Event::Received(ConnId(1), Message::Keepalive));
    assert_eq!(
        out,
        vec![Action::SetTimer(
            Timer::Hold(ConnId(1)),
            Duration::from_secs(30)
        )]
    );
}

#[test]
fn unexpected_message_in_open_sent_is_an_fsm_error() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    let out = h.ev(Event::Received(ConnId(1), Message::Keepalive));
    assert_eq!(
        sent_notification(&out).unwrap().error,
        ErrorCode::Fsm(FsmError::UnexpectedMessageInOpenSent)
    );
}

#[test]
fn open_in_established_is_an_fsm_error() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(64512, 90, PEER)),
    ));
    assert_eq!(
        sent_notification(&out).unwrap().error,
        ErrorCode::Fsm(FsmError::UnexpectedMessageInEstablished)
    );
    assert!(down(&out).is_some());
}

#[test]
fn received_notification_closes_without_answering() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let n = Notification::admin_shutdown(CeaseSubcode::AdministrativeShutdown, "maintenance");
    let out = h.ev(Event::Received(ConnId(1), Message::Notification(n.clone())));
    assert!(sent_notification(&out).is_none());
    assert_eq!(down(&out), Some(&DownReason::Received(n)));
}

#[test]
fn decode_error_sends_its_notification() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let n = Notification::update(
        crate::bgp::notification::UpdateError::MalformedAttributeList,
        [],
    );
    let out = h.ev(Event::DecodeError(ConnId(1), n.clone()));
    assert_eq!(sent_notification(&out), Some(&n));
    assert_eq!(down(&out), Some(&DownReason::Sent(n)));
}

#[test]
fn established_session_delivers_updates_and_refresh_requests() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let rr = Message::decode(
        &[&[0xff; 16][..], &[0, 23, 5, 0, 1, 0, 1]].concat(),
        &crate::bgp::CodecContext::default(),
    )
    .unwrap();
    let Message::RouteRefresh(request) = rr.clone() else {
        panic!("not a route refresh: {rr:?}");
    };
    let out = h.ev(Event::Received(ConnId(1), rr));
    assert_eq!(out, vec![Action::RefreshRequested(request)]);
}

#[test]
fn collision_keeps_the_connection_of_the_higher_identifier() {
    // Local ID 192.0.2.1 < peer 192.0.2.2: the peer's (inbound) connection wins.
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    h.ev(Event::Connected(ConnId(2), Direction::Inbound));
    assert_eq!(h.s.connections().len(), 2);
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(64512, 90, PEER)),
    ));
    assert_eq!(
        sent_notification(&out).unwrap().error,
        ErrorCode::Cease(CeaseSubcode::ConnectionCollisionResolution)
    );
    assert!(out.contains(&Action::Close(ConnId(1))));
    assert!(
        !out.contains(&Action::Connect),
        "the other connection carries on"
    );
    h.ev(Event::Received(
        ConnId(2),
        Message::Open(open(64512, 90, PEER)),
    ));
    let out = h.ev(Event::Received(ConnId(2), Message::Keepalive));
    assert!(has_up(&out));
    assert_eq!(h.s.established().unwrap().0, ConnId(2));
}

#[test]
fn collision_with_lower_peer_identifier_keeps_ours() {
    let mut h = Harness::new(false);
    let low_peer = [192, 0, 2, 0];
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    h.ev(Event::Connected(ConnId(2), Direction::Inbound));
    let out = h.ev(Event::Received(
        ConnId(2),
        Message::Open(open(64512, 90, low_peer)),
    ));
    assert!(out.contains(&Action::Close(ConnId(2))));
    let out = h.ev(Event::Received(
        ConnId(1),
        Message::Open(open(64512, 90, low_peer)),
    ));
    assert!(sent_notification(&out).is_none());
    assert_eq!(h.s.state(), State::OpenConfirm);
}

#[test]
fn connection_while_established_is_rejected() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let out = h.ev(Event::Connected(ConnId(9), Direction::Inbound));
    assert_eq!(
        sent_notification(&out).unwrap().error,
        ErrorCode::Cease(CeaseSubcode::ConnectionRejected)
    );
    assert!(out.contains(&Action::Close(ConnId(9))));
    assert_eq!(h.s.established().unwrap().0, ConnId(1));
}

#[test]
fn stop_sends_admin_shutdown_and_stays_idle() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let n = Notification::admin_shutdown(CeaseSubcode::AdministrativeShutdown, "agent stopping");
    let out = h.ev(Event::Stop(n.clone()));
    assert_eq!(sent_notification(&out), Some(&n));
    assert!(out.contains(&Action::Close(ConnId(1))));
    assert_eq!(down(&out), Some(&DownReason::Sent(n)));
    assert_eq!(h.s.state(), State::Idle);
    assert!(h.ev(Event::TimerExpired(Timer::ConnectRetry)).is_empty());
    assert!(h.ev(Event::TimerExpired(Timer::IdleHold)).is_empty());
    let out = h.ev(Event::Connected(ConnId(3), Direction::Inbound));
    assert!(
        out.contains(&Action::Close(ConnId(3))),
        "a stopped peer accepts nothing"
    );
}

#[test]
fn failed_connect_goes_active_and_retries_on_the_timer() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    assert!(h.ev(Event::ConnectFailed(ConnectFailure::Other)).is_empty());
    assert_eq!(h.s.state(), State::Active);
    let out = h.ev(Event::TimerExpired(Timer::ConnectRetry));
    assert_eq!(
        out,
        vec![
            Action::Connect,
            Action::SetTimer(Timer::ConnectRetry, Duration::from_secs(5))
        ]
    );
}

#[test]
fn a_flapping_peer_backs_off_and_a_stable_one_does_not() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let mut waits = Vec::new();
    for round in 0..4u64 {
        h.advance(Duration::from_secs(10));
        let out = h.ev(Event::Closed(ConnId(round + 1)));
        assert!(down(&out).is_some());
        let wait = out.iter().find_map(|a| match a {
            Action::SetTimer(Timer::IdleHold, d) => Some(*d),
            _ => None,
        });
        waits.push(wait.unwrap().as_secs());
        assert!(!out.contains(&Action::Connect));
        let out = h.ev(Event::TimerExpired(Timer::IdleHold));
        assert!(out.contains(&Action::Connect));
        let id = ConnId(round + 2);
        h.ev(Event::Connected(id, Direction::Outbound));
        h.ev(Event::Received(id, Message::Open(open(64512, 90, PEER))));
        h.ev(Event::Received(id, Message::Keepalive));
    }
    assert_eq!(waits, vec![5, 10, 20, 40]);
    // Up for longer than STABLE_SESSION: the next failure reconnects at once.
    h.advance(STABLE_SESSION + Duration::from_secs(1));
    let out = h.ev(Event::Closed(ConnId(5)));
    assert!(out.contains(&Action::Connect), "{out:?}");
}

#[test]
fn back_off_is_capped() {
    let mut s = Session::new(config(false));
    s.flaps = 30;
    assert_eq!(s.idle_hold(), Some(MAX_IDLE_HOLD));
}

#[test]
fn state_names_are_the_rfc_names() {
    let names: Vec<&str> = [
        State::Idle,
        State::Connect,
        State::Active,
        State::OpenSent,
        State::OpenConfirm,
        State::Established,
    ]
    .iter()
    .map(|s| s.name())
    .collect();
    assert_eq!(
        names,
        [
            "Idle",
            "Connect",
            "Active",
            "OpenSent",
            "OpenConfirm",
            "Established"
        ]
    );
}

#[test]
fn established_session_delivers_updates() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let eor = Update::end_of_rib(Family::IPV4_UNICAST);
    let out = h.ev(Event::Received(ConnId(1), Message::Update(eor.clone())));
    assert_eq!(
        out,
        vec![
            Action::SetTimer(Timer::Hold(ConnId(1)), Duration::from_secs(90)),
            Action::Deliver(eor)
        ]
    );
}

fn with_graceful_restart(mut o: Open) -> Open {
    o.capabilities.push(Capability::GracefulRestart(
        crate::bgp::capability::GracefulRestart {
            restart_state: false,
            notification: false,
            restart_time: 120,
            families: vec![crate::bgp::capability::GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                forwarding_preserved: true,
            }],
        },
    ));
    o
}

fn restarting(mut o: Open) -> Open {
    for c in &mut o.capabilities {
        if let Capability::GracefulRestart(gr) = c {
            gr.restart_state = true;
        }
    }
    o
}

#[test]
fn new_connection_from_a_restarted_gr_peer_replaces_the_established_session() {
    let mut h = Harness::new(false);
    h.establish(with_graceful_restart(open(64512, 90, PEER)));
    // The new connection is heard out, not refused: its OPEN decides.
    let out = h.ev(Event::Connected(ConnId(2), Direction::Inbound));
    assert_eq!(down(&out), None);
    assert!(sent_notification(&out).is_none(), "{out:?}");
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Send(ConnId(2), Message::Open(_))))
    );
    assert_eq!(h.s.state(), State::Established);
    // RFC 4724 §4.2: the peer restarted without our noticing (Restart
    // State set); the old session ends as a restart, without NOTIFICATION.
    let out = h.ev(Event::Received(
        ConnId(2),
        Message::Open(restarting(with_graceful_restart(open(64512, 90, PEER)))),
    ));
    assert_eq!(down(&out), Some(&DownReason::ConnectionLost));
    assert!(out.contains(&Action::Close(ConnId(1))));
    assert!(sent_notification(&out).is_none(), "{out:?}");
    assert_eq!(h.s.state(), State::OpenConfirm);
    let out = h.ev(Event::Received(ConnId(2), Message::Keepalive));
    assert!(has_up(&out));
}

#[test]
fn connection_race_with_a_gr_peer_keeps_the_established_connection() {
    // Both speakers connected at once and the session came up on one
    // connection; the peer's OPEN on the other (no Restart State: the peer
    // did not restart) follows. §6.8: the newly created connection closes,
    // whichever side initiated it (the peer keeps the Established one too).
    for peer_id in [PEER, [192, 0, 2, 0]] {
        let mut h = Harness::new(false);
        h.establish(with_graceful_restart(open(64512, 90, peer_id)));
        h.ev(Event::Connected(ConnId(2), Direction::Inbound));
        let out = h.ev(Event::Received(
            ConnId(2),
            Message::Open(with_graceful_restart(open(64512, 90, peer_id))),
        ));
        assert_eq!(down(&out), None, "{out:?}");
        assert_eq!(
            sent_notification(&out).map(|n| n.error),
            Some(ErrorCode::Cease(
                CeaseSubcode::ConnectionCollisionResolution
            ))
        );
        assert!(out.contains(&Action::Close(ConnId(2))));
        assert!(!out.contains(&Action::Close(ConnId(1))));
        assert_eq!(h.s.state(), State::Established);
    }
}

#[test]
fn new_connection_while_established_without_gr_is_refused() {
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    let out = h.ev(Event::Connected(ConnId(2), Direction::Inbound));
    assert_eq!(down(&out), None);
    assert_eq!(
        sent_notification(&out).map(|n| n.error),
        Some(ErrorCode::Cease(CeaseSubcode::ConnectionRejected))
    );
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn graceful_restart_capability_is_replaced_in_later_opens() {
    let mut h = Harness::new(false);
    let gr = |restarting| {
        crate::bgp::graceful::LocalRestart {
            restart_time: 90,
            restarting,
            forwarding: vec![Family::IPV4_UNICAST],
        }
        .capability(&[Family::IPV4_UNICAST])
    };
    h.s.set_graceful_restart(gr(true));
    h.s.set_graceful_restart(gr(false));
    h.ev(Event::Start);
    let out = h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    let sent = out.iter().find_map(|a| match a {
        Action::Send(_, Message::Open(o)) => Some(o.clone()),
        _ => None,
    });
    let caps = sent.expect("an OPEN").capabilities;
    let grs: Vec<_> = caps
        .iter()
        .filter(|c| matches!(c, Capability::GracefulRestart(_)))
        .collect();
    assert_eq!(grs, vec![&gr(false)]);
}

#[test]
fn refused_connect_retries_soon_then_backs_off_to_connect_retry() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    let mut waits = Vec::new();
    for _ in 0..8 {
        let out = h.ev(Event::ConnectFailed(ConnectFailure::Refused));
        assert_eq!(h.s.state(), State::Active);
        let wait = connect_retry_set(&out);
        waits.push(wait);
        // The timer fires: a new attempt with the full timer running.
        let out = h.ev(Event::TimerExpired(Timer::ConnectRetry));
        assert_eq!(
            out,
            vec![
                Action::Connect,
                Action::SetTimer(Timer::ConnectRetry, Duration::from_secs(5))
            ]
        );
    }
    let ms = |m| Some(Duration::from_millis(m));
    // 100 ms doubling; from 6.4 s on the running 5 s timer is left alone.
    assert_eq!(
        waits,
        vec![
            ms(100),
            ms(200),
            ms(400),
            ms(800),
            ms(1600),
            ms(3200),
            None,
            None
        ]
    );
    // A connection resets the count.
    h.ev(Event::Connected(ConnId(1), Direction::Outbound));
    h.ev(Event::Closed(ConnId(1)));
    h.ev(Event::TimerExpired(Timer::ConnectRetry));
    let out = h.ev(Event::ConnectFailed(ConnectFailure::Refused));
    assert!(out.contains(&Action::SetTimer(
        Timer::ConnectRetry,
        Duration::from_millis(100)
    )));
}

#[test]
fn refused_connect_is_not_retried_early_while_a_connection_runs() {
    let mut h = Harness::new(false);
    h.ev(Event::Start);
    h.ev(Event::Connected(ConnId(1), Direction::Inbound));
    let out = h.ev(Event::ConnectFailed(ConnectFailure::Refused));
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_lost_collision_race_is_retried_soon_and_backs_off() {
    let collision = || {
        Message::Notification(Notification::cease(
            CeaseSubcode::ConnectionCollisionResolution,
            [],
        ))
    };
    let mut h = Harness::new(false);
    h.establish(open(64512, 90, PEER));
    // The peer closed our Established connection: it kept the other one,
    // which we closed. Not a flap; retried in 100 ms.
    let out = h.ev(Event::Received(ConnId(1), collision()));
    assert!(matches!(down(&out), Some(DownReason::Received(_))));
    assert!(
        out.contains(&Action::SetTimer(
            Timer::IdleHold,
            Duration::from_millis(100)
        )),
        "{out:?}"
    );
    // Before the session came up: the ConnectRetryTimer, also short, and
    // twice as long for the second race in a row.
    let out = h.ev(Event::TimerExpired(Timer::IdleHold));
    assert!(out.contains(&Action::Connect));
    h.ev(Event::Connected(ConnId(2), Direction::Outbound));
    let out = h.ev(Event::Received(ConnId(2), collision()));
    assert!(
        out.contains(&Action::SetTimer(
            Timer::ConnectRetry,
            Duration::from_millis(200)
        )),
        "{out:?}"
    );
    // Never longer than the ConnectRetryTimer.
    for _ in 0..10 {
        h.ev(Event::TimerExpired(Timer::ConnectRetry));
        h.ev(Event::Connected(ConnId(3), Direction::Outbound));
        let out = h.ev(Event::Received(ConnId(3), collision()));
        let wait = connect_retry_set(&out);
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(5)), "{out:?}");
    }
}
