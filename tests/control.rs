//! The control socket protocol and `podroute show`, against the real server with test state.

use std::path::PathBuf;
use std::process::Command;

use podroute::control::{self, ControlRequest, FibView, NeighborView, Query, Reply, RouteView};
use tokio::sync::mpsc;

fn state_answer(query: Query) -> Reply {
    match query {
        Query::Neighbors => Reply::Neighbors(vec![NeighborView {
            address: "192.168.1.12".parse().unwrap(),
            asn: 64512,
            state: "Established".into(),
            uptime_s: 42,
            prefixes_received: 1,
            prefixes_accepted: 1,
            prefixes_advertised: 1,
            prefix_limit_warnings: 0,
            end_of_rib: true,
            stale_prefixes: 0,
            last_error: None,
        }]),
        Query::Routes => Reply::Routes(vec![RouteView {
            prefix: "10.244.2.0/24".parse().unwrap(),
            best: vec!["192.168.1.12".parse().unwrap()],
            as_path: vec![],
            local_pref: 100,
            origin: "igp".into(),
            from: Some("192.168.1.12".parse().unwrap()),
            reachable: true,
            stale: false,
        }]),
        Query::Fib => Reply::Fib(vec![FibView {
            prefix: "10.244.1.0/24".parse().unwrap(),
            next_hops: vec![],
            table: 254,
            kind: "blackhole".into(),
        }]),
        Query::Stats => {
            let mut h = control::LatencyHistogram::default();
            h.observe(std::time::Duration::from_micros(120));
            Reply::Stats(Box::new(control::StatsView {
                fib: control::FibCounters {
                    installs: 2,
                    failures: 1,
                    retries: 1,
                    ..Default::default()
                },
                update_latency: h.view(),
            }))
        }
    }
}

/// Runs the real control server on a private socket, answering from a
/// state task, for as long as the guard lives.
struct Agent {
    socket: PathBuf,
    dir: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_agent(name: &str) -> Agent {
    let dir = std::env::temp_dir().join(format!("podroute-control-{}-{name}", std::process::id()));
    let socket = dir.join("sub/dir/podroute.sock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (tx, mut rx) = mpsc::channel::<ControlRequest>(4);
    runtime.spawn(async move {
        while let Some(req) = rx.recv().await {
            let _ = req.reply.send(state_answer(req.query));
        }
    });
    let path = socket.clone();
    runtime.spawn(async move { control::serve(&path, tx).await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "control socket never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Agent {
        socket,
        dir,
        _runtime: runtime,
    }
}

#[test]
fn client_gets_each_view() {
    let agent = start_agent("views");
    for q in [Query::Neighbors, Query::Routes, Query::Fib, Query::Stats] {
        assert_eq!(control::query(&agent.socket, q).unwrap(), state_answer(q));
    }
}

#[test]
fn show_json_matches_the_contract() {
    let agent = start_agent("json");
    let run = |what: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_podroute"))
            .args(["show", what, "--json", "--socket"])
            .arg(&agent.socket)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let n = run("neighbors");
    for key in [
        "address",
        "asn",
        "state",
        "uptime_s",
        "prefixes_received",
        "prefixes_accepted",
        "prefixes_advertised",
    ] {
        assert!(n[0].get(key).is_some(), "neighbors lacks {key}: {n}");
    }
    assert_eq!(n[0]["state"], "Established");
    let r = run("routes");
    for key in ["prefix", "best", "as_path", "local_pref", "origin", "from"] {
        assert!(r[0].get(key).is_some(), "routes lacks {key}: {r}");
    }
    assert_eq!(r[0]["prefix"], "10.244.2.0/24");
    let f = run("fib");
    for key in ["prefix", "next_hops", "table"] {
        assert!(f[0].get(key).is_some(), "fib lacks {key}: {f}");
    }
    let s = run("stats");
    for key in ["failures", "retries", "timeouts", "installs"] {
        assert!(s["fib"].get(key).is_some(), "stats.fib lacks {key}: {s}");
    }
    assert_eq!(s["fib"]["failures"], 1);
    assert_eq!(s["update_latency"]["count"], 1);
    let le: Vec<f64> = s["update_latency"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["count"] == 1)
        .map(|b| b["le_s"].as_f64().unwrap())
        .collect();
    assert_eq!(le.first().copied(), Some(0.00025), "{s}");
}

#[test]
fn show_table_for_humans() {
    let agent = start_agent("table");
    let out = Command::new(env!("CARGO_BIN_EXE_podroute"))
        .args(["show", "routes", "--socket"])
        .arg(&agent.socket)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("PREFIX"), "{text}");
    assert!(text.contains("10.244.2.0/24  192.168.1.12"), "{text}");
}

#[test]
fn show_without_agent_says_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_podroute"))
        .args([
            "show",
            "neighbors",
            "--socket",
            "/nonexistent/podroute.sock",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to the agent at /nonexistent/podroute.sock"),
        "{err}"
    );
}

#[test]
fn garbage_query_gets_an_error_reply_and_the_server_stays_up() {
    use std::io::{BufRead, BufReader, Write};
    let agent = start_agent("garbage");
    let mut s = std::os::unix::net::UnixStream::connect(&agent.socket).unwrap();
    s.write_all(b"{\"no\": \n").unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    let reply: Reply = serde_json::from_str(&line).unwrap();
    assert!(matches!(reply, Reply::Error(e) if e.contains("bad query")));
    assert_eq!(
        control::query(&agent.socket, Query::Fib).unwrap(),
        state_answer(Query::Fib)
    );
}
