//! A continuous 20 ms ping from a namespace, for "nothing lost" checks.

use std::process::{Child, Command, Stdio};

use super::{DEADLINE, wait_until};

/// A continuous `ping -i 0.02` from a pod namespace.
pub struct Pinger {
    child: Option<Child>,
    started: std::time::Instant,
}

/// The shortest window a "nothing lost" check judges: a restart on an idle
/// machine can be over in less than ten pings.
const MIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

impl Pinger {
    /// Starts pinging `dst` from `ns` once a first ping gets through.
    pub fn start(ns: &str, dst: &str) -> Pinger {
        let reachable = wait_until(DEADLINE, || {
            super::try_run(&["ip", "netns", "exec", ns, "ping", "-c1", "-W1", dst]).is_some()
        });
        assert!(reachable, "{dst} not reachable from {ns} before the test");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-q", "-i", "0.02", dst])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Pinger {
            child: Some(child),
            started: std::time::Instant::now(),
        }
    }

    /// SIGINT (ping prints its statistics) once it has run for at least
    /// [`MIN_WINDOW`]; returns (sent, received).
    pub fn stop(mut self) -> (u64, u64) {
        // Not a wait for a condition: the traffic window itself.
        if let Some(rest) = MIN_WINDOW.checked_sub(self.started.elapsed()) {
            std::thread::sleep(rest);
        }
        let child = self.child.take().unwrap();
        super::signal(child.id(), libc::SIGINT);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = text
            .lines()
            .find(|l| l.contains("transmitted"))
            .unwrap_or_default();
        let number_before = |word: &str| -> u64 {
            summary
                .split(',')
                .find(|part| part.contains(word))
                .and_then(|part| part.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no '{word}' in ping output: {text}"))
        };
        (number_before("transmitted"), number_before("received"))
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
