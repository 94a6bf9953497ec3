//! The store: one thread owns the SQLite connection; everyone else sends it jobs.
//!
//! WAL mode, migrations by `user_version`, and a refusal to touch a database that
//! is empty, missing, damaged or from a newer Switchyard (`open.rs`). Reads
//! are calls answered in order; records — journal events, worker runs,
//! settings — are written behind their callers and held in memory while the
//! database cannot take them (`writer.rs`). Typed queries live in the sibling
//! files, one per table.

mod apps;
mod events;
mod open;
mod providers;
pub mod requests;
mod reserve;
mod runs;
mod takeover;
mod writer;

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

pub use apps::AppRow;
pub use open::marker_path;
pub use providers::{ProviderAuth, ProviderKey, ProviderRow};
pub use runs::OpenRun;
pub use takeover::TakeoverRecord;
pub use writer::{MAX_HELD_EVENTS, Timing};

use crate::protocol::state::NotRecording;
use writer::{Job, Record, Writer};

/// Migrations in order; `user_version` counts how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../assets/migrations/0001_init.sql"),
    include_str!("../../../assets/migrations/0002_takeover.sql"),
    include_str!("../../../assets/migrations/0003_journal_index.sql"),
    include_str!("../../../assets/migrations/0004_requests.sql"),
    include_str!("../../../assets/migrations/0005_process_start.sql"),
    include_str!("../../../assets/migrations/0006_provider_format.sql"),
    include_str!("../../../assets/migrations/0007_request_key.sql"),
    include_str!("../../../assets/migrations/0008_request_detail.sql"),
];

/// How to get out of a refused database, the same in every message.
fn recover(path: &Path) -> String {
    format!(
        "restore it from a backup, or move it aside (with its -wal and -shm files) and delete {} to start with a new, empty database; either way, CLI files Switchyard took over are still handed back on `switchyard disable APP` (their records are kept in {} as well)",
        marker_path(path).display(),
        path.with_file_name("takeover").display()
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "database {} was written by a newer Switchyard (schema {found}, this one knows {known}); upgrade switchyard, or point SWITCHYARD_HOME elsewhere", path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "database {} is empty (0 bytes{}), but a database is never created empty: its providers, stored keys and ports are gone. Switchyard will not start afresh on its own: {}",
        path.display(), wal.as_ref().map(|w| format!(", beside {}", w.display())).unwrap_or_default(), recover(path)
    )]
    Empty { path: PathBuf, wal: Option<PathBuf> },
    #[error(
        "database {} is missing, but {evidence}: its providers, stored keys and ports are gone. Switchyard will not start afresh on its own: restore it from a backup, or delete {} to start with a new, empty database; either way, CLI files Switchyard took over are still handed back on `switchyard disable APP` (their records are kept in {} as well)",
        path.display(), marker_path(path).display(), path.with_file_name("takeover").display()
    )]
    Missing { path: PathBuf, evidence: String },
    #[error("database {} is damaged ({problem}); it was left untouched: {}", path.display(), recover(path))]
    Damaged { path: PathBuf, problem: String },
    #[error("database {} is unreadable ({cause}); it was left untouched: {}", path.display(), recover(path))]
    Corrupt {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error("cannot open {}: {cause}", path.display())]
    Open {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("database {}: the disk is full; free some space and try again", path.display())]
    DiskFull { path: PathBuf },
    #[error("database query failed: {0}")]
    Query(rusqlite::Error),
    /// A change applied in memory that the store could not write.
    #[error("not saved: {0}")]
    Refused(String),
    #[error("the store thread has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Query(err)
    }
}

impl StoreError {
    /// `err` from a query on the database at `path`: a damaged file or a full
    /// disk named as such, with what to do.
    fn from_query(path: &Path, err: rusqlite::Error) -> StoreError {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                StoreError::Corrupt {
                    path: path.to_owned(),
                    cause: err,
                }
            }
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull {
                path: path.to_owned(),
            },
            _ => StoreError::Query(err),
        }
    }
}

/// What became of a change written behind its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// Held in memory for now (the reason); written once the database can.
    Held(String),
    /// Not written, and it will not be (the reason).
    Refused(String),
}

/// A change handed to the store thread; await it for what became of it.
pub struct Pending(oneshot::Receiver<Saved>);

impl IntoFuture for Pending {
    type Output = Result<Saved, StoreError>;
    type IntoFuture = futures::future::MapErr<
        oneshot::Receiver<Saved>,
        fn(oneshot::error::RecvError) -> StoreError,
    >;

    fn into_future(self) -> Self::IntoFuture {
        use futures::TryFutureExt;
        self.0.map_err(|_| StoreError::Closed)
    }
}

