//! The `takeover` table, where Switchyard kept its takeover records before
//! they moved to private files of their own (`takeover::record`), which
//! survive the loss of the database. The daemon reads what is left here once
//! at start, saves it as record files, and deletes the rows.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use rusqlite::params;

use super::{Store, StoreError};
use crate::apps::App;

/// A record as the table kept it: one file per app.
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
    /// Every record left in the table.
    pub async fn legacy_takeover_records(&self) -> Result<Vec<TakeoverRecord>, StoreError> {
        self.call(move |conn| {
            let mut stmt =
                conn.prepare("SELECT app, path, original, written, previous, clean FROM takeover")?;
            let rows = stmt.query_map([], |row| {
                let app: String = row.get(0)?;
                Ok((
                    app,
                    TakeoverRecord {
                        app: App::Claude,
                        path: PathBuf::from(OsString::from_vec(row.get::<_, Vec<u8>>(1)?)),
                        original: row.get(2)?,
                        written: row.get(3)?,
                        previous: row.get(4)?,
                        clean: row.get(5)?,
                    },
                ))
            })?;
            let mut records = Vec::new();
            for row in rows {
                let (name, record) = row?;
                if let Ok(app) = name.parse::<App>() {
                    records.push(TakeoverRecord { app, ..record });
                }
            }
            Ok(records)
        })
        .await
    }

    pub async fn delete_legacy_takeover(&self, app: App) -> Result<(), StoreError> {
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
    async fn records_an_older_switchyard_left_are_read_then_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(store.legacy_takeover_records().await.unwrap(), []);
        store
            .call(|conn| {
                conn.execute(
                    "INSERT INTO takeover (app, path, original, written, previous, clean, created_at_ms, updated_at_ms)
                     VALUES ('codex', ?1, NULL, X'7B7D', '{}', 1, 0, 0)",
                    params![b"/home/\xffu/.codex/config.toml".as_slice()],
                )
                .map(drop)
            })
            .await
            .unwrap();
        let records = store.legacy_takeover_records().await.unwrap();
        assert_eq!(
            records,
            [TakeoverRecord {
                app: App::Codex,
                path: PathBuf::from(OsString::from_vec(
                    b"/home/\xffu/.codex/config.toml".to_vec()
                )),
                original: None,
                written: b"{}".to_vec(),
                previous: "{}".into(),
                clean: true,
            }]
        );
        store.delete_legacy_takeover(App::Codex).await.unwrap();
        assert_eq!(store.legacy_takeover_records().await.unwrap(), []);
    }
}
