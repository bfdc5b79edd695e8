//! `podroute lab` on mesh3 with graceful restart (the topology's default): a node's agent is SIGKILLed and started again while a pod of another node pings a pod on it every 20 ms — nothing is lost.

mod common;

use std::collections::BTreeMap;

use common::lab::{CONVERGE, Lab};
use common::ping::Pinger;
use common::{prerequisites, wait_until};

#[test]
fn mesh3_agent_restart_under_traffic_loses_nothing() {
    if !prerequisites(&["ping"]) {
        return;
    }
    let mut lab = Lab::up("mesh3.clab.yml");
    let expected: BTreeMap<&str, usize> = [("node1", 2), ("node2", 2), ("node3", 2)].into();
    lab.wait_podroute_sessions(&expected);
    let pods = lab.pods();
    let from = pods
        .iter()
        .find(|p| p.1 == "node1")
        .expect("a pod on node1");
    let to = pods
        .iter()
        .find(|p| p.1 == "node3")
        .expect("a pod on node3");
    let dst = to.2.first().expect("pod address").clone();
    let from_ns = lab.status["pods"]
        .as_array()
        .and_then(|v| v.iter().find(|p| p["name"] == from.0.as_str()))
        .and_then(|p| p["ns"].as_str())
        .expect("the pod's namespace")
        .to_string();
    let ping = Pinger::start(&from_ns, &dst);

    let pid = lab.pid("node3", "podroute");
    common::signal(pid, libc::SIGKILL);
    assert!(wait_until(CONVERGE, || !common::alive(pid)));
    let out = lab.lab(&["start", "node3"], &[]);
    assert!(
        out.status.success(),
        "lab start node3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Restart complete: node3 has both peers' End-of-RIB, and they have its.
    let settled = wait_until(CONVERGE, || {
        let eor = |node: &str, peer: Option<&str>| {
            lab.show(node, "neighbors").is_some_and(|v| {
                v.iter()
                    .filter(|n| peer.is_none_or(|p| n["address"] == p))
                    .all(|n| n["state"] == "Established" && n["end_of_rib"] == true)
            })
        };
        eor("node3", None)
            && eor("node1", Some("192.168.1.13"))
            && eor("node2", Some("192.168.1.13"))
    });
    assert!(settled, "node3 did not finish its restart");
    let (sent, received) = ping.stop();
    assert!(sent >= 10, "too few pings to judge: {sent}");
    assert_eq!(sent, received, "pings lost while node3's agent restarted");
    lab.down();
}
