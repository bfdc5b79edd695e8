//! podroute-bridge + podroute-ipam executed in namespaces: the seed-001 flow, masquerade, CHECK, DEL cases, rollback.

mod cni_util;

use cni_util::*;
use podroute::ipam::store::read_state;
use serde_json::{Value, json};

fn conf(node: &Node, version: &str, bridge: &str, extra: Value) -> String {
    let mut c = json!({
        "cniVersion": version,
        "name": "podnet",
        "type": "podroute-bridge",
        "bridge": bridge,
        "isGateway": true,
        "stateDir": node.dir.path().join("state"),
        "ipam": {
            "type": "podroute-ipam",
            "ranges": [[{"subnet": "198.18.1.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": node.dir.path(),
        }
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            c[k] = v;
        }
    }
    c.to_string()
}

fn allocations(node: &Node) -> usize {
    read_state(&node.dir.path().join("podnet"))
        .unwrap()
        .allocations
        .len()
}

#[test]
fn bridge_seed001_flow_pods_host_gateway_outside_masquerade() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let outside = Netns::new("pro");
    let remote = Netns::new("prr");
    // Outside world: knows no route to the pods, so only masqueraded pings return.
    wire(&node.host, "192.0.2.1/25", &outside, "192.0.2.2/25");
    // Another node holding pod pool 198.18.2.0/24: reached without NAT.
    wire(&node.host, "192.0.2.129/25", &remote, "192.0.2.130/25");
    remote.ok(&["ip", "addr", "add", "198.18.2.1/32", "dev", "lo"]);
    remote.ok(&["ip", "route", "add", "198.18.1.0/24", "via", "192.0.2.129"]);
    node.host
        .ok(&["ip", "route", "add", "198.18.2.0/24", "via", "192.0.2.130"]);
    // The remote node drops pings that do not come from a pod address.
    remote.ok(&["nft", "add table ip t; add chain ip t in { type filter hook input priority 0; }; add rule ip t in icmp type echo-request ip saddr != 198.18.1.0/24 drop"]);

    let c = conf(
        &node,
        "1.0.0",
        "cni-seed",
        json!({"ipMasq": true, "clusterCIDRs": ["198.18.0.0/16"]}),
    );
    let p1 = Netns::new("prp");
    let p2 = Netns::new("prp");
    let r1 = run(&node.inv(BRIDGE, "ADD", "pod1", &p1.path()), &c)
        .assert_ok()
        .clone();
    let r2 = run(&node.inv(BRIDGE, "ADD", "pod2", &p2.path()), &c)
        .assert_ok()
        .clone();
    let (a1, a2) = (ip_of(&r1, 0), ip_of(&r2, 0));
    assert_ne!(a1, a2);
    assert_eq!(r1["interfaces"][0]["name"], "cni-seed");
    assert_eq!(r1["interfaces"][2]["name"], "eth0");
    assert_eq!(r1["interfaces"][2]["sandbox"], p1.path());
    assert_eq!(r1["ips"][0]["interface"], 2);

    // Pod-to-pod is never NATed: pod2 accepts pings only from pod1's own address.
    p2.ok(&["nft", &format!("add table ip t; add chain ip t in {{ type filter hook input priority 0; }}; add rule ip t in icmp type echo-request ip saddr != {a1} drop")]);
    assert!(p1.ping(&a2), "pod1 -> pod2");
    assert!(node.host.ping(&a1), "host -> pod1");
    assert!(p1.ping("198.18.1.1"), "pod1 -> gateway");
    assert!(p1.ping("192.0.2.2"), "pod1 -> outside (masqueraded)");
    assert!(
        p1.ping("198.18.2.1"),
        "pod1 -> other node's pod pool (not masqueraded)"
    );

    // Rules do not grow per pod: one chain, two rules (v4, v6) for the network.
    let rules = node.ruleset();
    assert_eq!(rules.matches("masquerade").count(), 2, "{rules}");

    // CHECK passes on a healthy pod, fails once the address is removed by hand.
    let mut chk: Value = serde_json::from_str(&c).unwrap();
    chk["prevResult"] = r1.clone();
    run(
        &node.inv(BRIDGE, "CHECK", "pod1", &p1.path()),
        &chk.to_string(),
    )
    .assert_ok();
    p1.ok(&[
        "ip",
        "addr",
        "del",
        r1["ips"][0]["address"].as_str().unwrap(),
        "dev",
        "eth0",
    ]);
    run(
        &node.inv(BRIDGE, "CHECK", "pod1", &p1.path()),
        &chk.to_string(),
    )
    .assert_err(100);

    // DEL twice, DEL of an unknown container, DEL after the netns is gone.
    run(&node.inv(BRIDGE, "DEL", "pod1", &p1.path()), &c).assert_ok();
    run(&node.inv(BRIDGE, "DEL", "pod1", &p1.path()), &c).assert_ok();
    run(
        &node.inv(BRIDGE, "DEL", "nosuchpod", "/run/netns/nosuch"),
        &c,
    )
    .assert_ok();
    assert!(
        node.ruleset().contains("masquerade"),
        "rules stay while pod2 lives"
    );
    let p2_path = p2.path();
    drop(p2);
    run(&node.inv(BRIDGE, "DEL", "pod2", &p2_path), &c).assert_ok();
    run(&node.inv(BRIDGE, "DEL", "pod2", ""), &c).assert_ok();

    // The last DEL removed the network's rules; nothing else is left.
    assert!(!node.ruleset().contains("masquerade"), "{}", node.ruleset());
    assert!(node.pod_veths().is_empty(), "{:?}", node.pod_veths());
    assert_eq!(allocations(&node), 0);
}

#[test]
fn bridge_dual_stack_default_gateway_mtu_hairpin_promisc() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let c = json!({
        "cniVersion": "1.1.0", "name": "podnet", "type": "podroute-bridge", "stateDir": node.dir.path().join("state"),
        "bridge": "cni-ds", "isDefaultGateway": true, "mtu": 1400, "hairpinMode": true, "promiscMode": true,
        "ipam": {"type": "podroute-ipam", "dataDir": node.dir.path(),
                 "ranges": [[{"subnet": "198.18.3.0/24"}], [{"subnet": "2001:db8:3::/64"}]]}
    })
    .to_string();
    let p1 = Netns::new("prp");
    let p2 = Netns::new("prp");
    let r1 = run(&node.inv(BRIDGE, "ADD", "d1", &p1.path()), &c)
        .assert_ok()
        .clone();
    let r2 = run(&node.inv(BRIDGE, "ADD", "d2", &p2.path()), &c)
        .assert_ok()
        .clone();
    assert_eq!(r1["cniVersion"], "1.1.0");
    assert!(p1.ping(&ip_of(&r2, 0)));
    assert!(p1.ping(&ip_of(&r2, 1)), "IPv6 pod to pod");
    assert!(p1.ping("2001:db8:3::1"), "IPv6 gateway");
    let routes = p1.ok(&["ip", "route", "show", "default"]);
    assert!(routes.contains("via 198.18.3.1"), "{routes}");
    let routes6 = p1.ok(&["ip", "-6", "route", "show", "default"]);
    assert!(routes6.contains("via 2001:db8:3::1"), "{routes6}");
    assert!(p1.ok(&["ip", "link", "show", "eth0"]).contains("mtu 1400"));
    let br = node.host.ok(&["ip", "-d", "link", "show", "cni-ds"]);
    assert!(br.contains("mtu 1400") && br.contains("PROMISC"), "{br}");
    let host_veth = r1["interfaces"][1]["name"].as_str().unwrap();
    let port = node.host.ok(&["ip", "-d", "link", "show", host_veth]);
    assert!(port.contains("hairpin on"), "{port}");
    assert!(port.contains("alias podroute:podnet:d1:eth0"), "{port}");
    // STATUS and GC (1.1.0) go through to the IPAM plugin.
    run(&node.inv(BRIDGE, "STATUS", "", ""), &c).assert_ok();
    let mut gc: Value = serde_json::from_str(&c).unwrap();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "d1", "ifname": "eth0"}]);
    run(&node.inv(BRIDGE, "GC", "", ""), &gc.to_string()).assert_ok();
    assert_eq!(
        allocations(&node),
        2,
        "d1 keeps its two addresses, d2's are collected"
    );
    for (id, p) in [("d1", &p1), ("d2", &p2)] {
        run(&node.inv(BRIDGE, "DEL", id, &p.path()), &c).assert_ok();
    }
    assert!(node.pod_veths().is_empty());
    assert_eq!(allocations(&node), 0);
}

