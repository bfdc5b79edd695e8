//! End to end in Kubernetes mode: three `podroute agent --kubernetes` nodes on one bridge, configured only by the test API server; a pod per node attached by the real CNI plugins from the conflist its agent wrote; every pod pings every other, unNATed; a deleted Node's routes leave the other nodes' kernels.
//!
//! Everything runs in private namespaces: a hub holding the bridge, one
//! namespace per node (the API server listens on each node's loopback),
//! one per pod.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::agent::Agent;
use common::apiserver::ApiServer;
use common::k8s_objects::node;
use common::{DEADLINE, Ns, bridge, prerequisites, try_run, wait_until};
use serde_json::{Value, json};

const BRIDGE_PLUGIN: &str = env!("CARGO_BIN_EXE_podroute-bridge");

/// One node: its agent (dropped before the namespace), its namespace,
/// address and pod CIDR.
struct Node {
    agent: Agent,
    ns: Ns,
    name: String,
    ip: String,
    cidr: String,
}

/// A pod: its namespace and the address the CNI result gave it.
struct Pod {
    ns: Ns,
    node: String,
    ip: String,
}

/// The Kubernetes-mode file of node `name` reaching the API server on `port`.
fn k8s_toml(ns: &Ns, name: &str, port: u16) -> String {
    format!(
        r#"[kubernetes]
api_server = "http://127.0.0.1:{port}"
node_name = "{name}"
asn = 64512
debounce_ms = 50
status_interval = 1
metrics_listen = "127.0.0.1:9179"
ipam_dir = "{dir}/ipam/podroute"
cni_conf_dir = "{dir}/net.d"
pod_cidr_file = "{dir}/pod-cidrs"

[cluster]
pod_pools = ["10.244.0.0/16"]

[bgp]
listen = ["0.0.0.0:179"]
hold_time = 9
connect_retry = 1

[control]
socket = "{socket}"
"#,
        dir = ns.dir.display(),
        socket = Agent::socket_path(ns, name).display(),
    )
}

/// The plugin configuration a runtime hands the first plugin of the
/// node's conflist: the plugin's object with the list's `cniVersion` and
/// `name` (CNI spec, "Deriving execution configuration from the network
/// configuration"). The three test nodes share one filesystem, so each
/// gets its own IPAM and bridge state directories, where a real node has
/// the defaults to itself.
fn plugin_config(node: &Node) -> Option<Value> {
    let text = std::fs::read_to_string(node.ns.path("net.d/10-podroute.conflist")).ok()?;
    let list: Value = serde_json::from_str(&text).ok()?;
    let mut conf = list["plugins"].get(0)?.clone();
    conf["cniVersion"] = list["cniVersion"].clone();
    conf["name"] = list["name"].clone();
    conf["stateDir"] = json!(node.ns.path("bridge-state"));
    conf["ipam"]["dataDir"] = json!(node.ns.path("ipam"));
    Some(conf)
}

/// `CNI_COMMAND=ADD` of `podroute-bridge` (delegating to `podroute-ipam`
/// through `CNI_PATH`) inside the node's namespace; the pod's address.
fn attach(node: &Node, pod_ns: Ns) -> Pod {
    let conf = plugin_config(node).expect("the agent wrote no usable conflist");
    let cni_path = std::path::Path::new(BRIDGE_PLUGIN).parent().unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &node.ns.name, BRIDGE_PLUGIN])
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", &pod_ns.name)
        .env("CNI_NETNS", format!("/run/netns/{}", pod_ns.name))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", cni_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(conf.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let result = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "CNI ADD on {} failed: {result}{}\nconfig: {conf}",
        node.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(&result).unwrap();
    let ip = result["ips"][0]["address"]
        .as_str()
        .and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("no address in the CNI result {result}"))
        .to_string();
    assert!(
        ip.parse::<std::net::IpAddr>()
            .is_ok_and(|a| in_cidr(a, &node.cidr)),
        "pod address {ip} outside {}'s pod CIDR {}",
        node.name,
        node.cidr
    );
    Pod {
        ns: pod_ns,
        node: node.name.clone(),
        ip,
    }
}

fn in_cidr(a: std::net::IpAddr, cidr: &str) -> bool {
    cidr.parse::<ipnet::IpNet>().is_ok_and(|c| c.contains(&a))
}

/// `ip netns exec NS ARGS`, `None` on failure.
fn exec(ns: &Ns, args: &[&str]) -> Option<String> {
    let mut v = vec!["ip", "netns", "exec", &ns.name];
    v.extend(args);
    try_run(&v)
}

/// An nft input chain in each pod, counting echo requests by source.
fn count_echo_requests(pods: &[Pod]) {
    for rx in pods {
        rx.ns.exec(&["nft", "add", "table", "inet", "e2e"]);
        rx.ns.exec(&[
            "nft", "add", "chain", "inet", "e2e", "in", "{", "type", "filter", "hook", "input",
            "priority", "0", ";", "}",
        ]);
        for tx in pods.iter().filter(|p| p.node != rx.node) {
            rx.ns.exec(&[
                "nft",
                "add",
                "rule",
                "inet",
                "e2e",
                "in",
                "ip",
                "saddr",
                &tx.ip,
                "icmp",
                "type",
                "echo-request",
                "counter",
            ]);
        }
    }
}

