//! `podroute lab` on bad input and failures: refused exec lines and kinds, rollback of a failed `up`, `down` after `up` was SIGKILLed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::agent::PODROUTE;
use common::{alive, prerequisites, run, wait_until};

/// A scratch directory for one test's topology and state.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = PathBuf::from(format!("/tmp/prt-lab-err/{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    fn file(&self, yaml: &str) -> PathBuf {
        let f = self.0.join("t.clab.yml");
        std::fs::write(&f, yaml).unwrap();
        f
    }
    fn state(&self) -> PathBuf {
        self.0.join("state")
    }
    fn lab(&self, action: &str, file: &Path) -> Output {
        Command::new(PODROUTE)
            .args(["lab", action])
            .arg(file)
            .arg("--state-dir")
            .arg(self.state())
            .output()
            .unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Whatever a failing test left: `down` removes only what the
        // record names.
        let f = self.0.join("t.clab.yml");
        if f.exists() {
            let _ = self.lab("down", &f);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    run(&["ip", "netns", "list"])
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_files_fail_cleanly_before_creating_anything() {
    if !prerequisites(&[]) {
        return;
    }
    let s = Scratch::new("bad");
    let lab = format!("err{}a", std::process::id());
    for (yaml, want) in [
        (
            format!(
                "name: {lab}\ntopology:\n  nodes:\n    a:\n      kind: linux\n      exec: [\"rm -rf /tmp/x\"]\n"
            ),
            "refused",
        ),
        (
            format!(
                "name: {lab}\ntopology:\n  nodes:\n    a:\n      kind: linux\n      exec: [\"ip link set eth1 netns 1\"]\n"
            ),
            "refused",
        ),
        (
            format!("name: {lab}\ntopology:\n  nodes:\n    a: {{kind: nokia_srlinux}}\n"),
            "not supported",
        ),
        (
            format!(
                "name: {lab}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n"
            ),
            "names no node",
        ),
        (
            format!(
                "name: {lab}\ntopology:\n  nodes:\n    a: {{kind: linux, image: ghcr.io/podroute/podroute:latest}}\n"
            ),
            "no bind",
        ),
        (
            format!("name: {lab}\ntopology: [\n"),
            "not a containerlab topology",
        ),
    ] {
        let f = s.file(&yaml);
        let out = s.lab("up", &f);
        assert!(!out.status.success(), "{yaml}");
        assert!(stderr(&out).contains(want), "{yaml}: {}", stderr(&out));
        assert!(namespaces_with(&format!("plab-{lab}-")).is_empty());
        assert!(!s.state().join(&lab).exists());
    }
}

#[test]
fn failed_up_removes_what_it_created() {
    if !prerequisites(&[]) {
        return;
    }
    let s = Scratch::new("rollback");
    let lab = format!("err{}b", std::process::id());
    // b's second exec line fails (no eth7) after namespaces and the link exist.
    let f = s.file(&format!(
        "name: {lab}\ntopology:\n  nodes:\n    a:\n      kind: linux\n      exec: [\"ip addr add 192.0.2.1/24 dev eth1\"]\n    b:\n      kind: linux\n      exec:\n        - ip addr add 192.0.2.2/24 dev eth1\n        - ip addr add 192.0.2.3/24 dev eth7\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n"
    ));
    let out = s.lab("up", &f);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("eth7"), "{}", stderr(&out));
    assert!(namespaces_with(&format!("plab-{lab}-")).is_empty());
    assert!(!s.state().join(&lab).exists());
}

#[test]
fn down_after_up_was_killed_removes_everything() {
    if !prerequisites(&[]) {
        return;
    }
    let s = Scratch::new("crash");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies");
    // mesh3 under another name (so its namespaces are this test's own),
    // with its binds pointing at the real node configs.
    let yaml = std::fs::read_to_string(root.join("mesh3.clab.yml"))
        .unwrap()
        .replace("name: mesh3", &format!("name: err{}c", std::process::id()))
        .replace("- mesh3/", &format!("- {}/mesh3/", root.display()));
    let f = s.file(&yaml);
    let mut up = Command::new(PODROUTE)
        .args(["lab", "up"])
        .arg(&f)
        .arg("--state-dir")
        .arg(s.state())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let record = s
        .state()
        .join(format!("err{}c/state.json", std::process::id()));
    let read = || -> serde_json::Value {
        std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    // Kill `up` in the middle: once it recorded a pod namespace.
    let midway = wait_until(Duration::from_secs(60), || {
        read()["namespaces"]
            .as_array()
            .is_some_and(|n| n.len() >= 5)
    });
    up.kill().unwrap();
    up.wait().unwrap();
    assert!(midway, "up never got half way");
    let state = read();
    let prefix = state["prefix"].as_str().unwrap().to_string();
    assert!(!namespaces_with(&prefix).is_empty());
    let out = s.lab("down", &f);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        namespaces_with(&prefix).is_empty(),
        "{:?}",
        namespaces_with(&prefix)
    );
    // The daemons recorded before the kill (if any got that far) are gone.
    let state_after = read();
    assert!(state_after.is_null(), "state left: {state_after}");
    for p in state["processes"].as_array().into_iter().flatten() {
        let pid = p["pid"].as_u64().unwrap() as u32;
        let ok = wait_until(Duration::from_secs(10), || {
            !alive(pid)
                || std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|e| !e.to_string_lossy().contains("podroute"))
        });
        assert!(ok, "{p} still running");
    }
    // A second down has nothing to do.
    let again = s.lab("down", &f);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("not up"));
}
