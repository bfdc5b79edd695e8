//! `podroute lab down`: stops the recorded daemons and deletes the recorded namespaces, nothing else.

use std::path::Path;
use std::time::Duration;

use super::LabError;
use super::run::{self, cmd};
use super::state::StateFile;

/// What `down` removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub processes: usize,
    pub namespaces: usize,
}

/// Undoes the lab recorded in `dir`; `None` if nothing is recorded there.
pub fn down(dir: &Path) -> Result<Option<Removed>, LabError> {
    let Some(state) = StateFile::load(dir)? else {
        return Ok(None);
    };
    let s = &state.state;
    let mut removed = Removed::default();
    // Reverse start order: bgpd before zebra.
    for p in s.processes.iter().rev() {
        if run::alive(p.pid) && run::in_namespace(p.pid, &p.ns) {
            run::stop(p.pid, &p.ns, Duration::from_secs(5));
            removed.processes += 1;
        }
        if p.program == "zebra" || p.program == "bgpd" {
            // FRR creates these on its own (TESTING-NOTES).
            let _ = std::fs::remove_dir_all(format!("/var/tmp/frr/{}.{}", p.program, p.pid));
        }
    }
    let mut failed = Vec::new();
    for ns in s.namespaces.iter().rev() {
        if !run::ns_exists(ns) {
            continue;
        }
        // Anything still inside (a daemon forked by one of ours) goes
        // with its namespace; `ip netns pids` lists only that namespace.
        if let Ok(pids) = cmd(&["ip", "netns", "pids", ns]) {
            for pid in pids
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
            {
                run::stop(pid, ns, Duration::from_secs(5));
            }
        }
        match cmd(&["ip", "netns", "del", ns]) {
            Ok(_) => removed.namespaces += 1,
            Err(e) => failed.push(e.to_string()),
        }
    }
    if !failed.is_empty() {
        return Err(LabError::Command {
            cmd: "ip netns del".into(),
            output: failed.join("; "),
        });
    }
    std::fs::remove_dir_all(dir).map_err(|e| LabError::io(dir.display().to_string(), e))?;
    Ok(Some(removed))
}
