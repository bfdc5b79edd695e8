//! Graceful restart end to end (RFC 4724): podroute restarting (SIGKILL, SIGTERM) under a 20 ms ping with FRR and BIRD as helpers, FRR restarting with podroute as helper, and a rolling restart of two podroute nodes.

mod common;

use common::agent::{node_config, peer};
use common::bird::{bird_bgp, bird_conf};
use common::frr::{FRR_PROGRAMS, bgpd_conf};
use common::ping::Pinger;
use common::{Agent, Bird, DEADLINE, Frr, Ns, gateways, wait_until};

/// A pod namespace behind `node`: veth `pod0` (node side, `gw`/24) to the
/// pod's `eth0` (`addr`/24, default route via `gw`).
fn pod(node: &Ns, gw: &str, addr: &str) -> Ns {
    let p = Ns::new("pod");
    common::veth(node, "pod0", &p, "eth0");
    node.addr("pod0", &format!("{gw}/24"));
    p.addr("eth0", &format!("{addr}/24"));
    p.ip(&format!("route add default via {gw}"));
    p
}

#[derive(Clone, Copy, Debug)]
enum Stop {
    Kill,
    Term,
}

fn stop_agent(agent: &mut Agent, how: Stop) {
    match how {
        Stop::Kill => agent.kill(),
        Stop::Term => assert!(agent.stop(), "agent did not exit cleanly on SIGTERM"),
    }
}

fn has_route(ns: &Ns, prefix: &str, gw: &str) -> bool {
    ns.podroute_route(prefix)
        .is_some_and(|r| gateways(&r) == [gw])
}

/// podroute node `n1` (198.18.0.1, pods 10.244.1.0/24) with one iBGP peer
/// at 198.18.0.2; graceful restart on (the default).
fn n1_config(ns: &Ns) -> String {
    node_config(
        ns,
        "n1",
        "198.18.0.1",
        64512,
        &["10.244.1.0/24"],
        &["198.18.0.1:179"],
        &peer("198.18.0.2", 64512, ""),
    )
}

/// The helper side of the restart scenario.
trait Helper {
    /// Whether the helper holds a kernel route to `prefix`.
    fn kernel_has(&self, prefix: &str) -> bool;
    /// Stops originating 10.244.99.0/24 (while podroute is away).
    fn withdraw_extra(&mut self);
    /// Checks what the helper says of podroute's first start.
    fn check_fresh(&self) {}
    /// Checks what the helper says while podroute is away.
    fn check_while_away(&self) {}
    /// Checks what the helper says once podroute is back.
    fn check_after(&self) {}
}

struct FrrHelper {
    frr: Frr,
    ns_name: String,
}

impl Helper for FrrHelper {
    fn kernel_has(&self, prefix: &str) -> bool {
        common::try_run(&["ip", "-n", &self.ns_name, "route", "show", prefix])
            .is_some_and(|s| s.contains(prefix.trim_end_matches(".0/24")))
    }
    fn withdraw_extra(&mut self) {
        assert!(self.frr.configure(&[
            "router bgp 64512",
            "address-family ipv4 unicast",
            "no network 10.244.99.0/24",
        ]));
    }
    fn check_fresh(&self) {
        // A fresh start is not a restart: R = 0, and F = 0 (nothing was kept).
        let gr = self.gr_info();
        assert_eq!(gr["rBit"], false, "{gr}");
        assert_eq!(gr["ipv4Unicast"]["fBit"], false, "{gr}");
    }
    fn check_while_away(&self) {
        let paths = self.frr.paths("10.244.1.0/24");
        assert!(
            paths.iter().any(|p| p["stale"] == true),
            "FRR does not hold podroute's route as stale: {paths:?}"
        );
    }
    fn check_after(&self) {
        let ok = wait_until(DEADLINE, || {
            let paths = self.frr.paths("10.244.1.0/24");
            !paths.is_empty() && paths.iter().all(|p| p["stale"] != true)
        });
        assert!(
            ok,
            "FRR still holds podroute's route as stale: {:?}",
            self.frr.paths("10.244.1.0/24")
        );
        let gr = self.gr_info();
        assert_eq!(
            gr["endOfRibRecv"]["ipv4Unicast"], true,
            "FRR got no End-of-RIB from podroute: {gr}"
        );
        // The restarted instance kept the kernel routes: R = 1, F = 1.
        assert_eq!(gr["rBit"], true, "{gr}");
        assert_eq!(gr["ipv4Unicast"]["fBit"], true, "{gr}");
    }
}

