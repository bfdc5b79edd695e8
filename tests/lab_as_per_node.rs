//! `podroute lab` on topologies/as-per-node.clab.yml: every node its own AS, eBGP to one BIRD ToR; node failure.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::lab::Lab;
use common::prerequisites;

/// (node, AS, pod CIDR, address)
const NODES: [(&str, u32, &str, &str); 3] = [
    ("node1", 65011, "10.244.11.0/24", "10.0.1.11"),
    ("node2", 65012, "10.244.12.0/24", "10.0.1.12"),
    ("node3", 65013, "10.244.13.0/24", "10.0.1.13"),
];

/// A withdrawal's bound: the hold time (9 s in the nodes' configs and the
/// ToR's) plus slack for a loaded machine.
const WITHDRAW: Duration = Duration::from_secs(9 + 6);

/// Waits until the nodes in `live` route every other live node's pod CIDR.
/// One shared subnet: BIRD passes the originating node's address on as next
/// hop (third-party next hop, RFC 4271 §5.1.3).
fn wait_node_fibs(lab: &Lab, live: &[(&str, u32, &str, &str)]) {
    for (node, _, own, _) in live {
        let hops: Vec<(&str, [&str; 1])> = live
            .iter()
            .filter(|n| n.0 != *node)
            .map(|n| (n.2, [n.3]))
            .collect();
        let expected: Vec<(&str, &[&str])> = hops.iter().map(|(p, h)| (*p, &h[..])).collect();
        lab.wait_fib(node, &expected, &[own], "202");
    }
}

fn converge(lab: &Lab) {
    assert_eq!(lab.nodes("bird"), ["tor"]);
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 1)).collect();
    lab.wait_podroute_sessions(&sessions);
    lab.wait_bird_sessions("tor", 3);
    wait_node_fibs(lab, &NODES);
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
}

#[test]
fn as_per_node_ebgp_to_a_bird_tor() {
    if !prerequisites(&["nft", "ping", "bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::up("as-per-node.clab.yml");
    converge(&lab);
    for (node, _, _, _) in NODES {
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
    lab.check_pod_mesh();
    // Behind the ToR, the outside host sees each pod's own address: the ToR
    // routes the pod CIDRs it learned (seed 000), nothing is masqueraded.
    lab.check_outside("outside", "203.0.113.10", |_, pod| pod.to_string());
    lab.down();
}

/// SIGKILL of node3's agent (graceful restart turned off on it first, so
/// the BIRD ToR does not keep its routes): the ToR and the other nodes drop its pod CIDR within the
/// hold time; the rest of the routes stay.
#[test]
fn as_per_node_node_failure_withdraws_its_routes_within_hold_time() {
    if !prerequisites(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::up("as-per-node.clab.yml");
    converge(&lab);
    let (dead, live) = (NODES[2], &NODES[..2]);
    assert_eq!(dead.0, "node3");
    let killed = lab.kill_without_graceful_restart(dead.0);
    let deadline = killed + WITHDRAW;
    lab.wait_withdrawn(&["tor"], &[dead.2], "bird", deadline);
    lab.wait_withdrawn(&["node1", "node2"], &[dead.2], "202", deadline);
    eprintln!(
        "node3's routes withdrawn everywhere {:?} after the kill",
        killed.elapsed()
    );
    wait_node_fibs(&lab, live);
    lab.wait_fib(
        "tor",
        &[
            ("10.244.11.0/24", &["10.0.1.11"]),
            ("10.244.12.0/24", &["10.0.1.12"]),
        ],
        &[],
        "bird",
    );
    lab.down();
}
