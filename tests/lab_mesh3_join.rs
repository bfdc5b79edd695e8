//! `podroute lab` on topologies/mesh3-join.clab.yml: node4 joins a running mesh3 and is reachable within a bound.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::lab::Lab;
use common::{prerequisites, wait_until};

const NODES: [(&str, &str, &str); 4] = [
    ("node1", "192.168.1.11", "10.244.1.0/24"),
    ("node2", "192.168.1.12", "10.244.2.0/24"),
    ("node3", "192.168.1.13", "10.244.3.0/24"),
    ("node4", "192.168.1.14", "10.244.4.0/24"),
];

/// From `podroute lab start` to a pod on an old node reaching a pod on the
/// new one; connect_retry is 1 s, the rest is slack for a loaded machine.
const JOIN_BOUND: Duration = Duration::from_secs(30);

fn fib_of(lab: &Lab, node: &str, members: &[(&str, &str, &str)]) {
    let own = members.iter().find(|n| n.0 == node).unwrap().2;
    let remote: Vec<(&str, &[&str])> = members
        .iter()
        .filter(|n| n.0 != node)
        .map(|n| (n.2, std::slice::from_ref(&n.1)))
        .collect();
    lab.wait_fib(node, &remote, &[own], "202");
}

#[test]
fn node4_joins_at_runtime_and_is_reachable_within_bound() {
    if !prerequisites(&["nft", "ping"]) {
        return;
    }
    let mut lab = Lab::up("mesh3-join.clab.yml");
    let old = &NODES[..3];
    // Before the join: the three peer among themselves, node4 has no agent.
    for (node, _, _) in old {
        let ok = wait_until(common::lab::CONVERGE, || {
            lab.show(node, "neighbors").is_some_and(|n| {
                n.iter()
                    .filter(|x| x["state"] == "Established")
                    .map(|x| x["address"].as_str().unwrap_or_default().to_string())
                    .filter(|a| old.iter().any(|o| o.1 == a))
                    .count()
                    == 2
            })
        });
        assert!(ok, "{node}: {:?}", lab.show(node, "neighbors"));
        fib_of(&lab, node, old);
    }
    assert!(
        lab.status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["node"] != "node4"),
        "node4 started early"
    );
    let ns1 = lab.ns("node1");
    let none = common::run(&["ip", "-n", &ns1, "route", "show", "10.244.4.0/24"]);
    assert!(none.trim().is_empty(), "{none}");
    let pods = lab.pods();
    let node4_pod = pods.iter().find(|p| p.1 == "node4").unwrap().2[0].clone();

    let started = Instant::now();
    let out = lab.lab(&["start", "node4"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reached = wait_until(JOIN_BOUND, || {
        lab.exec("node1-pod1", &["ping", "-c", "1", "-W", "1", &node4_pod])
            .is_some()
    });
    let took = started.elapsed();
    assert!(reached, "node4's pod not reachable {took:?} after the join");
    eprintln!("node4 reachable {took:?} after `lab start`");
    // A second start is refused while it runs; `start --all` finds nothing
    // left to start.
    assert!(!lab.lab(&["start", "node4"], &[]).status.success());
    let all = lab.lab(&["start", "--all"], &[]);
    let text = String::from_utf8_lossy(&all.stdout);
    assert!(
        all.status.success() && text.starts_with("0 nodes started"),
        "{text}{}",
        String::from_utf8_lossy(&all.stderr)
    );

    lab.status = lab.status_json();
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 3)).collect();
    lab.wait_podroute_sessions(&sessions);
    for (node, _, _) in NODES {
        fib_of(&lab, node, &NODES);
    }
    lab.check_pod_mesh();
    lab.down();
}

/// `podroute lab start --all` starts what does not run: the manual node4
/// and node1, whose agent was killed; node2 and node3 keep theirs.
#[test]
fn start_all_starts_manual_and_exited_nodes() {
    if !prerequisites(&[]) {
        return;
    }
    let mut lab = Lab::up("mesh3-join.clab.yml");
    let old_pids: Vec<u32> = ["node2", "node3"]
        .iter()
        .map(|n| lab.pid(n, "podroute"))
        .collect();
    lab.kill("node1", "podroute");
    let out = lab.lab(&["start", "--all"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim() == "2 nodes started: node1 node4",
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lab.status = lab.status_json();
    let pids: Vec<u32> = ["node2", "node3"]
        .iter()
        .map(|n| lab.pid(n, "podroute"))
        .collect();
    assert_eq!(pids, old_pids, "running agents were restarted");
    let sessions: BTreeMap<&str, usize> = NODES.iter().map(|n| (n.0, 3)).collect();
    lab.wait_podroute_sessions(&sessions);
    for (node, _, _) in NODES {
        fib_of(&lab, node, &NODES);
    }
    lab.down();
}
