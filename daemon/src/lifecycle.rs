//! Starting, stopping and inspecting a daemon from the command line:
//! `daemon start` (detached, returns once it answers), `daemon stop`
//! (graceful, then SIGKILL), and the running/stopped/stale probe.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::client::{Client, ClientError};
use crate::lock::read_pid;
use crate::paths::Paths;
use crate::process_info;
use crate::protocol::Request;

/// `daemon start` gives up after this long.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// `daemon stop` waits this long (drain + SIGTERM grace + margin) before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(20);
/// The hidden flag that tells `--daemon` it was started detached.
pub const DETACHED_FLAG: &str = "--detached";

/// What a probe of the daemon found.
pub enum Probe {
    Running(Box<Client>),
    Stopped,
    /// Leftovers of a daemon that died: a socket or pid file nobody answers on.
    Stale {
        pid: Option<u32>,
    },
    /// A daemon process that holds its pid file but does not answer (yet):
    /// starting up, or draining its workers on the way out.
    Busy {
        pid: u32,
    },
}

pub async fn probe(paths: &Paths) -> Result<Probe, ClientError> {
    match Client::connect(paths, "switchyard-cli").await {
        Ok(client) => Ok(Probe::Running(Box::new(client))),
        Err(ClientError::NotRunning { .. } | ClientError::NotAnswering { .. }) => {
            let pid = read_pid(paths);
            match pid {
                // Alive but not answering: starting up, or draining on stop.
                Some(pid) if process_info::alive(pid) && is_daemon(pid) => Ok(Probe::Busy { pid }),
                _ if paths.socket().exists() || pid.is_some() => Ok(Probe::Stale { pid }),
                _ => Ok(Probe::Stopped),
            }
        }
        Err(err) => Err(err),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("the daemon failed to start: {0}")]
    StartFailed(String),
    #[error(
        "the daemon did not answer within {}s{}; see `switchyard logs`",
        START_TIMEOUT.as_secs(),
        said.as_ref().map(|s| format!(" (its last words: {s})")).unwrap_or_default()
    )]
    StartTimeout {
        /// What the daemon itself reported, if anything: its stderr, or the
        /// last error or warning it logged since this start began.
        said: Option<String>,
    },
    #[error("cannot start the daemon: {0}")]
    Spawn(std::io::Error),
    #[error(transparent)]
    Client(#[from] ClientError),
}

pub enum Started {
    AlreadyRunning { pid: u32 },
    Started { pid: u32, elapsed: Duration },
}

