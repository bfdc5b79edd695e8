//! podroute against a real BIRD 2 in network namespaces: iBGP and eBGP, IPv4 over IPv4 and IPv6 over IPv6, routes in both directions into both kernels.

mod common;

use common::bird::{bird_bgp, bird_conf};
use common::{Agent, Bird, DEADLINE, Ns, gateways, wait_until};

/// The two-namespace BIRD setup of [`exchange_with_bird`], sessions not
/// yet waited for.
fn bird_pair(pr_as: u32, bird_as: u32) -> Option<(Ns, Ns, Bird, Agent)> {
    if !common::prerequisites(&["bird", "birdc"]) {
        return None;
    }
    let pr = Ns::new("pr");
    let bn = Ns::new("bird");
    common::veth(&pr, "eth0", &bn, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    pr.addr("eth0", "2001:db8:ff::1/64");
    bn.addr("eth0", "198.18.0.2/24");
    bn.addr("eth0", "2001:db8:ff::2/64");

    let protocols = bird_bgp(
        "p4",
        "198.18.0.2",
        bird_as,
        "198.18.0.1",
        pr_as,
        "ipv4 { import all; export all; };",
    ) + &bird_bgp(
        "p6",
        "2001:db8:ff::2",
        bird_as,
        "2001:db8:ff::1",
        pr_as,
        "ipv6 { import all; export all; next hop address 2001:db8:ff::2; };",
    );
    let bird = Bird::start(
        &bn,
        &bird_conf(
            "198.18.0.2",
            &["10.244.50.0/24", "2001:db8:244:50::/64"],
            &protocols,
        ),
    );
    let peers = common::agent::peer("198.18.0.2", bird_as, "")
        + &common::agent::peer("2001:db8:ff::2", bird_as, "");
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

    Some((pr, bn, bird, agent))
}

/// podroute in `pr` (198.18.0.1, 2001:db8:ff::1, pods 10.244.1.0/24 and
/// 2001:db8:244:1::/64) and BIRD in `bird` (198.18.0.2, 2001:db8:ff::2,
/// originating 10.244.50.0/24 and 2001:db8:244:50::/64) on one veth, one
/// session per address family over that family's transport.
fn exchange_with_bird(pr_as: u32, bird_as: u32) {
    let Some((pr, bn, bird, agent)) = bird_pair(pr_as, bird_as) else {
        return;
    };
    agent.wait_established("198.18.0.2");
    agent.wait_established("2001:db8:ff::2");
    assert!(wait_until(DEADLINE, || bird.established("p4")
        && bird.established("p6")));

    // BIRD → podroute: its static prefixes are in podroute's FIB via BIRD.
    for (prefix, gw) in [
        ("10.244.50.0/24", "198.18.0.2"),
        ("2001:db8:244:50::/64", "2001:db8:ff::2"),
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
        assert_eq!(rib["best"][0], gw);
        let path: Vec<u64> = if pr_as == bird_as {
            vec![]
        } else {
            vec![u64::from(bird_as)]
        };
        assert_eq!(rib["as_path"], serde_json::json!(path), "{rib}");
    }

    // podroute → BIRD: the pod CIDRs are in BIRD's table and, through its
    // kernel protocol, in BIRD's namespace FIB via podroute's address.
    for (prefix, gw) in [
        ("10.244.1.0/24", "198.18.0.1"),
        ("2001:db8:244:1::/64", "2001:db8:ff::1"),
    ] {
        let ok = wait_until(DEADLINE, || {
            bn.route(prefix).is_some_and(|r| gateways(&r) == [gw])
        });
        assert!(ok, "{prefix} not in BIRD's FIB: {}", bird.route(prefix));
        let text = bird.route(prefix);
        assert!(text.contains(&format!("BGP.next_hop: {gw}")), "{text}");
        if pr_as != bird_as {
            assert!(text.contains(&format!("BGP.as_path: {pr_as}")), "{text}");
        }
    }

    // Counters agree with what crossed the wire.
    let n = agent.neighbor("198.18.0.2").unwrap();
    assert_eq!(n["prefixes_accepted"], 1, "{n}");
    assert_eq!(n["prefixes_advertised"], 1, "{n}");
}

#[test]
fn bird_ibgp_ipv4_and_ipv6_both_directions() {
    exchange_with_bird(64512, 64512);
}

#[test]
fn bird_ebgp_ipv4_and_ipv6_both_directions() {
    exchange_with_bird(64601, 64650);
}

/// Two BIRDs on one segment announce the same prefix over iBGP: podroute
/// installs one multipath route via both; when one BIRD dies, the route
/// shrinks to the survivor instead of disappearing.
#[test]
fn two_bird_paths_become_one_multipath_route() {
    if !common::prerequisites(&["bird", "birdc"]) {
        return;
    }
    let sw = Ns::new("sw");
    let pr = Ns::new("pr");
    let b1 = Ns::new("bird1");
    let b2 = Ns::new("bird2");
    common::bridge(&sw, &[(&pr, "eth0"), (&b1, "eth0"), (&b2, "eth0")]);
    pr.addr("eth0", "198.18.0.1/24");
    b1.addr("eth0", "198.18.0.2/24");
    b2.addr("eth0", "198.18.0.3/24");
    let start = |ns: &Ns, me: &str| {
        Bird::start(
            ns,
            &bird_conf(
                me,
                &["10.244.50.0/24"],
                &bird_bgp(
                    "p",
                    me,
                    64512,
                    "198.18.0.1",
                    64512,
                    "ipv4 { import all; export all; };",
                ),
            ),
        )
    };
    let mut bird1 = start(&b1, "198.18.0.2");
    let _bird2 = start(&b2, "198.18.0.3");
    let peers = common::agent::peer("198.18.0.2", 64512, "")
        + &common::agent::peer("198.18.0.3", 64512, "");
    let agent = Agent::start(
        &pr,
        "n1",
        &common::agent::node_config(
            &pr,
            "n1",
            "198.18.0.1",
            64512,
            &["10.244.1.0/24"],
            &["198.18.0.1:179"],
            &peers,
        ),
    );
    agent.wait_established("198.18.0.2");
    agent.wait_established("198.18.0.3");
    let via = |want: &[&str]| {
        pr.podroute_route("10.244.50.0/24").is_some_and(|r| {
            let mut g = gateways(&r);
            g.sort();
            g == want
        })
    };
    assert!(
        wait_until(DEADLINE, || via(&["198.18.0.2", "198.18.0.3"])),
        "no multipath route: {:?}",
        pr.podroute_routes()
    );
    bird1.kill();
    assert!(
        wait_until(DEADLINE, || via(&["198.18.0.3"])),
        "route did not fall back to the surviving path: {:?}",
        pr.podroute_routes()
    );
}

/// The default import policy against a real peer: of BIRD's routes only
/// the one inside the pod pools is taken; a prefix outside them and the
/// node's own pod CIDR are refused (counted as received, not accepted),
/// and the node keeps its own blackhole for its CIDR.
#[test]
fn bird_routes_outside_pod_pools_and_own_cidr_are_refused() {
    if !common::prerequisites(&["bird", "birdc"]) {
        return;
    }
    let pr = Ns::new("pr");
    let bn = Ns::new("bird");
    common::veth(&pr, "eth0", &bn, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    bn.addr("eth0", "198.18.0.2/24");
    let _bird = Bird::start(
        &bn,
        &bird_conf(
            "198.18.0.2",
            &["10.244.50.0/24", "198.19.5.0/24", "10.244.1.0/24"],
            &bird_bgp(
                "p",
                "198.18.0.2",
                64650,
                "198.18.0.1",
                64601,
                "ipv4 { import all; export all; };",
            ),
        ),
    );
    let agent = Agent::start(
        &pr,
        "n1",
        &common::agent::node_config(
            &pr,
            "n1",
            "198.18.0.1",
            64601,
            &["10.244.1.0/24"],
            &["198.18.0.1:179"],
            &common::agent::peer("198.18.0.2", 64650, ""),
        ),
    );
    agent.wait_established("198.18.0.2");
    assert!(
        wait_until(DEADLINE, || {
            agent
                .neighbor("198.18.0.2")
                .is_some_and(|n| n["prefixes_received"] == 3 && n["prefixes_accepted"] == 1)
        }),
        "{:?}",
        agent.neighbor("198.18.0.2")
    );
    assert!(wait_until(DEADLINE, || pr
        .podroute_route("10.244.50.0/24")
        .is_some()));
    assert!(
        pr.route("198.19.5.0/24").is_none(),
        "{:?}",
        pr.route("198.19.5.0/24")
    );
    let own = pr.podroute_route("10.244.1.0/24").unwrap();
    assert_eq!(own["type"], "blackhole", "{own}");
    let rib_own = agent.rib_route("10.244.1.0/24").unwrap();
    assert!(rib_own["from"].is_null(), "{rib_own}");
}

/// Explicit withdrawals on a live session: BIRD stops originating its
/// prefixes (static protocols disabled), sending IPv4 withdrawn routes and
/// IPv6 MP_UNREACH_NLRI; podroute removes them from RIB and kernel while
/// both sessions stay Established, and installs them again when BIRD
/// re-announces.
#[test]
fn bird_withdrawals_remove_routes_on_live_sessions() {
    let Some((pr, _bn, bird, agent)) = bird_pair(64512, 64512) else {
        return;
    };
    let prefixes = ["10.244.50.0/24", "2001:db8:244:50::/64"];
    let all_in = || prefixes.iter().all(|p| pr.podroute_route(p).is_some());
    assert!(wait_until(DEADLINE, all_in), "{:?}", pr.podroute_routes());
    let uptime = || {
        agent
            .neighbor("198.18.0.2")
            .and_then(|n| n["uptime_s"].as_u64())
            .unwrap_or(0)
    };
    let before = uptime();
    let t0 = std::time::Instant::now();

    assert!(bird.birdc("disable s4").is_some() && bird.birdc("disable s6").is_some());
    let ok = wait_until(DEADLINE, || {
        prefixes
            .iter()
            .all(|p| pr.podroute_route(p).is_none() && agent.rib_route(p).is_none())
    });
    assert!(ok, "withdrawals not applied: {:?}", pr.podroute_routes());
    assert_eq!(agent.state("198.18.0.2"), "Established");
    assert_eq!(agent.state("2001:db8:ff::2"), "Established");

    assert!(bird.birdc("enable s4").is_some() && bird.birdc("enable s6").is_some());
    assert!(wait_until(DEADLINE, all_in), "{:?}", pr.podroute_routes());
    assert!(
        uptime() + 1 >= before + t0.elapsed().as_secs(),
        "session was reset"
    );
}

/// Volume through the whole path: BIRD announces 2,000 /28s; all reach
/// podroute's kernel, and all leave it when BIRD dies.
#[test]
fn two_thousand_bird_routes_reach_the_kernel_and_leave_it() {
    if !common::prerequisites(&["bird", "birdc"]) {
        return;
    }
    let pr = Ns::new("pr");
    let bn = Ns::new("bird");
    common::veth(&pr, "eth0", &bn, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    bn.addr("eth0", "198.18.0.2/24");
    let statics: Vec<String> = (0..2000u32)
        .map(|i| format!("10.244.{}.{}/28", 128 + i / 16, (i % 16) * 16))
        .collect();
    let refs: Vec<&str> = statics.iter().map(String::as_str).collect();
    let mut bird = Bird::start(
        &bn,
        &bird_conf(
            "198.18.0.2",
            &refs,
            &bird_bgp(
                "p",
                "198.18.0.2",
                64512,
                "198.18.0.1",
                64512,
                "ipv4 { import all; export all; };",
            ),
        ),
    );
    let agent = Agent::start(
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
    let learned = || {
        pr.podroute_routes()
            .iter()
            .filter(|r| gateways(r) == ["198.18.0.2"])
            .count()
    };
    assert!(
        wait_until(DEADLINE, || learned() == 2000),
        "{} of 2000 routes installed; {:?}",
        learned(),
        agent.neighbor("198.18.0.2")
    );
    assert_eq!(
        agent.neighbor("198.18.0.2").unwrap()["prefixes_accepted"],
        2000
    );
    bird.kill();
    assert!(
        wait_until(DEADLINE, || learned() == 0),
        "{} routes left",
        learned()
    );
}

/// Hold time negotiation (RFC 4271 §4.2: the smaller one wins): BIRD asks
/// for 3 s against podroute's 9 s, so podroute must send KEEPALIVEs at
/// least every 3 s; the session stays up well past several hold times.
#[test]
fn bird_shorter_hold_time_is_honoured() {
    if !common::prerequisites(&["bird", "birdc"]) {
        return;
    }
    let pr = Ns::new("pr");
    let bn = Ns::new("bird");
    common::veth(&pr, "eth0", &bn, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    bn.addr("eth0", "198.18.0.2/24");
    let proto = bird_bgp(
        "p",
        "198.18.0.2",
        64512,
        "198.18.0.1",
        64512,
        "ipv4 { import all; export all; };",
    )
    .replace(
        "hold time 9; keepalive time 3;",
        "hold time 3; keepalive time 1;",
    );
    assert!(proto.contains("hold time 3;"));
    let bird = Bird::start(&bn, &bird_conf("198.18.0.2", &["10.244.50.0/24"], &proto));
    let agent = Agent::start(
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
    agent.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || bird.established("p")));
    let status = bird.birdc("show protocols all p").unwrap();
    assert!(
        status.contains("Hold timer:") && status.contains("/3"),
        "{status}"
    );
    // 10 s = more than three hold times without a reset on either side.
    let ok = wait_until(DEADLINE, || {
        agent
            .neighbor("198.18.0.2")
            .and_then(|n| n["uptime_s"].as_u64())
            .is_some_and(|u| u >= 10)
    });
    assert!(
        ok,
        "session did not stay up: {:?}",
        agent.neighbor("198.18.0.2")
    );
    let status = bird.birdc("show protocols all p").unwrap();
    assert!(!status.contains("Last error"), "BIRD saw a reset: {status}");
    assert!(bird.established("p"));
}
