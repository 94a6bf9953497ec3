//! What `switchyard requests` and `switchyard usage` print: the `--json`
//! shapes of the command-line contract (unknown values `null`), and aligned
//! tables for people (tokens with thousands separators, costs in dollars,
//! `?` for unknown, the price source under the usage table).

use serde_json::{Value, json};

use crate::protocol::requests::{RequestRecord, Total, UsageReport, UsageRow};
use crate::text;

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// nano-USD as dollars: four decimals under $100 (a request costs cents),
/// two above; rounded half up.
pub fn usd(nano: u64) -> String {
    if nano >= 100_000_000_000 {
        let cents = (nano + 5_000_000) / 10_000_000;
        format!("${}.{:02}", thousands(cents / 100), cents % 100)
    } else {
        let units = (nano + 50_000) / 100_000;
        format!("${}.{:04}", units / 10_000, units % 10_000)
    }
}

/// nano-USD as a JSON number of dollars (shortest exact decimal).
fn usd_json(nano: Option<u64>) -> Value {
    nano.map_or(Value::Null, |n| json!(n as f64 / 1e9))
}

fn tokens_cell(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_owned(), thousands)
}

/// `YYYY-MM-DD HH:MM:SS` of a unix-ms instant at this UTC offset.
pub fn local_time(at_ms: u64, utc_offset_s: i32) -> String {
    let secs = (at_ms / 1000) as i64 + i64::from(utc_offset_s);
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || "?".to_owned(),
        |t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// One line of `requests --json`.
pub fn record_json(r: &RequestRecord) -> Value {
    let t = &r.tokens;
    json!({
        "time_ms": r.time_ms,
        "app": r.app.name(),
        "provider": r.provider,
        "route": r.route,
        "method": r.method,
        "path": r.path,
        "model": r.model,
        "mapped_model": r.mapped_model,
        "key": r.key,
        "status": r.status,
        "outcome": r.outcome.as_str(),
        "latency_ms": r.latency_ms,
        "ttfb_ms": r.ttfb_ms,
        "queue_ms": r.queue_ms,
        "bytes_in": r.bytes_in,
        "bytes_out": r.bytes_out,
        "failovers": r.failovers,
        "input_tokens": t.input,
        "output_tokens": t.output,
        "cache_read_tokens": t.cache_read,
        "cache_write_tokens": t.cache_write,
        "reasoning_tokens": t.reasoning,
        "cost_usd": usd_json(r.cost_nano_usd),
        "error": r.error,
    })
}

fn row_json(row: &UsageRow) -> Value {
    let known = |t: Total| t.known(row.requests);
    json!({
        "key": row.key,
        "requests": row.requests,
        "errors": row.errors,
        "input_tokens": known(row.input_tokens),
        "output_tokens": known(row.output_tokens),
        "cache_read_tokens": known(row.cache_read_tokens),
        "cache_write_tokens": known(row.cache_write_tokens),
        "reasoning_tokens": known(row.reasoning_tokens),
        "cost_usd": usd_json(known(row.cost_nano_usd)),
        // How many requests each sum leaves out because they did not say.
        "unknown": {
            "input_tokens": row.input_tokens.unknown,
            "output_tokens": row.output_tokens.unknown,
            "cache_read_tokens": row.cache_read_tokens.unknown,
            "cache_write_tokens": row.cache_write_tokens.unknown,
            "reasoning_tokens": row.reasoning_tokens.unknown,
            "cost_usd": row.cost_nano_usd.unknown,
        },
    })
}

/// An app's `usage_today` in `status --json`: the same fields as a usage
/// row (a sum nobody reported is `null`), plus the day it is for.
pub fn usage_today_json(u: &crate::protocol::state::UsageToday) -> Value {
    let tokens = |n: u64| (u.requests == 0 || u.tokens_unknown < u.requests).then_some(n);
    let cost = (u.requests == 0 || u.cost_unknown < u.requests).then_some(u.cost_nano_usd);
    json!({
        "day_start_ms": u.day_start_ms,
        "requests": u.requests,
        "errors": u.errors,
        "input_tokens": tokens(u.input_tokens),
        "output_tokens": tokens(u.output_tokens),
        "cache_read_tokens": tokens(u.cache_read_tokens),
        "cache_write_tokens": tokens(u.cache_write_tokens),
        "reasoning_tokens": tokens(u.reasoning_tokens),
        "cost_usd": usd_json(cost),
        "unknown": {"tokens": u.tokens_unknown, "cost_usd": u.cost_unknown},
    })
}

/// An app's usage today in one line: `12 requests, 3,400 in / 800 out tokens, $0.0123`.
pub fn usage_today_line(u: &crate::protocol::state::UsageToday) -> String {
    let mut line = format!(
        "{} {}, {} in / {} out tokens",
        thousands(u.requests),
        if u.requests == 1 {
            "request"
        } else {
            "requests"
        },
        thousands(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens),
        thousands(u.output_tokens)
    );
    if u.requests > 0 && u.cost_unknown == u.requests {
        line.push_str(", cost unknown");
    } else {
        line.push_str(&format!(", {}", usd(u.cost_nano_usd)));
        if u.cost_unknown > 0 {
            line.push_str(&format!(" (+{} unpriced)", u.cost_unknown));
        }
    }
    line
}

/// The `usage --json` object.
pub fn usage_json(report: &UsageReport) -> Value {
    json!({
        "since_ms": report.since_ms,
        "by": report.by.as_str(),
        "rows": report.rows.iter().map(row_json).collect::<Vec<_>>(),
        "total": row_json(&report.total),
        "price_source": report.price_source,
    })
}

/// Columns aligned to their widest cell; `right` columns are numbers.
struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let last = cells.len() - 1;
            let mut out = String::new();
            for (i, cell) in cells.into_iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if self.right[i] {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    if i != last {
                        out.extend(std::iter::repeat_n(' ', pad));
                    }
                }
                if i != last {
                    out.push_str("  ");
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(self.header.clone());
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        out
    }
}

