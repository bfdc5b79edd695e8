//! podroute against real FRR (zebra + bgpd) in network namespaces: iBGP and eBGP over IPv4 and IPv6, both directions into both kernels.

mod common;

use common::frr::{FRR_PROGRAMS, bgpd_conf};
use common::{Agent, DEADLINE, Frr, Ns, gateways, wait_until};

/// podroute in `pr` (198.18.0.1, 2001:db8:ff::1, pods 10.244.1.0/24 and
/// 2001:db8:244:1::/64) and FRR in `frr` (198.18.0.2, 2001:db8:ff::2,
/// originating 10.244.60.0/24 and 2001:db8:244:60::/64) on one veth, one
/// session per address family over that family's transport.
fn exchange_with_frr(pr_as: u32, frr_as: u32) {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let pr = Ns::new("pr");
    let fr = Ns::new("frr");
    common::veth(&pr, "eth0", &fr, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    pr.addr("eth0", "2001:db8:ff::1/64");
    fr.addr("eth0", "198.18.0.2/24");
    fr.addr("eth0", "2001:db8:ff::2/64");

    let frr = Frr::start(
        &fr,
        &bgpd_conf(
            frr_as,
            "198.18.0.2",
            &[("198.18.0.1", pr_as, ""), ("2001:db8:ff::1", pr_as, "")],
            &["10.244.60.0/24", "2001:db8:244:60::/64"],
        ),
    );
    let peers = common::agent::peer("198.18.0.2", frr_as, "")
        + &common::agent::peer("2001:db8:ff::2", frr_as, "");
    let agent = Agent::start(
        &pr,
        "n1",
        &common::agent::node_config(
            &pr,
            "n1",
            "198.18.0.1",
            pr_as,
            &["10.244.1.0/24", "2001:db8:244:1::/64"],
            &["198.18.0.1:179", "[2001:db8:ff::1]:179"],
            &peers,
        ),
    );
    agent.wait_established("198.18.0.2");
    agent.wait_established("2001:db8:ff::2");
    frr.wait_established("198.18.0.1");
    frr.wait_established("2001:db8:ff::1");

    // FRR → podroute.
    for (prefix, gw) in [
        ("10.244.60.0/24", "198.18.0.2"),
        ("2001:db8:244:60::/64", "2001:db8:ff::2"),
    ] {
        let ok = wait_until(DEADLINE, || {
            pr.podroute_route(prefix)
                .is_some_and(|r| gateways(&r) == [gw] && r["dev"] == "eth0")
        });
        assert!(
            ok,
            "{prefix} via {gw} not in podroute's FIB: {:?}",
            pr.podroute_routes()
        );
        let rib = agent.rib_route(prefix).unwrap();
        let path: Vec<u64> = if pr_as == frr_as {
            vec![]
        } else {
            vec![u64::from(frr_as)]
        };
        assert_eq!(rib["as_path"], serde_json::json!(path), "{rib}");
    }

    // podroute → FRR: in bgpd's table and, through zebra, in the kernel.
    for (prefix, gw) in [
        ("10.244.1.0/24", "198.18.0.1"),
        ("2001:db8:244:1::/64", "2001:db8:ff::1"),
    ] {
        let ok = wait_until(DEADLINE, || {
            fr.route(prefix)
                .is_some_and(|r| gateways(&r) == [gw] && r["protocol"] == "bgp")
        });
        assert!(
            ok,
            "{prefix} not in FRR's FIB: {:?} {:?}",
            fr.route(prefix),
            frr.paths(prefix)
        );
        let paths = frr.paths(prefix);
        assert_eq!(paths.len(), 1, "{paths:?}");
        assert_eq!(paths[0]["nexthops"][0]["ip"], gw, "{paths:?}");
        let expected_path = if pr_as == frr_as {
            String::new()
        } else {
            pr_as.to_string()
        };
        assert_eq!(
            paths[0]["aspath"]["string"]
                .as_str()
                .map(|s| s.replace("Local", "")),
            Some(expected_path),
            "{paths:?}"
        );
    }
}

#[test]
fn frr_ibgp_ipv4_and_ipv6_both_directions() {
    exchange_with_frr(64512, 64512);
}

#[test]
fn frr_ebgp_ipv4_and_ipv6_both_directions() {
    exchange_with_frr(64601, 64650);
}

/// FRR reflects between two podroute clients on one segment (bridge in
/// `sw`): A's pod CIDR reaches B's kernel with A's address as next hop,
/// and B's reaches A.
#[test]
fn podroute_as_reflector_client_of_frr() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let sw = Ns::new("sw");
    let fr = Ns::new("rr");
    let a = Ns::new("a");
    let b = Ns::new("b");
    common::bridge(&sw, &[(&fr, "eth0"), (&a, "eth0"), (&b, "eth0")]);
    fr.addr("eth0", "198.18.0.10/24");
    a.addr("eth0", "198.18.0.1/24");
    b.addr("eth0", "198.18.0.2/24");
    let frr = Frr::start(
        &fr,
        &bgpd_conf(
            64512,
            "198.18.0.10",
            &[
                ("198.18.0.1", 64512, "route-reflector-client"),
                ("198.18.0.2", 64512, "route-reflector-client"),
            ],
            &[],
        ),
    );
    let start = |ns: &Ns, n: u8| {
        Agent::start(
            ns,
            &format!("n{n}"),
            &common::agent::node_config(
                ns,
                &format!("n{n}"),
                &format!("198.18.0.{n}"),
                64512,
                &[&format!("10.244.{n}.0/24")],
                &[&format!("198.18.0.{n}:179")],
                &common::agent::peer("198.18.0.10", 64512, ""),
            ),
        )
    };
    let agent_a = start(&a, 1);
    let agent_b = start(&b, 2);
    agent_a.wait_established("198.18.0.10");
    agent_b.wait_established("198.18.0.10");

    for (ns, agent, prefix, gw) in [
        (&b, &agent_b, "10.244.1.0/24", "198.18.0.1"),
        (&a, &agent_a, "10.244.2.0/24", "198.18.0.2"),
    ] {
        let ok = wait_until(DEADLINE, || {
            ns.podroute_route(prefix)
                .is_some_and(|r| gateways(&r) == [gw])
        });
        assert!(
            ok,
            "{prefix} via {gw} not in {}: {:?}",
            ns.name,
            ns.podroute_routes()
        );
        let rib = agent.rib_route(prefix).unwrap();
        assert_eq!(rib["from"], "198.18.0.10", "{rib}");
        assert_eq!(rib["best"][0], gw, "{rib}");
    }
    // The data path the route describes works: A reaches an address of
    // B's pod CIDR directly.
    b.addr("lo", "10.244.2.1/32");
    let ping = a.exec(&["ping", "-c", "1", "-W", "5", "10.244.2.1"]);
    assert!(ping.contains("1 received"), "{ping}");
    let _ = frr;
}