/// Starts a detached daemon (own session, no terminal, stdio detached) and
/// returns once it answers on its socket.
/// The daemon we started is our child until we exit: a process that lives
/// on (the dashboard) must reap it when it stops, or it stays a zombie. One
/// thread blocked in `waitpid` does that and costs nothing meanwhile; a
/// command that exits first leaves the daemon to init, as ever.
fn reap_when_it_ends(mut child: std::process::Child) {
    let spawned = std::thread::Builder::new()
        .name("reap-daemon".to_owned())
        .spawn(move || {
            let _ = child.wait();
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the thread that reaps the daemon we started");
    }
}

pub async fn start_detached(paths: &Paths) -> Result<Started, LifecycleError> {
    match probe(paths).await? {
        Probe::Running(client) => {
            return Ok(Started::AlreadyRunning {
                pid: client.daemon_pid,
            });
        }
        // Starting or stopping: let it finish one way or the other first.
        Probe::Busy { pid } => {
            let began = Instant::now();
            while process_info::alive(pid) && began.elapsed() < STOP_GRACE {
                if let Ok(client) = Client::connect(paths, "switchyard-cli").await {
                    return Ok(Started::AlreadyRunning {
                        pid: client.daemon_pid,
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Probe::Stopped | Probe::Stale { .. } => {}
    }
    let began = Instant::now();
    paths.create_dirs().map_err(LifecycleError::Spawn)?;
    let err_file = paths.start_error_file(std::process::id());
    let stderr = fs::File::create(&err_file).map_err(LifecycleError::Spawn)?;
    let exe = std::env::current_exe().map_err(LifecycleError::Spawn)?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["--daemon", DETACHED_FLAG])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe; it detaches from the terminal so the
    // daemon survives the terminal closing.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let log_len = fs::metadata(paths.log_file()).map_or(0, |m| m.len());
    let mut child = command.spawn().map_err(LifecycleError::Spawn)?;
    let mut child_failed: Option<String> = None;
    while began.elapsed() < START_TIMEOUT {
        match Client::connect(paths, "switchyard-cli").await {
            Ok(client) => {
                // Reap our child if it was the loser of a start race.
                let _ = child.try_wait();
                reap_when_it_ends(child);
                if child_failed.is_some() {
                    let _ = fs::remove_file(&err_file);
                } else {
                    // The daemon keeps writing there; give it its lasting name.
                    let _ = fs::rename(&err_file, paths.daemon_stderr_file());
                }
                return Ok(if child_failed.is_some() {
                    Started::AlreadyRunning {
                        pid: client.daemon_pid,
                    }
                } else {
                    Started::Started {
                        pid: client.daemon_pid,
                        elapsed: began.elapsed(),
                    }
                });
            }
            Err(ClientError::NotRunning { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        if child_failed.is_none()
            && let Ok(Some(status)) = child.try_wait()
        {
            let text = fs::read_to_string(&err_file).unwrap_or_default();
            let text = text.trim().to_owned();
            let _ = fs::remove_file(&err_file);
            // Lost a race to another starter: wait for that daemon to answer,
            // if there is one; otherwise what our daemon said is the answer.
            if !text.contains("already running") || !other_daemon_starting(paths).await {
                let why = if text.is_empty() {
                    format!("it exited with {status}")
                } else {
                    text
                };
                return Err(LifecycleError::StartFailed(why));
            }
            child_failed = Some(text);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let said = match child_failed {
        Some(text) => Some(text),
        None => {
            let text = fs::read_to_string(&err_file).unwrap_or_default();
            let text = text.trim();
            if text.is_empty() {
                last_logged_problem(paths, log_len)
            } else {
                Some(text.to_owned())
            }
        }
    };
    Err(LifecycleError::StartTimeout { said })
}

/// Whether another daemon holds this home's lock and is on its way up: its
/// pid file names a live `switchyard --daemon` (given a moment to appear,
/// since a daemon writes it just after taking the lock).
async fn other_daemon_starting(paths: &Paths) -> bool {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(1) {
        if read_pid(paths).is_some_and(|pid| process_info::alive(pid) && is_daemon(pid)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// The last error or warning the daemon logged after byte `from` of its log.
fn last_logged_problem(paths: &Paths, from: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(paths.log_file()).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut text = String::new();
    // Bounded: a start writes a few lines.
    file.take(1 << 20).read_to_string(&mut text).ok()?;
    text.lines()
        .rev()
        .find(|line| line.contains(" ERROR ") || line.contains(" WARN "))
        .map(|line| crate::text::clean(line.trim()).into_owned())
}

pub enum Stopped {
    NotRunning { cleaned_stale: bool },
    Stopped { pid: u32 },
    Killed { pid: u32 },
}

/// Asks the daemon to stop; kills it if it has not gone after [`STOP_GRACE`].
pub async fn stop(paths: &Paths) -> Result<Stopped, LifecycleError> {
    let mut client = match probe(paths).await? {
        Probe::Running(client) => client,
        Probe::Stopped => {
            return Ok(Stopped::NotRunning {
                cleaned_stale: false,
            });
        }
        Probe::Stale { .. } => {
            clean_stale(paths);
            return Ok(Stopped::NotRunning {
                cleaned_stale: true,
            });
        }
        // Already on its way out (or still starting): wait, then escalate.
        Probe::Busy { pid } => {
            if wait_gone(pid, STOP_GRACE).await {
                return Ok(Stopped::Stopped { pid });
            }
            crate::lock::signal(pid, Signal::SIGKILL);
            wait_gone(pid, Duration::from_secs(5)).await;
            clean_stale(paths);
            return Ok(Stopped::Killed { pid });
        }
    };
    let pid = client.daemon_pid;
    // The connection may close before the reply arrives, or a stuck daemon
    // may never answer: either way, wait for the process and escalate.
    let _ = tokio::time::timeout(Duration::from_secs(5), client.request(Request::Shutdown)).await;
    drop(client);
    if wait_gone(pid, STOP_GRACE).await {
        return Ok(Stopped::Stopped { pid });
    }
    crate::lock::signal(pid, Signal::SIGKILL);
    wait_gone(pid, Duration::from_secs(5)).await;
    clean_stale(paths);
    Ok(Stopped::Killed { pid })
}

/// Whether `pid` runs `switchyard --daemon` (a recycled pid does not).
fn is_daemon(pid: u32) -> bool {
    process_info::look(pid, true).is_some_and(|p| p.args.iter().any(|arg| arg == "--daemon"))
}

/// Removes a dead daemon's socket and pid file.
pub fn clean_stale(paths: &Paths) {
    let _ = fs::remove_file(paths.socket());
    let _ = fs::remove_file(paths.pid_file());
}

/// Waits until `pid` has exited, up to `limit`.
pub async fn wait_gone(pid: u32, limit: Duration) -> bool {
    let began = Instant::now();
    while began.elapsed() < limit {
        if !process_info::alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    !process_info::alive(pid)
}