impl FrrHelper {
    /// FRR's view of podroute's Graceful Restart capability and End-of-RIB.
    fn gr_info(&self) -> serde_json::Value {
        let v = self.frr.json("show bgp neighbors 198.18.0.1 json");
        v["198.18.0.1"]["gracefulRestartInfo"].clone()
    }
}

struct BirdHelper {
    bird: Bird,
    ns: String,
    conf: std::path::PathBuf,
}

fn bird_helper_conf(with_extra: bool) -> String {
    let statics: &[&str] = if with_extra {
        &["10.244.2.0/24", "10.244.99.0/24"]
    } else {
        &["10.244.2.0/24"]
    };
    bird_conf(
        "198.18.0.2",
        statics,
        &bird_bgp(
            "pr",
            "198.18.0.2",
            64512,
            "198.18.0.1",
            64512,
            "graceful restart on; ipv4 { import all; export all; };",
        ),
    )
}

impl Helper for BirdHelper {
    fn kernel_has(&self, prefix: &str) -> bool {
        common::try_run(&[
            "ip", "-n", &self.ns, "route", "show", prefix, "proto", "bird",
        ])
        .is_some_and(|s| !s.trim().is_empty())
    }
    fn withdraw_extra(&mut self) {
        std::fs::write(&self.conf, bird_helper_conf(false)).unwrap();
        let out = self.bird.birdc("configure").unwrap_or_default();
        assert!(out.contains("Reconfigured"), "birdc configure: {out}");
    }
}

/// podroute restarts (`how`) while pod 10.244.1.2 pings pod 10.244.2.2
/// behind the helper every 20 ms: nothing is lost, the helper kept
/// podroute's route, podroute's kernel routes stayed, and a route the helper
/// stopped announcing meanwhile (10.244.99.0/24) is removed afterwards.
fn restart_under_traffic(pr: &Ns, helper_ns: &Ns, helper: &mut dyn Helper, how: Stop) {
    let pod1 = pod(pr, "10.244.1.1", "10.244.1.2");
    let _pod2 = pod(helper_ns, "10.244.2.1", "10.244.2.2");
    let mut agent = Agent::start(pr, "n1", &n1_config(pr));
    agent.wait_established("198.18.0.2");
    for prefix in ["10.244.2.0/24", "10.244.99.0/24"] {
        assert!(
            wait_until(DEADLINE, || has_route(pr, prefix, "198.18.0.2")),
            "{prefix} not installed: {:?}",
            pr.podroute_routes()
        );
    }
    assert!(wait_until(DEADLINE, || helper.kernel_has("10.244.1.0/24")));
    helper.check_fresh();

    let ping = Pinger::start(&pod1.name, "10.244.2.2");
    stop_agent(&mut agent, how);
    drop(agent);
    // Away: the helper keeps our route, our kernel keeps its routes.
    assert!(
        helper.kernel_has("10.244.1.0/24"),
        "helper dropped our route"
    );
    helper.check_while_away();
    for prefix in ["10.244.2.0/24", "10.244.99.0/24"] {
        assert!(
            has_route(pr, prefix, "198.18.0.2"),
            "{prefix} left the kernel with the agent"
        );
    }
    assert!(
        pr.podroute_route("10.244.1.0/24").is_some(),
        "own blackhole left"
    );
    helper.withdraw_extra();

    let agent = Agent::start(pr, "n1", &n1_config(pr));
    agent.wait_established("198.18.0.2");
    let swept = wait_until(DEADLINE, || pr.podroute_route("10.244.99.0/24").is_none());
    assert!(
        swept,
        "stale 10.244.99.0/24 outlived the restart: {:?}",
        pr.podroute_routes()
    );
    assert!(has_route(pr, "10.244.2.0/24", "198.18.0.2"));
    assert!(wait_until(DEADLINE, || agent
        .neighbor("198.18.0.2")
        .is_some_and(|n| n["end_of_rib"] == true)));
    helper.check_after();
    let (sent, received) = ping.stop();
    assert!(sent >= 10, "too few pings to judge: {sent}");
    assert_eq!(sent, received, "pings lost during the restart ({how:?})");
}