#[test]
fn bridge_force_address_and_rollback_leave_nothing() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let c = conf(&node, "1.0.0", "cni-fa", json!({"ipMasq": true}));
    let p1 = Netns::new("prp");
    // The bridge already holds another address of the pod subnet.
    node.host
        .ok(&["ip", "link", "add", "cni-fa", "type", "bridge"]);
    node.host
        .ok(&["ip", "addr", "add", "198.18.1.200/24", "dev", "cni-fa"]);
    run(&node.inv(BRIDGE, "ADD", "f1", &p1.path()), &c).assert_err(7);
    // Rolled back: no veth, no address held, no rule.
    assert!(node.pod_veths().is_empty());
    assert_eq!(allocations(&node), 0);
    assert!(!node.ruleset().contains("masquerade"));
    assert!(
        p1.ok(&["ip", "-o", "link"]).lines().count() == 1,
        "only lo in the pod"
    );
    let forced = conf(
        &node,
        "1.0.0",
        "cni-fa",
        json!({"ipMasq": true, "forceAddress": true}),
    );
    run(&node.inv(BRIDGE, "ADD", "f1", &p1.path()), &forced).assert_ok();
    let addrs = node.host.ok(&["ip", "addr", "show", "cni-fa"]);
    assert!(
        addrs.contains("198.18.1.1/24") && !addrs.contains("198.18.1.200"),
        "{addrs}"
    );
    run(&node.inv(BRIDGE, "DEL", "f1", &p1.path()), &forced).assert_ok();

    // The pod already has an interface of that name: fails after IPAM, rolls back.
    let p2 = Netns::new("prp");
    p2.ok(&[
        "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "taken1",
    ]);
    let o = run(&node.inv(BRIDGE, "ADD", "f2", &p2.path()), &c);
    assert!(!o.success);
    assert!(node.pod_veths().is_empty());
    assert_eq!(allocations(&node), 0);
    assert!(!node.ruleset().contains("masquerade"));
}