/// podroute R reflects between FRR (client) and another podroute C
/// (client): FRR receives C's route with ORIGINATOR_ID = C, CLUSTER_LIST =
/// [R's cluster ID] and C's next hop; C receives FRR's route with FRR's
/// next hop.
#[test]
fn frr_as_reflector_client_of_podroute() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let sw = Ns::new("sw");
    let r = Ns::new("r");
    let fr = Ns::new("frr");
    let c = Ns::new("c");
    common::bridge(&sw, &[(&r, "eth0"), (&fr, "eth0"), (&c, "eth0")]);
    r.addr("eth0", "198.18.0.10/24");
    fr.addr("eth0", "198.18.0.1/24");
    c.addr("eth0", "198.18.0.2/24");
    let frr = Frr::start(
        &fr,
        &bgpd_conf(
            64512,
            "198.18.0.1",
            &[("198.18.0.10", 64512, "")],
            &["10.244.60.0/24"],
        ),
    );
    let rr = Agent::start(
        &r,
        "rr",
        &(common::agent::node_config(
            &r,
            "rr",
            "198.18.0.10",
            64512,
            &["10.244.10.0/24"],
            &["198.18.0.10:179"],
            &(common::agent::peer("198.18.0.1", 64512, "route_reflector_client = true")
                + &common::agent::peer("198.18.0.2", 64512, "route_reflector_client = true")),
        )
        .replace(
            "connect_retry = 1",
            "connect_retry = 1\ncluster_id = \"192.0.2.77\"",
        )),
    );
    let client = Agent::start(
        &c,
        "c",
        &common::agent::node_config(
            &c,
            "c",
            "198.18.0.2",
            64512,
            &["10.244.2.0/24"],
            &["198.18.0.2:179"],
            &common::agent::peer("198.18.0.10", 64512, ""),
        ),
    );
    rr.wait_established("198.18.0.1");
    rr.wait_established("198.18.0.2");
    frr.wait_established("198.18.0.10");

    // C's route, reflected to FRR.
    let reflected = |p: &serde_json::Value| {
        p["originatorId"] == "198.18.0.2"
            && p["clusterList"]["list"] == serde_json::json!(["192.0.2.77"])
            && p["nexthops"][0]["ip"] == "198.18.0.2"
    };
    let ok = wait_until(DEADLINE, || {
        frr.paths("10.244.2.0/24").iter().any(reflected)
    });
    assert!(
        ok,
        "FRR's view of 10.244.2.0/24: {:?}",
        frr.paths("10.244.2.0/24")
    );
    // R's own prefix: originated, not reflected.
    let own = frr.paths("10.244.10.0/24");
    assert!(
        own.len() == 1
            && own[0]["originatorId"].is_null()
            && own[0]["nexthops"][0]["ip"] == "198.18.0.10",
        "{own:?}"
    );
    // FRR's route, reflected to C with FRR's next hop, into C's kernel.
    let ok = wait_until(DEADLINE, || {
        c.podroute_route("10.244.60.0/24")
            .is_some_and(|r| gateways(&r) == ["198.18.0.1"])
    });
    assert!(
        ok,
        "10.244.60.0/24 not in C's FIB: {:?}",
        c.podroute_routes()
    );
    assert_eq!(
        client.rib_route("10.244.60.0/24").unwrap()["from"],
        "198.18.0.10"
    );
}

