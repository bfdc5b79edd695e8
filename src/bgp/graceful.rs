//! Graceful restart rules (RFC 4724, RFC 8538), pure: the capability we send, and whether a session's end keeps the peer's routes.

use std::time::Duration;

use super::capability::{Capability, GracefulRestart, GracefulRestartFamily};
use super::fsm::DownReason;
use super::negotiate::Negotiated;
use super::notification::{CeaseSubcode, ErrorCode, Notification};
use super::types::Family;

/// What we say about ourselves in the Graceful Restart capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRestart {
    /// Seconds peers should keep our routes while we are away.
    pub restart_time: u16,
    /// R: we have just restarted and are still waiting for our peers'
    /// End-of-RIB (RFC 4724 §3: peers must not wait for ours).
    pub restarting: bool,
    /// Families whose forwarding state (our kernel routes) survived: the
    /// F bit (RFC 4724 §3: set only when it "really was" preserved).
    pub forwarding: Vec<Family>,
}

impl LocalRestart {
    /// The capability for OPENs: every family we carry, with F where kept,
    /// and the N bit (RFC 8538 §2), so a NOTIFICATION other than Hard Reset
    /// also keeps routes when both sides set it.
    pub fn capability(&self, families: &[Family]) -> Capability {
        Capability::GracefulRestart(GracefulRestart {
            restart_state: self.restarting,
            notification: true,
            restart_time: self.restart_time,
            families: families
                .iter()
                .map(|&family| GracefulRestartFamily {
                    family,
                    forwarding_preserved: self.forwarding.contains(&family),
                })
                .collect(),
        })
    }
}

/// Our graceful-restart state, shared by the agent (which ends the restart)
/// and every peer task (which puts it in each new OPEN).
#[derive(Debug, Clone)]
pub struct SharedRestart(pub std::sync::Arc<std::sync::Mutex<LocalRestart>>);

impl SharedRestart {
    pub fn new(state: LocalRestart) -> Self {
        SharedRestart(std::sync::Arc::new(std::sync::Mutex::new(state)))
    }