#[test]
fn bridge_announces_gratuitous_arp_and_unsolicited_na() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    // A pre-existing bridge that learns neighbours from unsolicited announcements.
    node.host
        .ok(&["ip", "link", "add", "cni-an", "type", "bridge"]);
    node.host
        .ok(&["sysctl", "-qw", "net.ipv4.conf.cni-an.arp_accept=1"]);
    node.host.ok(&[
        "sysctl",
        "-qw",
        "net.ipv6.conf.cni-an.accept_untracked_na=1",
    ]);
    let c = json!({
        "cniVersion": "1.0.0", "name": "podnet", "type": "podroute-bridge", "bridge": "cni-an", "isGateway": true, "stateDir": node.dir.path().join("state"),
        "ipam": {"type": "podroute-ipam", "dataDir": node.dir.path(),
                 "ranges": [[{"subnet": "198.18.4.0/24"}], [{"subnet": "2001:db8:4::/64"}]]}
    })
    .to_string();
    let pod = Netns::new("prp");
    let r = run(&node.inv(BRIDGE, "ADD", "an1", &pod.path()), &c)
        .assert_ok()
        .clone();
    let mac = r["interfaces"][2]["mac"].as_str().unwrap().to_string();
    let (v4, v6) = (ip_of(&r, 0), ip_of(&r, 1));
    // No traffic was sent to the pod: only the announcements can have filled the table.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let neigh = node.host.ok(&["ip", "neigh", "show", "dev", "cni-an"]);
        let has = |ip: &str| {
            neigh
                .lines()
                .any(|l| l.starts_with(&format!("{ip} ")) && l.contains(&mac))
        };
        if has(&v4) && has(&v6) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no announcement seen: {neigh}"
        );
        std::thread::yield_now();
    }
    run(&node.inv(BRIDGE, "DEL", "an1", &pod.path()), &c).assert_ok();
}