fn frr_pair() -> Option<(Ns, Ns, FrrHelper)> {
    if !common::prerequisites(FRR_PROGRAMS) {
        return None;
    }
    let (pr, fr) = common::linked_pair("pr", "frr");
    let conf = bgpd_conf(
        64512,
        "198.18.0.2",
        &[("198.18.0.1", 64512, "")],
        &["10.244.2.0/24", "10.244.99.0/24"],
    )
    .replace(
        " no bgp ebgp-requires-policy\n",
        " no bgp ebgp-requires-policy\n bgp graceful-restart\n",
    );
    let frr = Frr::start(&fr, &conf);
    let ns_name = fr.name.clone();
    Some((pr, fr, FrrHelper { frr, ns_name }))
}

fn bird_pair() -> Option<(Ns, Ns, BirdHelper)> {
    if !common::prerequisites(&["bird", "birdc"]) {
        return None;
    }
    let (pr, bn) = common::linked_pair("pr", "bird");
    let bird = Bird::start(&bn, &bird_helper_conf(true));
    let conf = bn.path("bird.conf");
    let ns = bn.name.clone();
    Some((pr, bn, BirdHelper { bird, ns, conf }))
}

#[test]
fn sigkill_with_frr_loses_nothing() {
    if let Some((pr, fr, mut h)) = frr_pair() {
        restart_under_traffic(&pr, &fr, &mut h, Stop::Kill);
    }
}

#[test]
fn sigterm_with_frr_loses_nothing() {
    if let Some((pr, fr, mut h)) = frr_pair() {
        restart_under_traffic(&pr, &fr, &mut h, Stop::Term);
    }
}

#[test]
fn sigkill_with_bird_loses_nothing() {
    if let Some((pr, bn, mut h)) = bird_pair() {
        restart_under_traffic(&pr, &bn, &mut h, Stop::Kill);
    }
}

#[test]
fn sigterm_with_bird_loses_nothing() {
    if let Some((pr, bn, mut h)) = bird_pair() {
        restart_under_traffic(&pr, &bn, &mut h, Stop::Term);
    }
}

