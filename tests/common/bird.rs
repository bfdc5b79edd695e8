//! A BIRD 2 daemon in a test namespace, run in the foreground and queried with `birdc`.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Ns, dump_log, try_run, wait_until};

/// A running BIRD: SIGTERM on drop; prints its log if the test failed.
pub struct Bird {
    pub ns: String,
    pub socket: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Bird {
    /// Starts `bird -f` in `ns` with `config` (a complete bird.conf; use
    /// [`bird_conf`] for the common parts) and waits for its socket.
    pub fn start(ns: &Ns, config: &str) -> Bird {
        let conf = ns.path("bird.conf");
        let socket = ns.path("bird.ctl");
        let log = ns.path("bird.log");
        std::fs::write(&conf, config).unwrap();
        let out = File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "bird", "-f", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(ns.path("bird.pid"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        ns.adopt(child.id());
        let mut bird = Bird {
            ns: ns.name.clone(),
            socket,
            log,
            child: Some(child),
        };
        let up = wait_until(super::DEADLINE, || bird.birdc("show status").is_some());
        if !up {
            let exited = bird
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            dump_log("bird", &bird.log);
            panic!("BIRD did not come up (exit: {exited:?})");
        }
        bird
    }

    /// `birdc -s SOCK ARGS...`, or `None` if birdc failed.
    pub fn birdc(&self, cmd: &str) -> Option<String> {
        let socket = self.socket.to_string_lossy().into_owned();
        let mut v = vec!["birdc", "-s", &socket];
        v.extend(cmd.split_whitespace());
        try_run(&v)
    }

    /// Whether BGP protocol `name` is Established.
    pub fn established(&self, name: &str) -> bool {
        self.birdc(&format!("show protocols all {name}"))
            .is_some_and(|s| s.contains("BGP state:          Established"))
    }

    /// `show route PREFIX all`, or empty text.
    pub fn route(&self, prefix: &str) -> String {
        self.birdc(&format!("show route {prefix} all"))
            .unwrap_or_default()
    }

    /// SIGKILL: the peer dies without a NOTIFICATION.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- birdc show protocols all in {}:\n{}",
                self.ns,
                self.birdc("show protocols all").unwrap_or_default()
            );
            eprintln!(
                "--- birdc show route all:\n{}",
                self.birdc("show route all").unwrap_or_default()
            );
            dump_log(&format!("bird in {}", self.ns), &self.log);
        }
        if let Some(mut c) = self.child.take() {
            super::signal(c.id(), libc::SIGTERM);
            let exited = wait_until(Duration::from_secs(10), || {
                c.try_wait().ok().flatten().is_some()
            });
            if !exited {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// A bird.conf: router id, device/direct/kernel protocols (so learned
/// routes reach the namespace FIB), a static protocol originating
/// `statics` as blackholes, and `protocols` appended verbatim.
pub fn bird_conf(router_id: &str, statics: &[&str], protocols: &str) -> String {
    let (v4, v6): (Vec<&str>, Vec<&str>) = statics.iter().partition(|s| !s.contains(':'));
    let routes = |v: &[&str]| {
        v.iter()
            .map(|p| format!("  route {p} blackhole;\n"))
            .collect::<String>()
    };
    format!(
        r#"log stderr all;
router id {router_id};
protocol device {{ scan time 2; }}
protocol kernel k4 {{ scan time 2; ipv4 {{ export filter {{ if source = RTS_BGP then accept; reject; }}; }}; }}
protocol kernel k6 {{ scan time 2; ipv6 {{ export filter {{ if source = RTS_BGP then accept; reject; }}; }}; }}
protocol static s4 {{
  ipv4;
{r4}}}
protocol static s6 {{
  ipv6;
{r6}}}
{protocols}
"#,
        r4 = routes(&v4),
        r6 = routes(&v6),
    )
}

/// A BGP protocol block with short test timers. `channels` is e.g.
/// `ipv4 { import all; export all; };`.
pub fn bird_bgp(
    name: &str,
    local: &str,
    local_as: u32,
    neighbor: &str,
    peer_as: u32,
    channels: &str,
) -> String {
    format!(
        r#"protocol bgp {name} {{
  local {local} as {local_as};
  neighbor {neighbor} as {peer_as};
  direct;
  hold time 9; keepalive time 3;
  connect delay time 1; connect retry time 2; error wait time 1, 5;
  {channels}
}}
"#
    )
}
