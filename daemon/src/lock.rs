//! One daemon per home: an exclusive `flock` on the lock file, held for the
//! daemon's whole life, plus a pid file that says who holds it.
//!
//! The kernel drops the lock when the process dies, however it dies, so a stale
//! pid file can never keep a new daemon out.

use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::PathBuf;

use crate::paths::Paths;

/// Held while the daemon runs; dropping it removes the pid file and unlocks.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    pid_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another switchyard daemon is already running (pid {pid}) for this home; stop it with `switchyard daemon stop`"
    )]
    Held { pid: String },
    #[error("cannot take the daemon lock {path}: {cause}")]
    Io { path: PathBuf, cause: io::Error },
}

impl DaemonLock {
    /// Takes the lock without waiting, then records our pid.
    pub fn acquire(paths: &Paths) -> Result<DaemonLock, LockError> {
        let path = paths.lock_file();
        let io_err = |cause| LockError::Io {
            path: path.clone(),
            cause,
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = read_pid(paths)
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".into());
                return Err(LockError::Held { pid });
            }
            Err(TryLockError::Error(source)) => return Err(io_err(source)),
        }
        let pid_file = paths.pid_file();
        let write_pid = || -> io::Result<()> {
            let tmp = pid_file.with_extension("pid.tmp");
            let mut f = File::create(&tmp)?;
            writeln!(f, "{}", std::process::id())?;
            fs::rename(&tmp, &pid_file)
        };
        write_pid().map_err(io_err)?;
        Ok(DaemonLock {
            _file: file,
            pid_file,
        })
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.pid_file);
    }
}

/// The pid recorded in the pid file, if any.
pub fn read_pid(paths: &Paths) -> Option<u32> {
    fs::read_to_string(paths.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Sends `signal` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal);
    }
}
