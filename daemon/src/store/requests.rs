//! The `requests` table: one row per finished proxied request, written in
//! batches (one transaction each) so a burst of traffic costs the disk a few
//! commits, not one per request; the queries behind `switchyard requests` and
//! `switchyard usage`; and pruning by age in small batches, so the store
//! thread is never held for long.
//!
//! The functions take a connection and are run on the store thread through
//! the [`Store`] methods below.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params, params_from_iter};

use super::writer::Record;
use super::{Store, StoreError};
use crate::apps::App;
use crate::protocol::requests::{
    Failover, GroupBy, Headers, Outcome, RequestKey, RequestRecord, RequestsPage, RequestsQuery,
    Tokens, Total, UsageQuery, UsageReport, UsageRow,
};

/// Rows older than this many days are pruned unless configured otherwise.
pub const DEFAULT_RETENTION_DAYS: u64 = 90;
/// Rows deleted per pruning step; between steps other store jobs run.
pub const PRUNE_BATCH: usize = 2_000;
/// At most this many rows per reply, so that a page stays well inside a
/// frame (a record is a few hundred bytes).
pub const PAGE_ROWS: u32 = 1_000;

const COLUMNS: &str = "time_ms, app, provider, route, method, path, model, mapped_model, status, \
    outcome, latency_ms, ttfb_ms, bytes_in, bytes_out, failovers, input_tokens, output_tokens, \
    cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, cost_nano_usd, error, \
    key_label, queue_ms";

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn opt_i64(n: Option<u64>) -> Option<i64> {
    n.map(to_i64)
}

fn opt_u64(n: Option<i64>) -> Option<u64> {
    n.and_then(|n| u64::try_from(n).ok())
}

/// Inserts `records` in one transaction.
pub fn insert_batch(conn: &mut Connection, records: &[RequestRecord]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    insert_rows(&tx, records)?;
    tx.commit()
}

/// Inserts `records` inside the caller's transaction.
pub fn insert_rows(tx: &Transaction<'_>, records: &[RequestRecord]) -> rusqlite::Result<()> {
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO requests ({COLUMNS}, request_headers, response_headers) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
        ))?;
        for r in records {
            let failovers = (!r.failovers.is_empty())
                .then(|| serde_json::to_string(&r.failovers).unwrap_or_default());
            let t = &r.tokens;
            insert.execute(params![
                to_i64(r.time_ms),
                r.app.name(),
                r.provider,
                r.route,
                r.method,
                r.path,
                r.model,
                r.mapped_model,
                r.status,
                r.outcome.as_str(),
                to_i64(r.latency_ms),
                opt_i64(r.ttfb_ms),
                to_i64(r.bytes_in),
                to_i64(r.bytes_out),
                failovers,
                opt_i64(t.input),
                opt_i64(t.output),
                opt_i64(t.cache_read),
                opt_i64(t.cache_write),
                opt_i64(t.cache_write_1h),
                opt_i64(t.reasoning),
                opt_i64(r.cost_nano_usd),
                r.error,
                r.key,
                opt_i64(r.queue_ms),
                r.headers.as_ref().map(|h| h.request.as_str()),
                r.headers.as_ref().map(|h| h.response.as_str()),
            ])?;
        }
    }
    Ok(())
}

fn record(row: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    let app: String = row.get(1)?;
    let outcome: String = row.get(9)?;
    let failovers: Option<String> = row.get(14)?;
    Ok(RequestRecord {
        time_ms: opt_u64(row.get(0)?).unwrap_or(0),
        // Rows are only ever written with known apps and outcomes.
        app: app.parse().unwrap_or(App::Claude),
        provider: row.get(2)?,
        route: row.get(3)?,
        method: row.get(4)?,
        path: row.get(5)?,
        model: row.get(6)?,
        mapped_model: row.get(7)?,
        key: row.get(23)?,
        status: row.get(8)?,
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Failed),
        latency_ms: opt_u64(row.get(10)?).unwrap_or(0),
        ttfb_ms: opt_u64(row.get(11)?),
        queue_ms: opt_u64(row.get(24)?),
        bytes_in: opt_u64(row.get(12)?).unwrap_or(0),
        bytes_out: opt_u64(row.get(13)?).unwrap_or(0),
        failovers: failovers
            .and_then(|f| serde_json::from_str::<Vec<Failover>>(&f).ok())
            .unwrap_or_default(),
        tokens: Tokens {
            input: opt_u64(row.get(15)?),
            output: opt_u64(row.get(16)?),
            cache_read: opt_u64(row.get(17)?),
            cache_write: opt_u64(row.get(18)?),
            cache_write_1h: opt_u64(row.get(19)?),
            reasoning: opt_u64(row.get(20)?),
        },
        cost_nano_usd: opt_u64(row.get(21)?),
        error: row.get(22)?,
        // Only `detail` reads them: a page stays small.
        headers: None,
    })
}

