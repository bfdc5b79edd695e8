//! A `podroute agent` process inside a test namespace, queried through `podroute show --json`.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Ns, dump_log, run, wait_until};

/// The binary under test.
pub const PODROUTE: &str = env!("CARGO_BIN_EXE_podroute");

/// A running agent: SIGTERM on drop, then waits for it to exit; prints its
/// log if the test failed.
pub struct Agent {
    pub ns: String,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
    /// Further `podroute agent` arguments (`--kubernetes`).
    args: Vec<String>,
    child: Option<Child>,
}

impl Agent {
    /// Writes `config_toml` (which must name `socket` as its control
    /// socket, see [`Agent::socket_path`]) and starts the agent in `ns`.
    pub fn start(ns: &Ns, name: &str, config_toml: &str) -> Agent {
        Self::start_with(ns, name, config_toml, &[])
    }

    /// [`Agent::start`] in Kubernetes mode: `config_toml` is a
    /// Kubernetes-mode file (`[kubernetes]` and defaults).
    pub fn start_kubernetes(ns: &Ns, name: &str, config_toml: &str) -> Agent {
        Self::start_with(ns, name, config_toml, &["--kubernetes"])
    }

    fn start_with(ns: &Ns, name: &str, config_toml: &str, args: &[&str]) -> Agent {
        let config = ns.path(&format!("{name}.toml"));
        std::fs::write(&config, config_toml).unwrap();
        let log = ns.path(&format!("{name}.log"));
        let mut agent = Agent {
            ns: ns.name.clone(),
            config,
            socket: Self::socket_path(ns, name),
            log,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        agent.spawn();
        ns.adopt(agent.pid());
        agent
    }

    /// The control socket path the config of agent `name` in `ns` must use.
    pub fn socket_path(ns: &Ns, name: &str) -> PathBuf {
        ns.path(&format!("{name}.sock"))
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, PODROUTE, "agent", "-c"])
            .arg(&self.config)
            .args(&self.args)
            .env("RUST_LOG", "podroute=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// The agent's PID (`ip netns exec` execs it, so it is the child).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Whether the agent process is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Rewrites the config file and sends SIGHUP.
    pub fn reload(&self, config_toml: &str) {
        std::fs::write(&self.config, config_toml).unwrap();
        super::signal(self.pid(), libc::SIGHUP);
    }

    /// SIGTERM and wait for the exit (10 s, then SIGKILL); returns whether
    /// it exited successfully on its own.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        super::signal(child.id(), libc::SIGTERM);
        let mut status = None;
        wait_until(Duration::from_secs(10), || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        match status {
            Some(s) => s.success(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                false
            }
        }
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `podroute show WHAT --json`, or `None` while the socket is not up.
    pub fn show(&self, what: &str) -> Option<Vec<serde_json::Value>> {
        show_json(&self.socket, what)
    }

    /// The neighbour entry for `address`.
    pub fn neighbor(&self, address: &str) -> Option<serde_json::Value> {
        self.show("neighbors")?
            .into_iter()
            .find(|n| n["address"].as_str() == Some(address))
    }

    /// The state of the session with `address`.
    pub fn state(&self, address: &str) -> String {
        self.neighbor(address)
            .and_then(|n| n["state"].as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Waits for the session with `address` to be Established; panics
    /// with the neighbour table otherwise.
    pub fn wait_established(&self, address: &str) {
        let ok = wait_until(super::DEADLINE, || self.state(address) == "Established");
        assert!(
            ok,
            "session with {address} not Established: {:?}",
            self.show("neighbors")
        );
    }

    /// The Loc-RIB entry for `prefix`.
    pub fn rib_route(&self, prefix: &str) -> Option<serde_json::Value> {
        self.show("routes")?
            .into_iter()
            .find(|r| r["prefix"].as_str() == Some(prefix))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking {
            let socket = self.socket.to_string_lossy().into_owned();
            for what in ["neighbors", "routes", "fib"] {
                let out = super::try_run(&[PODROUTE, "show", what, "--socket", &socket]);
                eprintln!("--- {} show {what}:\n{}", self.ns, out.unwrap_or_default());
            }
            let routes = run(&["ip", "-n", &self.ns, "route"]);
            eprintln!("--- ip -n {} route:\n{routes}", self.ns);
        }
        self.stop();
        if panicking {
            dump_log(&format!("podroute agent in {}", self.ns), &self.log);
        }
    }
}

/// `podroute show WHAT --json --socket SOCKET` (WHAT: neighbors, routes,
/// fib), or `None` while the socket is not up.
pub fn show_json(socket: &std::path::Path, what: &str) -> Option<Vec<serde_json::Value>> {
    let socket = socket.to_string_lossy().into_owned();
    let out = super::try_run(&[PODROUTE, "show", what, "--json", "--socket", &socket])?;
    match serde_json::from_str(&out).ok()? {
        serde_json::Value::Array(v) => Some(v),
        _ => None,
    }
}

/// A node config: iBGP/eBGP peers are given as TOML `[[bgp.peers]]`
/// blocks in `peers`.
pub fn node_config(
    ns: &Ns,
    name: &str,
    router_id: &str,
    asn: u32,
    pod_cidrs: &[&str],
    listen: &[&str],
    peers: &str,
) -> String {
    let quote = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"[node]
name = "{name}"
router_id = "{router_id}"
asn = {asn}
pod_cidrs = [{cidrs}]

[cluster]
pod_pools = ["10.244.0.0/16", "2001:db8:244::/48"]

[bgp]
listen = [{listen}]
hold_time = 9
connect_retry = 1

[control]
socket = "{socket}"

{peers}
"#,
        cidrs = quote(pod_cidrs),
        listen = quote(listen),
        socket = Agent::socket_path(ns, name).display(),
    )
}

/// `conf` (from [`node_config`]) with graceful restart off: a node whose
/// death its peers must act on at once.
pub fn without_graceful_restart(conf: &str) -> String {
    conf.replacen("[bgp]\n", "[bgp]\ngraceful_restart = false\n", 1)
}

/// One `[[bgp.peers]]` block; `extra` holds further `key = value` lines.
pub fn peer(address: &str, asn: u32, extra: &str) -> String {
    format!("[[bgp.peers]]\naddress = \"{address}\"\nasn = {asn}\n{extra}\n")
}
