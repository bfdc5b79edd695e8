//! An exclusive `flock` held for a read-modify-write, and crash-safe file replacement.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Holds `flock(LOCK_EX)` on a file until dropped (the kernel also drops it
/// if the process dies, so a SIGKILLed plugin never leaves the store locked).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Blocks until the lock on `path` (created if missing) is ours.
    pub fn acquire(path: &Path) -> std::io::Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is passed.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// Replaces `path` with `data` so that after a crash at any instant the file
/// holds either the old or the new content: write a temporary file, fsync
/// it, rename it over the target (rename(2) is atomic). The fsync before the
/// rename keeps a power loss from exposing a renamed but empty file
/// (delayed allocation). The directory is not fsynced: a power loss that
/// undoes the rename also destroyed every pod the lost allocation could
/// belong to, so it cannot produce a duplicate among live pods, and GC
/// repairs a lost release; skipping it halves the store's sync cost.
pub fn replace(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}
