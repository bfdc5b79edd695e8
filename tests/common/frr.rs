//! FRR (zebra + bgpd) in a test namespace with its own files, queried with `vtysh`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{Ns, dump_log, run, stop_pid, try_run, wait_until};

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BGPD: &str = "/usr/lib/frr/bgpd";

/// The programs FRR tests need.
pub const FRR_PROGRAMS: &[&str] = &[ZEBRA, BGPD, "vtysh"];

/// Running zebra and bgpd: SIGTERM on drop (bgpd first), their
/// `/var/tmp/frr/<daemon>.<pid>` removed; logs printed if the test failed.
pub struct Frr {
    pub ns: String,
    pub dir: PathBuf,
    pids: Vec<(&'static str, u32)>,
}

impl Frr {
    /// Starts zebra and bgpd in `ns` with `bgpd_conf`.
    pub fn start(ns: &Ns, bgpd_conf: &str) -> Frr {
        let dir = ns.path("frr");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("zebra.conf"), "hostname zebra\n").unwrap();
        std::fs::write(dir.join("bgpd.conf"), bgpd_conf).unwrap();
        // The daemons drop to user frr; they must write their pid files,
        // sockets and logs here.
        run(&["chown", "-R", "frr:frr", &dir.to_string_lossy()]);
        let mut frr = Frr {
            ns: ns.name.clone(),
            dir: dir.clone(),
            pids: Vec::new(),
        };
        for (daemon, bin) in [("zebra", ZEBRA), ("bgpd", BGPD)] {
            frr.spawn(ns, daemon, bin);
        }
        let ok = wait_until(super::DEADLINE, || frr.vtysh("show bgp summary").is_some());
        assert!(ok, "bgpd does not answer vtysh");
        frr
    }

    /// Starts one daemon with the files in `dir` and registers its PID.
    fn spawn(&mut self, ns: &Ns, daemon: &'static str, bin: &str) {
        let dir = self.dir.clone();
        let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let pidfile = dir.join(format!("{daemon}.pid"));
        let _ = std::fs::remove_file(&pidfile);
        let status = Command::new("ip")
            .args(["netns", "exec", &ns.name, bin, "-d", "-f"])
            .arg(d(&format!("{daemon}.conf")))
            .arg("-i")
            .arg(d(&format!("{daemon}.pid")))
            .arg("-z")
            .arg(d("zserv.api"))
            .arg("--vty_socket")
            .arg(d(""))
            .args(["-P", "0", "--log"])
            .arg(format!("file:{}", d(&format!("{daemon}.log"))))
            .status()
            .unwrap();
        assert!(status.success(), "{daemon} failed to start");
        let mut pid = 0;
        let ok = wait_until(super::DEADLINE, || {
            pid = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            pid != 0 && super::alive(pid)
        });
        assert!(ok, "{daemon} wrote no pid file");
        ns.adopt(pid);
        self.pids.push((daemon, pid));
    }

    /// SIGKILLs bgpd (zebra stays) and starts it again with `bgpd_conf`:
    /// an FRR restart as graceful restart sees it.
    pub fn restart_bgpd(&mut self, ns: &Ns, bgpd_conf: &str) {
        if let Some(i) = self.pids.iter().position(|(d, _)| *d == "bgpd") {
            let (_, pid) = self.pids.remove(i);
            super::signal(pid, libc::SIGKILL);
            wait_until(super::DEADLINE, || !super::alive(pid));
            let _ = std::fs::remove_dir_all(format!("/var/tmp/frr/bgpd.{pid}"));
        }
        std::fs::write(self.dir.join("bgpd.conf"), bgpd_conf).unwrap();
        run(&["chown", "-R", "frr:frr", &self.dir.to_string_lossy()]);
        self.spawn(ns, "bgpd", BGPD);
        let ok = wait_until(super::DEADLINE, || self.vtysh("show bgp summary").is_some());
        assert!(ok, "restarted bgpd does not answer vtysh");
    }

