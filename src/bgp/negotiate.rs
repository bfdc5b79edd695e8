//! Session properties negotiated from the local and the received OPEN, and the two codec contexts they give.
//!
//! Pure: no configuration beyond the two OPENs and the AS numbers, no I/O.
//! Policy on missing capabilities (e.g. refusing a peer that lacks
//! 4-octet AS with Unsupported Capability, RFC 5492 §5) belongs to the
//! session, which can read everything it needs from [`Negotiated`].

use super::capability::{AddPathFamily, Capability, ExtendedNextHop, GracefulRestart, LlgrFamily};
use super::context::{CodecContext, PeerRelation};
use super::open::Open;
use super::types::{Asn, Family};

/// The AS numbers the session runs between, as configured.
///
/// Given explicitly rather than read from the OPENs so that the session
/// decides (local-as, confederations); the codec only needs iBGP vs eBGP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsPair {
    pub local: Asn,
    pub peer: Asn,
}

impl AsPair {
    pub fn relation(self) -> PeerRelation {
        if self.local == self.peer {
            PeerRelation::Internal
        } else {
            PeerRelation::External {
                peer_asn: self.peer,
            }
        }
    }
}

/// What both OPENs together allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Families both sides handle, in the order of the local OPEN.
    pub families: Vec<Family>,
    /// `min(local, peer)` Hold Time (RFC 4271 §4.2); 0 disables keepalives.
    pub hold_time: u16,
    /// Both sent the 4-octet AS capability (RFC 6793 §4.1).
    pub four_octet_as: bool,
    /// Both sent the Extended Message capability (RFC 8654).
    pub extended_message: bool,
    /// Both sent Route Refresh (RFC 2918 §4): we may send ROUTE-REFRESH.
    pub route_refresh: bool,
    /// Both sent Enhanced Route Refresh, and Route Refresh is negotiated:
    /// BoRR/EoRR demarcation is in use (RFC 7313 §4). ERR only adds
    /// subtypes to the RFC 2918 message, so it needs Route Refresh too.
    pub enhanced_route_refresh: bool,
    /// The peer's Graceful Restart capability, its families cut to
    /// `families`; `None` if it sent none. With several instances the last
    /// counts (RFC 4724 §3: the receiver "MUST ignore all but the last
    /// instance").
    pub peer_graceful_restart: Option<GracefulRestart>,
    /// Both sent Graceful Restart with the N bit: graceful restart also
    /// applies after a NOTIFICATION or hold timer expiry (RFC 8538 §2,
    /// which makes this behaviour depend on both sides setting N).
    pub graceful_notification: bool,
    /// The peer's Long-Lived Graceful Restart families, cut to `families`.
    /// Empty unless the peer also sent Graceful Restart (RFC 9494 §4.5: "If
    /// the LLGR capability is received without an accompanying GR
    /// capability, the LLGR capability MUST be ignored").
    pub peer_llgr: Vec<LlgrFamily>,
    /// Families whose received NLRI carry path identifiers: we advertised
    /// Receive (or Both) and the peer Send (or Both) (RFC 7911 §4).
    pub add_path_receive: Vec<Family>,
    /// Families whose sent NLRI carry path identifiers: we advertised Send
    /// (or Both) and the peer Receive (or Both) (RFC 7911 §4).
    pub add_path_send: Vec<Family>,
    /// NLRI families for which we may send a next hop of the given AFI: the
    /// peer advertised it (RFC 8950 §3: the capability lists what its sender
    /// can receive), for a negotiated family.
    pub extended_next_hop_send: Vec<ExtendedNextHop>,
    /// NLRI families for which the peer may send us such next hops: we
    /// advertised them, for a negotiated family.
    pub extended_next_hop_receive: Vec<ExtendedNextHop>,
    /// For decoding what the peer sends.
    pub receive: CodecContext,
    /// For encoding what we send.
    pub send: CodecContext,
}

fn has(open: &Open, wanted: &Capability) -> bool {
    open.capabilities.iter().any(|c| c == wanted)
}

/// The families an OPEN announces: its Multiprotocol capabilities, or IPv4
/// unicast alone if it has none (what base BGP-4 carries, RFC 4760 §1).
pub fn families(open: &Open) -> Vec<Family> {
    let mut out = Vec::new();
    for c in &open.capabilities {
        if let Capability::Multiprotocol(f) = c
            && !out.contains(f)
        {
            out.push(*f);
        }
    }
    if out.is_empty() {
        out.push(Family::IPV4_UNICAST);
    }
    out
}

