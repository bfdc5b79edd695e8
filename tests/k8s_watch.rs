//! Kubernetes mode against the in-process test API server: the real kube client and reflectors, the Configs they push, the CNI files and the Events.
//!
//! No namespaces and no root: the watcher runs in the test process and
//! the pushed Configs are read from its channel.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::apiserver::ApiServer;
use common::k8s_objects::{bgp_configuration, bgp_peer, events_for, node, secret};
use podroute::config::Config;
use podroute::k8s::Settings;
use serde_json::json;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(30);

struct Harness {
    api: ApiServer,
    rx: mpsc::Receiver<Config>,
    dir: PathBuf,
}

fn settings(api: &ApiServer, dir: &std::path::Path, node_name: &str) -> Settings {
    let mut s = Settings::default();
    s.kubernetes.api_server = Some(api.url());
    s.kubernetes.node_name = Some(node_name.into());
    s.kubernetes.namespace = Some("podroute-system".into());
    s.kubernetes.asn = Some(64512);
    s.kubernetes.debounce_ms = 50;
    s.kubernetes.cni_conf_dir = dir.join("net.d");
    s.kubernetes.pod_cidr_file = dir.join("pod-cidrs");
    s.cluster.pod_pools = vec![
        "10.244.0.0/16".parse().unwrap(),
        "fd00:10:244::/48".parse().unwrap(),
    ];
    s
}

