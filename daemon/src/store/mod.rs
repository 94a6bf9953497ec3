//! The store: one thread owns the SQLite connection; everyone else sends it jobs.
//!
//! WAL mode, migrations by `user_version`, and a refusal to touch a database that
//! is corrupt or from a newer Switchyard. Typed queries live in the sibling files,
//! one per table.

mod apps;
mod events;
mod providers;
pub mod requests;
mod runs;
mod takeover;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

pub use apps::AppRow;
pub use providers::{ProviderAuth, ProviderRow};
pub use runs::OpenRun;
pub use takeover::TakeoverRecord;

/// Migrations in order; `user_version` counts how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../assets/migrations/0001_init.sql"),
    include_str!("../../../assets/migrations/0002_takeover.sql"),
    include_str!("../../../assets/migrations/0005_process_start.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "database {path} was written by a newer Switchyard (schema {found}, this one knows {known}); upgrade switchyard, or point SWITCHYARD_HOME elsewhere"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "database {path} is unreadable ({source}); move it aside to start afresh, it was left untouched"
    )]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("the store thread has stopped")]
    Closed,
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A cheap handle to the store thread.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database, then starts the
    /// thread that owns it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = open_connection(path)?;
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                let mut conn = conn;
                while let Some(job) = rx.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store { jobs })
    }

    /// Queues `f` on the store thread without waiting for it; jobs run in the
    /// order they were queued. Failures are logged.
    pub fn submit<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&mut Connection) -> Result<(), rusqlite::Error> + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            if let Err(err) = f(conn) {
                tracing::error!(%err, "store: {what} failed");
            }
        });
        if self.jobs.send(job).is_err() {
            tracing::error!("store: {what} dropped, the store thread has stopped");
        }
    }

    /// Waits until every job queued so far has run.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|_| Ok(())).await
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        Ok(rx.await.map_err(|_| StoreError::Closed)??)
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let corrupt = |source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    };
    // Create the file ourselves so it is private from its first byte: it may
    // hold API keys.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)))
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
    let mut conn = Connection::open(path).map_err(corrupt)?;
    // Read before writing anything: a corrupt or newer file must stay untouched.
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(corrupt)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map_err(corrupt)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(corrupt)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(conn)
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
        let err = open_connection(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn refuses_a_corrupt_file_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let garbage = vec![0x5au8; 8192];
        std::fs::write(&path, &garbage).unwrap();
        let err = open_connection(&path).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }
}
