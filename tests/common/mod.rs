//! Harness for agent tests: private network namespaces, veth links, and guards for podroute, BIRD and FRR processes run inside them.
//!
//! Every resource a test creates is private to it (unique namespace names
//! `pr<pid>-<counter>-<role>`, files under a per-namespace directory), so
//! the tests of one binary run in parallel. Guards stop only the processes
//! they started, by PID, and print the daemons' logs when a test fails.

#![allow(dead_code)]

pub mod agent;
pub mod apiserver;
pub mod bird;
pub mod frr;
pub mod k8s_objects;
pub mod lab;
pub mod ping;
pub mod raw_bgp;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use agent::Agent;
#[allow(unused_imports)]
pub use bird::Bird;
#[allow(unused_imports)]
pub use frr::Frr;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Generous: the tests must pass on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Whether the tests can run: root, iproute2 and the named programs.
/// Without them the test skips with a message, except under CI=true,
/// where a missing prerequisite is a failure.
pub fn prerequisites(programs: &[&str]) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut missing: Vec<String> = Vec::new();
    if !root {
        missing.push("root".into());
    }
    for p in std::iter::once(&"ip").chain(programs) {
        if !program_exists(p) {
            missing.push((*p).to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    assert!(!ci, "CI=true but missing prerequisites: {missing:?}");
    eprintln!("skipping: missing {missing:?}");
    false
}

fn program_exists(p: &str) -> bool {
    if p.starts_with('/') {
        return Path::new(p).exists();
    }
    std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(p).exists())
        })
        .unwrap_or(false)
}

/// Polls `cond` every 100 ms until it holds or `timeout` passes; returns
/// whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a command; panics with its output if it fails; returns stdout.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command and returns stdout, or `None` if it failed.
pub fn try_run(args: &[&str]) -> Option<String> {
    let out = Command::new(args[0]).args(&args[1..]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `pid` is a live (not zombie) process. The container's init may
/// not reap daemonized processes, so a zombie counts as gone.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions; pid is one we started.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// SIGTERM, then SIGKILL if `pid` is still alive after `grace`.
pub fn stop_pid(pid: u32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    signal(pid, libc::SIGTERM);
    if !wait_until(grace, || !alive(pid)) {
        signal(pid, libc::SIGKILL);
        wait_until(Duration::from_secs(5), || !alive(pid));
    }
}

/// A network namespace with its own file directory, deleted on drop after
/// killing the processes registered with it.
pub struct Ns {
    pub name: String,
    /// Files of this namespace's daemons (configs, sockets, logs).
    pub dir: PathBuf,
    pids: Mutex<Vec<u32>>,
}

impl Ns {
    /// A fresh namespace `pr<pid>-<counter>-<role>` with `lo` up, IPv6 DAD
    /// off (addresses usable at once) and forwarding on (any namespace may
    /// route).
    pub fn new(role: &str) -> Ns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("pr{}-{n}-{role}", std::process::id());
        let dir = PathBuf::from(format!("/tmp/prt/{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        run(&["ip", "netns", "add", &name]);
        let ns = Ns {
            name,
            dir,
            pids: Mutex::new(Vec::new()),
        };
        for s in [
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ] {
            ns.exec(&["sysctl", "-qw", s]);
        }
        ns.ip("link set lo up");
        ns
    }

    /// Registers a process started in this namespace, killed on drop.
    pub fn adopt(&self, pid: u32) {
        self.pids.lock().unwrap().push(pid);
    }

    /// A path in this namespace's directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// `ip -n NS ARGS` (whitespace-split); panics on failure.
    pub fn ip(&self, args: &str) -> String {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend(args.split_whitespace());
        run(&v)
    }

    /// `ip netns exec NS ARGS`; panics on failure.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend(args);
        run(&v)
    }

    /// Adds an address (IPv6 with `nodad`).
    pub fn addr(&self, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&format!("-6 addr add {cidr} dev {dev} nodad"));
        } else {
            self.ip(&format!("addr add {cidr} dev {dev}"));
        }
    }

    /// Routes podroute installed (protocol 202) in the main table, both
    /// families, as `ip -j` objects.
    pub fn podroute_routes(&self) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        for fam in ["-4", "-6"] {
            let out = self.ip(&format!("{fam} -j route show proto 202"));
            if let Ok(serde_json::Value::Array(v)) = serde_json::from_str(&out) {
                all.extend(v);
            }
        }
        all
    }

    /// podroute's kernel route for `prefix`, if installed.
    pub fn podroute_route(&self, prefix: &str) -> Option<serde_json::Value> {
        self.podroute_routes()
            .into_iter()
            .find(|r| route_dst(r) == prefix)
    }

    /// Any kernel route for exactly `prefix` in the main table.
    pub fn route(&self, prefix: &str) -> Option<serde_json::Value> {
        let fam = if prefix.contains(':') { "-6" } else { "-4" };
        let out = self.ip(&format!("{fam} -j route show {prefix} table main"));
        match serde_json::from_str(&out) {
            Ok(serde_json::Value::Array(v)) => v.into_iter().find(|r| route_dst(r) == prefix),
            _ => None,
        }
    }

    /// `ip route get DST` as an `ip -j` object.
    pub fn route_get(&self, dst: &str) -> Option<serde_json::Value> {
        let out = try_run(&["ip", "-n", &self.name, "-j", "route", "get", dst])?;
        match serde_json::from_str(&out) {
            Ok(serde_json::Value::Array(mut v)) if !v.is_empty() => Some(v.remove(0)),
            _ => None,
        }
    }
}

