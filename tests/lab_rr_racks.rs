//! `podroute lab` on topologies/rr-racks.clab.yml: FRR ToRs as route reflectors per rack, iBGP between them, one AS.

mod common;

use std::collections::BTreeMap;

use common::frr::FRR_PROGRAMS;
use common::lab::Lab;
use common::prerequisites;

/// (node, its ToR, pod CIDR, the node's address)
const NODES: [(&str, &str, &str, &str); 4] = [
    ("r1n1", "10.0.1.1", "10.244.11.0/24", "10.0.1.11"),
    ("r1n2", "10.0.1.1", "10.244.12.0/24", "10.0.1.12"),
    ("r2n1", "10.0.2.1", "10.244.21.0/24", "10.0.2.11"),
    ("r2n2", "10.0.2.1", "10.244.22.0/24", "10.0.2.12"),
];

#[test]
fn rr_racks_reflect_routes_within_and_across_racks() {
    let mut progs = vec!["nft", "ping"];
    progs.extend_from_slice(FRR_PROGRAMS);
    if !prerequisites(&progs) {
        return;
    }
    let mut lab = Lab::up("rr-racks.clab.yml");
    assert_eq!(lab.nodes("frr"), ["tor1", "tor2"]);
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 1)).collect();
    lab.wait_podroute_sessions(&sessions);
    // Two clients and the other ToR each.
    lab.wait_frr_sessions("tor1", 3);
    lab.wait_frr_sessions("tor2", 3);
    for (node, tor, own, _) in NODES {
        let rack = &node[..2];
        // Same rack: the reflected next hop (the node itself, on-link);
        // other rack: that node's address, resolved through the ToR.
        let hops: Vec<(&str, [&str; 1])> = NODES
            .iter()
            .filter(|n| n.0 != node)
            .map(|n| (n.2, [if n.0.starts_with(rack) { n.3 } else { tor }]))
            .collect();
        let expected: Vec<(&str, &[&str])> = hops.iter().map(|(p, h)| (*p, &h[..])).collect();
        lab.wait_fib(node, &expected, &[own], "202");
    }
    // The ToRs forward between the racks: FRR (proto bgp) installed every
    // pod CIDR.
    lab.wait_fib(
        "tor1",
        &[
            ("10.244.11.0/24", &["10.0.1.11"]),
            ("10.244.12.0/24", &["10.0.1.12"]),
            ("10.244.21.0/24", &["10.0.0.1"]),
            ("10.244.22.0/24", &["10.0.0.1"]),
        ],
        &[],
        "bgp",
    );
    lab.check_pod_mesh();
    lab.down();
}
