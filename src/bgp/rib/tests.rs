//! Unit tests of the RIB: import policy, best path and ECMP into FIB changes, origination, route reflection.

use std::net::Ipv6Addr;

use super::*;
use crate::bgp::attribute::{AsPath, MpNlri, MpReach, PathAttributes};
use crate::bgp::message::Message;
use crate::config::Config;

const CONFIG: &str = r#"
[node]
name = "n1"
router_id = "192.0.2.1"
asn = 64512
pod_cidrs = ["10.244.1.0/24", "fd00:244:1::/64"]
[cluster]
pod_pools = ["10.244.0.0/16", "fd00:244::/32"]
"#;

fn rib(ecmp: bool) -> Rib {
    let config = Arc::new(Config::from_toml(CONFIG).unwrap());
    Rib::new(RibConfig {
        local_asn: Asn(64512),
        router_id: RouterId("192.0.2.1".parse().unwrap()),
        cluster_id: "192.0.2.1".parse().unwrap(),
        own_prefixes: config.node.pod_cidrs.clone(),
        import: ImportPolicy::new(config),
        ecmp,
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn peer(addr: &str, asn: u32) -> PeerInfo {
    let address = ip(addr);
    let ebgp = asn != 64512;
    PeerInfo {
        address,
        asn: Asn(asn),
        router_id: match address {
            IpAddr::V4(a) => RouterId(a),
            IpAddr::V6(_) => RouterId("198.51.100.1".parse().unwrap()),
        },
        local_address: if address.is_ipv4() {
            ip("192.0.2.1")
        } else {
            ip("2001:db8::1")
        },
        route_reflector_client: false,
        next_hop_self: false,
        allow_own_as: 0,
        families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        max_prefixes: None,
        send: CodecContext {
            four_octet_as: true,
            peer: if ebgp {
                crate::bgp::PeerRelation::External { peer_asn: Asn(asn) }
            } else {
                crate::bgp::PeerRelation::Internal
            },
            ..CodecContext::default()
        },
    }
}

fn attrs(next_hop: &str, local_pref: Option<u32>, as_path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(as_path.iter().copied())),
        next_hop: Some(next_hop.parse().unwrap()),
        local_pref,
        ..PathAttributes::default()
    }
}

fn announce(a: PathAttributes, prefixes: &[&str]) -> Update {
    Update {
        attributes: Arc::new(a),
        nlri: prefixes.iter().map(|p| Nlri::new(net(p))).collect(),
        ..Update::default()
    }
}

fn withdraw(prefixes: &[&str]) -> Update {
    Update {
        withdrawn: prefixes.iter().map(|p| Nlri::new(net(p))).collect(),
        ..Update::default()
    }
}

fn fib(out: &[RibOutput]) -> Vec<(IpNet, Vec<IpAddr>)> {
    let mut v: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            RibOutput::Fib(c) => Some((c.prefix, c.next_hops.to_vec())),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// Decodes what the RIB sent to `to`.
fn sent(out: &[RibOutput], to: &str, ctx: &CodecContext) -> Vec<Update> {
    out.iter()
        .filter_map(|o| match o {
            RibOutput::Send { peer, messages } if *peer == ip(to) => Some(messages),
            _ => None,
        })
        .flatten()
        .map(|m| match Message::decode(m, ctx).unwrap() {
            Message::Update(u) => u,
            other => panic!("not an UPDATE: {other:?}"),
        })
        .collect()
}

fn rx_ctx(p: &PeerInfo) -> CodecContext {
    // The peer decodes what we send with the mirror context.
    CodecContext {
        peer: crate::bgp::PeerRelation::Internal,
        ..p.send.clone()
    }
}

#[test]
fn ibgp_peer_gets_own_prefixes_then_end_of_rib() {
    let mut r = rib(true);
    let p = peer("192.0.2.2", 64512);
    let out = r.peer_up(p.clone());
    let updates = sent(&out, "192.0.2.2", &rx_ctx(&p));
    let v4 = updates.iter().find(|u| !u.nlri.is_empty()).unwrap();
    assert_eq!(v4.nlri, vec![Nlri::new(net("10.244.1.0/24"))]);
    assert_eq!(v4.attributes.as_path, Some(AsPath::default()));
    assert_eq!(v4.attributes.local_pref, Some(100));
    assert_eq!(v4.attributes.next_hop, Some("192.0.2.1".parse().unwrap()));
    let eors: Vec<Family> = updates
        .iter()
        .filter_map(|u| u.end_of_rib_family())
        .collect();
    assert_eq!(eors, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    // The IPv6 pod CIDR has no IPv6 next hop on an IPv4 session.
    assert!(updates.iter().all(|u| u.mp_reach.is_none()));
    assert_eq!(r.counts(ip("192.0.2.2")).unwrap().advertised, 1);
}

#[test]
fn ebgp_peer_gets_our_as_and_no_local_pref() {
    let mut r = rib(true);
    let p = peer("192.0.2.9", 65001);
    let updates = sent(&r.peer_up(p.clone()), "192.0.2.9", &rx_ctx(&p));
    let v4 = updates.iter().find(|u| !u.nlri.is_empty()).unwrap();
    assert_eq!(v4.attributes.as_path, Some(AsPath::sequence([64512])));
    assert_eq!(v4.attributes.local_pref, None);
}

#[test]
fn ipv6_session_carries_the_ipv6_pod_cidr_in_mp_reach() {
    let mut r = rib(true);
    let p = peer("2001:db8::2", 64512);
    let updates = sent(&r.peer_up(p.clone()), "2001:db8::2", &rx_ctx(&p));
    let mp = updates.iter().find_map(|u| u.mp_reach.as_ref()).unwrap();
    assert_eq!(mp.family, Family::IPV6_UNICAST);
    assert_eq!(mp.nlri.prefixes(), &[Nlri::new(net("fd00:244:1::/64"))]);
    assert_eq!(
        mp.next_hop,
        MpNextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None
        }
    );
}

#[test]
fn accepted_routes_reach_the_fib_and_refused_ones_are_counted() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    let u = announce(
        attrs("192.0.2.2", Some(100), &[]),
        &["10.244.2.0/24", "192.0.2.0/24", "10.244.1.0/24"],
    );
    let out = r.updates(ip("192.0.2.2"), &[u]);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.2.0/24"), vec![ip("192.0.2.2")])]
    );
    let c = r.counts(ip("192.0.2.2")).unwrap();
    assert_eq!(
        (c.received, c.accepted),
        (3, 1),
        "outside pools and own CIDR refused"
    );
    let out = r.updates(
        ip("192.0.2.2"),
        &[withdraw(&["10.244.2.0/24", "192.0.2.0/24"])],
    );
    assert_eq!(fib(&out), vec![(net("10.244.2.0/24"), vec![])]);
    let c = r.counts(ip("192.0.2.2")).unwrap();
    assert_eq!((c.received, c.accepted), (1, 0));
    assert!(r.is_empty());
}