/// Recursive next hop through a ToR: node P (198.18.1.1/24) and node Q
/// (198.18.3.1/24) are in different subnets behind router `tor`; the
/// reflector (FRR, 198.18.2.1/24) is in a third. FRR reflects Q's pod
/// CIDR to P with next hop 198.18.3.1, which is not on-link for P: P must
/// install it via its real gateway 198.18.1.254.
#[test]
fn reflected_next_hop_behind_tor_is_resolved_via_gateway() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let tor = Ns::new("tor");
    let p = Ns::new("p");
    let q = Ns::new("q");
    let fr = Ns::new("rr");
    for (i, (ns, subnet)) in [(&p, 1), (&fr, 2), (&q, 3)].into_iter().enumerate() {
        common::veth(&tor, &format!("e{i}"), ns, "eth0");
        tor.addr(&format!("e{i}"), &format!("198.18.{subnet}.254/24"));
        ns.addr("eth0", &format!("198.18.{subnet}.1/24"));
        // FRR does not resolve next hops via a default route (no `ip nht
        // resolve-via-default`): give it a covering route; the nodes
        // get a default, as pod nodes usually have.
        let via = if subnet == 2 {
            "198.18.0.0/16"
        } else {
            "default"
        };
        ns.ip(&format!("route add {via} via 198.18.{subnet}.254"));
    }
    let frr = Frr::start(
        &fr,
        &bgpd_conf(
            64512,
            "198.18.2.1",
            &[
                ("198.18.1.1", 64512, "route-reflector-client"),
                ("198.18.3.1", 64512, "route-reflector-client"),
            ],
            &[],
        ),
    );
    let start = |ns: &Ns, n: u8| {
        Agent::start(
            ns,
            &format!("n{n}"),
            &common::agent::node_config(
                ns,
                &format!("n{n}"),
                &format!("198.18.{n}.1"),
                64512,
                &[&format!("10.244.{n}.0/24")],
                &[&format!("198.18.{n}.1:179")],
                &common::agent::peer("198.18.2.1", 64512, ""),
            ),
        )
    };
    let agent_p = start(&p, 1);
    let _agent_q = start(&q, 3);
    agent_p.wait_established("198.18.2.1");
    frr.wait_established("198.18.3.1");

    let ok = wait_until(DEADLINE, || {
        agent_p
            .rib_route("10.244.3.0/24")
            .is_some_and(|r| r["best"][0] == "198.18.3.1")
    });
    assert!(
        ok,
        "reflected route missing from P's RIB: {:?}",
        agent_p.show("routes")
    );
    let ok = wait_until(DEADLINE, || {
        p.podroute_route("10.244.3.0/24")
            .is_some_and(|r| gateways(&r) == ["198.18.1.254"] && r["dev"] == "eth0")
    });
    assert!(
        ok,
        "10.244.3.0/24 not installed via the ToR: {:?}",
        p.podroute_routes()
    );
    let got = p.route_get("10.244.3.7").unwrap();
    assert_eq!(got["gateway"], "198.18.1.254", "{got}");
    assert_eq!(got["dev"], "eth0", "{got}");
}