/// podroute as helper: FRR's bgpd restarts (graceful restart with
/// preserved forwarding state) without 10.244.99.0/24; podroute keeps
/// FRR's routes, in its RIB as stale and in the kernel, until FRR's
/// End-of-RIB, and then removes only the one FRR no longer announces.
#[test]
fn frr_restart_keeps_routes_until_its_end_of_rib() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let (pr, fr) = common::linked_pair("pr", "frr");
    let conf = |networks: &[&str]| {
        bgpd_conf(64512, "198.18.0.2", &[("198.18.0.1", 64512, "")], networks).replace(
            " no bgp ebgp-requires-policy\n",
            " no bgp ebgp-requires-policy\n bgp graceful-restart\n bgp graceful-restart preserve-fw-state\n",
        )
    };
    let mut frr = Frr::start(&fr, &conf(&["10.244.2.0/24", "10.244.99.0/24"]));
    let agent = Agent::start(&pr, "n1", &n1_config(&pr));
    agent.wait_established("198.18.0.2");
    for prefix in ["10.244.2.0/24", "10.244.99.0/24"] {
        assert!(wait_until(DEADLINE, || has_route(
            &pr,
            prefix,
            "198.18.0.2"
        )));
    }

    // Watch the kernel continuously through the restart.
    let gap = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (gap, watching, ns) = (gap.clone(), watching.clone(), pr.name.clone());
        std::thread::spawn(move || {
            while watching.load(std::sync::atomic::Ordering::SeqCst) {
                let out = common::try_run(&["ip", "-n", &ns, "route", "show", "10.244.2.0/24"])
                    .unwrap_or_default();
                if !out.contains("via 198.18.0.2") {
                    gap.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };

    frr.restart_bgpd(&fr, &conf(&["10.244.2.0/24"]));
    let stale_seen = wait_until(DEADLINE, || {
        agent
            .rib_route("10.244.99.0/24")
            .is_some_and(|r| r["stale"] == true)
    });
    assert!(
        stale_seen,
        "podroute did not keep FRR's routes as stale: {:?}",
        agent.show("routes")
    );
    assert!(
        has_route(&pr, "10.244.99.0/24", "198.18.0.2"),
        "stale route left the kernel early"
    );
    let swept = wait_until(DEADLINE, || {
        pr.podroute_route("10.244.99.0/24").is_none() && agent.rib_route("10.244.99.0/24").is_none()
    });
    assert!(
        swept,
        "route FRR no longer announces was kept: {:?}",
        agent.show("routes")
    );
    agent.wait_established("198.18.0.2");
    let r = agent
        .rib_route("10.244.2.0/24")
        .expect("re-announced route");
    assert_eq!(r["stale"], false, "{r}");
    assert_eq!(agent.neighbor("198.18.0.2").unwrap()["stale_prefixes"], 0);
    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    watcher.join().unwrap();
    assert!(
        !gap.load(std::sync::atomic::Ordering::SeqCst),
        "10.244.2.0/24 left the kernel during FRR's restart"
    );
}

/// A rolling update: node 1 restarts (SIGTERM), then node 2 (SIGKILL),
/// each once the other has finished, while pod 10.244.1.2 pings pod
/// 10.244.2.2 every 20 ms: nothing is lost.
#[test]
fn rolling_restart_of_two_nodes_loses_nothing() {
    if !common::prerequisites(&[]) {
        return;
    }
    let (n1, n2) = common::linked_pair("n1", "n2");
    let pod1 = pod(&n1, "10.244.1.1", "10.244.1.2");
    let _pod2 = pod(&n2, "10.244.2.1", "10.244.2.2");
    let c1 = n1_config(&n1);
    let c2 = node_config(
        &n2,
        "n2",
        "198.18.0.2",
        64512,
        &["10.244.2.0/24"],
        &["198.18.0.2:179"],
        &peer("198.18.0.1", 64512, ""),
    );
    let mut a1 = Agent::start(&n1, "n1", &c1);
    let mut a2 = Agent::start(&n2, "n2", &c2);
    a1.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || has_route(
        &n1,
        "10.244.2.0/24",
        "198.18.0.2"
    )));
    assert!(wait_until(DEADLINE, || has_route(
        &n2,
        "10.244.1.0/24",
        "198.18.0.1"
    )));
    let ping = Pinger::start(&pod1.name, "10.244.2.2");

    // Both sides have each other's End-of-RIB: the restarted one is done.
    let settled = |a: &Agent, b: &Agent, a_peer: &str, b_peer: &str| {
        wait_until(DEADLINE, || {
            a.neighbor(a_peer).is_some_and(|n| n["end_of_rib"] == true)
                && b.neighbor(b_peer).is_some_and(|n| n["end_of_rib"] == true)
        })
    };
    stop_agent(&mut a1, Stop::Term);
    drop(a1);
    let a1 = Agent::start(&n1, "n1", &c1);
    assert!(
        settled(&a1, &a2, "198.18.0.2", "198.18.0.1"),
        "node 1 did not settle"
    );
    stop_agent(&mut a2, Stop::Kill);
    drop(a2);
    let a2 = Agent::start(&n2, "n2", &c2);
    assert!(
        settled(&a1, &a2, "198.18.0.2", "198.18.0.1"),
        "node 2 did not settle"
    );
    assert!(has_route(&n1, "10.244.2.0/24", "198.18.0.2"));
    assert!(has_route(&n2, "10.244.1.0/24", "198.18.0.1"));
    let (sent, received) = ping.stop();
    assert!(sent >= 10, "too few pings to judge: {sent}");
    assert_eq!(sent, received, "pings lost during the rolling restart");
}