/// The newest matching rows (at most `query.limit` and [`PAGE_ROWS`]),
/// oldest first, and where to go on for older ones.
pub fn select(conn: &Connection, query: &RequestsQuery) -> rusqlite::Result<RequestsPage> {
    let mut filters = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(app) = query.app {
        values.push(Value::Text(app.name().to_owned()));
        filters.push(format!("app = ?{}", values.len()));
    }
    if let Some(since) = query.since_ms {
        values.push(Value::Integer(to_i64(since)));
        filters.push(format!("time_ms >= ?{}", values.len()));
    }
    if let Some(status) = query.status {
        values.push(Value::Integer(i64::from(status)));
        filters.push(format!("status = ?{}", values.len()));
    }
    if let Some(before) = query.before_id {
        values.push(Value::Integer(before));
        filters.push(format!("id < ?{}", values.len()));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let limit = query.limit.min(PAGE_ROWS);
    values.push(Value::Integer(i64::from(limit)));
    // Rows are inserted in arrival order (a batch at a time), so the row id
    // orders them as time does and pages cleanly.
    let sql = format!(
        "SELECT {COLUMNS}, id FROM requests {filter} ORDER BY id DESC LIMIT ?{}",
        values.len()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt
        .query_map(params_from_iter(values), |row| {
            Ok((record(row)?, row.get::<_, i64>(25)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let older = (rows.len() as u32 == limit && limit > 0)
        .then(|| rows.last().map(|(_, id)| *id))
        .flatten();
    rows.reverse();
    Ok(RequestsPage {
        records: rows.into_iter().map(|(r, _)| r).collect(),
        older,
    })
}

/// One stored request's masked headers: the first row matching `key` (two
/// requests of one app arriving in the same millisecond on the same path
/// with the same latency are told apart no further). `None`: no such row,
/// or one stored before headers were (migration 0008).
pub fn detail(conn: &Connection, key: &RequestKey) -> rusqlite::Result<Option<Headers>> {
    conn.query_row(
        "SELECT request_headers, response_headers FROM requests \
         WHERE app = ?1 AND time_ms = ?2 AND method = ?3 AND path = ?4 AND latency_ms = ?5 \
         AND request_headers IS NOT NULL ORDER BY id LIMIT 1",
        params![
            key.app.name(),
            to_i64(key.time_ms),
            key.method,
            key.path,
            to_i64(key.latency_ms)
        ],
        |row| {
            Ok(Headers {
                request: row.get(0)?,
                response: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
            })
        },
    )
    .optional()
}

/// Totals per group, and overall.
pub fn usage(conn: &Connection, query: &UsageQuery) -> rusqlite::Result<(Vec<UsageRow>, UsageRow)> {
    let key = match query.by {
        GroupBy::Day => "strftime('%Y-%m-%d', time_ms / 1000 + ?2, 'unixepoch')",
        GroupBy::App => "app",
        GroupBy::Provider => "provider",
        GroupBy::Model => "model",
    };
    let sums: String = [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_nano_usd",
    ]
    .iter()
    .map(|c| format!(", sum({c}), count(*) - count({c})"))
    .collect();
    let sql = format!(
        "SELECT {key} AS k, count(*), sum(outcome != 'ok'){sums} FROM requests \
         WHERE time_ms >= ?1 GROUP BY k ORDER BY k"
    );
    let since = to_i64(query.since_ms.unwrap_or(0));
    let mut stmt = conn.prepare(&sql)?;
    let map = |row: &Row<'_>| -> rusqlite::Result<UsageRow> {
        let total = |at: usize| -> rusqlite::Result<Total> {
            Ok(Total {
                value: opt_u64(row.get(at)?).unwrap_or(0),
                unknown: opt_u64(row.get(at + 1)?).unwrap_or(0),
            })
        };
        Ok(UsageRow {
            key: row.get(0)?,
            requests: opt_u64(row.get(1)?).unwrap_or(0),
            errors: opt_u64(row.get(2)?).unwrap_or(0),
            input_tokens: total(3)?,
            output_tokens: total(5)?,
            cache_read_tokens: total(7)?,
            cache_write_tokens: total(9)?,
            reasoning_tokens: total(11)?,
            cost_nano_usd: total(13)?,
        })
    };
    let mut rows = if query.by == GroupBy::Day {
        stmt.query_map(params![since, query.utc_offset_s], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        stmt.query_map(params![since], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    if query.by != GroupBy::Day {
        // The biggest spenders first; ties by name.
        rows.sort_by(|a, b| {
            (b.cost_nano_usd.value, b.requests, &a.key).cmp(&(
                a.cost_nano_usd.value,
                a.requests,
                &b.key,
            ))
        });
    }
    let mut total = UsageRow::default();
    for row in &rows {
        add(&mut total, row);
    }
    Ok((rows, total))
}

fn add(total: &mut UsageRow, row: &UsageRow) {
    total.requests += row.requests;
    total.errors += row.errors;
    for (sum, part) in [
        (&mut total.input_tokens, row.input_tokens),
        (&mut total.output_tokens, row.output_tokens),
        (&mut total.cache_read_tokens, row.cache_read_tokens),
        (&mut total.cache_write_tokens, row.cache_write_tokens),
        (&mut total.reasoning_tokens, row.reasoning_tokens),
        (&mut total.cost_nano_usd, row.cost_nano_usd),
    ] {
        sum.value = sum.value.saturating_add(part.value);
        sum.unknown += part.unknown;
    }
}

/// Deletes up to `batch` rows older than `before_ms`; returns how many.
pub fn prune_step(conn: &Connection, before_ms: u64, batch: usize) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM requests WHERE id IN \
         (SELECT id FROM requests WHERE time_ms < ?1 ORDER BY time_ms LIMIT ?2)",
        params![to_i64(before_ms), batch as i64],
    )
}

impl Store {
    /// Queues a batch of finished requests, written behind the caller with
    /// the store's next burst (one transaction). While the database cannot
    /// take them they are held in memory with the journal's events, bounded:
    /// the oldest beyond the bound are dropped and counted in the
    /// "not recording" episode, never silently.
    pub fn record_requests(&self, records: Vec<RequestRecord>) {
        if records.is_empty() {
            return;
        }
        let rows = records.len();
        self.record(Record::new("requests", rows, move |tx| {
            insert_rows(tx, &records)
        }));
    }

    pub async fn requests(&self, query: RequestsQuery) -> Result<RequestsPage, StoreError> {
        self.call(move |conn| select(conn, &query)).await
    }

    pub async fn request_detail(&self, key: RequestKey) -> Result<Option<Headers>, StoreError> {
        self.call(move |conn| detail(conn, &key)).await
    }

    pub async fn usage(
        &self,
        query: UsageQuery,
        price_source: String,
    ) -> Result<UsageReport, StoreError> {
        self.call(move |conn| {
            let (rows, total) = usage(conn, &query)?;
            Ok(UsageReport {
                since_ms: query.since_ms,
                by: query.by,
                rows,
                total,
                price_source,
            })
        })
        .await
    }

    /// Deletes rows older than `before_ms`, [`PRUNE_BATCH`] at a time, each
    /// its own job so other store work runs in between; returns how many.
    pub async fn prune_requests(&self, before_ms: u64) -> Result<usize, StoreError> {
        let mut deleted = 0;
        loop {
            let n = self
                .call(move |conn| prune_step(conn, before_ms, PRUNE_BATCH))
                .await?;
            deleted += n;
            if n < PRUNE_BATCH {
                return Ok(deleted);
            }
        }
    }
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
