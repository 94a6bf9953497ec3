//! Where Switchyard keeps its files: one directory under `SWITCHYARD_HOME`, or the
//! platform's per-user data, state and runtime directories.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The environment variable that puts every file under one directory.
pub const HOME_ENV: &str = "SWITCHYARD_HOME";

/// The longest socket path every platform's `sun_path` holds, NUL included
/// (104 bytes on macOS, 108 on Linux). A longer one moves to [`short_socket_dir`].
const SOCKET_PATH_MAX: usize = 103;

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

    /// The socket: in the run directory, unless that path is too long for
    /// `sun_path` (a deep `SWITCHYARD_HOME`); then a short private directory
    /// holds it under a name derived from the run directory, so each home
    /// still has its own daemon and every client finds the same path.
    pub fn socket(&self) -> PathBuf {
        let socket = self.run_dir.join("switchyard.sock");
        if socket.as_os_str().len() <= SOCKET_PATH_MAX {
            return socket;
        }
        let hash = fnv1a(self.run_dir.as_os_str().as_encoded_bytes());
        short_socket_dir().join(format!("{hash:016x}.sock"))
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
        let socket = self.socket();
        if let Some(dir) = socket.parent()
            && dir != self.run_dir
        {
            private_dir(dir)?;
        }
        Ok(())
    }
}

/// Where sockets go whose natural path is too long: `$XDG_RUNTIME_DIR`
/// (private to the user by definition) when it is short, else a directory of
/// our own in `/tmp`, named after the uid.
fn short_socket_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && dir.is_absolute()
        && dir.as_os_str().len() <= 48
    {
        return dir.join("switchyard");
    }
    PathBuf::from(format!("/tmp/switchyard-{}", nix::unistd::getuid()))
}

/// Creates `dir` mode 0700, and refuses one another user owns (in `/tmp`
/// anybody could have made it first).
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} (for the socket, since SWITCHYARD_HOME is too long for one) is not a directory of this user's; remove it, or choose a shorter SWITCHYARD_HOME",
                dir.display()
            ),
        ));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// FNV-1a, 64 bits: a name that is the same in every build and process.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_home_gets_a_short_socket_of_its_own() {
        let short = Paths::under(PathBuf::from("/home/u/sy"));
        assert_eq!(
            short.socket(),
            PathBuf::from("/home/u/sy/run/switchyard.sock")
        );
        let deep = |tail: &str| Paths::under(PathBuf::from(format!("/{}/{tail}", "x".repeat(120))));
        let (a, b) = (deep("a").socket(), deep("b").socket());
        assert!(a.as_os_str().len() <= SOCKET_PATH_MAX, "{}", a.display());
        assert_ne!(a, b, "each home has its own daemon");
        assert_eq!(a, deep("a").socket(), "every client finds the same path");
    }
}
