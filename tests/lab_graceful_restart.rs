//! `podroute lab` with graceful restart (the topologies' default): in every topology a node's agent is SIGKILLed and started again while a pod on another node pings a pod on it every 20 ms — nothing is lost, whether the helpers are podroute nodes, FRR or BIRD ToRs.

mod common;

use common::frr::FRR_PROGRAMS;
use common::lab::{CONVERGE, Lab};
use common::ping::Pinger;
use common::{prerequisites, wait_until};

/// Brings `file` up, pings from a pod of `from` to a pod of `victim`,
/// SIGKILLs the victim's agent, starts it again and waits until it has
/// every peer's End-of-RIB (its restart is over); then no ping may be lost.
fn restart_under_traffic(file: &str, victim: &str, from: &str) {
    let mut lab = Lab::up(file);
    let pods = lab.pods();
    let pod_on = |node: &str| {
        pods.iter()
            .find(|p| p.1 == node)
            .unwrap_or_else(|| panic!("no pod on {node}"))
            .clone()
    };
    let (src_pod, _, _) = pod_on(from);
    let (_, _, dst_addrs) = pod_on(victim);
    let dst = dst_addrs
        .iter()
        .find(|a| !a.contains(':'))
        .expect("an IPv4 pod address")
        .clone();
    let src_ns = lab.status["pods"]
        .as_array()
        .and_then(|v| v.iter().find(|p| p["name"] == src_pod.as_str()))
        .and_then(|p| p["ns"].as_str())
        .expect("the pod's namespace")
        .to_string();
    let settled = |lab: &Lab| {
        wait_until(CONVERGE, || {
            lab.show(victim, "neighbors").is_some_and(|v| {
                !v.is_empty()
                    && v.iter()
                        .all(|n| n["state"] == "Established" && n["end_of_rib"] == true)
            })
        })
    };
    assert!(settled(&lab), "{victim} never settled before the test");
    let ping = Pinger::start(&src_ns, &dst);

    let pid = lab.pid(victim, "podroute");
    common::signal(pid, libc::SIGKILL);
    assert!(wait_until(CONVERGE, || !common::alive(pid)));
    let out = lab.lab(&["start", victim], &[]);
    assert!(
        out.status.success(),
        "lab start {victim}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(settled(&lab), "{victim} did not finish its restart");
    let (sent, received) = ping.stop();
    assert!(sent >= 10, "too few pings to judge: {sent}");
    assert_eq!(
        sent, received,
        "{file}: pings lost while {victim}'s agent restarted"
    );
    lab.down();
}

#[test]
fn mesh3_agent_restart_under_traffic_loses_nothing() {
    if prerequisites(&["ping"]) {
        restart_under_traffic("mesh3.clab.yml", "node3", "node1");
    }
}

#[test]
fn dual_stack_agent_restart_under_traffic_loses_nothing() {
    if prerequisites(&["ping"]) {
        restart_under_traffic("dual-stack.clab.yml", "node3", "node1");
    }
}

/// Helper: the FRR ToRs (route reflectors, default helper mode); the ping
/// crosses both racks.
#[test]
fn rr_racks_agent_restart_under_traffic_loses_nothing() {
    let mut progs = vec!["ping"];
    progs.extend_from_slice(FRR_PROGRAMS);
    if prerequisites(&progs) {
        restart_under_traffic("rr-racks.clab.yml", "r2n2", "r1n1");
    }
}

#[test]
fn as_per_rack_agent_restart_under_traffic_loses_nothing() {
    let mut progs = vec!["ping"];
    progs.extend_from_slice(FRR_PROGRAMS);
    if prerequisites(&progs) {
        restart_under_traffic("as-per-rack.clab.yml", "r2n2", "r1n1");
    }
}

/// Helper: the BIRD ToR (eBGP, graceful restart aware by default).
#[test]
fn as_per_node_agent_restart_under_traffic_loses_nothing() {
    if prerequisites(&["ping", "bird", "birdc"]) {
        restart_under_traffic("as-per-node.clab.yml", "node3", "node1");
    }
}
