//! podroute-bridge under concurrency and SIGKILL: 100 parallel ADDs/DELs, kills at any instant of an ADD.

mod cni_util;

use cni_util::*;
use podroute::ipam::store::read_state;
use serde_json::{Value, json};
use std::collections::HashSet;

fn conf(node: &Node) -> String {
    json!({
        "cniVersion": "1.1.0",
        "name": "connet",
        "type": "podroute-bridge",
        "bridge": "cni-con",
        "isGateway": true,
        "ipMasq": true,
        "stateDir": node.dir.path().join("state"),
        "ipam": {
            "type": "podroute-ipam",
            "ranges": [[{"subnet": "198.18.40.0/24"}]],
            "dataDir": node.dir.path(),
        }
    })
    .to_string()
}

fn allocations(node: &Node) -> usize {
    read_state(&node.dir.path().join("connet"))
        .unwrap()
        .allocations
        .len()
}

#[test]
fn bridge_100_concurrent_adds_distinct_then_100_concurrent_dels_clean() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let c = conf(&node);
    let pods: Vec<Netns> = (0..100).map(|_| Netns::new("prc")).collect();
    let ids: Vec<String> = (0..100).map(|i| format!("con{i}")).collect();
    let paths: Vec<String> = pods.iter().map(Netns::path).collect();
    let children: Vec<_> = ids
        .iter()
        .zip(&paths)
        .map(|(id, p)| spawn(&node.inv(BRIDGE, "ADD", id, p), &c, &[]))
        .collect();
    let mut addrs = HashSet::new();
    for ch in children {
        let o = finish(ch);
        addrs.insert(ip_of(o.assert_ok(), 0));
    }
    assert_eq!(addrs.len(), 100);
    assert_eq!(node.pod_veths().len(), 100);
    assert_eq!(allocations(&node), 100);
    assert_eq!(node.ruleset().matches("masquerade").count(), 2);
    // Spot-check connectivity of the last pod.
    assert!(pods[99].ping("198.18.40.1"));
    let children: Vec<_> = ids
        .iter()
        .zip(&paths)
        .map(|(id, p)| spawn(&node.inv(BRIDGE, "DEL", id, p), &c, &[]))
        .collect();
    for ch in children {
        finish(ch).assert_ok();
    }
    assert!(node.pod_veths().is_empty());
    assert_eq!(allocations(&node), 0);
    assert!(!node.ruleset().contains("masquerade"));
}

#[test]
fn bridge_sigkill_during_add_then_del_gc_and_add_recover() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let c = conf(&node);
    let pods: Vec<Netns> = (0..30).map(|_| Netns::new("prk")).collect();
    for (i, pod) in pods.iter().enumerate() {
        let id = format!("kill{i}");
        let p = pod.path();
        let mut ch = spawn(&node.inv(BRIDGE, "ADD", &id, &p), &c, &[]);
        // Spread the kill over the whole ADD (a few ms): before IPAM, inside
        // netlink work, during nft, after the result.
        let until = std::time::Instant::now() + std::time::Duration::from_micros(i as u64 * 250);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        let _ = ch.kill();
        let _ = ch.wait();
    }
    // The IPAM child of a killed plugin may still be finishing: wait for the store to settle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut last = usize::MAX;
    loop {
        let n = allocations(&node);
        let ipams = sh(&["ip", "netns", "pids", &node.host.0]);
        if n == last && ipams.trim().is_empty() {
            break;
        }
        last = n;
        assert!(
            std::time::Instant::now() < deadline,
            "store never settled: {ipams}"
        );
        std::thread::yield_now();
    }
    let st = read_state(&node.dir.path().join("connet")).unwrap();
    let ips: HashSet<_> = st.allocations.iter().map(|a| a.ip).collect();
    assert_eq!(ips.len(), st.allocations.len(), "duplicate address");
    // Half of them: the runtime retries ADD (after its DEL), which must work.
    for (i, pod) in pods.iter().enumerate().take(15) {
        let id = format!("kill{i}");
        run(&node.inv(BRIDGE, "DEL", &id, &pod.path()), &c).assert_ok();
        let r = run(&node.inv(BRIDGE, "ADD", &id, &pod.path()), &c)
            .assert_ok()
            .clone();
        assert!(pod.ping(r["ips"][0]["gateway"].as_str().unwrap()));
    }
    // The other half: the runtime gives up; GC with the survivors collects the rest.
    let valid: Vec<Value> = (0..15)
        .map(|i| json!({"containerID": format!("kill{i}"), "ifname": "eth0"}))
        .collect();
    let mut gc: Value = serde_json::from_str(&c).unwrap();
    gc["cni.dev/valid-attachments"] = Value::Array(valid);
    run(&node.inv(BRIDGE, "GC", "", ""), &gc.to_string()).assert_ok();
    assert_eq!(allocations(&node), 15);
    // GC also removed the killed pods' veths: only the 15 valid ones remain.
    assert_eq!(node.pod_veths().len(), 15, "{:?}", node.pod_veths());
    for pod in &pods[15..] {
        assert_eq!(
            pod.ok(&["ip", "-o", "link"]).lines().count(),
            1,
            "pod still has its veth"
        );
    }
    for (i, pod) in pods.iter().enumerate() {
        run(
            &node.inv(BRIDGE, "DEL", &format!("kill{i}"), &pod.path()),
            &c,
        )
        .assert_ok();
    }
    assert!(node.pod_veths().is_empty(), "{:?}", node.pod_veths());
    assert_eq!(allocations(&node), 0);
    assert!(!node.ruleset().contains("masquerade"));
}
