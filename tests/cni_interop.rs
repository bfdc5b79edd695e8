//! Interoperation with the reference plugins: podroute-bridge + host-local, reference bridge + podroute-ipam, chained portmap.

mod cni_util;

use cni_util::*;
use podroute::ipam::store::read_state;
use serde_json::{Value, json};

const REF_BRIDGE: &str = "/usr/lib/cni/bridge";
const REF_PORTMAP: &str = "/usr/lib/cni/portmap";

/// Files host-local keeps per allocated address (everything but its lock and round-robin markers).
fn host_local_ips(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip"))
                .collect()
        })
        .unwrap_or_default()
}

fn two_pods_ping_check_del(node: &Node, bin: &str, c: &str) -> (Value, Value) {
    let p1 = Netns::new("pri");
    let p2 = Netns::new("pri");
    let r1 = run(&node.inv(bin, "ADD", "i1", &p1.path()), c)
        .assert_ok()
        .clone();
    let r2 = run(&node.inv(bin, "ADD", "i2", &p2.path()), c)
        .assert_ok()
        .clone();
    assert!(p1.ping(&ip_of(&r2, 0)), "pod to pod");
    assert!(node.host.ping(&ip_of(&r1, 0)), "host to pod");
    let version = r1["cniVersion"].as_str().unwrap();
    if version >= "0.4.0" {
        let mut chk: Value = serde_json::from_str(c).unwrap();
        chk["prevResult"] = r1.clone();
        run(&node.inv(bin, "CHECK", "i1", &p1.path()), &chk.to_string()).assert_ok();
    }
    run(&node.inv(bin, "DEL", "i1", &p1.path()), c).assert_ok();
    run(&node.inv(bin, "DEL", "i2", &p2.path()), c).assert_ok();
    run(&node.inv(bin, "DEL", "i2", &p2.path()), c).assert_ok();
    assert!(node.pod_veths().is_empty(), "{:?}", node.pod_veths());
    (r1, r2)
}

#[test]
fn interop_podroute_bridge_with_reference_host_local() {
    if !can_run_netns() {
        return;
    }
    for version in ["1.0.0", "0.3.1"] {
        let node = Node::new();
        let c = json!({
            "cniVersion": version, "name": "ionet", "type": "podroute-bridge", "bridge": "cni-io1", "stateDir": node.dir.path().join("state"),
            "isGateway": true,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.18.50.0/24"}]],
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": node.dir.path()}
        })
        .to_string();
        let (r1, _) = two_pods_ping_check_del(&node, BRIDGE, &c);
        assert_eq!(r1["cniVersion"], version);
        if version == "0.3.1" {
            assert_eq!(r1["ips"][0]["version"], "4");
        }
        assert!(
            host_local_ips(&node.dir.path().join("ionet")).is_empty(),
            "host-local leaked"
        );
    }
}

#[test]
fn interop_reference_bridge_with_podroute_ipam() {
    if !can_run_netns() {
        return;
    }
    for version in ["1.0.0", "0.4.0", "0.3.1"] {
        let node = Node::new();
        let c = json!({
            "cniVersion": version, "name": "ionet", "type": "bridge", "bridge": "cni-io2",
            "isGateway": true,
            "ipam": {"type": "podroute-ipam", "ranges": [[{"subnet": "198.18.51.0/24"}]],
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": node.dir.path()}
        })
        .to_string();
        let (r1, r2) = two_pods_ping_check_del(&node, REF_BRIDGE, &c);
        assert_eq!(ip_of(&r1, 0), "198.18.51.2");
        assert_eq!(ip_of(&r2, 0), "198.18.51.3");
        let st = read_state(&node.dir.path().join("ionet")).unwrap();
        assert!(st.allocations.is_empty(), "{version}: {:?}", st.allocations);
    }
}

#[test]
fn interop_chain_podroute_bridge_then_reference_portmap() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let pod = Netns::new("pri");
    let bridge_conf = json!({
        "cniVersion": "1.0.0", "name": "chainnet", "type": "podroute-bridge", "bridge": "cni-io3",
        "isGateway": true, "ipMasq": true, "stateDir": node.dir.path().join("state"),
        "ipam": {"type": "podroute-ipam", "ranges": [[{"subnet": "198.18.52.0/24"}]], "dataDir": node.dir.path()}
    });
    let portmap_conf = |prev: &Value| {
        json!({
            "cniVersion": "1.0.0", "name": "chainnet", "type": "portmap",
            "capabilities": {"portMappings": true},
            "runtimeConfig": {"portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]},
            "prevResult": prev,
        })
        .to_string()
    };
    // What a runtime does for a conflist: each plugin in order, prevResult passed along.
    let r = run(
        &node.inv(BRIDGE, "ADD", "ch1", &pod.path()),
        &bridge_conf.to_string(),
    )
    .assert_ok()
    .clone();
    let final_result = run(
        &node.inv(REF_PORTMAP, "ADD", "ch1", &pod.path()),
        &portmap_conf(&r),
    )
    .assert_ok()
    .clone();
    assert_eq!(
        final_result["ips"], r["ips"],
        "portmap passes our result through"
    );
    assert_eq!(final_result["interfaces"], r["interfaces"]);
    let nat = node.host.ok(&["iptables-save", "-t", "nat"]);
    assert!(nat.contains("18080"), "portmap DNAT missing: {nat}");
    // CHECK runs over the chain with the final result.
    let mut chk = bridge_conf.clone();
    chk["prevResult"] = final_result.clone();
    run(
        &node.inv(BRIDGE, "CHECK", "ch1", &pod.path()),
        &chk.to_string(),
    )
    .assert_ok();
    // (portmap 1.1.1's own CHECK fails on v4-only pods looking for its IPv6 chain, so it is not run here.)
    // DEL in reverse order.
    run(
        &node.inv(REF_PORTMAP, "DEL", "ch1", &pod.path()),
        &portmap_conf(&final_result),
    )
    .assert_ok();
    run(
        &node.inv(BRIDGE, "DEL", "ch1", &pod.path()),
        &bridge_conf.to_string(),
    )
    .assert_ok();
    assert!(
        !node
            .host
            .ok(&["iptables-save", "-t", "nat"])
            .contains("18080")
    );
    assert!(node.pod_veths().is_empty());
    assert!(!node.ruleset().contains("masquerade"));
    let st = read_state(&node.dir.path().join("chainnet")).unwrap();
    assert!(st.allocations.is_empty());
}

#[test]
fn interop_version_the_delegate_lacks_fails_cleanly() {
    if !can_run_netns() {
        return;
    }
    // host-local 1.1.1 speaks up to 1.0.0: a 1.1.0 config must fail with the
    // spec's code 1 from the delegate, and the rollback leaves nothing.
    let node = Node::new();
    let c = json!({
        "cniVersion": "1.1.0", "name": "ionet", "type": "podroute-bridge", "bridge": "cni-io4",
        "stateDir": node.dir.path().join("state"),
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.18.53.0/24"}]], "dataDir": node.dir.path()}
    })
    .to_string();
    let pod = Netns::new("pri");
    let o = run(&node.inv(BRIDGE, "ADD", "v1", &pod.path()), &c);
    o.assert_err(1);
    assert!(
        o.json["msg"].as_str().unwrap().contains("host-local"),
        "{}",
        o.json
    );
    assert!(node.pod_veths().is_empty());
    assert_eq!(pod.ok(&["ip", "-o", "link"]).lines().count(), 1);
    assert!(host_local_ips(&node.dir.path().join("ionet")).is_empty());
}
