//! The `events` table: the journal behind `switchyard events --since` and the
//! dashboard's event pane, with bounded retention.

use rusqlite::params;

use super::{Store, StoreError};
use crate::protocol::state::Event;

/// The journal keeps at most this many events…
pub const JOURNAL_MAX_EVENTS: i64 = 50_000;
/// …and none older than this.
pub const JOURNAL_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

impl Store {
    /// Queues a batch of events of one epoch for the journal, then a trim.
    pub fn append_events(&self, epoch: u64, events: Vec<Event>) {
        self.submit("journal append", move |conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO events (epoch, seq, at_ms, app, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for event in &events {
                    let body = serde_json::to_string(event).unwrap_or_default();
                    insert.execute(params![
                        epoch as i64,
                        event.seq as i64,
                        event.at_ms as i64,
                        event.kind.app().map(|a| a.name()),
                        body
                    ])?;
                }
            }
            if let Some(last) = events.last() {
                tx.execute(
                    "DELETE FROM events WHERE at_ms < ?1 OR rowid <= (SELECT max(rowid) FROM events) - ?2",
                    params![last.at_ms as i64 - JOURNAL_MAX_AGE_MS, JOURNAL_MAX_EVENTS],
                )?;
            }
            tx.commit()
        });
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
