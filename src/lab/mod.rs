//! `podroute lab`: containerlab topology files brought up on network namespaces and veth pairs, without Docker.
//!
//! Safe by construction: every namespace is created by the lab under a
//! prefix of its own and recorded before it exists; links are veth pairs
//! born inside those namespaces; commands run in the root namespace only
//! create, enter or delete the lab's namespaces.

mod down;
mod error;
pub mod plan;
mod run;
pub mod state;
mod status;
pub mod topology;
mod up;

use std::path::{Path, PathBuf};

pub use down::Removed;
pub use error::LabError;

/// Where `podroute lab` keeps its state unless told otherwise.
pub const DEFAULT_STATE_ROOT: &str = "/run/podroute-lab";

/// Paths `up` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory holding one directory per lab instance.
    pub state_root: PathBuf,
    /// The `podroute` binary the agents run.
    pub podroute: PathBuf,
    /// Where `podroute-bridge` and `podroute-ipam` are (CNI_PATH).
    pub cni_path: PathBuf,
}

fn topology(file: &Path) -> Result<(topology::Topology, PathBuf), LabError> {
    let file = std::fs::canonicalize(file).map_err(|source| LabError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    Ok((topology::Topology::load(&file)?, file))
}

/// `podroute lab up FILE`.
pub fn up(file: &Path, opts: &Options) -> Result<plan::Plan, LabError> {
    let (topo, file) = topology(file)?;
    let plan = plan::plan(&topo, &file, &opts.state_root)?;
    up::up(&plan, &file, opts)?;
    Ok(plan)
}

/// `podroute lab start FILE NODE`: starts the daemons of a node that `up`
/// only prepared (`podroute.start: manual`), or whose daemons were stopped.
pub fn start(file: &Path, opts: &Options, node: &str) -> Result<(), LabError> {
    let (plan, mut state) = started(file, opts)?;
    let n = plan
        .node(node)
        .ok_or_else(|| LabError::NoSuchNode(node.to_string()))?;
    if running(&state, node) {
        return Err(LabError::Node {
            node: node.to_string(),
            msg: "already running".into(),
        });
    }
    // Forget the node's exited processes: their PIDs may be reused.
    state.update(|s| s.processes.retain(|p| p.node != node))?;
    up::start(n, &mut state, opts)?;
    up::wait_ready(n, &state)
}

/// `podroute lab start FILE --all`: starts the daemons of every node whose
/// daemons do not run, all before waiting for any (nodes starting at the
/// same moment, as in a convergence benchmark); the nodes started.
pub fn start_all(file: &Path, opts: &Options) -> Result<Vec<String>, LabError> {
    let (plan, mut state) = started(file, opts)?;
    let todo: Vec<&plan::NodePlan> = plan
        .nodes
        .iter()
        .filter(|n| n.role.runs_daemons() && !running(&state, &n.name))
        .collect();
    let names: Vec<&str> = todo.iter().map(|n| n.name.as_str()).collect();
    state.update(|s| s.processes.retain(|p| !names.contains(&p.node.as_str())))?;
    for n in &todo {
        up::start(n, &mut state, opts)?;
    }
    for n in &todo {
        up::wait_ready(n, &state)?;
    }
    Ok(todo.iter().map(|n| n.name.clone()).collect())
}

/// The plan of `file` and the record of its running instance.
fn started(file: &Path, opts: &Options) -> Result<(plan::Plan, state::StateFile), LabError> {
    let (topo, file) = topology(file)?;
    let plan = plan::plan(&topo, &file, &opts.state_root)?;
    let state = state::StateFile::load(&plan.dir)?.ok_or_else(|| LabError::NotUp {
        lab: plan.lab.clone(),
        dir: plan.dir.clone(),
    })?;
    Ok((plan, state))
}

/// Whether a recorded daemon of `node` still runs in its namespace.
fn running(state: &state::StateFile, node: &str) -> bool {
    state
        .state
        .processes
        .iter()
        .any(|p| p.node == node && run::alive(p.pid) && run::in_namespace(p.pid, &p.ns))
}

/// `podroute lab down FILE`: `None` if the lab was not up.
pub fn down(file: &Path, state_root: &Path) -> Result<Option<Removed>, LabError> {
    let (topo, _) = topology(file)?;
    down::down(&plan::lab_dir(state_root, &topo.name))
}

/// `podroute lab status FILE`, as text or JSON.
pub fn status(file: &Path, state_root: &Path, json: bool) -> Result<String, LabError> {
    let (topo, _) = topology(file)?;
    let dir = plan::lab_dir(state_root, &topo.name);
    if json {
        let v = status::status_json(&dir, &topo.name)?;
        serde_json::to_string_pretty(&v).map_err(|e| LabError::State {
            path: dir,
            msg: e.to_string(),
        })
    } else {
        status::status_text(&dir, &topo.name)
    }
}

/// `podroute lab exec FILE NODE -- CMD...`: the command's exit code.
pub fn exec(file: &Path, state_root: &Path, node: &str, argv: &[String]) -> Result<i32, LabError> {
    let (topo, _) = topology(file)?;
    status::exec(
        &plan::lab_dir(state_root, &topo.name),
        &topo.name,
        node,
        argv,
    )
}
