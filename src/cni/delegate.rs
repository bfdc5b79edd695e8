//! Executing a delegated plugin (IPAM) from CNI_PATH the way a runtime would (spec "Delegated plugins").

use super::env::{CniEnv, Command};
use super::error::{CniError, ErrorCode};
use super::result::CniResult;
use super::skel;
use std::io::Write;
use std::path::{Path, PathBuf};
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

/// The IPAM plugin of this crate.
const OWN_IPAM: &str = "podroute-ipam";

/// A delegate that is running; its output is collected by [`Pending::wait`].
#[derive(Debug)]
pub struct Pending {
    run: Run,
    name: String,
}

#[derive(Debug)]
enum Run {
    Child(std::process::Child),
    /// podroute-ipam's own code on a thread: what its process would print, or its error.
    Thread(std::thread::JoinHandle<Result<Option<String>, CniError>>),
}

/// Whether `bin` (what CNI_PATH resolved `name` to) is podroute-ipam as
/// installed next to this executable, i.e. the same build of the same code
/// this process already holds. Then the delegate runs in-process: exactly
/// the same call (environment, stdin, store, flock, fsync+rename), without
/// the fork+exec, dynamic loading and process start, which made up about
/// half of ADD's wall time. Anything else, including a podroute-ipam
/// elsewhere in CNI_PATH or a symlink to one, is executed as usual.
fn runs_in_process(name: &str, bin: &Path) -> bool {
    if name != OWN_IPAM {
        return false;
    }
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let Some(dir) = exe.parent() else {
        return false;
    };
    std::fs::canonicalize(bin).is_ok_and(|b| b == dir.join(OWN_IPAM))
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
    if runs_in_process(name, &bin) {
        let mut env = env.clone();
        env.command = command;
        let stdin = stdin.to_vec();
        let h = std::thread::Builder::new()
            .name("ipam".into())
            .spawn(move || skel::dispatch_env(&crate::ipam::plugin::Ipam, &env, &stdin))
            .map_err(|e| {
                CniError::with_details(
                    ErrorCode::IoFailure,
                    format!("cannot run {name}"),
                    e.to_string(),
                )
            })?;
        return Ok(Pending {
            run: Run::Thread(h),
            name: name.to_string(),
        });
    }
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
        run: Run::Child(child),
        name: name.to_string(),
    })
}

impl Pending {
    /// Waits for the delegate: its stdout on success, its own error object on failure.
    pub fn wait(self) -> Result<Vec<u8>, CniError> {
        let name = self.name;
        let child = match self.run {
            Run::Child(c) => c,
            // The same message a failed podroute-ipam process yields below.
            Run::Thread(h) => {
                return match h.join() {
                    Ok(Ok(out)) => Ok(out.map(String::into_bytes).unwrap_or_default()),
                    Ok(Err(e)) => Err(CniError::with_details(
                        e.code,
                        format!("{name}: {}", e.msg),
                        e.details,
                    )),
                    Err(_) => Err(CniError::new(
                        ErrorCode::DelegateFailure,
                        format!("{name} panicked"),
                    )),
                };
            }
        };
        let out = child.wait_with_output().map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sibling_podroute_ipam_runs_in_process() {
        let dir = std::env::temp_dir().join(format!("podroute-delegate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = dir.join(OWN_IPAM);
        std::fs::write(&other, b"").unwrap();
        // A podroute-ipam that is not next to this executable is executed.
        assert!(!runs_in_process(OWN_IPAM, &other));
        assert!(!runs_in_process("host-local", &other));
        let exe = std::env::current_exe().unwrap();
        let sibling = exe.parent().unwrap().join(OWN_IPAM);
        assert!(!runs_in_process("host-local", &sibling));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
