//! Executing a delegated plugin (IPAM) from CNI_PATH the way a runtime would (spec "Delegated plugins").

use super::env::{CniEnv, Command};
use super::error::{CniError, ErrorCode};
use super::result::CniResult;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

/// Finds `name` in CNI_PATH; a name with a path separator is refused so a
/// config cannot make us execute arbitrary files.
pub fn find(env: &CniEnv, name: &str) -> Result<PathBuf, CniError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(CniError::new(
            ErrorCode::InvalidNetworkConfig,
            format!("invalid plugin type {name:?}"),
        ));
    }
    env.path
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidNetworkConfig,
                format!("plugin {name:?} not found in CNI_PATH"),
            )
        })
}

/// A delegate that is running; its output is collected by [`Pending::wait`].
#[derive(Debug)]
pub struct Pending {
    child: std::process::Child,
    name: String,
}

/// Starts the delegate with the caller's environment but `command`, feeding
/// `stdin`, without waiting: the caller overlaps its own work with it.
pub fn spawn(
    env: &CniEnv,
    name: &str,
    command: Command,
    stdin: &[u8],
) -> Result<Pending, CniError> {
    let bin = find(env, name)?;
    let mut child = std::process::Command::new(&bin)
        .env("CNI_COMMAND", command.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            CniError::with_details(
                ErrorCode::IoFailure,
                format!("cannot run {name}"),
                e.to_string(),
            )
        })?;
    if let Some(mut input) = child.stdin.take() {
        // A delegate reads all of stdin before writing, so this cannot
        // deadlock; one that exits early closes the pipe and its status says why.
        let _ = input.write_all(stdin);
    }
    Ok(Pending {
        child,
        name: name.to_string(),
    })
}

impl Pending {
    /// Waits for the delegate: its stdout on success, its own error object on failure.
    pub fn wait(self) -> Result<Vec<u8>, CniError> {
        let name = self.name;
        let out = self.child.wait_with_output().map_err(|e| {
            CniError::with_details(
                ErrorCode::IoFailure,
                format!("cannot wait for {name}"),
                e.to_string(),
            )
        })?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        #[derive(serde::Deserialize)]
        struct Wire {
            code: u32,
            #[serde(default)]
            msg: String,
            #[serde(default)]
            details: String,
        }
        match serde_json::from_slice::<Wire>(&out.stdout) {
            Ok(w) => Err(CniError::with_details(
                ErrorCode::from(w.code),
                format!("{name}: {}", w.msg),
                w.details,
            )),
            Err(_) => Err(CniError::with_details(
                ErrorCode::DelegateFailure,
                format!("{name} failed ({})", out.status),
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            )),
        }
    }

    /// Waits for an ADD and parses its result.
    pub fn result(self) -> Result<CniResult, CniError> {
        CniResult::parse(&self.wait()?)
    }
}

/// Runs the delegate to completion.
pub fn exec(env: &CniEnv, name: &str, command: Command, stdin: &[u8]) -> Result<Vec<u8>, CniError> {
    spawn(env, name, command, stdin)?.wait()
}

/// Delegated ADD: the IPAM result.
pub fn add(env: &CniEnv, name: &str, stdin: &[u8]) -> Result<CniResult, CniError> {
    let out = exec(env, name, Command::Add, stdin)?;
    CniResult::parse(&out)
}
