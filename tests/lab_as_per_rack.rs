//! `podroute lab` on topologies/as-per-rack.clab.yml: a rack per AS (65001, 65002), nodes iBGP to their FRR ToR, eBGP between the ToRs; node failure.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

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

/// A withdrawal's bound: the hold time (9 s in the nodes' configs and the
/// ToRs' `timers bgp 3 9`) plus slack for a loaded machine.
const WITHDRAW: Duration = Duration::from_secs(9 + 6);

/// Waits until the nodes in `live` route every other live node's pod CIDR:
/// same rack via the reflected next hop (the node itself, on-link), other
/// rack via the ToR, which resolves that node's address.
fn wait_node_fibs(lab: &Lab, live: &[(&str, &str, &str, &str)]) {
    for (node, tor, own, _) in live {
        let rack = &node[..2];
        let hops: Vec<(&str, [&str; 1])> = live
            .iter()
            .filter(|n| n.0 != *node)
            .map(|n| (n.2, [if n.0.starts_with(rack) { n.3 } else { tor }]))
            .collect();
        let expected: Vec<(&str, &[&str])> = hops.iter().map(|(p, h)| (*p, &h[..])).collect();
        lab.wait_fib(node, &expected, &[own], "202");
    }
}

fn converge(lab: &Lab) {
    assert_eq!(lab.nodes("frr"), ["tor1", "tor2"]);
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 1)).collect();
    lab.wait_podroute_sessions(&sessions);
    // Two clients and the other ToR each.
    lab.wait_frr_sessions("tor1", 3);
    lab.wait_frr_sessions("tor2", 3);
    wait_node_fibs(lab, &NODES);
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
    lab.wait_fib(
        "tor2",
        &[
            ("10.244.11.0/24", &["10.0.0.0"]),
            ("10.244.12.0/24", &["10.0.0.0"]),
            ("10.244.21.0/24", &["10.0.2.11"]),
            ("10.244.22.0/24", &["10.0.2.12"]),
        ],
        &[],
        "bgp",
    );
}

fn frr_prerequisites() -> bool {
    let mut progs = vec!["nft", "ping"];
    progs.extend_from_slice(FRR_PROGRAMS);
    prerequisites(&progs)
}

#[test]
fn as_per_rack_ibgp_within_racks_ebgp_between_tors() {
    if !frr_prerequisites() {
        return;
    }
    let mut lab = Lab::up("as-per-rack.clab.yml");
    converge(&lab);
    // The AS per rack shows in the paths: the other rack's routes crossed
    // the eBGP hop between the ToRs, the own rack's did not.
    for (node, _, _, _) in NODES {
        let routes = lab.show(node, "routes").unwrap();
        for r in routes
            .iter()
            .filter(|r| r["prefix"].as_str() != Some(NODES[0].2))
        {
            let prefix = r["prefix"].as_str().unwrap();
            let other_rack = NODES.iter().find(|n| n.2 == prefix).map(|n| &n.0[..2]);
            let Some(rack) = other_rack else { continue };
            let path = r["as_path"].clone();
            if rack == &node[..2] {
                assert_eq!(path, serde_json::json!([]), "{node} {prefix}");
            } else {
                let asn = if rack == "r1" { 65001 } else { 65002 };
                assert_eq!(path, serde_json::json!([asn]), "{node} {prefix}");
            }
        }
    }
    lab.check_pod_mesh();
    // The outside host behind tor1 sees each pod's own address.
    lab.check_outside("outside", "10.0.9.10", |_, pod| pod.to_string());
    lab.down();
}

/// SIGKILL of r2n2's agent (graceful restart turned off on it
/// first, so no helper keeps its routes): its ToR, the other AS's ToR (through
/// eBGP) and every other node drop its pod CIDR within the hold time; the
/// rest of the routes stay.
#[test]
fn as_per_rack_node_failure_withdraws_its_routes_within_hold_time() {
    if !frr_prerequisites() {
        return;
    }
    let mut lab = Lab::up("as-per-rack.clab.yml");
    converge(&lab);
    let (dead, live) = (NODES[3], &NODES[..3]);
    assert_eq!(dead.0, "r2n2");
    let killed = lab.kill_without_graceful_restart(dead.0);
    let deadline = killed + WITHDRAW;
    lab.wait_withdrawn(&["tor2", "tor1"], &[dead.2], "bgp", deadline);
    let others: Vec<&str> = live.iter().map(|n| n.0).collect();
    lab.wait_withdrawn(&others, &[dead.2], "202", deadline);
    eprintln!(
        "r2n2's routes withdrawn everywhere {:?} after the kill",
        killed.elapsed()
    );
    wait_node_fibs(&lab, live);
    lab.wait_fib("tor1", &[("10.244.21.0/24", &["10.0.0.1"])], &[], "bgp");
    lab.down();
}