/// The `dst` of an `ip -j route` object, with the prefix length `ip` omits
/// for host routes restored.
pub fn route_dst(r: &serde_json::Value) -> String {
    r["dst"].as_str().unwrap_or_default().to_string()
}

/// The gateways of an `ip -j route` object (single or multipath).
pub fn gateways(r: &serde_json::Value) -> Vec<String> {
    if let Some(g) = r["gateway"].as_str() {
        return vec![g.to_string()];
    }
    r["nexthops"]
        .as_array()
        .map(|hops| {
            hops.iter()
                .filter_map(|h| h["gateway"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Only processes still inside this namespace: a registered PID
        // that already exited may have been reused by someone else's.
        let ns_inode = std::fs::metadata(format!("/run/netns/{}", self.name)).map(|m| m.ino());
        for pid in self.pids.lock().unwrap().drain(..) {
            let inode = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
            if matches!((&inode, &ns_inode), (Ok(a), Ok(b)) if a == b) {
                stop_pid(pid, Duration::from_secs(5));
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A veth pair from `a:a_dev` to `b:b_dev`, both up.
pub fn veth(a: &Ns, a_dev: &str, b: &Ns, b_dev: &str) {
    a.ip(&format!(
        "link add {a_dev} type veth peer name {b_dev} netns {}",
        b.name
    ));
    a.ip(&format!("link set {a_dev} up"));
    b.ip(&format!("link set {b_dev} up"));
}

/// Two namespaces (roles `a`, `b`) joined by `eth0` with 198.18.0.1/24 and
/// 198.18.0.2/24: podroute and one peer, the common test shape.
pub fn linked_pair(a: &str, b: &str) -> (Ns, Ns) {
    let na = Ns::new(a);
    let nb = Ns::new(b);
    veth(&na, "eth0", &nb, "eth0");
    na.addr("eth0", "198.18.0.1/24");
    nb.addr("eth0", "198.18.0.2/24");
    (na, nb)
}

/// A bridge `br0` in `hub` with one veth port per member; each member's
/// end is `dev`, up.
pub fn bridge(hub: &Ns, members: &[(&Ns, &str)]) {
    hub.ip("link add br0 type bridge");
    hub.ip("link set br0 up");
    for (i, (ns, dev)) in members.iter().enumerate() {
        let port = format!("p{i}");
        hub.ip(&format!(
            "link add {port} type veth peer name {dev} netns {}",
            ns.name
        ));
        hub.ip(&format!("link set {port} master br0"));
        hub.ip(&format!("link set {port} up"));
        ns.ip(&format!("link set {dev} up"));
    }
}

/// Prints a log file, for failing tests.
pub fn dump_log(what: &str, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    eprintln!(
        "===== {what} ({}) =====\n{text}===== end {what} =====",
        path.display()
    );
}