#[test]
fn ipv6_routes_use_the_mp_reach_next_hop() {
    let mut r = rib(true);
    r.peer_up(peer("2001:db8::2", 64512));
    let u = Update {
        attributes: Arc::new(PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            ..PathAttributes::default()
        }),
        mp_reach: Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: "2001:db8::2".parse().unwrap(),
                link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2)),
            },
            nlri: MpNlri::Prefixes(vec![Nlri::new(net("fd00:244:2::/64"))]),
        }),
        ..Update::default()
    };
    let out = r.updates(ip("2001:db8::2"), &[u]);
    assert_eq!(
        fib(&out),
        vec![(net("fd00:244:2::/64"), vec![ip("2001:db8::2")])]
    );
}

#[test]
fn higher_local_pref_wins_and_equal_paths_share_traffic() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let out = r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("192.0.2.3", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("192.0.2.2"), ip("192.0.2.3")])]
    );
    let out = r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("192.0.2.3", Some(200), &[]),
            &["10.244.5.0/24"],
        )],
    );
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("192.0.2.3")])]
    );
    let routes = r.routes();
    let route = routes
        .iter()
        .find(|v| v.prefix == net("10.244.5.0/24"))
        .unwrap();
    assert_eq!((route.local_pref, route.from), (200, Some(ip("192.0.2.3"))));
}