    pub fn get(&self) -> LocalRestart {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_restart_time(&self, seconds: u16) {
        match self.0.lock() {
            Ok(mut g) => g.restart_time = seconds,
            Err(poisoned) => poisoned.into_inner().restart_time = seconds,
        }
    }

    /// The restart is over: R off, and forwarding state kept for every
    /// family from now on (the process keeps the kernel routes across
    /// session resets).
    pub fn finish(&self, families: &[Family]) {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        g.restarting = false;
        g.forwarding = families.to_vec();
    }
}

impl PartialEq for SharedRestart {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Sets the Graceful Restart capability of an OPEN's capability list,
/// replacing one already there.
pub fn set_capability(capabilities: &mut Vec<Capability>, gr: Capability) {
    capabilities.retain(|c| !matches!(c, Capability::GracefulRestart(_)));
    capabilities.push(gr);
}

/// The peer's routes to keep as stale when its session ended, and for how
/// long: the helper ("Receiving Speaker") role of RFC 4724 §4.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub families: Vec<Family>,
    pub restart_time: Duration,
}

/// Whether the end of a session keeps the peer's routes.
///
/// RFC 4724 §4.2: when the TCP session of a peer that sent the capability
/// ends, keep its routes for the families it listed, for its Restart Time.
/// Without the N bit on both sides a NOTIFICATION ends the session for good
/// (RFC 4724 §4.2 applies to TCP termination only); with it, every
/// NOTIFICATION except Cease/Hard Reset is treated as a restart too (RFC 8538
/// §4), including our own hold-timer expiry. A Restart Time of 0 keeps
/// nothing.
pub fn retention(
    local_enabled: bool,
    negotiated: &Negotiated,
    reason: &DownReason,
) -> Option<Retention> {
    if !local_enabled {
        return None;
    }
    let peer = negotiated.peer_graceful_restart.as_ref()?;
    if peer.restart_time == 0 || peer.families.is_empty() {
        return None;
    }
    let graceful = match reason {
        DownReason::ConnectionLost => true,
        DownReason::Sent(n) | DownReason::Received(n) => {
            negotiated.graceful_notification && !is_hard_reset(n)
        }
    };
    graceful.then(|| Retention {
        families: peer.families.iter().map(|f| f.family).collect(),
        restart_time: Duration::from_secs(peer.restart_time.into()),
    })
}

/// On a new session with a peer whose routes we keep as stale: the families
/// whose stale routes must go at once, because the peer no longer lists
/// them or did not keep its forwarding state for them (RFC 4724 §4.2: "If
/// the F bit ... is not set, ... MUST immediately remove all the stale
/// routes from the peer that it is retaining for that address family").
pub fn flush_at_reconnect(negotiated: &Negotiated, stale: &[Family]) -> Vec<Family> {
    let kept: Vec<Family> = negotiated
        .peer_graceful_restart
        .iter()
        .flat_map(|gr| gr.families.iter())
        .filter(|f| f.forwarding_preserved)
        .map(|f| f.family)
        .collect();
    stale
        .iter()
        .copied()
        .filter(|f| !kept.contains(f))
        .collect()
}

fn is_hard_reset(n: &Notification) -> bool {
    n.error == ErrorCode::Cease(CeaseSubcode::HardReset)
}

/// The NOTIFICATION to send when we end a session on purpose.
///
/// With the N bit negotiated a plain Cease would make the peer keep our
/// routes (RFC 8538 §4); RFC 8538 §5 recommends Hard Reset for Maximum
/// Number of Prefixes Reached, Administrative Shutdown, Peer De-configured
/// and Administrative Reset, so those are wrapped (§3: the Data field holds
/// the inner code, subcode and data).
pub fn deliberate_stop(negotiated: Option<&Negotiated>, n: Notification) -> Notification {
    let graceful = negotiated.is_some_and(|g| g.graceful_notification);
    let hard = matches!(
        n.error,
        ErrorCode::Cease(
            CeaseSubcode::MaximumPrefixesReached
                | CeaseSubcode::AdministrativeShutdown
                | CeaseSubcode::PeerDeconfigured
                | CeaseSubcode::AdministrativeReset
        )
    );
    if !graceful || !hard {
        return n;
    }
    let mut data = vec![n.error.code(), n.error.subcode()];
    data.extend_from_slice(&n.data);
    Notification::cease(CeaseSubcode::HardReset, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::capability::Capability;
    use crate::bgp::negotiate::{AsPair, negotiate};
    use crate::bgp::notification::Notification;
    use crate::bgp::open::Open;
    use crate::bgp::types::{Asn, RouterId};

    fn open(gr: Option<Capability>) -> Open {
        let mut caps = vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
        ];
        caps.extend(gr);
        Open::new(Asn(64512), 90, RouterId("10.0.0.1".parse().unwrap()), caps)
    }

    fn local(restarting: bool, forwarding: Vec<Family>) -> LocalRestart {
        LocalRestart {
            restart_time: 120,
            restarting,
            forwarding,
        }
    }

    fn session(ours: &LocalRestart, theirs: Option<Capability>) -> Negotiated {
        let families = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];
        negotiate(
            &open(Some(ours.capability(&families))),
            &open(theirs),
            AsPair {
                local: Asn(64512),
                peer: Asn(64512),
            },
        )
    }

