//! Session lifecycle of the agent against real peers: peer death by connection loss and by hold-timer expiry, and a node joining through SIGHUP.

mod common;

use std::time::{Duration, Instant};

use common::agent::{node_config, peer};
use common::bird::{bird_bgp, bird_conf};
use common::{Agent, Bird, DEADLINE, Ns, gateways, wait_until};

/// A podroute node `n` on the bridge in `sw`: 198.18.0.n/24, pods
/// 10.244.n.0/24, iBGP AS 64512 with the given peers.
fn node(ns: &Ns, n: u8, peers: &[u8]) -> (String, String) {
    let name = format!("n{n}");
    let peers: String = peers
        .iter()
        .map(|p| peer(&format!("198.18.0.{p}"), 64512, ""))
        .collect();
    let conf = node_config(
        ns,
        &name,
        &format!("198.18.0.{n}"),
        64512,
        &[&format!("10.244.{n}.0/24")],
        &[&format!("198.18.0.{n}:179")],
        &peers,
    );
    (name, conf)
}

fn has_route(ns: &Ns, prefix: &str, gw: &str) -> bool {
    ns.podroute_route(prefix)
        .is_some_and(|r| gateways(&r) == [gw])
}

/// Nodes 1..=count on one bridge; returns (switch, namespaces).
fn segment(count: u8) -> (Ns, Vec<Ns>) {
    let sw = Ns::new("sw");
    let nodes: Vec<Ns> = (1..=count).map(|n| Ns::new(&format!("n{n}"))).collect();
    let members: Vec<(&Ns, &str)> = nodes.iter().map(|n| (n, "eth0")).collect();
    common::bridge(&sw, &members);
    for (i, ns) in nodes.iter().enumerate() {
        ns.addr("eth0", &format!("198.18.0.{}/24", i + 1));
    }
    (sw, nodes)
}

/// SIGKILL of BIRD: the kernel closes its TCP connection without a
/// NOTIFICATION; podroute drops the session and BIRD's routes leave its
/// RIB and kernel.
#[test]
fn killed_bird_peer_routes_leave_rib_and_kernel() {
    if !common::prerequisites(&["bird", "birdc"]) {
        return;
    }
    let (_sw, nodes) = segment(2);
    let mut bird = Bird::start(
        &nodes[1],
        &bird_conf(
            "198.18.0.2",
            &["10.244.50.0/24"],
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
    let (name, conf) = node(&nodes[0], 1, &[2]);
    let agent = Agent::start(&nodes[0], &name, &conf);
    agent.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || has_route(
        &nodes[0],
        "10.244.50.0/24",
        "198.18.0.2"
    )));

    bird.kill();
    assert!(
        wait_until(DEADLINE, || {
            nodes[0].podroute_route("10.244.50.0/24").is_none()
                && agent.rib_route("10.244.50.0/24").is_none()
        }),
        "BIRD's route outlived BIRD: {:?}",
        nodes[0].podroute_routes()
    );
    let n = agent.neighbor("198.18.0.2").unwrap();
    assert_ne!(n["state"], "Established", "{n}");
    assert_eq!(n["prefixes_received"], 0, "{n}");
    // The node's own blackhole for its pod CIDR stays.
    assert!(nodes[0].podroute_route("10.244.1.0/24").is_some());
}

/// SIGKILL of the other podroute: same, between two agents.
#[test]
fn killed_podroute_peer_routes_leave_rib_and_kernel() {
    if !common::prerequisites(&[]) {
        return;
    }
    let (_sw, nodes) = segment(2);
    let (n1, c1) = node(&nodes[0], 1, &[2]);
    let (n2, c2) = node(&nodes[1], 2, &[1]);
    let a = Agent::start(&nodes[0], &n1, &c1);
    let mut b = Agent::start(&nodes[1], &n2, &c2);
    a.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || has_route(
        &nodes[0],
        "10.244.2.0/24",
        "198.18.0.2"
    )));
    assert!(wait_until(DEADLINE, || has_route(
        &nodes[1],
        "10.244.1.0/24",
        "198.18.0.1"
    )));

    b.kill();
    assert!(
        wait_until(DEADLINE, || {
            nodes[0].podroute_route("10.244.2.0/24").is_none()
                && a.rib_route("10.244.2.0/24").is_none()
        }),
        "B's route outlived B: {:?}",
        nodes[0].podroute_routes()
    );
    assert_ne!(a.state("198.18.0.2"), "Established");
}

