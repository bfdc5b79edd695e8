//! `podroute lab` on topologies/dual-stack.clab.yml: mesh3 with IPv6 sessions, routes and pods as well; node failure.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::lab::Lab;
use common::prerequisites;

/// (node, v4 address, v6 address, v4 pod CIDR, v6 pod prefix)
const NODES: [Node; 3] = [
    (
        "node1",
        "192.168.1.11",
        "2001:db8:1::11",
        "10.244.1.0/24",
        "2001:db8:244:1::/64",
    ),
    (
        "node2",
        "192.168.1.12",
        "2001:db8:1::12",
        "10.244.2.0/24",
        "2001:db8:244:2::/64",
    ),
    (
        "node3",
        "192.168.1.13",
        "2001:db8:1::13",
        "10.244.3.0/24",
        "2001:db8:244:3::/64",
    ),
];

/// A withdrawal's bound: the hold time (9 s in the configs) plus slack for
/// a loaded machine.
const WITHDRAW: Duration = Duration::from_secs(9 + 6);

type Node = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Waits until the nodes in `live` route every other live node's pod
/// prefixes, each family via that family's address of the node.
fn wait_node_fibs(lab: &Lab, live: &[Node]) {
    for (node, _, _, own4, own6) in live {
        let hops: Vec<(&str, [&str; 1])> = live
            .iter()
            .filter(|n| n.0 != *node)
            .flat_map(|n| [(n.3, [n.1]), (n.4, [n.2])])
            .collect();
        let expected: Vec<(&str, &[&str])> = hops.iter().map(|(p, h)| (*p, &h[..])).collect();
        lab.wait_fib(node, &expected, &[own4, own6], "202");
    }
}

fn converge(lab: &Lab) {
    // Two peers, one session per family each.
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 4)).collect();
    lab.wait_podroute_sessions(&sessions);
    wait_node_fibs(lab, &NODES);
    let pods = lab.pods();
    assert_eq!(pods.len(), 6);
    for (pod, _, addrs) in &pods {
        assert!(
            addrs.len() == 2 && !addrs[0].contains(':') && addrs[1].contains(':'),
            "{pod}: {addrs:?}"
        );
    }
}

#[test]
fn dual_stack_sessions_and_fibs_in_both_families_ipv4_pods() {
    if !prerequisites(&["nft", "ping"]) {
        return;
    }
    let mut lab = Lab::up("dual-stack.clab.yml");
    converge(&lab);
    lab.check_pod_mesh_families(false);
    lab.down();
}

/// Found by this lab: the node's own IPv6 pod /64 must reach its pods
/// although podroute holds a blackhole for it: the blackhole's metric (1024)
/// is above the connected route's (256 for IPv6).
#[test]
fn dual_stack_ipv6_pods_reach_each_other() {
    if !prerequisites(&["nft", "ping"]) {
        return;
    }
    let mut lab = Lab::up("dual-stack.clab.yml");
    converge(&lab);
    lab.check_pod_mesh_families(true);
    lab.down();
}

/// SIGKILL of node3's agent (graceful restart turned off on it first): the
/// other two drop its IPv4 and IPv6 pod prefixes within the hold time and
/// keep each other's.
#[test]
fn dual_stack_node_failure_withdraws_both_families_within_hold_time() {
    if !prerequisites(&[]) {
        return;
    }
    let mut lab = Lab::up("dual-stack.clab.yml");
    converge(&lab);
    let (dead, live) = (NODES[2], &NODES[..2]);
    assert_eq!(dead.0, "node3");
    let killed = lab.kill_without_graceful_restart(dead.0);
    lab.wait_withdrawn(
        &["node1", "node2"],
        &[dead.3, dead.4],
        "202",
        killed + WITHDRAW,
    );
    eprintln!(
        "node3's routes withdrawn everywhere {:?} after the kill",
        killed.elapsed()
    );
    wait_node_fibs(&lab, live);
    lab.down();
}
