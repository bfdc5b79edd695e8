//! Shared helpers for the CNI integration tests: run plugin binaries, private dirs and namespaces.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this process and call: prefix + pid + counter.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub const IPAM: &str = env!("CARGO_BIN_EXE_podroute-ipam");
pub const REF_DIR: &str = "/usr/lib/cni";

/// CNI_PATH holding our binaries first, then the reference plugins.
pub fn cni_path() -> String {
    let ours = Path::new(IPAM).parent().unwrap().display().to_string();
    format!("{ours}:{REF_DIR}")
}

/// Whether namespace tests can run; under CI=true a missing prerequisite fails.
pub fn can_run_netns() -> bool {
    let root = unsafe_geteuid() == 0;
    let refs = Path::new(REF_DIR).join("bridge").exists();
    let tools = Command::new("ip").arg("-V").output().is_ok()
        && Command::new("nft").arg("-v").output().is_ok();
    let ok = root && refs && tools;
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but prerequisites missing (root={root}, {REF_DIR}={refs}, ip/nft={tools})"
            );
        }
        eprintln!("skipping: needs root, ip, nft and {REF_DIR}");
    }
    ok
}

fn unsafe_geteuid() -> u32 {
    // /proc/self/status avoids needing libc in tests.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u.parse().unwrap_or(1)))
        })
        .unwrap_or(1)
}

/// A private temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(unique("podroute-cni-test-"));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A network namespace deleted (after killing what runs in it) on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new(prefix: &str) -> Netns {
        let name = unique(prefix);
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
    /// Runs a command inside the namespace; returns its output.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .output()
            .unwrap()
    }
    /// Runs a command inside the namespace and asserts success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "{:?} in {} failed: {}{}",
            args,
            self.0,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// `ping` that retries until a deadline (neighbour resolution, DAD).
    pub fn ping(&self, dst: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.exec(&["ping", "-c", "1", "-W", "1", dst]);
            if out.status.success() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs a command and asserts success.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One plugin invocation.
pub struct Invocation<'a> {
    pub bin: &'a str,
    pub host_ns: Option<&'a str>,
    pub command: &'a str,
    pub container_id: &'a str,
    pub netns: &'a str,
    pub ifname: &'a str,
    pub path: String,
}

/// The outcome: exit success and stdout parsed as JSON (Null when empty).
#[derive(Debug)]
pub struct Outcome {
    pub success: bool,
    pub json: Value,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> u64 {
        self.json["code"].as_u64().unwrap_or(0)
    }
    pub fn assert_ok(&self) -> &Value {
        assert!(self.success, "plugin failed: {} {}", self.json, self.stderr);
        &self.json
    }
    /// Asserts a spec error object with the given code.
    pub fn assert_err(&self, code: u64) {
        assert!(!self.success, "expected failure, got {}", self.json);
        assert_eq!(self.code(), code, "error {} {}", self.json, self.stderr);
        assert!(self.json["msg"].is_string(), "no msg: {}", self.json);
        assert!(
            self.json["cniVersion"].is_string(),
            "no cniVersion: {}",
            self.json
        );
    }
}

pub fn spawn(inv: &Invocation, stdin: &str, envs: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = match inv.host_ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, inv.bin]);
            c
        }
        None => Command::new(inv.bin),
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CNI_COMMAND", inv.command)
        .env("CNI_CONTAINERID", inv.container_id)
        .env("CNI_NETNS", inv.netns)
        .env("CNI_IFNAME", inv.ifname)
        .env("CNI_PATH", &inv.path);
    for (k, v) in envs {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child
}

pub fn finish(child: std::process::Child) -> Outcome {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let json = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text:?}"))
    };
    Outcome {
        success: out.status.success(),
        json,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run(inv: &Invocation, stdin: &str) -> Outcome {
    finish(spawn(inv, stdin, &[]))
}

pub fn run_env(inv: &Invocation, stdin: &str, envs: &[(&str, &str)]) -> Outcome {
    finish(spawn(inv, stdin, envs))
}

pub const BRIDGE: &str = env!("CARGO_BIN_EXE_podroute-bridge");

/// A node: a "host" namespace where plugins run, a private dataDir/stateDir.
pub struct Node {
    pub host: Netns,
    pub dir: TempDir,
}

impl Node {
    pub fn new() -> Node {
        Node {
            host: Netns::new("prh"),
            dir: TempDir::new(),
        }
    }

    pub fn inv<'a>(
        &'a self,
        bin: &'a str,
        command: &'a str,
        id: &'a str,
        pod: &'a str,
    ) -> Invocation<'a> {
        Invocation {
            bin,
            host_ns: Some(&self.host.0),
            command,
            container_id: id,
            netns: pod,
            ifname: "eth0",
            path: cni_path(),
        }
    }

    /// Host-side veths our plugin created (`pr` + hash) in the host namespace.
    pub fn pod_veths(&self) -> Vec<String> {
        self.host
            .ok(&["ip", "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or("").to_string())
            .filter(|n| n.starts_with("pr") || n.starts_with("veth"))
            .collect()
    }

    /// podroute's nftables table in the host namespace ("" when absent).
    pub fn ruleset(&self) -> String {
        let out = self
            .host
            .exec(&["nft", "list", "table", "inet", "podroute"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The address (without prefix) of ips[i] in a result.
pub fn ip_of(result: &Value, i: usize) -> String {
    result["ips"][i]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// Joins two namespaces by a veth pair with the given addresses.
pub fn wire(a: &Netns, a_addr: &str, b: &Netns, b_addr: &str) {
    let an = unique("wa");
    let bn = unique("wb");
    let an = &an[an.len().saturating_sub(12)..];
    let bn = &bn[bn.len().saturating_sub(12)..];
    let an = format!("a{an}");
    let bn = format!("b{bn}");
    sh(&[
        "ip", "-n", &a.0, "link", "add", &an, "type", "veth", "peer", "name", &bn, "netns", &b.0,
    ]);
    sh(&["ip", "-n", &a.0, "addr", "add", a_addr, "dev", &an]);
    sh(&["ip", "-n", &b.0, "addr", "add", b_addr, "dev", &bn]);
    sh(&["ip", "-n", &a.0, "link", "set", &an, "up"]);
    sh(&["ip", "-n", &b.0, "link", "set", &bn, "up"]);
}
