//! The on-disk allocation store of one network: who holds which address, and where the round robin stands.

use super::lockfile::{self, Lock};
use crate::cni::error::{CniError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "allocations.json";
const LOCK_FILE: &str = "lock";

/// One address held by one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The address.
    pub ip: IpAddr,
    /// Owner container.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// Owner interface.
    pub ifname: String,
}

/// The persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    /// Last address handed out per range set index, for round robin.
    #[serde(default)]
    pub last_reserved: BTreeMap<usize, IpAddr>,
    /// Current allocations.
    #[serde(default)]
    pub allocations: Vec<Allocation>,
}

impl State {
    /// Addresses held by this attachment.
    pub fn of(&self, container_id: &str, ifname: &str) -> Vec<IpAddr> {
        self.allocations
            .iter()
            .filter(|a| a.container_id == container_id && a.ifname == ifname)
            .map(|a| a.ip)
            .collect()
    }

    /// Whether the address is held by anyone.
    pub fn is_taken(&self, ip: IpAddr) -> bool {
        self.allocations.iter().any(|a| a.ip == ip)
    }
}

/// The store of one network, opened under its lock: every read-modify-write
/// happens while this value lives.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: Lock,
    /// The state as read.
    pub state: State,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> CniError {
    CniError::with_details(
        ErrorCode::IoFailure,
        format!("{what} {}", path.display()),
        e.to_string(),
    )
}

impl Store {
    /// Creates the directory if needed, takes the lock and reads the state.
    pub fn open(dir: &Path) -> Result<Store, CniError> {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = Lock::acquire(&lock_path).map_err(|e| io("cannot lock", &lock_path, e))?;
        let path = dir.join(STATE_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CniError::with_details(
                    ErrorCode::DecodeFailure,
                    format!("corrupt allocation store {}", path.display()),
                    e.to_string(),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io("cannot read", &path, e)),
        };
        Ok(Store {
            dir: dir.to_path_buf(),
            _lock: lock,
            state,
        })
    }

    /// Opens the store only if it exists (DEL/GC on a never-used network do nothing).
    pub fn open_existing(dir: &Path) -> Result<Option<Store>, CniError> {
        if !dir.exists() {
            return Ok(None);
        }
        Store::open(dir).map(Some)
    }

    /// Persists the state crash-safely (still under the lock).
    pub fn commit(&self) -> Result<(), CniError> {
        let path = self.dir.join(STATE_FILE);
        let data = serde_json::to_vec(&self.state).map_err(|e| {
            CniError::with_details(ErrorCode::IoFailure, "cannot encode store", e.to_string())
        })?;
        lockfile::replace(&path, &data).map_err(|e| io("cannot write", &path, e))
    }
}

/// Reads a store's allocations without locking (tests and diagnostics).
pub fn read_state(dir: &Path) -> std::io::Result<State> {
    match std::fs::read(dir.join(STATE_FILE)) {
        Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e),
    }
}
