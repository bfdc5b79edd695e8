//! `podroute lab` on topologies/mesh3.clab.yml: sessions, FIBs, pod-to-pod traffic without NAT, node failure, and a clean `down`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::lab::Lab;
use common::prerequisites;

const NODES: [(&str, &str, &str); 3] = [
    ("node1", "192.168.1.11", "10.244.1.0/24"),
    ("node2", "192.168.1.12", "10.244.2.0/24"),
    ("node3", "192.168.1.13", "10.244.3.0/24"),
];

fn converge(lab: &Lab) {
    let expected: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 2)).collect();
    lab.wait_podroute_sessions(&expected);
    for (node, _, own) in NODES {
        let remote: Vec<(&str, &[&str])> = NODES
            .iter()
            .filter(|n| n.0 != node)
            .map(|n| (n.2, std::slice::from_ref(&n.1)))
            .collect();
        lab.wait_fib(node, &remote, &[own], "202");
    }
}

#[test]
fn mesh3_up_routes_pods_and_down() {
    if !prerequisites(&["nft", "ping"]) {
        return;
    }
    let mut lab = Lab::up("mesh3.clab.yml");
    assert_eq!(lab.nodes("podroute").len(), 3);
    assert_eq!(lab.pods().len(), 6);
    converge(&lab);
    lab.check_pod_mesh();
    // The outside host sees the pods' node addresses (ipMasq), never pod IPs.
    lab.check_outside("outside", "192.168.1.100", |node, _| {
        NODES
            .iter()
            .find(|n| n.0 == node)
            .map(|n| n.1.to_string())
            .unwrap_or_default()
    });
    // `up` twice is refused while the lab runs.
    assert!(!lab.lab(&["up"], &[]).status.success());
    let status = lab.lab(&["status"], &[]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("Established") && text.contains("10.244.3.0/24"),
        "{text}"
    );
    lab.down();
}

#[test]
fn mesh3_node_failure_withdraws_its_routes_within_hold_time() {
    if !prerequisites(&[]) {
        return;
    }
    let mut lab = Lab::up("mesh3.clab.yml");
    converge(&lab);
    let killed = lab.kill_without_graceful_restart("node3");
    // Hold time 9 s (topologies/mesh3/*.toml), plus slack for a loaded
    // machine.
    let deadline = killed + Duration::from_secs(9 + 6);
    lab.wait_withdrawn(&["node1", "node2"], &["10.244.3.0/24"], "202", deadline);
    // The remaining pair keeps its routes.
    lab.wait_fib("node1", &[("10.244.2.0/24", &["192.168.1.12"])], &[], "202");
    lab.down();
}