#[test]
fn without_ecmp_only_the_best_next_hop_is_installed() {
    let mut r = rib(false);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("192.0.2.3", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    // Tie broken by the lower router ID: 192.0.2.2.
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("192.0.2.2")])]
    );
}

#[test]
fn peer_down_removes_its_routes_and_falls_back() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(200), &[]),
            &["10.244.5.0/24", "10.244.6.0/24"],
        )],
    );
    r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("192.0.2.3", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let out = r.peer_down(ip("192.0.2.2"));
    assert_eq!(
        fib(&out),
        vec![
            (net("10.244.5.0/24"), vec![ip("192.0.2.3")]),
            (net("10.244.6.0/24"), vec![])
        ]
    );
    assert_eq!(r.len(), 1);
    assert!(r.counts(ip("192.0.2.2")).is_none());
}

#[test]
fn loops_are_refused() {
    let mut r = rib(true);
    let mut ebgp = peer("192.0.2.9", 65001);
    r.peer_up(ebgp.clone());
    let looped = announce(
        attrs("192.0.2.9", None, &[65001, 64512, 65002]),
        &["10.244.7.0/24"],
    );
    assert!(fib(&r.updates(ip("192.0.2.9"), std::slice::from_ref(&looped))).is_empty());
    // AS-per-rack: our AS once is allowed with allow_own_as = 1.
    ebgp.allow_own_as = 1;
    r.peer_up(ebgp);
    assert_eq!(fib(&r.updates(ip("192.0.2.9"), &[looped])).len(), 1);

    r.peer_up(peer("192.0.2.2", 64512));
    let mut a = attrs("192.0.2.2", Some(100), &[]);
    a.originator_id = Some(RouterId("192.0.2.1".parse().unwrap()));
    assert!(fib(&r.updates(ip("192.0.2.2"), &[announce(a, &["10.244.8.0/24"])])).is_empty());
    let mut a = attrs("192.0.2.2", Some(100), &[]);
    a.cluster_list = Some(vec![
        "192.0.2.77".parse().unwrap(),
        "192.0.2.1".parse().unwrap(),
    ]);
    assert!(fib(&r.updates(ip("192.0.2.2"), &[announce(a, &["10.244.9.0/24"])])).is_empty());
}

#[test]
fn full_mesh_member_does_not_pass_ibgp_routes_on() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24"],
        )],
    );
    assert!(
        !out.iter().any(|o| matches!(o, RibOutput::Send { .. })),
        "{out:?}"
    );
}

