//! The `runs` table: one row per worker process, from spawn to exit. Both
//! ends are records written behind the supervisor (the id is handed out in
//! memory), so a worker starts and stops without waiting on the disk.

use std::sync::atomic::Ordering;

use rusqlite::params;

use super::writer::Record;
use super::{Store, StoreError, now_ms};
use crate::apps::App;
use crate::protocol::state::ExitInfo;

/// A run that has no end recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRun {
    pub id: i64,
    pub app: String,
    pub pid: u32,
    /// When the worker started, in seconds since the Unix epoch
    /// ([`crate::process_info::start_time`]).
    pub pid_start_unix_s: Option<u64>,
    /// What versions before migration 0005 recorded instead, on Linux: clock
    /// ticks after boot.
    pub pid_start_ticks: Option<u64>,
}

impl Store {
    /// Records a spawned worker; returns the run id at once.
    pub async fn start_run(
        &self,
        app: App,
        epoch: u64,
        pid: u32,
        pid_start_unix_s: Option<u64>,
    ) -> Result<i64, StoreError> {
        let id = self.next_run.fetch_add(1, Ordering::Relaxed);
        let started = now_ms() as i64;
        self.record(Record::new("run start", 0, move |tx| {
            tx.execute(
                "INSERT INTO runs (id, app, epoch, pid, pid_start_unix_s, started_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, app.name(), epoch as i64, pid, pid_start_unix_s.map(|s| s as i64), started],
            )
            .map(drop)
        }));
        Ok(id)
    }

    /// Records a worker's end (written after its start, whatever happens).
    pub async fn end_run(&self, id: i64, exit: ExitInfo) -> Result<(), StoreError> {
        self.record(Record::new("run end", 0, move |tx| {
            tx.execute(
                "UPDATE runs SET ended_at_ms = ?2, exit_code = ?3, signal = ?4, reason = ?5 WHERE id = ?1",
                params![id, exit.at_ms as i64, exit.code, exit.signal, exit.reason.as_str()],
            )
            .map(drop)
        }));
        Ok(())
    }

    /// Runs a previous daemon left open (it died without recording their end).
    pub async fn open_runs(&self) -> Result<Vec<OpenRun>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, app, pid, pid_start_unix_s, pid_start FROM runs WHERE ended_at_ms IS NULL",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(OpenRun {
                    id: row.get(0)?,
                    app: row.get(1)?,
                    pid: row.get(2)?,
                    pid_start_unix_s: row.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                    pid_start_ticks: row.get::<_, Option<i64>>(4)?.map(|s| s as u64),
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Closes every open run with the reason `daemon-lost`.
    pub async fn close_lost_runs(&self) -> Result<usize, StoreError> {
        self.call(|conn| {
            conn.execute(
                "UPDATE runs SET ended_at_ms = ?1, reason = 'daemon-lost' WHERE ended_at_ms IS NULL",
                params![now_ms() as i64],
            )
        })
        .await
    }
}
