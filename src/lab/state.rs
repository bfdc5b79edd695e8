//! What a lab instance created, recorded before each step so `down` can undo it even after `up` crashed.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LabError;

/// The state file's name inside the lab directory.
pub const STATE_FILE: &str = "state.json";

/// A daemon started in a node namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    pub node: String,
    pub ns: String,
    pub program: String,
    pub pid: u32,
}

/// A pod attached to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRecord {
    pub name: String,
    pub node: String,
    pub ns: String,
    pub addresses: Vec<IpAddr>,
}

/// A node and where to reach its daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub name: String,
    pub ns: String,
    pub role: String,
    /// podroute: control socket; FRR: vty directory; BIRD: control socket.
    pub control: Option<PathBuf>,
    pub log: Vec<PathBuf>,
}

/// The whole record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub lab: String,
    pub topology: PathBuf,
    pub prefix: String,
    /// Every namespace, recorded before it is created.
    pub namespaces: Vec<String>,
    pub processes: Vec<ProcRecord>,
    pub nodes: Vec<NodeRecord>,
    pub pods: Vec<PodRecord>,
}

/// The state of one lab instance, saved on every change.
pub struct StateFile {
    pub dir: PathBuf,
    pub state: State,
}

impl StateFile {
    /// Starts a fresh record in `dir` (created).
    pub fn create(dir: &Path, state: State) -> Result<StateFile, LabError> {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir.display().to_string(), e))?;
        let f = StateFile {
            dir: dir.to_path_buf(),
            state,
        };
        f.save()?;
        Ok(f)
    }

    /// Loads the record in `dir`, `None` if there is none.
    pub fn load(dir: &Path) -> Result<Option<StateFile>, LabError> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io(path.display().to_string(), e)),
        };
        let state = serde_json::from_str(&text).map_err(|e| LabError::State {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        Ok(Some(StateFile {
            dir: dir.to_path_buf(),
            state,
        }))
    }

    /// Writes the record atomically (temp file + rename), so a crash
    /// leaves the previous or the new record, never half of one.
    pub fn save(&self) -> Result<(), LabError> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(&self.state).map_err(|e| LabError::State {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(|e| LabError::io(tmp.display().to_string(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| LabError::io(path.display().to_string(), e))
    }

    /// Records `f`'s change and saves.
    pub fn update(&mut self, f: impl FnOnce(&mut State)) -> Result<(), LabError> {
        f(&mut self.state);
        self.save()
    }
}
