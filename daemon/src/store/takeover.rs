//! The `takeover` table: for each app whose CLI configuration Switchyard has
//! pointed at its proxy, the file's bytes from before the first change, the
//! bytes last written, and the previous values of the keys Switchyard owns.
//! It is written before the file is, so a crash never loses the original.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now_ms};
use crate::apps::App;

/// What Switchyard needs to hand a configuration file back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeoverRecord {
    pub app: App,
    pub path: PathBuf,
    /// The file before the first change; `None` when it did not exist.
    pub original: Option<Vec<u8>>,
    /// What Switchyard last wrote.
    pub written: Vec<u8>,
    /// The previous values of the owned keys, as JSON (see `takeover::Previous`).
    pub previous: String,
    /// Every difference between `original` and `written` is Switchyard's own.
    pub clean: bool,
}

impl Store {
    pub async fn takeover_record(&self, app: App) -> Result<Option<TakeoverRecord>, StoreError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT path, original, written, previous, clean FROM takeover WHERE app = ?1",
                params![app.name()],
                |row| {
                    Ok(TakeoverRecord {
                        app,
                        path: PathBuf::from(OsString::from_vec(row.get::<_, Vec<u8>>(0)?)),
                        original: row.get(1)?,
                        written: row.get(2)?,
                        previous: row.get(3)?,
                        clean: row.get(4)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Inserts or replaces `record`, keeping its first creation time.
    pub async fn save_takeover(&self, record: TakeoverRecord) -> Result<(), StoreError> {
        self.call(move |conn| {
            let now = now_ms() as i64;
            conn.execute(
                "INSERT INTO takeover (app, path, original, written, previous, clean, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT (app) DO UPDATE SET path = ?2, original = ?3, written = ?4,
                     previous = ?5, clean = ?6, updated_at_ms = ?7",
                params![
                    record.app.name(),
                    record.path.as_os_str().as_bytes(),
                    record.original,
                    record.written,
                    record.previous,
                    record.clean,
                    now,
                ],
            )
            .map(drop)
        })
        .await
    }

    pub async fn delete_takeover(&self, app: App) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute("DELETE FROM takeover WHERE app = ?1", params![app.name()])
                .map(drop)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_round_trip_and_keep_absent_originals_apart_from_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(store.takeover_record(App::Claude).await.unwrap(), None);
        let mut record = TakeoverRecord {
            app: App::Claude,
            path: PathBuf::from(OsString::from_vec(
                b"/home/\xffu/.claude/settings.json".to_vec(),
            )),
            original: None,
            written: b"{}".to_vec(),
            previous: "{}".into(),
            clean: true,
        };
        store.save_takeover(record.clone()).await.unwrap();
        assert_eq!(
            store.takeover_record(App::Claude).await.unwrap(),
            Some(record.clone())
        );
        record.original = Some(Vec::new());
        record.clean = false;
        store.save_takeover(record.clone()).await.unwrap();
        assert_eq!(
            store.takeover_record(App::Claude).await.unwrap(),
            Some(record)
        );
        store.delete_takeover(App::Claude).await.unwrap();
        assert_eq!(store.takeover_record(App::Claude).await.unwrap(), None);
    }
}
