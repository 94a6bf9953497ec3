//! Start-up reconciliation of worker runs: a daemon that died uncleanly may
//! have left runs open and, in rare cases, workers alive. Workers that are
//! provably ours (same pid and same start time) are killed; every open run is
//! closed as `daemon-lost`.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::process::{signal, start_time};
use crate::lock::process_alive;
use crate::store::{Store, StoreError};

/// Kills leftover workers and closes their runs. Returns how many were killed.
pub async fn kill_leftover_workers(store: &Store) -> Result<usize, StoreError> {
    let mut killed = 0;
    for run in store.open_runs().await? {
        let ours = run.pid_start.is_some() && start_time(run.pid) == run.pid_start;
        if ours && process_alive(run.pid) {
            tracing::warn!(app = %run.app, pid = run.pid, "killing a worker left behind by a previous daemon");
            signal(run.pid, Signal::SIGKILL);
            killed += 1;
            let deadline = Instant::now() + Duration::from_secs(2);
            while start_time(run.pid) == run.pid_start && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
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
