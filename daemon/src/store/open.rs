//! Opening the database: refuse what must not be touched, create what is new.
//!
//! A database that existed is never re-created silently: an empty file (with
//! or without a `-wal`), a missing one beside the marker that says one was
//! made here, a damaged one (a bounded `quick_check` at start) or one from a
//! newer Switchyard each refuse to start with the file named and the way out
//! said. A new database is built under a temporary name and renamed into
//! place, so a crash while creating it never leaves an empty `switchyard.db`.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{MIGRATIONS, StoreError};

/// The integrity check at start gives up (and says so in the log) after this.
const CHECK_BUDGET: Duration = Duration::from_secs(3);

/// The file beside the database that says one was created here.
pub fn marker_path(db: &Path) -> PathBuf {
    sibling(db, ".marker")
}

/// `db` with `suffix` appended to its file name (`switchyard.db-wal`, …).
pub(super) fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    db.with_file_name(name)
}

/// Opens the database at `path` (creating it when this home never had one),
/// checks it and brings its schema up to date.
pub(super) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let marker = marker_path(path);
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => {
            let wal = sibling(path, "-wal");
            return Err(StoreError::Empty {
                path: path.to_owned(),
                wal: wal.exists().then_some(wal),
            });
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if let Some(evidence) = existed_before(path, &marker) {
                return Err(StoreError::Missing {
                    path: path.to_owned(),
                    evidence,
                });
            }
            create(path)?;
        }
        Err(cause) => {
            return Err(StoreError::Open {
                path: path.to_owned(),
                cause,
            });
        }
    }
    let corrupt = |cause| StoreError::Corrupt {
        path: path.to_owned(),
        cause,
    };
    // Never create here: a file that vanished since the check above must not
    // come back empty.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(corrupt)?;
    // Read before writing anything: a damaged or newer file stays untouched.
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(corrupt)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    check_integrity(&conn, path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(corrupt)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    migrate(&mut conn, version)?;
    if !marker.exists() {
        write_marker(&marker).map_err(|cause| StoreError::Open {
            path: marker.clone(),
            cause,
        })?;
    }
    Ok(conn)
}

/// What shows that this home had a database, if anything does.
fn existed_before(db: &Path, marker: &Path) -> Option<String> {
    if marker.exists() {
        return Some(format!("{} says one was created here", marker.display()));
    }
    let wal = sibling(db, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Some(format!("its write-ahead log {} remains", wal.display()));
    }
    None
}

/// Builds a new, migrated database beside `path` and renames it into place.
fn create(path: &Path) -> Result<(), StoreError> {
    let fresh = sibling(path, ".new");
    let io = |cause| StoreError::Open {
        path: path.to_owned(),
        cause,
    };
    for leftover in [&fresh, &sibling(&fresh, "-journal")] {
        match std::fs::remove_file(leftover) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(io(err)),
            _ => {}
        }
    }
    // Private from its first byte: it will hold API keys.
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&fresh)
        .and_then(|_| std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600)))
        .map_err(io)?;
    {
        let mut conn = Connection::open(&fresh)?;
        // Rollback-journal mode while it is private: one file to rename.
        migrate(&mut conn, 0)?;
    }
    std::fs::rename(&fresh, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection, from: i64) -> Result<(), StoreError> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// `PRAGMA quick_check`, stopped at the first problem and after
/// [`CHECK_BUDGET`] (a huge file then starts unchecked, and the log says so).
fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let interrupt = conn.get_interrupt_handle();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(CHECK_BUDGET) {
            interrupt.interrupt();
        }
    });
    let verdict = conn.query_row("PRAGMA quick_check(1)", [], |row| row.get::<_, String>(0));
    drop(done);
    let _ = watchdog.join();
    match verdict {
        Ok(verdict) if verdict == "ok" => Ok(()),
        Ok(problem) => Err(StoreError::Damaged {
            path: path.to_owned(),
            problem,
        }),
        Err(rusqlite::Error::SqliteFailure(err, _))
            if err.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            tracing::warn!(path = %path.display(), budget_s = CHECK_BUDGET.as_secs(),
                "integrity check skipped: it took too long on a file this large");
            Ok(())
        }
        Err(cause) => Err(StoreError::Corrupt {
            path: path.to_owned(),
            cause,
        }),
    }
}

fn write_marker(marker: &Path) -> std::io::Result<()> {
    let db = marker
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".marker"))
        .unwrap_or("switchyard.db");
    let text = format!(
        "Switchyard created {db} in this directory. While this file exists, Switchyard\n\
         refuses to start without that database instead of silently starting with an\n\
         empty one (your providers, stored keys, ports and takeover records are in it).\n\
         Restore {db} from a backup, or delete this file to start afresh.\n"
    );
    std::fs::write(marker, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_home_gets_a_database_and_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard.db");
        open_connection(&path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        assert!(marker_path(&path).exists());
        assert!(!sibling(&path, ".new").exists());
    }

    #[test]
    fn an_empty_file_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::write(sibling(&path, "-wal"), b"x").unwrap();
        let err = open_connection(&path).err().unwrap();
        assert!(
            matches!(err, StoreError::Empty { wal: Some(_), .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_missing_file_beside_the_marker_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard.db");
        open_connection(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = open_connection(&path).err().unwrap();
        assert!(matches!(err, StoreError::Missing { .. }), "{err}");
        assert!(!path.exists(), "nothing was created");
        std::fs::remove_file(marker_path(&path)).unwrap();
        open_connection(&path).unwrap();
    }

    #[test]
    fn damage_past_the_first_page_is_caught_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard.db");
        {
            let conn = open_connection(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode = DELETE").unwrap();
            let body = "x".repeat(500);
            for seq in 0..200 {
                conn.execute(
                    "INSERT INTO events (epoch, seq, at_ms, body) VALUES (1, ?1, 0, ?2)",
                    rusqlite::params![seq, body],
                )
                .unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let page = 4096;
        assert!(bytes.len() > 10 * page);
        bytes[6 * page..7 * page].fill(0xa5);
        std::fs::write(&path, &bytes).unwrap();
        let err = open_connection(&path).err().unwrap();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left untouched");
    }
}
