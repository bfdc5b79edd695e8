//! Entering a container's network namespace on a dedicated thread, and namespace-scoped sysctls.

use super::error::{CniError, ErrorCode};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Opens CNI_NETNS; a missing namespace is the spec's code 3 (container unknown).
pub fn open(path: &Path) -> Result<File, CniError> {
    File::open(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::UnknownContainer
        } else {
            ErrorCode::IoFailure
        };
        CniError::with_details(
            code,
            format!("cannot open netns {}", path.display()),
            e.to_string(),
        )
    })
}

/// Moves the calling thread into `ns` (only this thread: setns(2) is per thread).
pub fn enter(ns: &File) -> Result<(), CniError> {
    // SAFETY: setns on a namespace fd we hold open.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(CniError::with_details(
            ErrorCode::IoFailure,
            "cannot enter netns",
            std::io::Error::last_os_error().to_string(),
        ));
    }
    Ok(())
}

/// Runs `f` on a fresh thread that has joined `ns`, so the plugin's own
/// threads never change namespace (setns(2) switches only the caller).
pub fn run_in<T: Send>(
    ns: &File,
    f: impl FnOnce() -> Result<T, CniError> + Send,
) -> Result<T, CniError> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(s, || {
                enter(ns)?;
                f()
            })
            .map_err(|e| spawn_error(&e))?;
        h.join()
            .unwrap_or_else(|_| Err(CniError::new(ErrorCode::IoFailure, "netns worker panicked")))
    })
}

/// A thread that could not be created (resource limits) is an I/O failure, not a panic.
pub fn spawn_error(e: &std::io::Error) -> CniError {
    CniError::with_details(
        ErrorCode::IoFailure,
        "cannot start netns thread",
        e.to_string(),
    )
}

/// Writes a sysctl of the current thread's network namespace (/proc/sys/net
/// resolves against the opener's namespace).
pub fn sysctl(key: &str, value: &str) -> Result<(), CniError> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| {
        CniError::with_details(
            ErrorCode::IoFailure,
            format!("cannot set {key}"),
            e.to_string(),
        )
    })
}