/// Echo requests from `src` that reached `rx`, as its own address.
fn echo_requests_seen(rx: &Pod, src: &str) -> u64 {
    let chain = exec(&rx.ns, &["nft", "list", "chain", "inet", "e2e", "in"]).unwrap_or_default();
    chain
        .lines()
        .find(|l| l.contains(&format!("saddr {src} ")))
        .and_then(|l| l.split("packets ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn pings(from: &Pod, to: &Pod) -> bool {
    exec(&from.ns, &["ping", "-c", "1", "-W", "1", &to.ip]).is_some()
}

/// `GET /metrics` from the agent of `ns` (a thread enters the namespace).
fn scrape(ns: &str) -> Option<String> {
    use std::io::Read;
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).ok()?;
        // SAFETY: setns on a valid namespace fd; this thread only makes one connection.
        if unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) } != 0 {
            return None;
        }
        let mut s = std::net::TcpStream::connect("127.0.0.1:9179").ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    })
    .join()
    .ok()
    .flatten()
}

#[test]
fn pods_on_three_api_configured_nodes_reach_each_other() {
    if !prerequisites(&["nft", "ping"]) {
        return;
    }
    let api = ApiServer::start();
    let hub = Ns::new("e2ehub");
    let spaces: Vec<Ns> = (1..=3).map(|i| Ns::new(&format!("e2en{i}"))).collect();
    bridge(
        &hub,
        &spaces.iter().map(|ns| (ns, "eth0")).collect::<Vec<_>>(),
    );
    let mut nodes = Vec::new();
    for (i, ns) in spaces.into_iter().enumerate() {
        let i = i + 1;
        let (name, ip, cidr) = (
            format!("n{i}"),
            format!("198.18.0.{i}"),
            format!("10.244.{i}.0/24"),
        );
        ns.addr("eth0", &format!("{ip}/24"));
        api.apply("nodes", node(&name, &ip, &[&cidr], &[]));
        let port = api.listen_in_netns(&ns.name);
        let agent = Agent::start_kubernetes(&ns, &name, &k8s_toml(&ns, &name, port));
        nodes.push(Node {
            agent,
            ns,
            name,
            ip,
            cidr,
        });
    }

    // The mesh comes up from the Node objects alone, and each agent routes
    // the other nodes' pod CIDRs.
    for n in &nodes {
        for peer in nodes.iter().filter(|p| p.name != n.name) {
            n.agent.wait_established(&peer.ip);
            assert!(
                wait_until(DEADLINE, || n.ns.podroute_route(&peer.cidr).is_some()),
                "{} has no route to {}'s pods: {:?}",
                n.name,
                peer.name,
                n.ns.podroute_routes()
            );
        }
    }

    // A pod per node, through the conflist its agent wrote.
    let mut pods = Vec::new();
    for n in &nodes {
        assert!(
            wait_until(DEADLINE, || plugin_config(n).is_some()),
            "{} wrote no conflist",
            n.name
        );
        let text = std::fs::read_to_string(n.ns.path("pod-cidrs")).unwrap_or_default();
        assert_eq!(text.trim(), n.cidr, "{}'s pod-CIDR file", n.name);
        pods.push(attach(n, Ns::new(&format!("e2ep{}", n.name))));
    }

    // Every pod reaches every other, and the receiver sees the sender's own
    // address: pod traffic inside the cluster pools is routed, not NATed.
    count_echo_requests(&pods);
    for tx in &pods {
        for rx in pods.iter().filter(|p| p.node != tx.node) {
            assert!(
                wait_until(DEADLINE, || pings(tx, rx)),
                "pod on {} ({}) cannot reach pod on {} ({})",
                tx.node,
                tx.ip,
                rx.node,
                rx.ip
            );
            let seen = echo_requests_seen(rx, &tx.ip);
            assert!(
                seen >= 1,
                "pod on {} saw no echo request from {} (NAT?)",
                rx.node,
                tx.ip
            );
        }
    }

    // The metrics count the pod address handed out.
    let mut metrics = String::new();
    assert!(
        wait_until(DEADLINE, || {
            metrics = scrape(&nodes[0].ns.name).unwrap_or_default();
            metrics.contains("podroute_ipam_addresses_in_use 1\n")
        }),
        "{metrics}"
    );

    // n3 leaves the cluster: its route leaves n1's and n2's kernels; theirs
    // to each other stay and their pods still talk.
    assert!(api.delete("nodes", "n3"));
    for n in &nodes[..2] {
        assert!(
            wait_until(DEADLINE, || n.ns.podroute_route("10.244.3.0/24").is_none()),
            "{} still routes n3's pods: {:?}",
            n.name,
            n.ns.podroute_routes()
        );
        assert!(n.agent.neighbor("198.18.0.3").is_none());
        assert!(
            n.agent.rib_route("10.244.3.0/24").is_none(),
            "{:?}",
            n.agent.show("routes")
        );
    }
    assert!(nodes[0].ns.podroute_route("10.244.2.0/24").is_some());
    assert!(nodes[1].ns.podroute_route("10.244.1.0/24").is_some());
    assert!(wait_until(DEADLINE, || pings(&pods[0], &pods[1])));
    assert!(wait_until(DEADLINE, || pings(&pods[1], &pods[0])));
    assert!(
        !pings(&pods[0], &pods[2]),
        "n3's pod still reachable from n1"
    );

    drop(pods);
    for mut n in nodes {
        assert!(n.agent.stop(), "{}'s agent did not stop cleanly", n.name);
    }
}