/// The peer goes silent (its bridge port goes down: no FIN, no RST, and
/// our own link keeps its carrier, so only the hold timer can tell): the
/// session leaves Established after the 9 s hold time and the routes go.
#[test]
fn silent_peer_is_dropped_by_the_hold_timer() {
    if !common::prerequisites(&[]) {
        return;
    }
    let (sw, nodes) = segment(2);
    let (n1, c1) = node(&nodes[0], 1, &[2]);
    let (n2, c2) = node(&nodes[1], 2, &[1]);
    let a = Agent::start(&nodes[0], &n1, &c1);
    let _b = Agent::start(&nodes[1], &n2, &c2);
    a.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || has_route(
        &nodes[0],
        "10.244.2.0/24",
        "198.18.0.2"
    )));

    // p1 is B's port on the bridge.
    sw.ip("link set p1 down");
    let cut = Instant::now();
    // Still up shortly after the cut: nothing but the hold timer may end it.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        a.state("198.18.0.2"),
        "Established",
        "session dropped before the hold time"
    );
    assert!(
        wait_until(DEADLINE, || a.state("198.18.0.2") != "Established"),
        "hold timer never expired: {:?}",
        a.neighbor("198.18.0.2")
    );
    let took = cut.elapsed();
    let n = a.neighbor("198.18.0.2").unwrap();
    let err = n["last_error"].as_str().unwrap_or_default().to_lowercase();
    assert!(err.contains("hold"), "not a hold timer expiry: {n}");
    assert!(
        wait_until(DEADLINE, || nodes[0]
            .podroute_route("10.244.2.0/24")
            .is_none()
            && a.rib_route("10.244.2.0/24").is_none()),
        "routes of the dead session stayed: {:?}",
        nodes[0].podroute_routes()
    );
    eprintln!("hold timer expiry noticed {took:?} after the cut");
    assert!(
        took >= Duration::from_secs(5),
        "too early for a 9 s hold time: {took:?}"
    );
}

/// A node joins: SIGHUP with a new peer in the file brings that session
/// up and its pod CIDR into the kernel within seconds, while the existing
/// session is not touched (its uptime keeps counting).
#[test]
fn sighup_adds_a_peer_without_resetting_the_others() {
    if !common::prerequisites(&[]) {
        return;
    }
    let (_sw, nodes) = segment(3);
    let (n1, c1) = node(&nodes[0], 1, &[2]);
    let (n2, c2) = node(&nodes[1], 2, &[1]);
    let (n3, c3) = node(&nodes[2], 3, &[1]);
    let a = Agent::start(&nodes[0], &n1, &c1);
    let _b = Agent::start(&nodes[1], &n2, &c2);
    a.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || has_route(
        &nodes[0],
        "10.244.2.0/24",
        "198.18.0.2"
    )));
    let _c = Agent::start(&nodes[2], &n3, &c3);
    let uptime = || {
        a.neighbor("198.18.0.2")
            .and_then(|n| n["uptime_s"].as_u64())
            .unwrap_or(0)
    };
    assert!(wait_until(DEADLINE, || uptime() >= 3));
    let (before, t0) = (uptime(), Instant::now());
    assert!(a.neighbor("198.18.0.3").is_none());

    let (_, c1_joined) = node(&nodes[0], 1, &[2, 3]);
    a.reload(&c1_joined);
    let joined = Instant::now();
    a.wait_established("198.18.0.3");
    assert!(
        wait_until(DEADLINE, || has_route(
            &nodes[0],
            "10.244.3.0/24",
            "198.18.0.3"
        ) && has_route(
            &nodes[2],
            "10.244.1.0/24",
            "198.18.0.1"
        )),
        "joined node's prefix not exchanged: {:?}",
        nodes[0].podroute_routes()
    );
    eprintln!("node joined in {:?}", joined.elapsed());

    let after = uptime();
    let elapsed = t0.elapsed().as_secs();
    assert_eq!(a.state("198.18.0.2"), "Established");
    assert!(
        after + 1 >= before + elapsed,
        "existing session was reset: uptime {before} s then {after} s, {elapsed} s apart"
    );
    assert!(has_route(&nodes[0], "10.244.2.0/24", "198.18.0.2"));
}