/// IPv6 route reflection over IPv6 sessions: podroute R reflects C's
/// IPv6 pod CIDR to FRR (ORIGINATOR_ID, CLUSTER_LIST, C's global next
/// hop) and FRR's prefix to C, where it lands in the kernel via FRR.
#[test]
fn podroute_reflects_ipv6_between_frr_and_podroute() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let sw = Ns::new("sw");
    let r = Ns::new("r");
    let fr = Ns::new("frr");
    let c = Ns::new("c");
    common::bridge(&sw, &[(&r, "eth0"), (&fr, "eth0"), (&c, "eth0")]);
    r.addr("eth0", "2001:db8:ff::10/64");
    fr.addr("eth0", "2001:db8:ff::1/64");
    c.addr("eth0", "2001:db8:ff::2/64");
    let frr = Frr::start(
        &fr,
        &bgpd_conf(
            64512,
            "198.18.0.1",
            &[("2001:db8:ff::10", 64512, "")],
            &["2001:db8:244:60::/64"],
        ),
    );
    let _rr = Agent::start(
        &r,
        "rr",
        &common::agent::node_config(
            &r,
            "rr",
            "198.18.0.10",
            64512,
            &["2001:db8:244:10::/64"],
            &["[2001:db8:ff::10]:179"],
            &(common::agent::peer("2001:db8:ff::1", 64512, "route_reflector_client = true")
                + &common::agent::peer("2001:db8:ff::2", 64512, "route_reflector_client = true")),
        ),
    );
    let client = Agent::start(
        &c,
        "c",
        &common::agent::node_config(
            &c,
            "c",
            "198.18.0.2",
            64512,
            &["2001:db8:244:2::/64"],
            &["[2001:db8:ff::2]:179"],
            &common::agent::peer("2001:db8:ff::10", 64512, ""),
        ),
    );
    frr.wait_established("2001:db8:ff::10");
    client.wait_established("2001:db8:ff::10");

    let reflected = |p: &serde_json::Value| {
        p["originatorId"] == "198.18.0.2"
            && p["clusterList"]["list"] == serde_json::json!(["198.18.0.10"])
            && p["nexthops"][0]["ip"] == "2001:db8:ff::2"
    };
    let ok = wait_until(DEADLINE, || {
        frr.paths("2001:db8:244:2::/64").iter().any(reflected)
    });
    assert!(ok, "FRR's view: {:?}", frr.paths("2001:db8:244:2::/64"));
    let ok = wait_until(DEADLINE, || {
        fr.route("2001:db8:244:2::/64")
            .is_some_and(|r| gateways(&r) == ["2001:db8:ff::2"])
    });
    assert!(ok, "FRR's kernel: {:?}", fr.route("2001:db8:244:2::/64"));
    let ok = wait_until(DEADLINE, || {
        c.podroute_route("2001:db8:244:60::/64")
            .is_some_and(|r| gateways(&r) == ["2001:db8:ff::1"])
    });
    assert!(ok, "C's FIB: {:?}", c.podroute_routes());
}

#[test]
fn frr_ebgp_four_octet_asns_ipv4_and_ipv6() {
    exchange_with_frr(4_200_000_002, 4_200_000_001);
}

