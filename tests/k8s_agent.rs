//! Real `podroute agent --kubernetes` processes in network namespaces, driven by the in-process test API server: `podroute show neighbors --json` follows the API objects.
//!
//! The API server listens on each agent namespace's own loopback (its
//! socket is made inside the namespace), so nothing leaves the namespaces.

mod common;

use std::time::Duration;

use common::agent::Agent;
use common::apiserver::ApiServer;
use common::k8s_objects::{bgp_peer, events_for, node};
use common::{DEADLINE, Ns, linked_pair, prerequisites, wait_until};
use serde_json::json;

/// A Kubernetes-mode file for node `name` reaching the API server on `port`.
fn k8s_toml(ns: &Ns, name: &str, port: u16) -> String {
    format!(
        r#"[kubernetes]
api_server = "http://127.0.0.1:{port}"
node_name = "{name}"
namespace = "podroute-system"
asn = 64512
debounce_ms = 50
status_interval = 1
metrics_listen = "127.0.0.1:9179"
ipam_dir = "{dir}/ipam"
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

/// `GET /metrics` from inside namespace `ns` (a thread entered it).
fn scrape(ns: &str) -> Option<String> {
    use std::io::{Read, Write};
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

/// The value of the sample line `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The agent has installed n2's route and its own blackhole, without
/// errors, and processed at least n2's UPDATE and End-of-RIB.
fn check_stats_metrics(m: &str) {
    assert_eq!(
        sample(m, "podroute_fib_errors_total{kind=\"refused\"}"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(sample(m, "podroute_fib_retries_total"), Some(0.0), "{m}");
    let installs = sample(m, "podroute_fib_operations_total{op=\"install\"}").unwrap_or(0.0);
    assert!(installs >= 2.0, "{m}");
    let h = "podroute_bgp_update_processing_seconds";
    let count = sample(m, &format!("{h}_count")).unwrap_or(0.0);
    let sum = sample(m, &format!("{h}_sum")).unwrap_or(-1.0);
    let inf = sample(m, &format!("{h}_bucket{{le=\"+Inf\"}}"));
    assert!(count >= 1.0, "{m}");
    assert_eq!(inf, Some(count), "{m}");
    // An UPDATE of one prefix takes well under a second, even here.
    assert!(sum > 0.0 && sum < count, "{m}");
    let one_s = sample(m, &format!("{h}_bucket{{le=\"1.0\"}}"));
    assert_eq!(one_s, Some(count), "{m}");
}

/// `podroute show stats --json` agrees: installs done, batches timed.
fn check_show_stats(agent: &Agent) {
    let out = common::run(&[
        common::agent::PODROUTE,
        "show",
        "stats",
        "--json",
        "--socket",
        &agent.socket.to_string_lossy(),
    ]);
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(s["fib"]["installs"].as_u64() >= Some(2), "{s}");
    assert_eq!(s["fib"]["failures"], 0, "{s}");
    let count = s["update_latency"]["count"].as_u64().unwrap_or(0);
    assert!(count >= 1, "{s}");
    let buckets = s["update_latency"]["buckets"].as_array().unwrap();
    assert_eq!(
        buckets.last().unwrap()["count"].as_u64(),
        Some(count),
        "{s}"
    );
}

fn uptime(agent: &Agent, peer: &str) -> u64 {
    agent
        .neighbor(peer)
        .and_then(|n| n["uptime_s"].as_u64())
        .unwrap_or(0)
}

#[test]
fn agents_follow_nodes_and_bgp_peers_and_survive_api_restarts() {
    if !prerequisites(&[]) {
        return;
    }
    let api = ApiServer::start();
    api.apply("nodes", node("n1", "198.18.0.1", &["10.244.1.0/24"], &[]));
    api.apply("nodes", node("n2", "198.18.0.2", &["10.244.2.0/24"], &[]));
    let (a, b) = linked_pair("k8s1", "k8s2");
    // Another protocol's route on n1's pod CIDR, at podroute's metric: n2's
    // install of it meets EEXIST, an error the metrics must show.
    b.ip("route add 10.244.1.0/24 via 198.18.0.1 metric 1024 proto static");
    let pa = api.listen_in_netns(&a.name);
    let pb = api.listen_in_netns(&b.name);
    let mut n1 = Agent::start_kubernetes(&a, "n1", &k8s_toml(&a, "n1", pa));
    let n2 = Agent::start_kubernetes(&b, "n2", &k8s_toml(&b, "n2", pb));

    // The mesh: each node peers with the other, and routes its pod CIDR.
    n1.wait_established("198.18.0.2");
    n2.wait_established("198.18.0.1");
    assert!(
        wait_until(DEADLINE, || a.podroute_route("10.244.2.0/24").is_some()),
        "no route to n2's pods: {:?}",
        a.podroute_routes()
    );
    assert!(a.path("net.d/10-podroute.conflist").exists());
    let mut metrics = String::new();
    assert!(
        wait_until(DEADLINE, || {
            metrics = scrape(&a.name).unwrap_or_default();
            metrics.contains("podroute_bgp_sessions{state=\"Established\"} 1")
        }),
        "{metrics}"
    );
    assert!(
        metrics.contains("podroute_bgp_prefixes{peer=\"198.18.0.2\",kind=\"accepted\"} 1"),
        "{metrics}"
    );
    let fib = n1.show("fib").unwrap_or_default().len();
    assert!(
        metrics.contains(&format!("podroute_fib_routes {fib}\n")),
        "{metrics}"
    );
    check_stats_metrics(&metrics);
    check_show_stats(&n1);
    let conflicts = "podroute_fib_errors_total{kind=\"exists\"}";
    assert!(
        wait_until(DEADLINE, || {
            metrics = scrape(&b.name).unwrap_or_default();
            sample(&metrics, conflicts).is_some_and(|v| v >= 1.0)
        }),
        "n2's conflict with the static route not counted: {metrics}"
    );

    // A BGPPeer for n1 only.
    api.apply(
        "bgppeers",
        bgp_peer(
            "tor",
            json!({"peerAddress": "198.18.0.9", "asn": 65009, "node": "n1"}),
        ),
    );
    assert!(
        wait_until(DEADLINE, || n1.neighbor("198.18.0.9").is_some()),
        "{:?}",
        n1.show("neighbors")
    );
    assert!(n2.neighbor("198.18.0.9").is_none());

    // The API server restarts; the mesh session is not touched, and the
    // next change still arrives.
    let before = uptime(&n1, "198.18.0.2");
    api.restart(Duration::from_millis(500));
    api.delete("bgppeers", "tor");
    assert!(
        wait_until(DEADLINE, || n1.neighbor("198.18.0.9").is_none()),
        "{:?}",
        n1.show("neighbors")
    );
    assert_eq!(n1.state("198.18.0.2"), "Established");
    assert!(
        uptime(&n1, "198.18.0.2") >= before,
        "the mesh session was reset"
    );

    // A bad object: an Event, and the agent stays up.
    api.apply(
        "bgppeers",
        bgp_peer("broken", json!({"peerAddress": "not-an-ip", "asn": 65009})),
    );
    assert!(wait_until(DEADLINE, || {
        events_for(&api.events(), "BGPPeer", "broken", "InvalidConfiguration").len() >= 2
    }));
    assert!(n1.running());
    assert_eq!(n1.state("198.18.0.2"), "Established");

    // Status: session Events on the Node, and the BGPNodeStatus object.
    assert!(
        wait_until(DEADLINE, || {
            !events_for(&api.events(), "Node", "n1", "BGPSessionEstablished").is_empty()
        }),
        "{:#?}",
        api.events()
    );
    assert!(
        wait_until(DEADLINE, || {
            api.get("bgpnodestatuses", "n1")
                .is_some_and(|s| s["status"]["established"] == 1)
        }),
        "{:?}",
        api.get("bgpnodestatuses", "n1")
    );

    // n2 leaves the cluster: n1 drops the session.
    api.delete("nodes", "n2");
    assert!(
        wait_until(DEADLINE, || n1.neighbor("198.18.0.2").is_none()),
        "{:?}",
        n1.show("neighbors")
    );
    assert!(
        wait_until(DEADLINE, || {
            !events_for(&api.events(), "Node", "n1", "BGPSessionDown").is_empty()
        }),
        "{:#?}",
        api.events()
    );
    assert!(n1.stop(), "the agent did not stop cleanly");
}
