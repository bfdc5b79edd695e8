//! A `podroute lab` instance for end-to-end tests: up with a private state dir, checks shared by every topology, down on every exit path.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::agent::{PODROUTE, show_json};
use super::{alive, gateways, route_dst, try_run, wait_until};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Deadline for sessions and routes on a loaded 2-core machine.
pub const CONVERGE: Duration = Duration::from_secs(60);

/// A lab brought up by `podroute lab up`; `down` on drop (also when the
/// test panics, after printing `lab status` and the daemons' logs).
pub struct Lab {
    pub file: PathBuf,
    pub state_dir: PathBuf,
    /// `lab status --json` right after `up`.
    pub status: Value,
    down: bool,
}

fn podroute(args: &[&str]) -> std::process::Output {
    Command::new(PODROUTE).args(args).output().unwrap()
}

impl Lab {
    /// `podroute lab up topologies/FILE` with a state dir of this test's own.
    pub fn up(file: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let state_dir = PathBuf::from(format!("/tmp/prt-lab/{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state_dir);
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("topologies")
            .join(file);
        let mut lab = Lab {
            file,
            state_dir,
            status: Value::Null,
            down: false,
        };
        let out = lab.lab(&["up"], &[]);
        assert!(
            out.status.success(),
            "lab up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        lab.status = lab.status_json();
        lab
    }

    /// `podroute lab ACTION FILE --state-dir D EXTRA...`.
    pub fn lab(&self, action: &[&str], extra: &[&str]) -> std::process::Output {
        let file = self.file.to_string_lossy().into_owned();
        let dir = self.state_dir.to_string_lossy().into_owned();
        let mut args = vec!["lab", action[0], &file];
        args.extend_from_slice(&action[1..]);
        args.extend_from_slice(&["--state-dir", &dir]);
        args.extend_from_slice(extra);
        podroute(&args)
    }

    pub fn status_json(&self) -> Value {
        let out = self.lab(&["status"], &["--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn node(&self, name: &str) -> &Value {
        self.status["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// The namespace of node `name`.
    pub fn ns(&self, name: &str) -> String {
        self.node(name)["ns"].as_str().unwrap().to_string()
    }

    /// Nodes running `role` (podroute, frr, bird).
    pub fn nodes(&self, role: &str) -> Vec<String> {
        self.status["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["role"] == role)
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// `podroute show WHAT --json` of podroute node `name`.
    pub fn show(&self, name: &str, what: &str) -> Option<Vec<Value>> {
        let socket = PathBuf::from(self.node(name)["control"].as_str().unwrap());
        show_json(&socket, what)
    }

    /// The PID of `program` on node `name`.
    pub fn pid(&self, name: &str, program: &str) -> u32 {
        self.status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["node"] == name && p["program"] == program)
            .and_then(|p| p["pid"].as_u64())
            .unwrap_or_else(|| panic!("no {program} on {name}")) as u32
    }

    /// `(pod name, node, addresses)` of every pod.
    pub fn pods(&self) -> Vec<(String, String, Vec<String>)> {
        self.status["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["node"].as_str().unwrap().to_string(),
                    p["addresses"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect()
    }

    /// `podroute lab exec FILE WHO -- ARGS`: stdout if it succeeded.
    pub fn exec(&self, who: &str, args: &[&str]) -> Option<String> {
        let mut extra = vec!["--"];
        extra.extend_from_slice(args);
        let out = self.lab(&["exec", who], &extra);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until every podroute node has `expected[node]` sessions, all
    /// Established.
    pub fn wait_podroute_sessions(&self, expected: &BTreeMap<&str, usize>) {
        for (node, count) in expected {
            let ok = wait_until(CONVERGE, || {
                self.show(node, "neighbors").is_some_and(|n| {
                    n.len() == *count && n.iter().all(|x| x["state"] == "Established")
                })
            });
            assert!(
                ok,
                "{node}: sessions not Established: {:?}",
                self.show(node, "neighbors")
            );
        }
    }

    /// Waits until FRR node `name` has `count` peers, all Established.
    pub fn wait_frr_sessions(&self, name: &str, count: usize) {
        let ns = self.ns(name);
        let vty = self.node(name)["control"].as_str().unwrap().to_string();
        let mut last = Value::Null;
        let ok = wait_until(CONVERGE, || {
            let Some(out) = try_run(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "vtysh",
                "--vty_socket",
                &vty,
                "-c",
                "show bgp neighbors json",
            ]) else {
                return false;
            };
            last = serde_json::from_str(&out).unwrap_or(Value::Null);
            last.as_object().is_some_and(|m| {
                m.len() == count && m.values().all(|n| n["bgpState"] == "Established")
            })
        });
        assert!(ok, "FRR {name}: sessions not Established: {last}");
    }

    /// Waits until BIRD node `name` has `count` BGP protocols, all
    /// Established (`birdc show protocols`).
    pub fn wait_bird_sessions(&self, name: &str, count: usize) {
        let ns = self.ns(name);
        let sock = self.node(name)["control"].as_str().unwrap().to_string();
        let mut last = String::new();
        let ok = wait_until(CONVERGE, || {
            last = try_run(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "birdc",
                "-s",
                &sock,
                "show",
                "protocols",
            ])
            .unwrap_or_default();
            let bgp: Vec<&str> = last.lines().filter(|l| l.contains(" BGP ")).collect();
            bgp.len() == count && bgp.iter().all(|l| l.contains("Established"))
        });
        assert!(ok, "BIRD {name}: sessions not Established:\n{last}");
    }

    /// Waits until node `name`'s kernel holds, from podroute (proto 202) or
    /// FRR/BIRD, exactly the `expected` remote prefixes with the given
    /// next hops, and no route via a gateway for its own `own` prefixes.
    pub fn wait_fib(&self, name: &str, expected: &[(&str, &[&str])], own: &[&str], proto: &str) {
        let ns = self.ns(name);
        let mut seen = Vec::new();
        let ok = wait_until(CONVERGE, || {
            seen.clear();
            for fam in ["-4", "-6"] {
                let out = try_run(&["ip", "-n", &ns, fam, "-j", "route", "show", "proto", proto]);
                if let Some(Value::Array(v)) = out.and_then(|o| serde_json::from_str(&o).ok()) {
                    seen.extend(v);
                }
            }
            let found = |p: &str| seen.iter().find(|r| route_dst(r) == p);
            expected.iter().all(|(p, hops)| {
                found(p).is_some_and(|r| {
                    let mut g = gateways(r);
                    g.sort();
                    let mut want: Vec<String> = hops.iter().map(|h| h.to_string()).collect();
                    want.sort();
                    g == want
                })
            }) && own
                .iter()
                .all(|p| found(p).is_none_or(|r| gateways(r).is_empty()))
        });
        assert!(
            ok,
            "{name}: FIB is not as expected {expected:?} (own {own:?}): {seen:?}"
        );
    }

    /// SIGKILLs `program` on node `name` (no NOTIFICATION, no withdrawal
    /// of its own); returns the moment of the kill.
    pub fn kill(&self, name: &str, program: &str) -> Instant {
        let pid = self.pid(name, program);
        let killed = Instant::now();
        super::signal(pid, libc::SIGKILL);
        assert!(
            wait_until(Duration::from_secs(5), || !alive(pid)),
            "{program} on {name} survived SIGKILL"
        );
        killed
    }

    /// Node failure as the tests want it: graceful restart off on podroute
    /// node `name` first (its config rewritten, SIGHUP: its sessions restart
    /// without the capability, so no peer keeps its routes as stale), then
    /// SIGKILL. The lab topologies run with graceful restart on, as clusters
    /// should.
    pub fn kill_without_graceful_restart(&self, name: &str) -> Instant {
        let config = self
            .state_dir
            .join(self.lab_name())
            .join(name)
            .join("podroute.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("[bgp]\n"), "{}: {text}", config.display());
        std::fs::write(
            &config,
            text.replacen("[bgp]\n", "[bgp]\ngraceful_restart = false\n", 1),
        )
        .unwrap();
        // Its sessions' uptimes, then the same sessions younger than that.
        let uptimes = || -> Option<Vec<u64>> {
            let v = self.show(name, "neighbors")?;
            v.iter()
                .map(|n| {
                    (n["state"] == "Established")
                        .then(|| n["uptime_s"].as_u64())
                        .flatten()
                })
                .collect()
        };
        assert!(
            wait_until(CONVERGE, || uptimes()
                .is_some_and(|u| u.iter().all(|s| *s >= 2))),
            "{name}'s sessions not up before the reload: {:?}",
            self.show(name, "neighbors")
        );
        let before = uptimes().unwrap_or_default().into_iter().min().unwrap_or(0);
        super::signal(self.pid(name, "podroute"), libc::SIGHUP);
        let restarted = wait_until(CONVERGE, || {
            uptimes().is_some_and(|u| !u.is_empty() && u.iter().all(|s| *s < before))
        });
        assert!(
            restarted,
            "{name}'s sessions did not restart without graceful restart: {:?}",
            self.show(name, "neighbors")
        );
        self.kill(name, "podroute")
    }

    /// The lab's name (the topology file's `name:`).
    fn lab_name(&self) -> String {
        self.status["lab"]
            .as_str()
            .or_else(|| self.status["name"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until no node in `nodes` has a `proto` route for any of
    /// `prefixes` any more, all by `deadline`.
    pub fn wait_withdrawn(
        &self,
        nodes: &[&str],
        prefixes: &[&str],
        proto: &str,
        deadline: Instant,
    ) {
        for node in nodes {
            let ns = self.ns(node);
            for prefix in prefixes {
                let mut last = String::new();
                let left = deadline.saturating_duration_since(Instant::now());
                let fam = if prefix.contains(':') { "-6" } else { "-4" };
                let gone = wait_until(left, || {
                    try_run(&[
                        "ip", "-n", &ns, fam, "route", "show", prefix, "proto", proto,
                    ])
                    .is_some_and(|r| {
                        last = r;
                        last.trim().is_empty()
                    })
                });
                assert!(
                    gone,
                    "{node} still routes {prefix} (proto {proto}) at the deadline: {last}"
                );
            }
        }
    }

    /// Every pod pings every pod on another node, in every family it has;
    /// the receiver's nftables counter for the sender's own pod address
    /// must count the echo requests (no NAT on the way).
    pub fn check_pod_mesh(&self) {
        self.check_pod_mesh_families(false);
        self.check_pod_mesh_families(true);
    }

    /// [`Lab::check_pod_mesh`] for one family (IPv6 if `v6`).
    pub fn check_pod_mesh_families(&self, v6: bool) {
        let pods: Vec<(String, String, Vec<String>)> = self
            .pods()
            .into_iter()
            .map(|(p, n, a)| {
                (
                    p,
                    n,
                    a.into_iter().filter(|a| a.contains(':') == v6).collect(),
                )
            })
            .collect();
        let table = if v6 { "plabtest6" } else { "plabtest4" };
        for (tx, tx_node, tx_addrs) in &pods {
            for (rx, rx_node, rx_addrs) in &pods {
                if tx_node == rx_node {
                    continue;
                }
                for (src, dst) in tx_addrs.iter().zip(rx_addrs) {
                    self.check_seen(tx, rx, table, src, dst);
                }
            }
        }
    }

    /// Every pod pings `dst` on node `rx` (an "outside" host), which must
    /// see the echo requests coming from `source(pod node, pod address)`:
    /// the pod's own address where its CIDR is routed, the node's where the
    /// pod is masqueraded.
    pub fn check_outside(&self, rx: &str, dst: &str, source: impl Fn(&str, &str) -> String) {
        for (tx, tx_node, addrs) in self.pods() {
            let Some(addr) = addrs.iter().find(|a| a.contains(':') == dst.contains(':')) else {
                continue;
            };
            let src = source(&tx_node, addr);
            self.check_seen(&tx, rx, "plabout", &src, dst);
        }
    }

    /// `tx` pings `dst` in `rx`, whose nftables input counter must see the
    /// echo requests with source address `src`.
    fn check_seen(&self, tx: &str, rx: &str, table: &str, src: &str, dst: &str) {
        let (fam, icmp) = if dst.contains(':') {
            ("ip6", "icmpv6")
        } else {
            ("ip", "icmp")
        };
        let ok = self
            .exec(rx, &["nft", "add", "table", "inet", table])
            .is_some()
            && self
                .exec(
                    rx,
                    &[
                        "nft", "add", "chain", "inet", table, "in", "{", "type", "filter", "hook",
                        "input", "priority", "0", ";", "}",
                    ],
                )
                .is_some()
            && self
                .exec(
                    rx,
                    &[
                        "nft",
                        "add",
                        "rule",
                        "inet",
                        table,
                        "in",
                        fam,
                        "saddr",
                        src,
                        icmp,
                        "type",
                        "echo-request",
                        "counter",
                    ],
                )
                .is_some();
        assert!(ok, "nft setup in {rx}");
        let ok = wait_until(Duration::from_secs(20), || {
            self.exec(tx, &["ping", "-c", "1", "-W", "1", dst])
                .is_some()
        });
        assert!(ok, "{tx} cannot reach {rx} ({dst})");
        let chain = self
            .exec(rx, &["nft", "list", "chain", "inet", table, "in"])
            .unwrap_or_default();
        let packets = chain
            .lines()
            .find(|l| l.contains(&format!("saddr {src} ")))
            .and_then(|l| l.split("packets ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        assert!(
            packets >= 1,
            "{rx} did not see echo requests from {src} (from {tx}):\n{chain}"
        );
    }

    /// `podroute lab down`, then asserts nothing of the lab is left.
    pub fn down(&mut self) {
        self.down = true;
        let out = self.lab(&["down"], &[]);
        assert!(
            out.status.success(),
            "lab down: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let prefix = self.status["prefix"].as_str().unwrap().to_string();
        let left: Vec<String> = super::run(&["ip", "netns", "list"])
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(String::from)
            .collect();
        assert!(left.is_empty(), "namespaces left: {left:?}");
        for p in self.status["processes"].as_array().unwrap() {
            let pid = p["pid"].as_u64().unwrap() as u32;
            assert!(
                !alive(pid) || !in_lab(pid, &prefix),
                "process {p} still running"
            );
        }
        assert!(
            !self
                .state_dir
                .join(self.status["lab"].as_str().unwrap())
                .exists(),
            "state left"
        );
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Whether `pid` is still inside some namespace of the lab.
fn in_lab(pid: u32, prefix: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(ino) = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino()) else {
        return false;
    };
    std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .any(|e| e.metadata().is_ok_and(|m| m.ino() == ino))
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.down {
            return;
        }
        if std::thread::panicking() {
            let out = self.lab(&["status"], &[]);
            eprintln!(
                "===== lab status =====\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            for n in self.status["nodes"].as_array().into_iter().flatten() {
                for log in n["log"].as_array().into_iter().flatten() {
                    super::dump_log(
                        &format!("{} log", n["name"]),
                        std::path::Path::new(log.as_str().unwrap_or_default()),
                    );
                }
            }
        }
        let _ = self.lab(&["down"], &[]);
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}
