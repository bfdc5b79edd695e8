//! Test support for the FIB tests: a throwaway network namespace with dummy links, and helpers to inspect it with `ip`.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether the kernel tests can run. Without root they skip, except under
/// CI=true, where a missing prerequisite is a failure.
pub fn prerequisites() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if root && ip {
        return true;
    }
    assert!(
        !ci,
        "CI=true but root={root}, iproute2={ip}: kernel FIB tests cannot run"
    );
    eprintln!("skipping: needs root and iproute2");
    false
}

/// A network namespace deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    /// A fresh namespace with `lo` up and two links: `d0` holding
    /// 198.18.0.1/24 and 2001:db8:ff::1/64, and `d1` holding 198.18.1.1/24
    /// and 2001:db8:fe::1/64. They are veth pairs whose peers (`d0p`,
    /// `d1p`) stay in the namespace, up and unaddressed: this machine's
    /// kernel has no dummy driver.
    pub fn new(tag: &str) -> NetNs {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("prfib-{tag}-{}-{n}", std::process::id());
        run(&["ip", "netns", "add", &name]);
        let ns = NetNs { name };
        ns.ip("link set lo up");
        for (dev, v4, v6) in [
            ("d0", "198.18.0.1/24", "2001:db8:ff::1/64"),
            ("d1", "198.18.1.1/24", "2001:db8:fe::1/64"),
        ] {
            ns.ip(&format!("link add {dev} type veth peer name {dev}p"));
            ns.ip(&format!("link set {dev}p up"));
            ns.ip(&format!("link set {dev} up"));
            ns.ip(&format!("addr add {v4} dev {dev}"));
            ns.ip(&format!("-6 addr add {v6} dev {dev} nodad"));
        }
        ns
    }

    /// Runs `ip -n NS ARGS`; panics on failure; returns stdout.
    pub fn ip(&self, args: &str) -> String {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend(args.split_whitespace());
        run(&v)
    }

    /// `ip -n NS [-6] route show PREFIX table main`, trimmed.
    pub fn route(&self, prefix: &str) -> String {
        let fam = if prefix.contains(':') { "-6" } else { "-4" };
        self.ip(&format!("{fam} route show {prefix} table main"))
            .trim()
            .to_string()
    }

    pub fn ifindex(&self, dev: &str) -> u32 {
        let out = self.ip(&format!("-o link show dev {dev}"));
        out.split(':')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap()
    }

    /// Runs `f` on a thread that has entered this namespace: whatever
    /// sockets it opens belong to the namespace, and stay there when the
    /// result moves back to the caller's thread.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).unwrap();
                // SAFETY: a valid namespace fd; setns changes only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `cond` until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
