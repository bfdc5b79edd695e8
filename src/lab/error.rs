//! Errors of `podroute lab`: bad topology files, refused commands, failed steps.

use std::path::PathBuf;

/// Everything that can go wrong bringing a lab up, down or querying it.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a containerlab topology: {source}")]
    Yaml {
        path: PathBuf,
        source: serde_yaml_ng::Error,
    },
    #[error("topology: {0}")]
    Topology(String),
    #[error("node {node}: {msg}")]
    Node { node: String, msg: String },
    #[error(
        "node {node}: exec line {line:?} refused: {why} (only `ip` and `sysctl` run inside the node namespace)"
    )]
    ExecRefused {
        node: String,
        line: String,
        why: String,
    },
    #[error("node {node}: agent config {path}: {msg}")]
    AgentConfig {
        node: String,
        path: PathBuf,
        msg: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("`{cmd}` failed: {output}")]
    Command { cmd: String, output: String },
    #[error("state {path}: {msg}")]
    State { path: PathBuf, msg: String },
    #[error("lab {lab} is already up (state in {dir}); run `podroute lab down` first")]
    AlreadyUp { lab: String, dir: PathBuf },
    #[error("lab {lab} is not up (no state in {dir})")]
    NotUp { lab: String, dir: PathBuf },
    #[error("no node or pod {0:?} in this lab")]
    NoSuchNode(String),
}

impl LabError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> LabError {
        LabError::Io {
            what: what.into(),
            source,
        }
    }
}
