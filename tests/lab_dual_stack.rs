//! `podroute lab` on topologies/dual-stack.clab.yml: mesh3 with IPv6 sessions, routes and pods as well.

mod common;

use std::collections::BTreeMap;

use common::lab::Lab;
use common::prerequisites;

/// (node, v4 address, v6 address, v4 pod CIDR, v6 pod prefix)
const NODES: [(&str, &str, &str, &str, &str); 3] = [
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

fn converge(lab: &Lab) {
    // Two peers, one session per family each.
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 4)).collect();
    lab.wait_podroute_sessions(&sessions);
    for (node, _, _, own4, own6) in NODES {
        let hops: Vec<(&str, [&str; 1])> = NODES
            .iter()
            .filter(|n| n.0 != node)
            .flat_map(|n| [(n.3, [n.1]), (n.4, [n.2])])
            .collect();
        let expected: Vec<(&str, &[&str])> = hops.iter().map(|(p, h)| (*p, &h[..])).collect();
        lab.wait_fib(node, &expected, &[own4, own6], "202");
    }
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

/// Known defect found by this lab: the agent holds its own pod prefixes as
/// blackholes at podroute's one metric (20). For IPv4 the pod bridge's
/// connected route (metric 0) still wins, but IPv6 connected routes have
/// metric 256, so the blackhole shadows the node's own pod /64 and the node
/// cannot answer or forward to its own IPv6 pods (`ip -6 route get POD`
/// fails with EINVAL). Remove the `ignore` once the blackhole sits behind
/// the connected route.
#[test]
#[ignore = "agent bug: IPv6 own-prefix blackhole (metric 20) shadows the connected pod /64 (metric 256)"]
fn dual_stack_ipv6_pods_reach_each_other() {
    if !prerequisites(&["nft", "ping"]) {
        return;
    }
    let mut lab = Lab::up("dual-stack.clab.yml");
    converge(&lab);
    lab.check_pod_mesh_families(true);
    lab.down();
}