/// ROUTE-REFRESH from FRR (`clear bgp ... soft in`, RFC 2918): podroute
/// answers by re-sending its routes (FRR counts more UPDATEs in), the
/// session is not reset and FRR keeps the route.
#[test]
fn frr_route_refresh_is_answered_without_reset() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let pr = Ns::new("pr");
    let fr = Ns::new("frr");
    common::veth(&pr, "eth0", &fr, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    fr.addr("eth0", "198.18.0.2/24");
    let frr = Frr::start(
        &fr,
        &bgpd_conf(64512, "198.18.0.2", &[("198.18.0.1", 64512, "")], &[]),
    );
    let _agent = Agent::start(
        &pr,
        "n1",
        &common::agent::node_config(
            &pr,
            "n1",
            "198.18.0.1",
            64512,
            &["10.244.1.0/24"],
            &["198.18.0.1:179"],
            &common::agent::peer("198.18.0.2", 64512, ""),
        ),
    );
    frr.wait_established("198.18.0.1");
    assert!(wait_until(DEADLINE, || frr.paths("10.244.1.0/24").len() == 1));
    let stats = || frr.json("show bgp neighbors 198.18.0.1 json")["198.18.0.1"].clone();
    let before = stats();
    let updates = |s: &serde_json::Value| s["messageStats"]["updatesRecv"].as_u64().unwrap_or(0);
    assert!(updates(&before) >= 1, "{before}");

    frr.vtysh("clear bgp ipv4 unicast 198.18.0.1 soft in")
        .unwrap();
    let ok = wait_until(DEADLINE, || {
        let s = stats();
        s["messageStats"]["routeRefreshSent"].as_u64().unwrap_or(0) >= 1
            && updates(&s) > updates(&before)
    });
    assert!(
        ok,
        "no refreshed UPDATEs: before {before} after {}",
        stats()
    );
    let after = stats();
    assert_eq!(after["bgpState"], "Established");
    assert_eq!(after["connectionsEstablished"], 1, "{after}");
    assert_eq!(frr.paths("10.244.1.0/24").len(), 1);
}

/// AS per rack against an FRR ToR: nodes A and B share AS 64601 and speak
/// eBGP to the ToR (AS 64700), which passes A's route to B with AS_PATH
/// 64700 64601, keeping A's address as a third-party next hop (all three
/// share the segment, RFC 4271 §5.1.3). B, with `allow_own_as = 1`,
/// installs it; A, without, refuses B's route as a loop.
#[test]
fn as_per_rack_allow_own_as_against_frr_tor() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let sw = Ns::new("sw");
    let tor = Ns::new("tor");
    let a = Ns::new("a");
    let b = Ns::new("b");
    common::bridge(&sw, &[(&tor, "eth0"), (&a, "eth0"), (&b, "eth0")]);
    tor.addr("eth0", "198.18.0.10/24");
    a.addr("eth0", "198.18.0.1/24");
    b.addr("eth0", "198.18.0.2/24");
    let frr = Frr::start(
        &tor,
        &bgpd_conf(
            64700,
            "198.18.0.10",
            &[("198.18.0.1", 64601, ""), ("198.18.0.2", 64601, "")],
            &[],
        ),
    );
    let start = |ns: &Ns, n: u8, extra: &str| {
        Agent::start(
            ns,
            &format!("n{n}"),
            &common::agent::node_config(
                ns,
                &format!("n{n}"),
                &format!("198.18.0.{n}"),
                64601,
                &[&format!("10.244.{n}.0/24")],
                &[&format!("198.18.0.{n}:179")],
                &common::agent::peer("198.18.0.10", 64700, extra),
            ),
        )
    };
    let agent_a = start(&a, 1, "");
    let agent_b = start(&b, 2, "allow_own_as = 1");
    frr.wait_established("198.18.0.1");
    frr.wait_established("198.18.0.2");

    let ok = wait_until(DEADLINE, || {
        b.podroute_route("10.244.1.0/24")
            .is_some_and(|r| gateways(&r) == ["198.18.0.1"])
    });
    assert!(ok, "B did not install A's route: {:?}", b.podroute_routes());
    let rib = agent_b.rib_route("10.244.1.0/24").unwrap();
    assert_eq!(rib["as_path"], serde_json::json!([64700, 64601]), "{rib}");
    // Its own CIDR, echoed back by FRR and allowed by the AS loop check,
    // is still refused by the import policy: the blackhole stays.
    assert_eq!(
        b.podroute_route("10.244.2.0/24").unwrap()["type"],
        "blackhole"
    );
    assert!(agent_b.rib_route("10.244.2.0/24").unwrap()["from"].is_null());

    // A hears B's route and its own (FRR does no sender-side loop
    // detection) and refuses both: its own AS is in their paths.
    let ok = wait_until(DEADLINE, || {
        agent_a
            .neighbor("198.18.0.10")
            .is_some_and(|n| n["prefixes_received"] == 2 && n["prefixes_accepted"] == 0)
    });
    assert!(ok, "{:?}", agent_a.neighbor("198.18.0.10"));
    assert!(a.podroute_route("10.244.2.0/24").is_none());
    assert!(agent_a.rib_route("10.244.2.0/24").is_none());
}