/// Starts the watcher for node `n1` against a fresh API server (the
/// objects `setup` puts there are present before the first list).
async fn start(test: &str, setup: impl FnOnce(&ApiServer)) -> Harness {
    let api = ApiServer::start();
    setup(&api);
    let dir = std::env::temp_dir().join(format!("podroute-k8s-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = settings(&api, &dir, "n1");
    let client = podroute::k8s::client(&s).await.unwrap();
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(podroute::k8s::watch::run(client, s, "n1".into(), tx));
    Harness { api, rx, dir }
}

impl Harness {
    /// The next pushed Config that satisfies `want`; panics at the deadline
    /// with the last one seen.
    async fn until(&mut self, what: &str, want: impl Fn(&Config) -> bool) -> Config {
        let deadline = Instant::now() + DEADLINE;
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(c)) if want(&c) => return c,
                Ok(Some(c)) => last = Some(c),
                Ok(None) => panic!("watcher stopped while waiting for {what}"),
                Err(_) => panic!("no Config with {what} in {DEADLINE:?}; last: {last:#?}"),
            }
        }
    }

    /// Waits for the condition on the recorded Events.
    async fn until_event(&self, what: &str, want: impl Fn(&[serde_json::Value]) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !want(&self.api.events()) {
            assert!(
                Instant::now() < deadline,
                "no Event {what}; events: {:#?}",
                self.api.events()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn peers(c: &Config) -> Vec<String> {
    c.bgp.peers.iter().map(|p| p.address.to_string()).collect()
}

fn two_nodes(api: &ApiServer) {
    api.apply("nodes", node("n1", "192.168.1.11", &["10.244.1.0/24"], &[]));
    api.apply("nodes", node("n2", "192.168.1.12", &["10.244.2.0/24"], &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_joining_and_leaving_become_and_stop_being_peers() {
    let mut h = start("join", |api| {
        two_nodes(api);
        // The first lists fail: the watcher retries with back-off.
        api.fail_lists(2);
    })
    .await;
    let c = h.until("peer n2", |c| peers(c) == ["192.168.1.12"]).await;
    assert_eq!(c.node.router_id.to_string(), "192.168.1.11");
    assert_eq!(c.node.asn.0, 64512);
    assert_eq!(c.bgp.peers[0].asn.0, 64512);

    h.api
        .apply("nodes", node("n3", "192.168.1.13", &["10.244.3.0/24"], &[]));
    h.until("n2 and n3", |c| {
        peers(c) == ["192.168.1.12", "192.168.1.13"]
    })
    .await;
    h.api.delete("nodes", "n2");
    h.until("only n3", |c| peers(c) == ["192.168.1.13"]).await;
    // A node being drained away (deletionTimestamp set) leaves at once.
    h.api.patch(
        "nodes",
        "n3",
        json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
    );
    h.until("no peer", |c| c.bgp.peers.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_cidr_arriving_late_starts_the_node_and_writes_the_cni_files() {
    let mut h = start("late", |api| {
        api.apply("nodes", node("n1", "192.168.1.11", &[], &[]));
        api.apply("nodes", node("n2", "192.168.1.12", &["10.244.2.0/24"], &[]));
    })
    .await;
    // The watcher has listed and is watching every resource...
    let deadline = Instant::now() + DEADLINE;
    while h
        .api
        .requests()
        .iter()
        .filter(|r| r.contains("watch=true"))
        .count()
        < 4
    {
        assert!(Instant::now() < deadline, "{:?}", h.api.requests());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...and, with no podCIDR, pushes nothing (a bounded look for absence).
    assert!(
        tokio::time::timeout(Duration::from_millis(500), h.rx.recv())
            .await
            .is_err(),
        "a Config was pushed before the node had a podCIDR"
    );
    let conflist = h.dir.join("net.d/10-podroute.conflist");
    assert!(!conflist.exists());

    h.api.patch(
        "nodes",
        "n1",
        json!({"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}}),
    );
    let c = h.until("pod CIDRs", |c| c.node.pod_cidrs.len() == 2).await;
    assert_eq!(c.node.pod_cidrs[0].to_string(), "10.244.1.0/24");
    // The CNI files are written before the Config is pushed.
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conflist).unwrap()).unwrap();
    let ranges = &list["plugins"][0]["ipam"]["ranges"];
    assert_eq!(ranges[0][0]["subnet"], "10.244.1.0/24");
    assert_eq!(ranges[1][0]["subnet"], "fd00:10:244:1::/64");
    assert_eq!(
        std::fs::read_to_string(h.dir.join("pod-cidrs")).unwrap(),
        "10.244.1.0/24\nfd00:10:244:1::/64\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgp_peers_created_changed_and_deleted_are_followed() {
    let mut h = start("peers", |api| {
        two_nodes(api);
        api.apply(
            "namespaces/podroute-system/secrets",
            secret("tor", "password", "s3cret"),
        );
    })
    .await;
    h.until("mesh", |c| peers(c) == ["192.168.1.12"]).await;
    h.api.apply(
        "bgppeers",
        bgp_peer(
            "tor",
            json!({"peerAddress": "192.168.1.1", "asn": 65100,
                   "passwordSecretRef": {"name": "tor", "key": "password"},
                   "maxPrefixes": 500}),
        ),
    );
    let c = h
        .until("tor", |c| peers(c).contains(&"192.168.1.1".into()))
        .await;
    let tor = &c.bgp.peers[0];
    assert_eq!(tor.asn.0, 65100);
    assert_eq!(tor.password.as_ref().unwrap().as_bytes(), b"s3cret");
    assert_eq!(tor.max_prefixes.unwrap().0, 500);

    h.api
        .patch("bgppeers", "tor", json!({"spec": {"holdTime": 30}}));
    h.until("hold time 30", |c| {
        c.bgp.peers[0].hold_time.map(|h| h.seconds()) == Some(30)
    })
    .await;
    // A rotated password applies too.
    h.api.apply(
        "namespaces/podroute-system/secrets",
        secret("tor", "password", "n3w"),
    );
    h.until("new password", |c| {
        c.bgp.peers[0]
            .password
            .as_ref()
            .map(|p| p.as_bytes().to_vec())
            == Some(b"n3w".to_vec())
    })
    .await;
    // Mesh off in the BGPConfiguration: only the BGPPeer stays.
    h.api.apply(
        "bgpconfigurations",
        bgp_configuration(json!({"nodeToNodeMesh": false})),
    );
    h.until("mesh off", |c| peers(c) == ["192.168.1.1"]).await;
    h.api.delete("bgppeers", "tor");
    h.until("no peers", |c| c.bgp.peers.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_get_an_event_and_the_watcher_goes_on() {
    let mut h = start("bad", two_nodes).await;
    h.until("mesh", |c| peers(c) == ["192.168.1.12"]).await;
    h.api.apply(
        "bgppeers",
        bgp_peer("broken", json!({"peerAddress": "10.0.0.300", "asn": 65100})),
    );
    h.api.apply(
        "bgppeers",
        bgp_peer("trans", json!({"peerAddress": "10.0.0.7", "asn": 23456})),
    );
    h.api.apply(
        "nodes",
        node(
            "n3",
            "192.168.1.13",
            &["10.244.3.0/24"],
            &[("podroute.io/asn", "lots")],
        ),
    );
    h.until_event("for BGPPeer/broken, BGPPeer/trans and Node/n3", |ev| {
        !events_for(ev, "BGPPeer", "broken", "InvalidConfiguration").is_empty()
            && !events_for(ev, "BGPPeer", "trans", "InvalidConfiguration").is_empty()
            && !events_for(ev, "Node", "n3", "InvalidConfiguration").is_empty()
    })
    .await;
    let ev = &events_for(&h.api.events(), "BGPPeer", "broken", "InvalidConfiguration")[0];
    assert_eq!(ev["type"], "Warning");
    assert!(ev["note"].as_str().unwrap().contains("10.0.0.300"), "{ev}");
    // The good parts still apply.
    h.api.apply(
        "bgppeers",
        bgp_peer("good", json!({"peerAddress": "10.0.0.8", "asn": 65100})),
    );
    let c = h
        .until("good peer", |c| peers(c).contains(&"10.0.0.8".into()))
        .await;
    assert_eq!(peers(&c), ["10.0.0.8", "192.168.1.12"]);
    // One Event per mistake, not one per translation.
    assert_eq!(
        events_for(&h.api.events(), "BGPPeer", "broken", "InvalidConfiguration").len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_restart_mid_watch_resumes_from_the_last_version() {
    let mut h = start("restart", two_nodes).await;
    h.until("mesh", |c| peers(c) == ["192.168.1.12"]).await;
    let lists_before = node_lists(&h.api);
    let api = &h.api;
    tokio::task::block_in_place(|| api.restart(Duration::from_millis(300)));
    h.api
        .apply("nodes", node("n3", "192.168.1.13", &["10.244.3.0/24"], &[]));
    h.until("n3 after the restart", |c| peers(c).len() == 2)
        .await;
    // Resumed from the resourceVersion it had: no new list was needed.
    assert_eq!(node_lists(&h.api), lists_before, "{:#?}", h.api.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_410_after_compaction_lists_again() {
    let mut h = start("gone", two_nodes).await;
    h.until("mesh", |c| peers(c) == ["192.168.1.12"]).await;
    let lists_before = node_lists(&h.api);
    // While the server is away, n2 goes and n3 comes, and the history is
    // compacted: the watcher's version is too old (410) and only a new
    // list can show the change.
    h.api.pause();
    h.api.delete("nodes", "n2");
    h.api
        .apply("nodes", node("n3", "192.168.1.13", &["10.244.3.0/24"], &[]));
    h.api.compact();
    h.api.resume();
    h.until("n3 instead of n2", |c| peers(c) == ["192.168.1.13"])
        .await;
    assert!(node_lists(&h.api) > lists_before, "{:#?}", h.api.requests());
}

/// How many times the nodes were listed (not watched).
fn node_lists(api: &ApiServer) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/nodes?") && !r.contains("watch=true"))
        .count()
}
