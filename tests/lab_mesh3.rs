//! `podroute lab` on topologies/mesh3.clab.yml: sessions, FIBs, pod-to-pod traffic without NAT, node failure, and a clean `down`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{prerequisites, wait_until};

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
    // The topology runs with graceful restart (the default), under which
    // the others would keep node3's routes for its restart time: turn it
    // off on node3 first (SIGHUP; every session of node3 restarts without
    // the capability).
    let pid = lab.pid("node3", "podroute");
    let config = lab.state_dir.join("mesh3/node3/podroute.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[bgp]\n"), "{text}");
    std::fs::write(
        &config,
        text.replace("[bgp]\n", "[bgp]\ngraceful_restart = false\n"),
    )
    .unwrap();
    let uptime = |n: &str| {
        lab.show(n, "neighbors")
            .and_then(|v| {
                v.into_iter()
                    .find(|p| p["address"] == "192.168.1.13" && p["state"] == "Established")
            })
            .and_then(|p| p["uptime_s"].as_u64())
    };
    assert!(wait_until(common::lab::CONVERGE, || uptime("node1")
        .is_some_and(|u| u >= 2)));
    let before = uptime("node1").unwrap_or(0);
    common::signal(pid, libc::SIGHUP);
    let restarted = wait_until(common::lab::CONVERGE, || {
        ["node1", "node2"]
            .iter()
            .all(|n| uptime(n).is_some_and(|u| u < before))
    });
    assert!(
        restarted,
        "node3's sessions did not come back after the reload"
    );
    converge(&lab);
    let killed = Instant::now();
    common::signal(pid, libc::SIGKILL);
    for node in ["node1", "node2"] {
        let ns = lab.ns(node);
        // Hold time 9 s (topologies/mesh3/*.toml), plus slack for a
        // loaded machine.
        let gone = wait_until(Duration::from_secs(9 + 6), || {
            common::try_run(&[
                "ip",
                "-n",
                &ns,
                "route",
                "show",
                "10.244.3.0/24",
                "proto",
                "202",
            ])
            .is_some_and(|r| r.trim().is_empty())
        });
        assert!(
            gone,
            "{node} still routes node3's pods {:?} after the kill",
            killed.elapsed()
        );
    }
    // The remaining pair keeps its routes.
    lab.wait_fib("node1", &[("10.244.2.0/24", &["192.168.1.12"])], &[], "202");
    lab.down();
}
