//! Where Switchyard keeps its files: one directory under `SWITCHYARD_HOME`, or the
//! platform's per-user data, state and runtime directories.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The environment variable that puts every file under one directory.
pub const HOME_ENV: &str = "SWITCHYARD_HOME";

/// Every path the daemon and its clients agree on.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Holds the database.
    pub data_dir: PathBuf,
    /// Holds the log files.
    pub log_dir: PathBuf,
    /// Holds the socket, the lock and the pid file; mode 0700.
    pub run_dir: PathBuf,
}

impl Paths {
    /// `SWITCHYARD_HOME` if set, else the platform directories.
    pub fn from_env() -> io::Result<Self> {
        match std::env::var_os(HOME_ENV) {
            Some(home) if !home.is_empty() => Ok(Self::under(PathBuf::from(home))),
            _ => Self::platform(),
        }
    }

    /// Everything under one directory (tests and scripts).
    pub fn under(home: PathBuf) -> Self {
        Paths {
            data_dir: home.clone(),
            log_dir: home.join("logs"),
            run_dir: home.join("run"),
        }
    }

    fn platform() -> io::Result<Self> {
        let dirs = directories::ProjectDirs::from("", "", "switchyard").ok_or_else(|| {
            io::Error::other("cannot find a home directory; set SWITCHYARD_HOME to choose one")
        })?;
        let data_dir = dirs.data_dir().to_path_buf();
        let log_dir = dirs.state_dir().unwrap_or(dirs.data_dir()).join("logs");
        let run_dir = dirs
            .runtime_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.join("run"));
        Ok(Paths {
            data_dir,
            log_dir,
            run_dir,
        })
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join("switchyard.db")
    }

    /// The takeover records, one private file per app, beside the database
    /// but not in it: they must outlive it.
    pub fn takeover_dir(&self) -> PathBuf {
        self.data_dir.join("takeover")
    }

    pub fn socket(&self) -> PathBuf {
        self.run_dir.join("switchyard.sock")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.run_dir.join("daemon.lock")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.run_dir.join("daemon.pid")
    }

    pub fn log_file(&self) -> PathBuf {
        self.log_dir.join("switchyard.log")
    }

    /// Where the daemon that `daemon start` (process `starter`) detaches writes
    /// its stderr, so the starter can show its early errors. One per starter:
    /// racing starters must not read each other's.
    pub fn start_error_file(&self, starter: u32) -> PathBuf {
        self.log_dir.join(format!("daemon-start.{starter}.err"))
    }

    /// A running detached daemon's stderr (panics and other last words).
    pub fn daemon_stderr_file(&self) -> PathBuf {
        self.log_dir.join("daemon.stderr")
    }

    /// Creates the directories; the run directory (socket, lock) is made private.
    pub fn create_dirs(&self) -> io::Result<()> {
        for dir in [&self.data_dir, &self.log_dir] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.run_dir)?;
        // An existing directory keeps its mode on create: force it, since the
        // socket's safety rests on nobody else being able to reach it.
        fs::set_permissions(&self.run_dir, fs::Permissions::from_mode(0o700))?;
        Ok(())
    }
}
