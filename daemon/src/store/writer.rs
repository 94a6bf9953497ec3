//! The store thread: runs jobs in order and writes records — journal events,
//! worker runs, settings — behind its callers, so nobody waits on the disk.
//!
//! When the database cannot take them (disk full, a damaged file), records
//! stay in memory, bounded, and are written in order once it can; the thread
//! says so through [`Recording`] (the core turns that into an event). A reserve
//! file set aside at start is given up at stop if the disk is still full, so
//! that what is held — above all the ends of worker runs — still gets written.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, Transaction};
use tokio::sync::{oneshot, watch};

use super::events as journal;
use super::reserve::Reserve;
use super::{Saved, now_ms};
use crate::protocol::state::NotRecording;

/// Events held in memory at most while the database cannot take them; older
/// ones are dropped (and counted) beyond this.
pub const MAX_HELD_EVENTS: usize = 4096;
/// Runs and settings held at most; beyond this new ones are refused.
pub const MAX_HELD_OTHER: usize = 4096;

/// How often the thread tries again while it cannot write.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// At most this many jobs are taken in before held records are written.
const BURST: usize = 1024;

pub(super) type Call = Box<dyn FnOnce(&mut Connection) + Send>;
type Write = Box<dyn FnMut(&Transaction<'_>) -> rusqlite::Result<()> + Send>;

pub(super) enum Job {
    Call(Call),
    Record(Record),
    /// Write what is held, checkpoint, close; then answer.
    Close(oneshot::Sender<()>),
}

/// One write that happens behind its caller.
pub(super) struct Record {
    pub what: &'static str,
    /// Journal events in it: what the bound counts and what may be dropped.
    pub events: usize,
    pub write: Write,
    /// Told once the record is written, or held.
    pub saved: Option<oneshot::Sender<Saved>>,
}

impl Record {
    pub fn new(
        what: &'static str,
        events: usize,
        write: impl FnMut(&Transaction<'_>) -> rusqlite::Result<()> + Send + 'static,
    ) -> Record {
        Record {
            what,
            events,
            write: Box::new(write),
            saved: None,
        }
    }
}

/// How the thread's loop is timed.
#[derive(Debug, Clone)]
pub struct Timing {
    /// A write is checkpointed into the main file at most this long after it
    /// happened, so a copy of the `.db` alone is whole.
    pub checkpoint_after: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            checkpoint_after: Duration::from_secs(30),
        }
    }
}

/// Why records are not being written: the current episode.
struct Problem {
    detail: String,
    since_ms: u64,
    retry_at: Instant,
}

pub(super) struct Writer {
    pub conn: Connection,
    pub path: PathBuf,
    pub timing: Timing,
    pub reserve: Reserve,
    pub recording: watch::Sender<Option<NotRecording>>,
    held: VecDeque<Record>,
    held_events: usize,
    held_other: usize,
    dropped: u64,
    problem: Option<Problem>,
    /// When the oldest write not yet checkpointed happened.
    dirty_since: Option<Instant>,
    /// Events appended since the journal was last trimmed.
    since_trim: usize,
}

impl Writer {
    pub fn new(
        conn: Connection,
        path: PathBuf,
        timing: Timing,
        reserve: Reserve,
        recording: watch::Sender<Option<NotRecording>>,
    ) -> Writer {
        Writer {
            conn,
            path,
            timing,
            reserve,
            recording,
            held: VecDeque::new(),
            held_events: 0,
            held_other: 0,
            dropped: 0,
            problem: None,
            dirty_since: None,
            // Trim once soon after start: a journal may be over its bounds.
            since_trim: journal::TRIM_EVERY,
        }
    }

