//! Starting a worker process: the listener becomes its fd 3, one end of a fresh
//! socketpair its fd 4 (the control channel), and its stderr a pipe the daemon
//! reads into its log and into the tail shown when an app is parked.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use nix::fcntl::{FcntlArg, fcntl};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStderr};
use tokio::task::JoinHandle;

use crate::apps::App;

/// The descriptor numbers a worker finds its listener and control channel on.
pub const LISTENER_FD: i32 = 3;
pub const CONTROL_FD: i32 = 4;
/// Environment variable telling the worker its daemon's pid.
pub const DAEMON_PID_ENV: &str = "SWITCHYARD_DAEMON_PID";

/// How many stderr lines of a worker are kept for the parked reason.
const STDERR_TAIL: usize = 20;

pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub control: UnixStream,
    /// Ends with the worker's stderr; yields its last lines.
    pub stderr: JoinHandle<Vec<String>>,
}

/// Starts `switchyard worker --app APP` on `listener`.
pub fn spawn_worker(app: App, listener: &TcpListener) -> io::Result<Spawned> {
    let (ours, theirs) = StdUnixStream::pair()?;
    // Park both descriptors above the target numbers first, so that the dup2
    // calls in the child can never clobber one with the other.
    let listener_fd = dup_high(listener.as_fd())?;
    let control_fd = dup_high(theirs.as_fd())?;
    drop(theirs);
    let (listener_raw, control_raw) = (listener_fd.as_raw_fd(), control_fd.as_raw_fd());
    let mut command = std::process::Command::new(crate::platform::own_executable()?);
    command
        // `ps` shows "switchyard worker --app …" whatever path started it (the
        // worker also renames its process, for `pgrep switchyard`).
        .arg0("switchyard")
        .args(["worker", "--app", app.name()])
        .env(DAEMON_PID_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C meant for a foreground daemon must
        // reach the daemon only, which then drains the workers in order.
        .process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls are made:
    // dup2 and the parent-death request (a single system call, or nothing).
    unsafe {
        command.pre_exec(move || {
            for (from, to) in [(listener_raw, LISTENER_FD), (control_raw, CONTROL_FD)] {
                // dup2 clears close-on-exec on the copy, which is the point.
                if nix::libc::dup2(from, to) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            crate::platform::set_parent_death_signal()
        });
    }
    let mut child = tokio::process::Command::from(command).spawn()?;
    drop((listener_fd, control_fd));
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the worker exited before it could be tracked"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| io::Error::other("the worker has no stderr pipe"))?;
    ours.set_nonblocking(true)?;
    Ok(Spawned {
        child,
        pid,
        control: UnixStream::from_std(ours)?,
        stderr: tokio::spawn(forward_stderr(app, pid, stderr)),
    })
}

fn dup_high(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let raw = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(10)).map_err(io::Error::from)?;
    // SAFETY: fcntl just returned this new descriptor and nothing else owns it.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
}

/// Copies the worker's stderr into the daemon's log, keeping the last lines.
async fn forward_stderr(app: App, pid: u32, stderr: ChildStderr) -> Vec<String> {
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // The worker's lines may quote what a client or an upstream sent.
        let line = crate::text::clean(&line).into_owned();
        // The worker's own level becomes the line's level, said once.
        match split_level(&line) {
            (Some(tracing::Level::ERROR), rest) => {
                tracing::error!(target: "worker", %app, worker = pid, "{rest}")
            }
            (Some(tracing::Level::WARN), rest) => {
                tracing::warn!(target: "worker", %app, worker = pid, "{rest}")
            }
            (Some(tracing::Level::DEBUG), rest) => {
                tracing::debug!(target: "worker", %app, worker = pid, "{rest}")
            }
            (Some(tracing::Level::TRACE), rest) => {
                tracing::trace!(target: "worker", %app, worker = pid, "{rest}")
            }
            (_, rest) => tracing::info!(target: "worker", %app, worker = pid, "{rest}"),
        }
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}

/// A worker line's leading level (`  INFO`, `WARN`, … as its tracing
/// writes them) and the rest; a line without one (a panic) has none.
fn split_level(line: &str) -> (Option<tracing::Level>, &str) {
    let trimmed = line.trim_start();
    let (word, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    match word.parse::<tracing::Level>() {
        Ok(level) if word.chars().all(|c| c.is_ascii_uppercase()) => {
            (Some(level), rest.trim_start())
        }
        _ => (None, line),
    }
}

pub use crate::lock::signal;
pub use crate::process_info::start_time;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_lines_level_is_taken_not_repeated() {
        use tracing::Level;
        assert_eq!(
            split_level(" INFO ready on 127.0.0.1:1"),
            (Some(Level::INFO), "ready on 127.0.0.1:1")
        );
        assert_eq!(split_level("DEBUG x=1 y"), (Some(Level::DEBUG), "x=1 y"));
        assert_eq!(split_level(" WARN  slow"), (Some(Level::WARN), "slow"));
        assert_eq!(
            split_level("thread 'main' panicked"),
            (None, "thread 'main' panicked")
        );
        assert_eq!(
            split_level("info is lower case"),
            (None, "info is lower case")
        );
    }
}