    /// Runs configuration lines (`configure terminal` first), e.g. to stop
    /// originating a network; returns whether vtysh succeeded.
    pub fn configure(&self, lines: &[&str]) -> bool {
        let mut cmds = vec!["configure terminal"];
        cmds.extend_from_slice(lines);
        self.vtysh_all(&cmds).is_some()
    }

    /// `vtysh -c CMD`, or `None` if it failed.
    pub fn vtysh(&self, cmd: &str) -> Option<String> {
        self.vtysh_all(&[cmd])
    }

    /// `vtysh -c CMD1 -c CMD2 ...` in one session.
    fn vtysh_all(&self, cmds: &[&str]) -> Option<String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut args = vec![
            "ip",
            "netns",
            "exec",
            &self.ns,
            "vtysh",
            "--vty_socket",
            &dir,
        ];
        for c in cmds {
            args.push("-c");
            args.push(c);
        }
        try_run(&args)
    }

    /// `vtysh -c CMD` parsed as JSON (`Null` on failure).
    pub fn json(&self, cmd: &str) -> serde_json::Value {
        self.vtysh(cmd)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The BGP state of `neighbor` (`show bgp neighbors X json`).
    pub fn state(&self, neighbor: &str) -> String {
        let v = self.json(&format!("show bgp neighbors {neighbor} json"));
        v[neighbor]["bgpState"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits for the session with `neighbor` to be Established.
    pub fn wait_established(&self, neighbor: &str) {
        let ok = wait_until(super::DEADLINE, || self.state(neighbor) == "Established");
        assert!(
            ok,
            "FRR session with {neighbor} not Established:\n{}",
            self.vtysh("show bgp summary").unwrap_or_default()
        );
    }

    /// `show bgp <afi> unicast PREFIX json`: the paths FRR holds.
    pub fn paths(&self, prefix: &str) -> Vec<serde_json::Value> {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let v = self.json(&format!("show bgp {afi} unicast {prefix} json"));
        v["paths"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking {
            eprintln!(
                "--- FRR in {}:\n{}\n{}",
                self.ns,
                self.vtysh("show bgp summary").unwrap_or_default(),
                self.vtysh("show bgp ipv4 unicast").unwrap_or_default()
            );
        }
        for (daemon, pid) in self.pids.iter().rev() {
            stop_pid(*pid, Duration::from_secs(10));
            let _ = std::fs::remove_dir_all(format!("/var/tmp/frr/{daemon}.{pid}"));
            if panicking {
                dump_log(
                    &format!("{daemon} in {}", self.ns),
                    &self.dir.join(format!("{daemon}.log")),
                );
            }
        }
    }
}

/// A bgpd.conf with test timers. `neighbors` are `(address, remote_as,
/// extra af-lines)`; `networks` are originated (v4 and v6 sorted into
/// their address families). Every neighbour is activated in the family of
/// its address.
pub fn bgpd_conf(
    asn: u32,
    router_id: &str,
    neighbors: &[(&str, u32, &str)],
    networks: &[&str],
) -> String {
    let mut s = format!(
        "frr defaults traditional\nhostname bgpd\nrouter bgp {asn}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n no bgp network import-check\n no bgp default ipv4-unicast\n"
    );
    for (addr, ras, _) in neighbors {
        s += &format!(
            " neighbor {addr} remote-as {ras}\n neighbor {addr} timers 3 9\n neighbor {addr} timers connect 2\n neighbor {addr} advertisement-interval 0\n"
        );
    }
    for (afi, v6) in [("ipv4", false), ("ipv6", true)] {
        s += &format!(" address-family {afi} unicast\n");
        for n in networks.iter().filter(|n| n.contains(':') == v6) {
            s += &format!("  network {n}\n");
        }
        for (addr, _, extra) in neighbors.iter().filter(|n| n.0.contains(':') == v6) {
            s += &format!("  neighbor {addr} activate\n");
            for line in extra.lines().filter(|l| !l.trim().is_empty()) {
                s += &format!("  neighbor {addr} {}\n", line.trim());
            }
        }
        s += " exit-address-family\n";
    }
    s
}
