//! The `events` table: the journal behind `switchyard events --since` and the
//! dashboard's event pane, with bounded retention. Appends are records written
//! behind the core; trimming runs on the store thread in small batches, every
//! [`TRIM_EVERY`] events, through indexes (rowid, `at_ms`), never a scan.

use rusqlite::{Connection, params};

use super::writer::Record;
use super::{Store, StoreError};
use crate::protocol::state::Event;

/// The journal keeps at most this many events…
pub const JOURNAL_MAX_EVENTS: i64 = 50_000;
/// …and none older than this.
pub const JOURNAL_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;
/// The journal is trimmed after this many appended events…
pub(super) const TRIM_EVERY: usize = 512;
/// …by at most this many rows per store job, so other jobs never wait long.
const TRIM_BATCH: i64 = 1000;

impl Store {
    /// Queues a batch of events of one epoch for the journal.
    pub fn append_events(&self, epoch: u64, events: Vec<Event>) {
        let count = events.len();
        let bodies: Vec<(i64, i64, Option<&'static str>, String)> = events
            .iter()
            .map(|event| {
                (
                    event.seq as i64,
                    event.at_ms as i64,
                    event.kind.app().map(|a| a.name()),
                    serde_json::to_string(event).unwrap_or_default(),
                )
            })
            .collect();
        self.record(Record::new("journal append", count, move |tx| {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO events (epoch, seq, at_ms, app, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (seq, at_ms, app, body) in &bodies {
                insert.execute(params![epoch as i64, seq, at_ms, app, body])?;
            }
            Ok(())
        }));
    }

    /// Events of `epoch` after `since`, in order, or `None` when the journal no
    /// longer holds all of them (the caller then needs a snapshot instead).
    pub async fn events_since(
        &self,
        epoch: u64,
        since: u64,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.call(move |conn| {
            let oldest: Option<i64> = conn.query_row(
                "SELECT min(seq) FROM events WHERE epoch = ?1",
                params![epoch as i64],
                |row| row.get(0),
            )?;
            if since > 0 && oldest.is_some_and(|o| o as u64 > since + 1) {
                return Ok(None);
            }
            let mut stmt =
                conn.prepare("SELECT body FROM events WHERE epoch = ?1 AND seq > ?2 ORDER BY seq")?;
            let rows = stmt.query_map(params![epoch as i64, since as i64], |row| {
                row.get::<_, String>(0)
            })?;
            let mut events = Vec::new();
            for body in rows {
                match serde_json::from_str::<Event>(&body?) {
                    Ok(event) => events.push(event),
                    Err(_) => return Ok(None),
                }
            }
            Ok(Some(events))
        })
        .await
    }
}

/// Deletes one batch of events past the journal's bounds (count, then age);
/// true when more remain to delete.
pub(super) fn trim_batch(conn: &Connection) -> rusqlite::Result<bool> {
    // Both ends of the rowid range come from the table's b-tree at once.
    let (first, last): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT min(rowid), max(rowid) FROM events", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(false);
    };
    let keep_from = last - JOURNAL_MAX_EVENTS + 1;
    if first < keep_from {
        let upto = keep_from.min(first + TRIM_BATCH);
        conn.execute("DELETE FROM events WHERE rowid < ?1", params![upto])?;
        // More by count, or else by age: the next call looks.
        return Ok(true);
    }
    let cutoff = super::now_ms() as i64 - JOURNAL_MAX_AGE_MS;
    let deleted = conn.execute(
        "DELETE FROM events WHERE rowid IN
           (SELECT rowid FROM events WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
        params![cutoff, TRIM_BATCH],
    )?;
    Ok(deleted as i64 == TRIM_BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_by_count_and_by_age_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open::open_connection(&dir.path().join("db")).unwrap();
        let old = super::super::now_ms() as i64 - JOURNAL_MAX_AGE_MS - 1000;
        let total = JOURNAL_MAX_EVENTS + 1500;
        let tx = conn.unchecked_transaction().unwrap();
        for seq in 0..total {
            // The first 2,000 are also too old.
            let at = if seq < 2000 { old } else { old + 10_000_000 };
            tx.execute(
                "INSERT INTO events (epoch, seq, at_ms, body) VALUES (1, ?1, ?2, '{}')",
                params![seq, at],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .unwrap()
        };
        assert!(trim_batch(&conn).unwrap(), "a batch at a time");
        assert_eq!(count(&conn), total - TRIM_BATCH);
        let mut rounds = 1;
        while trim_batch(&conn).unwrap() {
            rounds += 1;
        }
        assert_eq!(
            count(&conn),
            JOURNAL_MAX_EVENTS - 500,
            "over the count, then too old"
        );
        assert!(rounds >= 2);
        assert!(!trim_batch(&conn).unwrap());
    }
}