#[test]
fn route_reflector_reflects_client_routes_with_originator_and_cluster_list() {
    let mut r = rib(true);
    let mut c1 = peer("192.0.2.11", 64512);
    c1.route_reflector_client = true;
    let mut c2 = peer("192.0.2.12", 64512);
    c2.route_reflector_client = true;
    let non_client = peer("192.0.2.20", 64512);
    r.peer_up(c1.clone());
    r.peer_up(c2.clone());
    r.peer_up(non_client.clone());
    let out = r.updates(
        ip("192.0.2.11"),
        &[announce(
            attrs("192.0.2.11", Some(100), &[]),
            &["10.244.11.0/24"],
        )],
    );
    assert!(
        sent(&out, "192.0.2.11", &rx_ctx(&c1)).is_empty(),
        "never back to the sender"
    );
    for (to, info) in [("192.0.2.12", &c2), ("192.0.2.20", &non_client)] {
        let u = sent(&out, to, &rx_ctx(info));
        assert_eq!(u.len(), 1, "{to}");
        assert_eq!(u[0].nlri, vec![Nlri::new(net("10.244.11.0/24"))]);
        assert_eq!(
            u[0].attributes.originator_id,
            Some(RouterId("192.0.2.11".parse().unwrap()))
        );
        assert_eq!(
            u[0].attributes.cluster_list,
            Some(vec!["192.0.2.1".parse().unwrap()])
        );
        assert_eq!(
            u[0].attributes.next_hop,
            Some("192.0.2.11".parse().unwrap()),
            "next hop unchanged"
        );
    }
    // A non-client's route goes to clients only.
    let out = r.updates(
        ip("192.0.2.20"),
        &[announce(
            attrs("192.0.2.20", Some(100), &[]),
            &["10.244.20.0/24"],
        )],
    );
    assert_eq!(sent(&out, "192.0.2.11", &rx_ctx(&c1)).len(), 1);
    assert_eq!(sent(&out, "192.0.2.12", &rx_ctx(&c2)).len(), 1);
    assert!(sent(&out, "192.0.2.20", &rx_ctx(&non_client)).is_empty());
    // Withdrawal is reflected too.
    let out = r.updates(ip("192.0.2.11"), &[withdraw(&["10.244.11.0/24"])]);
    let u = sent(&out, "192.0.2.12", &rx_ctx(&c2));
    assert_eq!(u[0].withdrawn, vec![Nlri::new(net("10.244.11.0/24"))]);
    // A client that comes up later gets the reflected table before End-of-RIB.
    let mut c3 = peer("192.0.2.13", 64512);
    c3.route_reflector_client = true;
    let u = sent(&r.peer_up(c3.clone()), "192.0.2.13", &rx_ctx(&c3));
    let prefixes: Vec<IpNet> = u
        .iter()
        .flat_map(|u| u.nlri.iter().map(|n| n.prefix))
        .collect();
    assert_eq!(prefixes.len(), 2, "own + reflected: {prefixes:?}");
    assert!(prefixes.contains(&net("10.244.20.0/24")));
    assert!(u.last().unwrap().end_of_rib_family().is_some());
}

#[test]
fn many_prefixes_are_packed_into_few_updates() {
    let mut r = rib(true);
    let mut client = peer("192.0.2.11", 64512);
    client.route_reflector_client = true;
    r.peer_up(client);
    let other = peer("192.0.2.20", 64512);
    r.peer_up(other.clone());
    let prefixes: Vec<String> = (0..2000)
        .map(|i| format!("10.244.{}.{}/30", 100 + i / 64, (i % 64) * 4))
        .collect();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let out = r.updates(
        ip("192.0.2.11"),
        &[announce(attrs("192.0.2.11", Some(100), &[]), &refs)],
    );
    let u = sent(&out, "192.0.2.20", &rx_ctx(&other));
    let total: usize = u.iter().map(|u| u.nlri.len()).sum();
    assert_eq!(total, 2000);
    assert!(u.len() <= 3, "{} UPDATEs for 2000 prefixes", u.len());
}

fn tracked(out: &[RibOutput]) -> Vec<IpAddr> {
    out.iter()
        .filter_map(|o| match o {
            RibOutput::TrackNextHop(nh) => Some(*nh),
            _ => None,
        })
        .collect()
}

#[test]
fn new_next_hops_are_tracked_once() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24"],
        )],
    );
    assert_eq!(tracked(&out), vec![ip("192.0.2.2")]);
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.3.0/24"],
        )],
    );
    assert!(tracked(&out).is_empty());
}

#[test]
fn unreachable_next_hop_makes_the_path_ineligible() {
    let mut r = rib(false);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    // Route reflector style: both paths carry next hops behind other routers.
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("198.51.100.2", Some(200), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let out = r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("198.51.100.3", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    assert!(fib(&out).is_empty(), "LOCAL_PREF 200 stays best");
    let out = r.next_hop_reachability(ip("198.51.100.2"), false, 0);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("198.51.100.3")])],
        "the other path takes over"
    );
    assert_eq!(
        r.routes()
            .iter()
            .find(|v| v.prefix == net("10.244.5.0/24"))
            .unwrap()
            .from,
        Some(ip("192.0.2.3"))
    );
    // Telling the same twice changes nothing.
    assert!(
        r.next_hop_reachability(ip("198.51.100.2"), false, 0)
            .is_empty()
    );
    let out = r.next_hop_reachability(ip("198.51.100.3"), false, 0);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![])],
        "no eligible path: route removed"
    );
    let v = r
        .routes()
        .into_iter()
        .find(|v| v.prefix == net("10.244.5.0/24"))
        .unwrap();
    assert!(!v.reachable, "still shown, as unreachable");
    assert_eq!(v.best, vec![ip("198.51.100.2")], "the path that would win");
    let out = r.next_hop_reachability(ip("198.51.100.2"), true, 0);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("198.51.100.2")])]
    );
}