    fn peer_gr(notification: bool, restart_time: u16, forwarding: bool) -> Capability {
        Capability::GracefulRestart(GracefulRestart {
            restart_state: false,
            notification,
            restart_time,
            families: vec![GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                forwarding_preserved: forwarding,
            }],
        })
    }

    #[test]
    fn capability_sets_f_only_for_kept_families_and_always_n() {
        let c = local(true, vec![Family::IPV4_UNICAST])
            .capability(&[Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
        let Capability::GracefulRestart(gr) = c else {
            panic!("not GR")
        };
        assert!(gr.restart_state && gr.notification);
        assert_eq!(gr.restart_time, 120);
        assert!(gr.families[0].forwarding_preserved);
        assert!(!gr.families[1].forwarding_preserved);
    }

    #[test]
    fn connection_loss_keeps_the_families_the_peer_listed() {
        let n = session(&local(false, vec![]), Some(peer_gr(false, 90, true)));
        let r = retention(true, &n, &DownReason::ConnectionLost).expect("kept");
        assert_eq!(r.families, vec![Family::IPV4_UNICAST]);
        assert_eq!(r.restart_time, Duration::from_secs(90));
        assert_eq!(retention(false, &n, &DownReason::ConnectionLost), None);
    }

    #[test]
    fn no_capability_or_zero_restart_time_keeps_nothing() {
        let n = session(&local(false, vec![]), None);
        assert_eq!(retention(true, &n, &DownReason::ConnectionLost), None);
        let n = session(&local(false, vec![]), Some(peer_gr(true, 0, true)));
        assert_eq!(retention(true, &n, &DownReason::ConnectionLost), None);
    }

    #[test]
    fn notification_keeps_routes_only_with_n_on_both_sides_and_not_hard_reset() {
        let hold = Notification::bare(ErrorCode::HoldTimerExpired);
        let without_n = session(&local(false, vec![]), Some(peer_gr(false, 90, true)));
        assert_eq!(
            retention(true, &without_n, &DownReason::Sent(hold.clone())),
            None
        );
        let with_n = session(&local(false, vec![]), Some(peer_gr(true, 90, true)));
        assert!(retention(true, &with_n, &DownReason::Sent(hold)).is_some());
        let admin = Notification::cease(CeaseSubcode::AdministrativeShutdown, []);
        assert!(retention(true, &with_n, &DownReason::Received(admin.clone())).is_some());
        let hard = deliberate_stop(Some(&with_n), admin);
        assert_eq!(hard.error, ErrorCode::Cease(CeaseSubcode::HardReset));
        assert_eq!(retention(true, &with_n, &DownReason::Received(hard)), None);
    }

    #[test]
    fn hard_reset_wraps_the_cease_with_its_data_only_under_n() {
        let with_n = session(&local(false, vec![]), Some(peer_gr(true, 90, true)));
        let n = Notification::admin_shutdown(CeaseSubcode::PeerDeconfigured, "bye");
        let hard = deliberate_stop(Some(&with_n), n.clone());
        assert_eq!(hard.data, [&[6u8, 3][..], &n.data].concat());
        let other = Notification::cease(CeaseSubcode::OtherConfigurationChange, []);
        assert_eq!(deliberate_stop(Some(&with_n), other.clone()), other);
        let without_n = session(&local(false, vec![]), Some(peer_gr(false, 90, true)));
        assert_eq!(deliberate_stop(Some(&without_n), n.clone()), n);
    }

    #[test]
    fn reconnect_flushes_families_without_f_or_no_longer_listed() {
        let stale = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];
        let n = session(&local(false, vec![]), Some(peer_gr(true, 90, true)));
        assert_eq!(flush_at_reconnect(&n, &stale), vec![Family::IPV6_UNICAST]);
        let n = session(&local(false, vec![]), Some(peer_gr(true, 90, false)));
        assert_eq!(flush_at_reconnect(&n, &stale), stale.to_vec());
        let n = session(&local(false, vec![]), None);
        assert_eq!(flush_at_reconnect(&n, &stale), stale.to_vec());
    }

    #[test]
    fn set_capability_replaces() {
        let mut caps = vec![Capability::RouteRefresh];
        set_capability(&mut caps, local(true, vec![]).capability(&[]));
        set_capability(&mut caps, local(false, vec![]).capability(&[]));
        assert_eq!(caps.len(), 2);
        assert!(matches!(&caps[1], Capability::GracefulRestart(g) if !g.restart_state));
    }
}
