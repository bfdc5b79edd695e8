//! `podroute lab` on topologies/as-per-node.clab.yml: every node its own AS, eBGP to one BIRD ToR.

mod common;

use std::collections::BTreeMap;

use common::lab::Lab;
use common::prerequisites;

/// (node, AS, pod CIDR, address)
const NODES: [(&str, u32, &str, &str); 3] = [
    ("node1", 65011, "10.244.11.0/24", "10.0.1.11"),
    ("node2", 65012, "10.244.12.0/24", "10.0.1.12"),
    ("node3", 65013, "10.244.13.0/24", "10.0.1.13"),
];

#[test]
fn as_per_node_ebgp_to_a_bird_tor() {
    if !prerequisites(&["nft", "ping", "bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::up("as-per-node.clab.yml");
    assert_eq!(lab.nodes("bird"), ["tor"]);
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 1)).collect();
    lab.wait_podroute_sessions(&sessions);
    lab.wait_bird_sessions("tor", 3);
    for (node, _, own, _) in NODES {
        // One shared subnet: BIRD passes the originating node's address
        // on as next hop (third-party next hop, RFC 4271 §5.1.3).
        let hops: Vec<(&str, [&str; 1])> = NODES
            .iter()
            .filter(|n| n.0 != node)
            .map(|n| (n.2, [n.3]))
            .collect();
        let expected: Vec<(&str, &[&str])> = hops.iter().map(|(p, h)| (*p, &h[..])).collect();
        lab.wait_fib(node, &expected, &[own], "202");
        for r in lab.show(node, "routes").unwrap() {
            let Some(origin) = NODES.iter().find(|n| r["prefix"] == n.2 && n.0 != node) else {
                continue;
            };
            assert_eq!(
                r["as_path"],
                serde_json::json!([65000, origin.1]),
                "{node}: {r}"
            );
        }
    }
    lab.wait_fib(
        "tor",
        &[
            ("10.244.11.0/24", &["10.0.1.11"]),
            ("10.244.12.0/24", &["10.0.1.12"]),
            ("10.244.13.0/24", &["10.0.1.13"]),
        ],
        &[],
        "bird",
    );
    lab.check_pod_mesh();
    lab.down();
}