/// Seed 000: a "dumb" L2 network. The uplink is enslaved to the bridge, the
/// node's address on the bridge is the pods' gateway, every node hands out
/// its own rangeStart-rangeEnd of the shared subnet, and pods are reachable
/// from the LAN by their own addresses (no NAT).
#[test]
fn bridge_seed000_l2_uplink_per_node_range() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let lan = Netns::new("prl");
    node.host
        .ok(&["ip", "link", "add", "cni-l2", "type", "bridge"]);
    node.host.ok(&["ip", "link", "set", "cni-l2", "up"]);
    // The uplink: one end in the bridge, the other is a LAN host.
    node.host.ok(&[
        "ip", "link", "add", "up0", "type", "veth", "peer", "name", "lan0", "netns", &lan.0,
    ]);
    node.host
        .ok(&["ip", "link", "set", "up0", "master", "cni-l2", "up"]);
    lan.ok(&["ip", "addr", "add", "198.19.0.1/16", "dev", "lan0"]);
    lan.ok(&["ip", "link", "set", "lan0", "up"]);
    let c = json!({
        "cniVersion": "0.3.1", "name": "data", "type": "podroute-bridge", "bridge": "cni-l2",
        "promiscMode": true, "isGateway": true, "stateDir": node.dir.path().join("state"),
        "ipam": {"type": "podroute-ipam", "dataDir": node.dir.path(),
                 "ranges": [[{"subnet": "198.19.0.0/16", "rangeStart": "198.19.1.1", "rangeEnd": "198.19.1.101", "gateway": "198.19.1.0"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}
    })
    .to_string();
    let pod = Netns::new("prp");
    let r = run(&node.inv(BRIDGE, "ADD", "l2pod", &pod.path()), &c)
        .assert_ok()
        .clone();
    assert_eq!(r["ips"][0]["address"], "198.19.1.1/16");
    assert_eq!(r["ips"][0]["version"], "4");
    let a = ip_of(&r, 0);
    // The node's address sits on the bridge.
    assert!(
        node.host
            .ok(&["ip", "addr", "show", "cni-l2"])
            .contains("198.19.1.0/16")
    );
    assert!(lan.ping(&a), "LAN host reaches the pod by its own address");
    assert!(pod.ping("198.19.0.1"), "pod reaches the LAN host directly");
    assert!(
        pod.ok(&["ip", "route", "show", "default"])
            .contains("via 198.19.1.0")
    );
    run(&node.inv(BRIDGE, "DEL", "l2pod", &pod.path()), &c).assert_ok();
    assert!(node.pod_veths().is_empty());
}

/// Seed 002: nodes with their own pod CIDR (written by the agent into the
/// podCIDRFile, so the same config serves every node), routes between the
/// nodes, and pod-to-pod across nodes without NAT even with ipMasq on.
#[test]
fn bridge_seed002_two_nodes_pod_cidr_file_no_nat_between_pools() {
    if !can_run_netns() {
        return;
    }
    let n1 = Node::new();
    let n2 = Node::new();
    wire(&n1.host, "192.0.2.11/24", &n2.host, "192.0.2.12/24");
    n1.host
        .ok(&["ip", "route", "add", "198.18.102.0/24", "via", "192.0.2.12"]);
    n2.host
        .ok(&["ip", "route", "add", "198.18.101.0/24", "via", "192.0.2.11"]);
    let conf = |n: &Node, cidr: &str| {
        let file = n.dir.path().join("podcidr");
        std::fs::write(&file, format!("{cidr}\n")).unwrap();
        json!({
            "cniVersion": "1.1.0", "name": "k8s", "type": "podroute-bridge", "bridge": "v-net-0",
            "isGateway": true, "ipMasq": true, "clusterCIDRs": ["198.18.96.0/20"],
            "stateDir": n.dir.path().join("state"),
            "ipam": {"type": "podroute-ipam", "podCIDRFile": file, "dataDir": n.dir.path(),
                     "routes": [{"dst": "0.0.0.0/0"}]}
        })
        .to_string()
    };
    let (c1, c2) = (conf(&n1, "198.18.101.0/24"), conf(&n2, "198.18.102.0/24"));
    let p1 = Netns::new("prp");
    let p2 = Netns::new("prp");
    let r1 = run(&n1.inv(BRIDGE, "ADD", "pod-a", &p1.path()), &c1)
        .assert_ok()
        .clone();
    let r2 = run(&n2.inv(BRIDGE, "ADD", "pod-b", &p2.path()), &c2)
        .assert_ok()
        .clone();
    let (a1, a2) = (ip_of(&r1, 0), ip_of(&r2, 0));
    assert_eq!(a1, "198.18.101.2");
    assert_eq!(a2, "198.18.102.2");
    // pod-b accepts only pod-a's own address: a masqueraded ping would be dropped.
    p2.ok(&["nft", &format!("add table ip t; add chain ip t in {{ type filter hook input priority 0; }}; add rule ip t in icmp type echo-request ip saddr != {a1} drop")]);
    assert!(p1.ping(&a2), "pod on node 1 -> pod on node 2, not NATed");
    run(&n1.inv(BRIDGE, "DEL", "pod-a", &p1.path()), &c1).assert_ok();
    run(&n2.inv(BRIDGE, "DEL", "pod-b", &p2.path()), &c2).assert_ok();
    assert!(n1.ruleset().is_empty() || !n1.ruleset().contains("masquerade"));
}

#[test]
fn bridge_check_detects_missing_veth_route_and_rules_and_readd_is_idempotent() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let c = conf(&node, "1.1.0", "cni-chk", json!({"ipMasq": true}));
    let pod = Netns::new("prp");
    let r = run(&node.inv(BRIDGE, "ADD", "chk", &pod.path()), &c)
        .assert_ok()
        .clone();
    // A retried ADD of the same attachment gets the same address and a fresh veth.
    let again = run(&node.inv(BRIDGE, "ADD", "chk", &pod.path()), &c)
        .assert_ok()
        .clone();
    assert_eq!(again["ips"], r["ips"]);
    assert_eq!(node.pod_veths().len(), 1);
    assert_eq!(allocations(&node), 1);
    let check = |prev: &Value, what: &str, code: u64| {
        let mut chk: Value = serde_json::from_str(&c).unwrap();
        chk["prevResult"] = prev.clone();
        let o = run(
            &node.inv(BRIDGE, "CHECK", "chk", &pod.path()),
            &chk.to_string(),
        );
        if code == 0 {
            o.assert_ok();
        } else {
            assert!(!o.success, "{what}: CHECK passed");
            assert_eq!(o.code(), code, "{what}: {}", o.json);
        }
    };
    check(&again, "healthy", 0);
    // The masquerade chain flushed by hand.
    node.host.ok(&["nft", "flush", "table", "inet", "podroute"]);
    check(&again, "rules gone", 100);
    // The next ADD (another pod) sees they are missing and restores them.
    let pod2 = Netns::new("prp");
    run(&node.inv(BRIDGE, "ADD", "chk2", &pod2.path()), &c).assert_ok();
    assert_eq!(node.ruleset().matches("masquerade").count(), 2);
    check(&again, "restored", 0);
    run(&node.inv(BRIDGE, "DEL", "chk2", &pod2.path()), &c).assert_ok();
    let r = again.clone();
    pod.ok(&["ip", "route", "del", "default"]);
    check(&r, "default route gone", 100);
    let host_veth = r["interfaces"][1]["name"].as_str().unwrap();
    node.host.ok(&["ip", "link", "del", host_veth]);
    check(&r, "veth gone", 100);
    run(&node.inv(BRIDGE, "DEL", "chk", &pod.path()), &c).assert_ok();
    assert_eq!(allocations(&node), 0);
    assert!(!node.ruleset().contains("masquerade"));
}

/// The announcement waits for linkwatch through RTNLGRP_LINK notifications:
/// while a link has no carrier the wait stays bounded and says no; once the
/// peer comes up (linkwatch sets IF_OPER_UP asynchronously, after `ip`
/// returned) it says yes.
#[test]
fn wait_oper_up_follows_linkwatch_notifications() {
    if !can_run_netns() {
        return;
    }
    let ns = Netns::new("prw");
    ns.ok(&[
        "ip", "link", "add", "wa", "type", "veth", "peer", "name", "wb",
    ]);
    ns.ok(&["ip", "link", "set", "wa", "up"]);
    let path = ns.path();
    let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
    let waiter = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        podroute::cni::netns::enter(&f).unwrap();
        let mut nl = podroute::cni::netlink::Netlink::open().unwrap();
        let early = nl
            .wait_oper_up("wa", std::time::Duration::from_millis(100))
            .unwrap();
        ready_tx.send(()).unwrap();
        let later = nl
            .wait_oper_up("wa", std::time::Duration::from_secs(20))
            .unwrap();
        (early, later)
    });
    ready.recv().unwrap();
    ns.ok(&["ip", "link", "set", "wb", "up"]);
    let (early, later) = waiter.join().unwrap();
    assert!(!early, "reported up without carrier");
    assert!(later, "never saw the link come up");
}
