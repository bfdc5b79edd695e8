//! Runs `ip` and the daemons: every command either creates a lab namespace or runs inside one.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::LabError;

/// Runs a command, its output in the error if it fails; returns stdout.
pub fn cmd(args: &[&str]) -> Result<String, LabError> {
    let Some((prog, rest)) = args.split_first() else {
        return Err(LabError::Command {
            cmd: String::new(),
            output: "empty command".into(),
        });
    };
    let out = Command::new(prog)
        .args(rest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::io(args.join(" "), e))?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd: args.join(" "),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip -n NS ARGS...`.
pub fn ip_n(ns: &str, args: &[&str]) -> Result<String, LabError> {
    let mut v = vec!["ip", "-n", ns];
    v.extend_from_slice(args);
    cmd(&v)
}

/// `ip netns exec NS ARGS...`.
pub fn in_ns(ns: &str, args: &[&str]) -> Result<String, LabError> {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    cmd(&v)
}

/// Creates namespace `ns` with `lo` up, forwarding on and IPv6 DAD off
/// (addresses usable at once, as in a container that just started).
pub fn create_ns(ns: &str) -> Result<(), LabError> {
    cmd(&["ip", "netns", "add", ns])?;
    ip_n(ns, &["link", "set", "lo", "up"])?;
    for s in [
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
    ] {
        in_ns(ns, &["sysctl", "-qw", s])?;
    }
    Ok(())
}

/// Whether namespace `ns` exists.
pub fn ns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Starts `args` in `ns` in the background, stdout and stderr to `log`,
/// in its own process group so it outlives `podroute lab up`. `ip netns
/// exec` execs the program, so the returned PID is the daemon's own.
pub fn spawn_in(
    ns: &str,
    args: &[&str],
    log: &Path,
    env: &[(&str, &str)],
) -> Result<u32, LabError> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LabError::io(log.display().to_string(), e))?;
    let err = out
        .try_clone()
        .map_err(|e| LabError::io(log.display().to_string(), e))?;
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::io(format!("start {}", args.join(" ")), e))?;
    Ok(child.id())
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

/// Whether `pid` runs inside namespace `ns`: a recorded PID that exited may
/// since belong to an unrelated process, which must never be signalled.
pub fn in_namespace(pid: u32, ns: &str) -> bool {
    let ns_ino = std::fs::metadata(Path::new("/run/netns").join(ns)).map(|m| m.ino());
    let pid_ino = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
    matches!((ns_ino, pid_ino), (Ok(a), Ok(b)) if a == b)
}

fn signal(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill has no memory preconditions; the caller checked that
    // pid is a lab daemon inside a lab namespace.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// SIGTERM, SIGKILL after `grace`; only if `pid` is still in `ns`.
pub fn stop(pid: u32, ns: &str, grace: Duration) {
    if !alive(pid) || !in_namespace(pid, ns) {
        return;
    }
    signal(pid, libc::SIGTERM);
    if !wait_until(grace, || !alive(pid)) && in_namespace(pid, ns) {
        signal(pid, libc::SIGKILL);
        wait_until(Duration::from_secs(5), || !alive(pid));
    }
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
