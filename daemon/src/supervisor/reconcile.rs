//! Start-up reconciliation of worker runs: a daemon that died uncleanly may
//! have left runs open and, in rare cases, workers alive. A worker is killed
//! only when it is provably ours: the same pid, the same start time, and still
//! running `switchyard worker --app APP` for that run's app. Every open run is
//! closed as `daemon-lost`.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::process::signal;
use crate::process_info::{self, ProcessInfo};
use crate::store::{OpenRun, Store, StoreError};

/// Kills leftover workers and closes their runs. Returns how many were killed.
pub async fn kill_leftover_workers(store: &Store) -> Result<usize, StoreError> {
    let mut killed = 0;
    for run in store.open_runs().await? {
        let Some(started_s) = recorded_start(&run) else {
            continue;
        };
        let found = process_info::look(run.pid, true);
        if !proves_ours(&run, started_s, found.as_ref()) {
            if found.is_some_and(|p| !p.zombie && p.is_worker_of(&run.app)) {
                tracing::warn!(app = %run.app, pid = run.pid, "a worker with a leftover run's pid runs, but its start time does not prove it is that run's; left alone");
            }
            continue;
        }
        tracing::warn!(app = %run.app, pid = run.pid, "killing a worker left behind by a previous daemon");
        signal(run.pid, Signal::SIGKILL);
        killed += 1;
        let deadline = Instant::now() + Duration::from_secs(2);
        while process_info::look(run.pid, false)
            .is_some_and(|p| p.started_s == started_s && !p.zombie)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let closed = store.close_lost_runs().await?;
    if closed > 0 {
        tracing::info!(
            closed,
            "closed worker runs left open by a previous daemon (daemon-lost)"
        );
    }
    Ok(killed)
}

/// The run's worker start time in [`process_info::start_time`]'s terms: as
/// recorded, or converted from the clock ticks versions before migration 0005
/// recorded on Linux. `None` when nothing was recorded: such a run can never
/// prove a process is its worker.
fn recorded_start(run: &OpenRun) -> Option<u64> {
    run.pid_start_unix_s
        .or_else(|| process_info::from_boot_ticks(run.pid_start_ticks?))
}

/// Whether `found` (the process now holding the run's pid) is the run's
/// worker: started in the recorded second, alive, and running the worker of
/// the run's app.
fn proves_ours(run: &OpenRun, started_s: u64, found: Option<&ProcessInfo>) -> bool {
    found.is_some_and(|p| p.started_s == started_s && !p.zombie && p.is_worker_of(&run.app))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn run(app: &str) -> OpenRun {
        OpenRun {
            id: 1,
            app: app.into(),
            pid: 42,
            pid_start_ticks: None,
            pid_start_unix_s: Some(1_700_000_000),
        }
    }

    fn process(started_s: u64, args: &[&str]) -> ProcessInfo {
        ProcessInfo {
            started_s,
            zombie: false,
            args: args.iter().map(OsString::from).collect(),
        }
    }

    #[test]
    fn only_pid_start_time_and_command_line_together_prove_a_worker_ours() {
        let run = run("claude");
        let worker = ["switchyard", "worker", "--app", "claude"];
        let t = 1_700_000_000;
        assert!(proves_ours(&run, t, Some(&process(t, &worker))));
        assert!(!proves_ours(&run, t, None));
        assert!(!proves_ours(&run, t, Some(&process(t + 1, &worker))));
        assert!(!proves_ours(&run, t, Some(&process(t, &["sleep", "30"]))));
        let codex = ["switchyard", "worker", "--app", "codex"];
        assert!(!proves_ours(&run, t, Some(&process(t, &codex))));
        let mut zombie = process(t, &worker);
        zombie.zombie = true;
        assert!(!proves_ours(&run, t, Some(&zombie)));
    }

    #[test]
    fn a_run_recorded_before_migration_0005_is_read_in_boot_ticks() {
        let mut legacy = run("claude");
        legacy.pid_start_unix_s = None;
        legacy.pid_start_ticks = Some(0);
        // Tick 0 is the moment of boot.
        assert_eq!(recorded_start(&legacy), Some(sysinfo::System::boot_time()));
        legacy.pid_start_ticks = None;
        assert_eq!(recorded_start(&legacy), None);
        assert_eq!(recorded_start(&run("claude")), Some(1_700_000_000));
    }
}