fn status_cell(r: &RequestRecord) -> String {
    let status = r.status.map_or_else(|| "—".to_owned(), |s| s.to_string());
    match r.outcome.as_str() {
        "ok" => status,
        outcome => format!("{status} {outcome}"),
    }
}

fn provider_cell(r: &RequestRecord) -> String {
    match (&r.provider, &r.route) {
        (Some(p), Some(route)) => format!("{p} · {route}"),
        (Some(p), None) => p.clone(),
        _ => "—".to_owned(),
    }
}

/// The cells of one request, in the table's column order.
fn request_cells(r: &RequestRecord, utc_offset_s: i32) -> Vec<String> {
    let t = &r.tokens;
    vec![
        local_time(r.time_ms, utc_offset_s),
        r.app.name().to_owned(),
        provider_cell(r),
        r.model.clone().unwrap_or_else(|| "—".to_owned()),
        status_cell(r),
        text::latency(r.latency_ms),
        tokens_cell(t.input),
        tokens_cell(t.output),
        tokens_cell(t.cache_read),
        tokens_cell(t.cache_write),
        r.cost_nano_usd.map_or_else(|| "?".to_owned(), usd),
        format!("{} {}", r.method, r.path),
    ]
}

const REQUEST_HEADER: [&str; 12] = [
    "TIME", "APP", "PROVIDER", "MODEL", "STATUS", "LATENCY", "INPUT", "OUTPUT", "CACHE R",
    "CACHE W", "COST", "REQUEST",
];
const REQUEST_RIGHT: [bool; 12] = [
    false, false, false, false, false, true, true, true, true, true, true, false,
];

/// The history as a table, oldest first.
pub fn requests_table(records: &[RequestRecord], utc_offset_s: i32) -> String {
    Table {
        header: REQUEST_HEADER.to_vec(),
        right: REQUEST_RIGHT.to_vec(),
        rows: records
            .iter()
            .map(|r| request_cells(r, utc_offset_s))
            .collect(),
    }
    .render()
}

/// One request as it arrives under `requests -f` (fixed widths: the rows to
/// come are not known yet).
pub fn request_line(r: &RequestRecord, utc_offset_s: i32) -> String {
    let c = request_cells(r, utc_offset_s);
    format!(
        "{}  {:<6}  {:<22}  {:<28}  {:<9}  {:>7}  {:>9}  {:>9}  {:>11}  {:>9}  {:>9}  {}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]
    )
}

/// A sum for people: `?` when nobody knew, `1,234 (+3 ?)` when some did not.
fn total_cell(total: Total, requests: u64, show: impl Fn(u64) -> String) -> String {
    match total.known(requests) {
        None => "?".to_owned(),
        Some(v) if total.unknown > 0 => format!("{} (+{} ?)", show(v), total.unknown),
        Some(v) => show(v),
    }
}

fn usage_cells(row: &UsageRow, key: String) -> Vec<String> {
    let n = row.requests;
    vec![
        key,
        thousands(n),
        thousands(row.errors),
        total_cell(row.input_tokens, n, thousands),
        total_cell(row.output_tokens, n, thousands),
        total_cell(row.cache_read_tokens, n, thousands),
        total_cell(row.cache_write_tokens, n, thousands),
        total_cell(row.reasoning_tokens, n, thousands),
        total_cell(row.cost_nano_usd, n, usd),
    ]
}

/// The usage report as a table with a total line, the period and the prices'
/// source.
pub fn usage_table(report: &UsageReport, utc_offset_s: i32) -> String {
    let by = report.by.as_str();
    let mut rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| usage_cells(r, r.key.clone().unwrap_or_else(|| "—".to_owned())))
        .collect();
    rows.push(usage_cells(&report.total, "TOTAL".to_owned()));
    let mut header = vec![
        "",
        "REQUESTS",
        "ERRORS",
        "INPUT",
        "OUTPUT",
        "CACHE READ",
        "CACHE WRITE",
        "REASONING",
        "COST",
    ];
    let upper: &'static str = match by {
        "day" => "DAY",
        "app" => "APP",
        "provider" => "PROVIDER",
        _ => "MODEL",
    };
    header[0] = upper;
    let table = Table {
        header,
        right: vec![false, true, true, true, true, true, true, true, true],
        rows,
    }
    .render();
    let since = report.since_ms.map_or_else(
        || "everything on record".to_owned(),
        |ms| format!("since {}", local_time(ms, utc_offset_s)),
    );
    format!(
        "Usage {since}, by {by}\n\n{table}\n\n? = not reported by the upstream (or no price for the model); \
         (+N ?) = N requests left out of the sum.\n{}",
        report.price_source
    )
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