#[test]
fn ineligible_paths_leave_the_ecmp_set() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("192.0.2.3", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let out = r.next_hop_reachability(ip("192.0.2.3"), false, 0);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("192.0.2.2")])]
    );
}

#[test]
fn lower_igp_cost_to_the_next_hop_wins_and_ecmp_needs_equal_cost() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.peer_up(peer("192.0.2.3", 64512));
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("198.51.100.2", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let out = r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("198.51.100.3", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    assert_eq!(
        fib(&out),
        vec![(
            net("10.244.5.0/24"),
            vec![ip("198.51.100.2"), ip("198.51.100.3")]
        )]
    );
    // The kernel route to 198.51.100.2 costs more: that path leaves the ECMP set.
    let out = r.next_hop_reachability(ip("198.51.100.2"), true, 50);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("198.51.100.3")])]
    );
    let out = r.next_hop_reachability(ip("198.51.100.3"), true, 100);
    assert_eq!(
        fib(&out),
        vec![(net("10.244.5.0/24"), vec![ip("198.51.100.2")])]
    );
}

#[test]
fn prefix_limit_warns_then_closes_with_the_rfc4486_data() {
    let mut r = rib(true);
    let mut p = peer("192.0.2.2", 64512);
    p.max_prefixes = Some(PrefixLimit {
        limit: 3,
        warning_at: 2,
    });
    r.peer_up(p);
    let limit_hit = |out: &[RibOutput]| {
        out.iter().find_map(|o| match o {
            RibOutput::PrefixLimitExceeded { notification, .. } => Some(notification.clone()),
            _ => None,
        })
    };
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24", "10.244.3.0/24"],
        )],
    );
    assert!(limit_hit(&out).is_none());
    assert_eq!(r.counts(ip("192.0.2.2")).unwrap().limit_warnings, 1);
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.4.0/24"],
        )],
    );
    assert!(limit_hit(&out).is_none(), "3 is the limit itself");
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.5.0/24"],
        )],
    );
    let n = limit_hit(&out).expect("the 4th prefix exceeds the limit");
    assert_eq!(
        n,
        crate::bgp::notification::Notification::max_prefixes(Family::IPV4_UNICAST, 3)
    );
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.6.0/24"],
        )],
    );
    assert!(limit_hit(&out).is_none(), "reported once");
}

fn eor(family: Family) -> Update {
    Update::end_of_rib(family)
}

#[test]
fn graceful_down_keeps_paths_stale_and_the_kernel_untouched() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24", "10.244.3.0/24"],
        )],
    );
    let out = r.peer_down_graceful(ip("192.0.2.2"), &[Family::IPV4_UNICAST]);
    assert!(
        fib(&out).is_empty(),
        "stale routes keep forwarding: {out:?}"
    );
    assert_eq!(r.len(), 2);
    assert_eq!(
        r.stale_families(ip("192.0.2.2")),
        vec![Family::IPV4_UNICAST]
    );
    assert!(r.routes().iter().all(|v| v.from.is_none() || v.stale));
}