/// Options for [`Store::open_with`]; tests shorten the timings.
#[derive(Debug, Clone)]
pub struct Options {
    pub timing: Timing,
    /// Bytes set aside beside the database for a stop on a full disk.
    pub reserve: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timing: Timing::default(),
            reserve: reserve::RESERVE_BYTES,
        }
    }
}

/// A cheap handle to the store thread.
#[derive(Clone)]
pub struct Store {
    jobs: std::sync::mpsc::Sender<Job>,
    path: Arc<PathBuf>,
    recording: watch::Receiver<Option<NotRecording>>,
    /// Run ids are handed out here, so starting a run never waits on the disk.
    next_run: Arc<AtomicI64>,
}

impl Store {
    /// Opens (creating if this home never had one) and migrates the database,
    /// then starts the thread that owns it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, Options::default())
    }

    pub fn open_with(path: &Path, options: Options) -> Result<Store, StoreError> {
        let conn = open::open_connection(path)?;
        let next_run: i64 = conn
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM runs", [], |row| {
                row.get(0)
            })
            .map_err(|err| StoreError::from_query(path, err))?;
        let reserve = reserve::Reserve::new(open::sibling(path, ".reserve"), options.reserve);
        if let Err(err) = reserve.ensure() {
            tracing::warn!(%err, "store: cannot set a reserve file aside; a stop on a full disk may lose what is held in memory");
        }
        let (recording_tx, recording) = watch::channel(None);
        let writer = Writer::new(conn, path.to_owned(), options.timing, reserve, recording_tx);
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || writer.run(rx))
            .map_err(|cause| StoreError::Open {
                path: path.to_owned(),
                cause,
            })?;
        Ok(Store {
            jobs,
            path: Arc::new(path.to_owned()),
            recording,
            next_run: Arc::new(AtomicI64::new(next_run)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `None` while the store writes; why not, while it cannot.
    pub fn recording(&self) -> watch::Receiver<Option<NotRecording>> {
        self.recording.clone()
    }

    /// Queues `f` on the store thread without waiting for it; jobs run in the
    /// order they were queued. Failures are logged; nothing is held (for
    /// writes that must survive a full disk, see [`Store::record`]).
    pub fn submit<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&mut Connection) -> Result<(), rusqlite::Error> + Send + 'static,
    {
        let job = Job::Call(Box::new(move |conn| {
            if let Err(err) = f(conn) {
                tracing::error!(%err, "store: {what} failed");
            }
        }));
        if self.jobs.send(job).is_err() {
            tracing::error!("store: {what} dropped, the store thread has stopped");
        }
    }

    /// Waits until every job queued so far has run.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|_| Ok(())).await
    }

    /// Writes what is held, checkpoints the write-ahead log into the database
    /// file (so a copy of the `.db` alone is whole) and closes it.
    pub async fn close(&self) {
        let (done, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(done)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Runs `f` on the store thread (after every record queued before it has
    /// been written) and returns its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Job::Call(Box::new(move |conn| {
            let _ = tx.send(f(conn));
        }));
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        let result = rx.await.map_err(|_| StoreError::Closed)?;
        result.map_err(|err| StoreError::from_query(&self.path, err))
    }

    /// Queues a write behind the caller; it is written with the next burst,
    /// or held in memory while the database cannot take it.
    fn record(&self, record: Record) {
        if self.jobs.send(Job::Record(record)).is_err() {
            tracing::error!("store: a record was dropped, the store thread has stopped");
        }
    }

    /// [`Store::record`] for a change someone waits to hear about.
    fn save(
        &self,
        what: &'static str,
        write: impl FnMut(&rusqlite::Transaction<'_>) -> rusqlite::Result<()> + Send + 'static,
    ) -> Pending {
        let (tx, rx) = oneshot::channel();
        let mut record = Record::new(what, 0, write);
        record.saved = Some(tx);
        self.record(record);
        Pending(rx)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrates_and_seeds_the_apps() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let apps = store.apps().await.unwrap();
        let ports: Vec<_> = apps.iter().map(|a| (a.app.name(), a.port)).collect();
        assert_eq!(
            ports,
            [("claude", 15721), ("codex", 15722), ("gemini", 15723)]
        );
    }

    #[test]
    fn refuses_a_newer_schema_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = open::open_connection(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_damaged_file_met_at_run_time_is_named_with_the_way_out() {
        let path = Path::new("/home/u/.local/share/switchyard/switchyard.db");
        let err = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some("database disk image is malformed".into()),
        );
        let text = StoreError::from_query(path, err).to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("restore it from a backup"), "{text}");
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let text = StoreError::from_query(path, full).to_string();
        assert!(text.contains("disk is full"), "{text}");
    }

    #[test]
    fn refuses_a_corrupt_file_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let garbage = vec![0x5au8; 8192];
        std::fs::write(&path, &garbage).unwrap();
        let err = open::open_connection(&path).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }
}