    pub fn run(mut self, jobs: Receiver<Job>) {
        loop {
            let job = match self.next_wake() {
                None => jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => jobs.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            let mut job = match job {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return self.finish(),
            };
            // A burst is taken in whole and written in one transaction.
            let mut taken = 0;
            while let Some(next) = job.take() {
                match next {
                    Job::Record(record) => self.hold(record),
                    Job::Call(call) => {
                        // A read sees every write queued before it.
                        self.write_held(false);
                        call(&mut self.conn);
                    }
                    Job::Close(done) => {
                        self.finish();
                        let _ = done.send(());
                        return;
                    }
                }
                taken += 1;
                if taken < BURST {
                    job = jobs.try_recv().ok();
                }
            }
            self.tick();
        }
    }

    /// When the loop must wake without a job: a retry, a checkpoint, a trim.
    fn next_wake(&self) -> Option<Instant> {
        let now = Instant::now();
        if let Some(problem) = &self.problem {
            return Some(problem.retry_at);
        }
        if self.since_trim >= journal::TRIM_EVERY {
            return Some(now);
        }
        self.dirty_since.map(|at| at + self.timing.checkpoint_after)
    }

    /// Periodic work: write what is held, trim the journal, checkpoint.
    fn tick(&mut self) {
        self.write_held(false);
        if self.problem.is_some() {
            return;
        }
        if self.since_trim >= journal::TRIM_EVERY {
            match journal::trim_batch(&self.conn) {
                // More to do: the next wake comes at once, after any jobs.
                Ok(true) => {
                    self.dirty_since.get_or_insert_with(Instant::now);
                }
                Ok(false) => self.since_trim = 0,
                Err(err) => {
                    tracing::warn!(%err, "store: cannot trim the event journal");
                    self.since_trim = 0;
                }
            }
        }
        if self
            .dirty_since
            .is_some_and(|at| at.elapsed() >= self.timing.checkpoint_after)
        {
            self.dirty_since = None;
            if let Err(err) = self.checkpoint("PASSIVE") {
                tracing::warn!(%err, "store: periodic checkpoint failed");
            }
        }
    }

    fn hold(&mut self, mut record: Record) {
        // During an episode the caller hears at once that it waits in memory.
        if let Some(problem) = &self.problem
            && let Some(saved) = record.saved.take()
        {
            let _ = saved.send(Saved::Held(problem.detail.clone()));
        }
        if record.events == 0 && self.held_other >= MAX_HELD_OTHER {
            tracing::error!(
                what = record.what,
                "store: too many changes held in memory; this one is not saved"
            );
            if let Some(saved) = record.saved {
                let _ = saved.send(Saved::Refused(self.reason()));
            }
            return;
        }
        if record.events == 0 {
            self.held_other += 1;
        }
        self.held_events += record.events;
        self.held.push_back(record);
        // Over the bound: the oldest events go first (runs and settings stay).
        while self.held_events > MAX_HELD_EVENTS {
            let Some(index) = self.held.iter().position(|r| r.events > 0) else {
                break;
            };
            if let Some(old) = self.held.remove(index) {
                self.held_events -= old.events;
                self.dropped += old.events as u64;
            }
        }
    }

    /// Writes every held record in one transaction. `at_stop`: try now even
    /// during an episode.
    fn write_held(&mut self, at_stop: bool) {
        if self.held.is_empty() {
            return;
        }
        if !at_stop
            && self
                .problem
                .as_ref()
                .is_some_and(|p| Instant::now() < p.retry_at)
        {
            return;
        }
        let result = write_all(&mut self.conn, self.held.iter_mut());
        match result {
            Ok(()) => self.written(),
            Err(err) => match episode_reason(&err, &self.path) {
                Some((reason, detail)) => self.not_recording(reason, detail, &err),
                // One record is at fault (a bug, not the disk): write them one
                // by one and drop the ones that fail, so the rest are not stuck.
                None => self.write_one_by_one(),
            },
        }
    }

    fn written(&mut self) {
        self.dirty_since.get_or_insert_with(Instant::now);
        self.since_trim += self.held_events;
        for record in self.held.drain(..) {
            if let Some(saved) = record.saved {
                let _ = saved.send(Saved::Written);
            }
        }
        self.held_events = 0;
        self.held_other = 0;
        if let Some(problem) = self.problem.take() {
            let dropped = std::mem::take(&mut self.dropped);
            tracing::warn!(
                was = %problem.detail,
                dropped,
                "store: recording again; everything held in memory is written{}",
                if dropped > 0 { format!(" except {dropped} events dropped over the bound") } else { String::new() }
            );
            self.recording.send_replace(None);
            if let Err(err) = self.reserve.ensure() {
                tracing::warn!(%err, "store: cannot set the reserve file aside yet");
            }
        }
    }

    fn not_recording(&mut self, reason: String, detail: String, err: &rusqlite::Error) {
        let now = Instant::now();
        for record in &mut self.held {
            if let Some(saved) = record.saved.take() {
                let _ = saved.send(Saved::Held(detail.clone()));
            }
        }
        let report = NotRecording {
            reason,
            detail: detail.clone(),
            since_ms: self.problem.as_ref().map_or_else(now_ms, |p| p.since_ms),
            dropped: self.dropped,
        };
        match &mut self.problem {
            Some(problem) if problem.detail == detail => {
                problem.retry_at = now + RETRY_EVERY;
                // Only news is published: the dropped count moves.
                if self.recording.borrow().as_ref() != Some(&report) {
                    self.recording.send_replace(Some(report));
                }
            }
            _ => {
                tracing::error!(%err, held = self.held.len(),
                    "store: not recording: {detail}; events, worker runs and settings are held in memory (up to {MAX_HELD_EVENTS} events) and written once the database can take them");
                self.problem = Some(Problem {
                    detail,
                    since_ms: report.since_ms,
                    retry_at: now + RETRY_EVERY,
                });
                self.recording.send_replace(Some(report));
            }
        }
    }

    fn write_one_by_one(&mut self) {
        let mut kept = VecDeque::new();
        while let Some(mut record) = self.held.pop_front() {
            match write_all(&mut self.conn, std::iter::once(&mut record)) {
                Ok(()) => {
                    if let Some(saved) = record.saved.take() {
                        let _ = saved.send(Saved::Written);
                    }
                }
                Err(err) => match episode_reason(&err, &self.path) {
                    Some(_) => kept.push_back(record),
                    None => {
                        tracing::error!(%err, what = record.what, "store: a record cannot be written and is dropped");
                        if let Some(saved) = record.saved.take() {
                            let _ = saved.send(Saved::Refused(err.to_string()));
                        }
                    }
                },
            }
        }
        self.held = kept;
        self.held_events = self.held.iter().map(|r| r.events).sum();
        self.held_other = self.held.iter().filter(|r| r.events == 0).count();
        if self.held.is_empty() {
            self.written();
        } else {
            self.write_held(true);
        }
    }

    fn reason(&self) -> String {
        self.problem.as_ref().map_or_else(
            || "the store is overloaded".to_owned(),
            |p| p.detail.clone(),
        )
    }

    /// At stop: write what is held (giving up the reserve if the disk is
    /// full), then checkpoint so the `.db` alone is whole, then close.
    fn finish(mut self) {
        self.write_held(true);
        if !self.held.is_empty() && self.reserve.release() {
            tracing::warn!(
                "store: the disk is full at stop; using the reserve file to write what is held"
            );
            self.write_held(true);
        }
        if !self.held.is_empty() {
            // Not enough room for everything: runs and settings first.
            let (others, events): (VecDeque<_>, VecDeque<_>) =
                self.held.drain(..).partition(|r| r.events == 0);
            self.held = others;
            self.write_held(true);
            let lost_others = self.held.len();
            self.held = events;
            while let Some(record) = self.held.pop_front() {
                let mut one = VecDeque::from([record]);
                if write_all(&mut self.conn, one.iter_mut()).is_err() {
                    self.dropped += one.iter().map(|r| r.events as u64).sum::<u64>();
                    self.dropped += self.held.iter().map(|r| r.events as u64).sum::<u64>();
                    self.held.clear();
                }
            }
            tracing::error!(
                lost_others,
                dropped_events = self.dropped,
                "store: stopping while the database cannot be written ({}); what is listed here is lost",
                self.reason()
            );
        }
        if let Err(err) = self.checkpoint("TRUNCATE") {
            if self.reserve.release() {
                let _ = self.checkpoint("TRUNCATE");
            } else {
                tracing::warn!(%err, "store: cannot checkpoint at stop; the -wal file beside the database still holds recent changes");
            }
        }
    }

    fn checkpoint(&self, mode: &str) -> rusqlite::Result<()> {
        let (busy, _, _): (i64, i64, i64) =
            self.conn
                .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
        if busy != 0 {
            tracing::debug!(mode, "store: checkpoint could not finish (busy)");
        }
        Ok(())
    }
}

fn write_all<'a>(
    conn: &mut Connection,
    records: impl Iterator<Item = &'a mut Record>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for record in records {
        (record.write)(&tx)?;
    }
    tx.commit()
}