/// The ADD-PATH tuples of an OPEN, across instances. A family listed twice
/// is a sender error RFC 7911 gives no rule for; the first mention is kept.
/// A capability with a Send/Receive value other than 1-3 is ignored whole (RFC 7911 §4: "the capability SHOULD be treated as not
/// understood and ignored").
fn add_path(open: &Open) -> Vec<AddPathFamily> {
    let mut out: Vec<AddPathFamily> = Vec::new();
    for c in &open.capabilities {
        let Capability::AddPath(list) = c else {
            continue;
        };
        if list.iter().any(|t| !t.mode.sends() && !t.mode.receives()) {
            continue;
        }
        for t in list {
            if !out.iter().any(|o| o.family == t.family) {
                out.push(*t);
            }
        }
    }
    out
}

fn last_graceful_restart(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities.iter().rev().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

fn extended_next_hops(open: &Open, families: &[Family]) -> Vec<ExtendedNextHop> {
    let mut out = Vec::new();
    for c in &open.capabilities {
        let Capability::ExtendedNextHop(list) = c else {
            continue;
        };
        for t in list {
            if families.contains(&t.nlri) && !out.contains(t) {
                out.push(*t);
            }
        }
    }
    out
}

/// Negotiates from what we sent (`local`) and what the peer sent (`peer`).
pub fn negotiate(local: &Open, peer: &Open, asns: AsPair) -> Negotiated {
    let peer_families = families(peer);
    let families: Vec<Family> = self::families(local)
        .into_iter()
        .filter(|f| peer_families.contains(f))
        .collect();

    let both = |c: &Capability| has(local, c) && has(peer, c);
    let four_octet_as = [local, peer].iter().all(|o| {
        o.capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
    });
    let extended_message = both(&Capability::ExtendedMessage);
    let route_refresh = both(&Capability::RouteRefresh);
    let enhanced_route_refresh = route_refresh && both(&Capability::EnhancedRouteRefresh);

    let local_gr = last_graceful_restart(local);
    let peer_graceful_restart = last_graceful_restart(peer).map(|gr| GracefulRestart {
        families: gr
            .families
            .iter()
            .filter(|t| families.contains(&t.family))
            .copied()
            .collect(),
        ..gr.clone()
    });
    let graceful_notification = matches!(
        (local_gr, &peer_graceful_restart),
        (Some(l), Some(p)) if l.notification && p.notification
    );
    let peer_llgr = if peer_graceful_restart.is_some() {
        let mut out: Vec<LlgrFamily> = Vec::new();
        for c in &peer.capabilities {
            let Capability::LongLivedGracefulRestart(list) = c else {
                continue;
            };
            for t in list {
                if families.contains(&t.family) && !out.iter().any(|o| o.family == t.family) {
                    out.push(*t);
                }
            }
        }
        out
    } else {
        Vec::new()
    };

    let (ours, theirs) = (add_path(local), add_path(peer));
    let mode_of =
        |list: &[AddPathFamily], f: Family| list.iter().find(|t| t.family == f).map(|t| t.mode);
    let direction = |we: fn(super::capability::AddPathMode) -> bool,
                     they: fn(super::capability::AddPathMode) -> bool| {
        families
            .iter()
            .copied()
            .filter(|&f| mode_of(&ours, f).is_some_and(we) && mode_of(&theirs, f).is_some_and(they))
            .collect::<Vec<_>>()
    };
    let add_path_receive = direction(|m| m.receives(), |m| m.sends());
    let add_path_send = direction(|m| m.sends(), |m| m.receives());

    let peer_relation = asns.relation();
    let context = |add_path| CodecContext {
        four_octet_as,
        extended_message,
        add_path,
        peer: peer_relation,
    };
    Negotiated {
        hold_time: local.hold_time.min(peer.hold_time),
        four_octet_as,
        extended_message,
        route_refresh,
        enhanced_route_refresh,
        peer_graceful_restart,
        graceful_notification,
        peer_llgr,
        extended_next_hop_send: extended_next_hops(peer, &families),
        extended_next_hop_receive: extended_next_hops(local, &families),
        receive: context(add_path_receive.clone()),
        send: context(add_path_send.clone()),
        add_path_receive,
        add_path_send,
        families,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::capability::{
        AddPathMode, CapabilityCode, GracefulRestartFamily, MAX_LLGR_STALE_TIME,
    };
    use crate::bgp::open::tests::{bird_open, frr_open};
    use crate::bgp::types::{Afi, RouterId, Safi};

    const AS: Asn = Asn(64512);
    const SAME: AsPair = AsPair {
        local: AS,
        peer: AS,
    };

    fn open(caps: Vec<Capability>) -> Open {
        Open {
            capabilities: caps,
            ..Open::new(AS, 90, RouterId::from(0x0a00_0001), vec![])
        }
    }

    fn gr(notification: bool, time: u16, families: &[(Family, bool)]) -> Capability {
        Capability::GracefulRestart(GracefulRestart {
            restart_state: false,
            notification,
            restart_time: time,
            families: families
                .iter()
                .map(|&(family, f)| GracefulRestartFamily {
                    family,
                    forwarding_preserved: f,
                })
                .collect(),
        })
    }

    fn ap(list: &[(Family, AddPathMode)]) -> Capability {
        Capability::AddPath(
            list.iter()
                .map(|&(family, mode)| AddPathFamily { family, mode })
                .collect(),
        )
    }

    const V4: Family = Family::IPV4_UNICAST;
    const V6: Family = Family::IPV6_UNICAST;

    #[test]
    fn bird_local_frr_peer() {
        let n = negotiate(&bird_open().0, &frr_open().0, SAME);
        assert_eq!(n.families, [V4, V6]);
        assert_eq!(n.hold_time, 90);
        assert!(n.four_octet_as && n.extended_message);
        assert!(n.route_refresh && n.enhanced_route_refresh);
        let gr = n.peer_graceful_restart.unwrap();
        assert!(gr.restart_state && gr.notification);
        assert_eq!(gr.restart_time, 120);
        assert!(gr.families.is_empty());
        // BIRD's GR has no N bit.
        assert!(!n.graceful_notification);
        assert!(n.peer_llgr.is_empty());
        // BIRD: Both for v4 and v6; FRR: Receive for v4.
        assert_eq!(n.add_path_send, [V4]);
        assert!(n.add_path_receive.is_empty());
        assert_eq!(
            n.send,
            CodecContext {
                four_octet_as: true,
                extended_message: true,
                add_path: vec![V4],
                peer: PeerRelation::Internal,
            }
        );
        assert_eq!(
            n.receive,
            CodecContext {
                add_path: vec![],
                ..n.send.clone()
            }
        );
    }

    #[test]
    fn frr_local_bird_peer_is_the_mirror_image() {
        let asns = AsPair {
            local: Asn(64513),
            peer: AS,
        };
        let n = negotiate(&frr_open().0, &bird_open().0, asns);
        assert_eq!(n.add_path_receive, [V4]);
        assert!(n.add_path_send.is_empty());
        assert_eq!(n.receive.add_path, [V4]);
        assert!(n.send.add_path.is_empty());
        assert_eq!(n.send.peer, PeerRelation::External { peer_asn: AS });
        assert_eq!(n.receive.peer, PeerRelation::External { peer_asn: AS });
        let gr = n.peer_graceful_restart.unwrap();
        assert!(!gr.restart_state);
        assert_eq!(
            gr.families,
            [
                GracefulRestartFamily {
                    family: V4,
                    forwarding_preserved: true
                },
                GracefulRestartFamily {
                    family: V6,
                    forwarding_preserved: true
                },
            ]
        );
    }

    #[test]
    fn add_path_each_direction_rfc7911() {
        use AddPathMode::*;
        for (ours, theirs, send, receive) in [
            (Send, Receive, true, false),
            (Receive, Send, false, true),
            (Both, Both, true, true),
            (Send, Send, false, false),
            (Receive, Receive, false, false),
            (Both, Receive, true, false),
            (Both, Send, false, true),
        ] {
            let l = open(vec![ap(&[(V4, ours)])]);
            let p = open(vec![ap(&[(V4, theirs)])]);
            let n = negotiate(&l, &p, SAME);
            assert_eq!(n.add_path_send == [V4], send, "{ours:?} {theirs:?}");
            assert_eq!(n.add_path_receive == [V4], receive, "{ours:?} {theirs:?}");
            assert_eq!(n.send.add_path(V4), send);
            assert_eq!(n.receive.add_path(V4), receive);
        }
    }

    #[test]
    fn add_path_with_an_invalid_mode_is_ignored_whole() {
        let l = open(vec![ap(&[(V4, AddPathMode::Both)])]);
        let p = open(vec![ap(&[
            (V4, AddPathMode::Both),
            (V6, AddPathMode::Unknown(0)),
        ])]);
        let n = negotiate(&l, &p, SAME);
        assert!(n.add_path_send.is_empty() && n.add_path_receive.is_empty());
    }

    #[test]
    fn add_path_only_for_negotiated_families() {
        let l = open(vec![
            Capability::Multiprotocol(V4),
            ap(&[(V6, AddPathMode::Both)]),
        ]);
        let p = open(vec![
            Capability::Multiprotocol(V4),
            Capability::Multiprotocol(V6),
            ap(&[(V6, AddPathMode::Both)]),
        ]);
        let n = negotiate(&l, &p, SAME);
        assert_eq!(n.families, [V4]);
        assert!(n.add_path_send.is_empty());
    }

    #[test]
    fn no_multiprotocol_means_ipv4_unicast() {
        let n = negotiate(&open(vec![]), &open(vec![]), SAME);
        assert_eq!(n.families, [V4]);
        let n = negotiate(
            &open(vec![]),
            &open(vec![Capability::Multiprotocol(V6)]),
            SAME,
        );
        assert!(n.families.is_empty());
        let l = open(vec![
            Capability::Multiprotocol(V6),
            Capability::Multiprotocol(V4),
        ]);
        let p = open(vec![
            Capability::Multiprotocol(V4),
            Capability::Multiprotocol(V6),
        ]);
        assert_eq!(negotiate(&l, &p, SAME).families, [V6, V4]);
    }

    #[test]
    fn one_sided_capabilities_are_off() {
        let mut p = open(vec![Capability::EnhancedRouteRefresh]);
        p.capabilities
            .retain(|c| !matches!(c, Capability::FourOctetAs(_)));
        p.my_as = 64512;
        let l = open(vec![
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::ExtendedMessage,
        ]);
        let n = negotiate(&l, &p, SAME);
        assert!(!n.four_octet_as && !n.send.four_octet_as && !n.receive.four_octet_as);
        assert!(!n.extended_message && !n.receive.extended_message);
        assert!(!n.route_refresh);
        // ERR needs plain Route Refresh too.
        assert!(!n.enhanced_route_refresh);
        assert!(n.peer_graceful_restart.is_none());
    }

    #[test]
    fn malformed_capabilities_count_for_nothing() {
        let mut p = open(vec![Capability::Malformed {
            code: CapabilityCode::FourOctetAs,
            value: vec![0, 1],
        }]);
        p.capabilities
            .retain(|c| !matches!(c, Capability::FourOctetAs(_)));
        let n = negotiate(&open(vec![]), &p, SAME);
        assert!(!n.four_octet_as);
    }

    #[test]
    fn last_graceful_restart_instance_counts_and_families_are_cut() {
        let p = open(vec![
            gr(false, 300, &[(V4, false)]),
            gr(true, 120, &[(V4, true), (V6, true)]),
        ]);
        let l = open(vec![gr(true, 90, &[])]);
        let n = negotiate(&l, &p, SAME);
        let got = n.peer_graceful_restart.unwrap();
        assert_eq!(got.restart_time, 120);
        // Only IPv4 unicast is negotiated (no Multiprotocol capabilities).
        assert_eq!(
            got.families,
            [GracefulRestartFamily {
                family: V4,
                forwarding_preserved: true
            }]
        );
        assert!(n.graceful_notification);
    }

    #[test]
    fn llgr_needs_graceful_restart() {
        let llgr = Capability::LongLivedGracefulRestart(vec![
            LlgrFamily {
                family: V4,
                forwarding_preserved: true,
                stale_time: MAX_LLGR_STALE_TIME,
            },
            LlgrFamily {
                family: V6,
                forwarding_preserved: false,
                stale_time: 60,
            },
        ]);
        let n = negotiate(&open(vec![]), &open(vec![llgr.clone()]), SAME);
        assert!(n.peer_llgr.is_empty());
        let n = negotiate(&open(vec![]), &open(vec![gr(false, 120, &[]), llgr]), SAME);
        assert_eq!(
            n.peer_llgr,
            [LlgrFamily {
                family: V4,
                forwarding_preserved: true,
                stale_time: MAX_LLGR_STALE_TIME
            }]
        );
    }

    #[test]
    fn extended_next_hop_per_direction_rfc8950() {
        let v4_over_v6 = ExtendedNextHop {
            nlri: V4,
            next_hop_afi: Afi::Ipv6,
        };
        let vpn = ExtendedNextHop {
            nlri: Family::new(Afi::Ipv4, Safi::Unknown(128)),
            next_hop_afi: Afi::Ipv6,
        };
        let p = open(vec![Capability::ExtendedNextHop(vec![v4_over_v6, vpn])]);
        let n = negotiate(&open(vec![]), &p, SAME);
        assert_eq!(n.extended_next_hop_send, [v4_over_v6]);
        assert!(n.extended_next_hop_receive.is_empty());
        let n = negotiate(&p, &open(vec![]), SAME);
        assert!(n.extended_next_hop_send.is_empty());
        assert_eq!(n.extended_next_hop_receive, [v4_over_v6]);
    }

    #[test]
    fn hold_time_is_the_smaller() {
        let mut l = open(vec![]);
        let mut p = open(vec![]);
        (l.hold_time, p.hold_time) = (240, 90);
        assert_eq!(negotiate(&l, &p, SAME).hold_time, 90);
        p.hold_time = 0;
        assert_eq!(negotiate(&l, &p, SAME).hold_time, 0);
    }
}
