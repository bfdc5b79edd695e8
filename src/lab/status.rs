//! `podroute lab status` and `podroute lab exec`: what runs where, sessions and routes per node.

use std::path::Path;
use std::process::Command;

use super::LabError;
use super::run::{self, in_ns, ip_n};
use super::state::{State, StateFile};
use crate::control::{self, Query};

fn load(dir: &Path, lab: &str) -> Result<State, LabError> {
    StateFile::load(dir)?
        .map(|f| f.state)
        .ok_or_else(|| LabError::NotUp {
            lab: lab.to_string(),
            dir: dir.to_path_buf(),
        })
}

/// The record plus liveness, as JSON for scripts and tests.
pub fn status_json(dir: &Path, lab: &str) -> Result<serde_json::Value, LabError> {
    let s = load(dir, lab)?;
    let procs: Vec<serde_json::Value> = s
        .processes
        .iter()
        .map(|p| {
            serde_json::json!({
                "node": p.node, "ns": p.ns, "program": p.program, "pid": p.pid,
                "running": run::alive(p.pid) && run::in_namespace(p.pid, &p.ns),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "lab": s.lab,
        "topology": s.topology,
        "prefix": s.prefix,
        "namespaces": s.namespaces,
        "nodes": s.nodes,
        "pods": s.pods,
        "processes": procs,
    }))
}

/// A human-readable report: per node its daemons, BGP sessions and routes.
pub fn status_text(dir: &Path, lab: &str) -> Result<String, LabError> {
    let s = load(dir, lab)?;
    let mut out = format!(
        "lab {} ({}), namespaces {}*\n",
        s.lab,
        s.topology.display(),
        s.prefix
    );
    for n in &s.nodes {
        out += &format!("\n== {} ({}, netns {})\n", n.name, n.role, n.ns);
        for p in s.processes.iter().filter(|p| p.node == n.name) {
            let up = run::alive(p.pid) && run::in_namespace(p.pid, &p.ns);
            out += &format!(
                "   {} pid {}: {}\n",
                p.program,
                p.pid,
                if up { "running" } else { "NOT running" }
            );
        }
        let section = |r: Result<String, LabError>| match r {
            Ok(t) => t,
            Err(e) => format!("   ({e})\n"),
        };
        match (n.role.as_str(), &n.control) {
            ("podroute", Some(sock)) => {
                for q in [Query::Neighbors, Query::Fib] {
                    out += &match control::query(sock, q) {
                        Ok(reply) => control::render_table(&reply),
                        Err(e) => format!("   ({e})\n"),
                    };
                }
            }
            ("frr", Some(vty)) => {
                let vty = vty.to_string_lossy();
                out += &section(in_ns(
                    &n.ns,
                    &["vtysh", "--vty_socket", &vty, "-c", "show bgp summary"],
                ));
            }
            ("bird", Some(sock)) => {
                let sock = sock.to_string_lossy();
                out += &section(in_ns(&n.ns, &["birdc", "-s", &sock, "show", "protocols"]));
            }
            _ => {}
        }
        if n.role != "bridge" {
            for fam in ["-4", "-6"] {
                if let Ok(routes) = ip_n(&n.ns, &[fam, "route", "show"]) {
                    for r in routes.lines() {
                        out += &format!("   kernel: {r}\n");
                    }
                }
            }
        }
        for p in s.pods.iter().filter(|p| p.node == n.name) {
            let addrs: Vec<String> = p.addresses.iter().map(|a| a.to_string()).collect();
            out += &format!("   pod {}: {}\n", p.name, addrs.join(", "));
        }
    }
    Ok(out)
}

/// Runs `argv` inside the namespace of node or pod `name`, with this
/// terminal; returns its exit code.
pub fn exec(dir: &Path, lab: &str, name: &str, argv: &[String]) -> Result<i32, LabError> {
    let s = load(dir, lab)?;
    let ns = s
        .nodes
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.ns.clone())
        .or_else(|| s.pods.iter().find(|p| p.name == name).map(|p| p.ns.clone()))
        .ok_or_else(|| LabError::NoSuchNode(name.to_string()))?;
    if argv.is_empty() {
        return Err(LabError::Command {
            cmd: "exec".into(),
            output: "no command given (podroute lab exec FILE NODE -- CMD...)".into(),
        });
    }
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .args(argv)
        .status()
        .map_err(|e| LabError::io(format!("ip netns exec {ns}"), e))?;
    Ok(status.code().unwrap_or(1))
}