/// Why the database cannot take any write now (an episode that later writes
/// may outlast): a few words and the whole sentence. `None` when the error
/// belongs to one record.
pub(super) fn episode_reason(
    err: &rusqlite::Error,
    path: &std::path::Path,
) -> Option<(String, String)> {
    let rusqlite::Error::SqliteFailure(failure, _) = err else {
        return None;
    };
    let path = path.display();
    let (reason, detail) = match failure.code {
        ErrorCode::DiskFull => (
            "disk full",
            format!("disk full: the disk holding {path} has no space left; free some"),
        ),
        ErrorCode::SystemIoFailure => ("cannot write", format!("cannot write {path} ({err})")),
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => (
            "database damaged",
            format!(
                "database {path} is damaged; stop the daemon, then restore it from a backup or move it aside"
            ),
        ),
        ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen => (
            "cannot write",
            format!("cannot write {path} ({err}); check its permissions"),
        ),
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => (
            "database locked",
            format!("database {path} is locked by another program"),
        ),
        _ => return None,
    };
    Some((reason.to_owned(), detail))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::MAX_HELD_EVENTS;
    use crate::apps::App;
    use crate::protocol::state::{Event, EventKind};
    use crate::store::{Options, Saved, Store, Timing};

    fn event(seq: u64) -> Event {
        Event {
            seq,
            at_ms: crate::store::now_ms(),
            kind: EventKind::DaemonStopping,
        }
    }

    /// A database that refuses writes (here: `query_only`, as a full disk
    /// would): records are held, the oldest events dropped over the bound and
    /// counted, the episode published, and everything held written once it
    /// can write again.
    #[tokio::test]
    async fn holds_records_while_the_database_cannot_write_and_writes_them_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard.db");
        let options = Options {
            timing: Timing::default(),
            reserve: 0,
        };
        let store = Store::open_with(&path, options).unwrap();
        let mut recording = store.recording();
        store
            .call(|c| c.pragma_update(None, "query_only", true))
            .await
            .unwrap();
        let total = MAX_HELD_EVENTS as u64 + 10;
        for seq in 1..=total {
            store.append_events(1, vec![event(seq)]);
        }
        let saved = store.set_port(App::Claude, 1234).await.unwrap();
        assert!(
            matches!(saved, Saved::Held(ref why) if why.contains("cannot write")),
            "{saved:?}"
        );
        let episode = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(not) = recording.borrow_and_update().clone()
                    && not.dropped > 0
                {
                    return not;
                }
                recording.changed().await.unwrap();
            }
        })
        .await
        .expect("the dropped events are published");
        assert_eq!(episode.dropped, 10);
        store
            .call(|c| c.pragma_update(None, "query_only", false))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while recording.borrow_and_update().is_some() {
                recording.changed().await.unwrap();
            }
        })
        .await
        .expect("recording again");
        let (count, first, port): (u64, u64, u16) = store
            .call(|c| {
                c.query_row(
                    "SELECT count(*), min(seq), (SELECT port FROM apps WHERE app = 'claude') FROM events",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .await
            .unwrap();
        assert_eq!(count, MAX_HELD_EVENTS as u64, "the newest events");
        assert_eq!(first, 11, "the oldest were dropped");
        assert_eq!(port, 1234, "the setting was written");
    }
}
