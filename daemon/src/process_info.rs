//! Facts about one process, found by pid: is it alive, when did it start,
//! what command line does it run. Read through `sysinfo`, so Linux and macOS
//! run the same code (no `/proc` parsing of ours); each look refreshes only
//! the one process asked about.

use std::ffi::OsString;

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

/// What one look at a process found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// When the process started, in whole seconds since the Unix epoch (the
    /// precision every OS `sysinfo` supports shares). With the pid it names
    /// one process: another process could only get the same pair if the
    /// kernel went through its whole pid space (32,768 pids or more) within
    /// that one second.
    pub started_s: u64,
    /// It exited and its parent has not yet collected it: gone, for our
    /// purposes.
    pub zombie: bool,
    /// Its command line, `argv[0]` first; empty unless asked for.
    pub args: Vec<OsString>,
}

impl ProcessInfo {
    /// Whether it runs `switchyard worker --app APP`.
    pub fn is_worker_of(&self, app: &str) -> bool {
        self.args
            .windows(3)
            .any(|w| w[0] == "worker" && w[1] == "--app" && w[2] == app)
    }
}

/// Looks at process `pid`; `None` if there is none. `with_args` also reads its
/// command line (another process's is readable when it is the same user's).
pub fn look(pid: u32, with_args: bool) -> Option<ProcessInfo> {
    let pid = Pid::from_u32(pid);
    // Not its threads: on Linux listing them costs a directory read per look.
    let mut kind = ProcessRefreshKind::nothing().without_tasks();
    if with_args {
        kind = kind.with_cmd(UpdateKind::Always);
    }
    let mut system = System::new();
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, kind);
    let process = system.process(pid)?;
    Some(ProcessInfo {
        started_s: process.start_time(),
        zombie: matches!(
            process.status(),
            ProcessStatus::Zombie | ProcessStatus::Dead
        ),
        args: process.cmd().to_vec(),
    })
}

/// Whether a process with this pid exists and has not exited. A zombie (exited,
/// not yet reaped by its parent) counts as gone.
pub fn alive(pid: u32) -> bool {
    look(pid, false).is_some_and(|p| !p.zombie)
}

/// When process `pid` started ([`ProcessInfo::started_s`]); recorded with a
/// worker's pid so that a later daemon can prove a leftover is its own.
pub fn start_time(pid: u32) -> Option<u64> {
    look(pid, false).map(|p| p.started_s)
}

/// Converts a start time recorded by versions before migration 0005 (Linux
/// only: clock ticks after boot, from `/proc/PID/stat`) to the seconds
/// [`start_time`] reports. It is the arithmetic `sysinfo` itself does on
/// Linux: boot time plus whole seconds of ticks, so the two agree exactly.
pub fn from_boot_ticks(ticks: u64) -> Option<u64> {
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    let per_second = u64::try_from(per_second).ok().filter(|&t| t > 0)?;
    Some(System::boot_time() + ticks / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_alive_and_keeps_its_start_time() {
        let me = std::process::id();
        let first = look(me, true).unwrap();
        assert!(alive(me) && !first.zombie);
        assert_eq!(start_time(me), Some(first.started_s));
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(first.started_s <= now_s && first.started_s > now_s - 3600);
        assert_eq!(
            first.args.first().map(|a| a.to_string_lossy().into_owned()),
            std::env::args().next()
        );
    }

    #[test]
    fn a_reaped_process_is_gone_and_an_unreaped_one_is_a_zombie() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: it becomes a zombie once it exits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while alive(pid) {
            assert!(std::time::Instant::now() < deadline, "true never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(look(pid, false).is_some_and(|p| p.zombie));
        child.wait().unwrap();
        assert_eq!(look(pid, false), None);
    }

    #[test]
    fn a_worker_is_recognised_by_its_command_line() {
        let info = |args: &[&str]| ProcessInfo {
            started_s: 1,
            zombie: false,
            args: args.iter().map(OsString::from).collect(),
        };
        let worker = info(&["switchyard", "worker", "--app", "claude"]);
        assert!(worker.is_worker_of("claude"));
        assert!(!worker.is_worker_of("codex"));
        assert!(!info(&["switchyard", "--daemon"]).is_worker_of("claude"));
        assert!(!info(&["sleep", "claude"]).is_worker_of("claude"));
    }
}