#[test]
fn end_of_rib_after_restart_removes_only_what_was_not_announced_again() {
    let mut r = rib(true);
    let p = peer("192.0.2.2", 64512);
    r.peer_up(p.clone());
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24", "10.244.3.0/24"],
        )],
    );
    r.peer_down_graceful(ip("192.0.2.2"), &[Family::IPV4_UNICAST]);
    let out = r.peer_up(p);
    assert!(fib(&out).is_empty());
    let out = r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24"],
        )],
    );
    assert!(fib(&out).is_empty(), "same next hop: no kernel change");
    assert_eq!(
        r.stale_families(ip("192.0.2.2")),
        vec![Family::IPV4_UNICAST]
    );
    let out = r.updates(ip("192.0.2.2"), &[eor(Family::IPV4_UNICAST)]);
    assert_eq!(fib(&out), vec![(net("10.244.3.0/24"), vec![])]);
    assert!(r.stale_families(ip("192.0.2.2")).is_empty());
    assert_eq!(r.counts(ip("192.0.2.2")).unwrap().accepted, 1);
    assert!(r.routes().iter().all(|v| !v.stale));
}

#[test]
fn families_not_kept_go_at_once_and_purge_frees_a_down_peer() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    let v6 = Update {
        mp_reach: Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: "2001:db8::2".parse().unwrap(),
                link_local: None,
            },
            nlri: MpNlri::Prefixes(vec![Nlri::new(net("fd00:244:2::/64"))]),
        }),
        attributes: Arc::new(attrs("192.0.2.2", Some(100), &[])),
        ..Update::default()
    };
    r.updates(
        ip("192.0.2.2"),
        &[
            announce(attrs("192.0.2.2", Some(100), &[]), &["10.244.2.0/24"]),
            v6,
        ],
    );
    let out = r.peer_down_graceful(ip("192.0.2.2"), &[Family::IPV4_UNICAST]);
    assert_eq!(fib(&out), vec![(net("fd00:244:2::/64"), vec![])]);
    let out = r.purge_stale(ip("192.0.2.2"), None);
    assert_eq!(fib(&out), vec![(net("10.244.2.0/24"), vec![])]);
    assert!(r.is_empty());
    assert!(r.counts(ip("192.0.2.2")).is_none(), "slot freed");
}

#[test]
fn deferred_peer_hears_nothing_until_released() {
    let mut r = rib(true);
    let p = peer("192.0.2.2", 64512);
    let out = r.peer_up_deferred(p.clone());
    assert!(out.is_empty(), "held back: {out:?}");
    r.peer_up(peer("192.0.2.3", 64512));
    let out = r.updates(
        ip("192.0.2.3"),
        &[announce(
            attrs("192.0.2.3", Some(100), &[]),
            &["10.244.3.0/24"],
        )],
    );
    assert!(sent(&out, "192.0.2.2", &rx_ctx(&p)).is_empty());
    let out = r.release_deferred();
    let updates = sent(&out, "192.0.2.2", &rx_ctx(&p));
    assert!(
        updates
            .iter()
            .any(|u| u.nlri.iter().any(|n| n.prefix == net("10.244.1.0/24")))
    );
    assert!(updates.iter().any(|u| u.end_of_rib_family().is_some()));
    assert!(r.release_deferred().is_empty());
}

#[test]
fn enhanced_refresh_marks_one_family_stale_and_eorr_sweeps_what_was_not_resent() {
    let mut r = rib(true);
    r.peer_up(peer("192.0.2.2", 64512));
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.2.0/24", "10.244.3.0/24"],
        )],
    );
    assert_eq!(r.mark_stale(ip("192.0.2.2"), Family::IPV6_UNICAST), 0);
    assert_eq!(r.mark_stale(ip("192.0.2.2"), Family::IPV4_UNICAST), 2);
    r.updates(
        ip("192.0.2.2"),
        &[announce(
            attrs("192.0.2.2", Some(100), &[]),
            &["10.244.3.0/24"],
        )],
    );
    let out = r.purge_stale(ip("192.0.2.2"), Some(Family::IPV4_UNICAST));
    assert_eq!(fib(&out), vec![(net("10.244.2.0/24"), vec![])]);
    assert_eq!(r.counts(ip("192.0.2.2")).unwrap().accepted, 1);
    assert_eq!(r.counts(ip("192.0.2.2")).unwrap().stale, 0);
}
