//! The request history on the wire: one [`RequestRecord`] per finished
//! request (worker → daemon → store → `switchyard requests`), the [`Tokens`]
//! it used, and the queries and answers of `switchyard requests` and
//! `switchyard usage`.
//!
//! Unknown stays unknown: every count or cost nobody reported is `None` (JSON
//! `null`), never 0.

use serde::{Deserialize, Serialize};

use crate::apps::App;

/// Tokens of one response, with one meaning whatever the vendor, chosen so that
///
/// ```text
/// cost = input × input price + output × output price
///      + cache_read × cache-read price
///      + (cache_write − cache_write_1h) × cache-write price
///      + cache_write_1h × 1-hour cache-write price
/// ```
///
/// Vendors count differently; [`crate::usage`] converts:
/// - Anthropic's `input_tokens` already excludes cache reads and writes;
///   OpenAI's `input_tokens`/`prompt_tokens` and Gemini's `promptTokenCount`
///   include cached tokens, which are subtracted here.
/// - `output` includes reasoning everywhere (all three bill it as output);
///   Gemini reports thoughts apart from `candidatesTokenCount`, so they are added.
/// - Only Anthropic bills cache writes; the others report `Some(0)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt tokens at the plain input price: neither read from nor written to a cache.
    pub input: Option<u64>,
    /// Generated tokens, reasoning included.
    pub output: Option<u64>,
    /// Prompt tokens read from a cache.
    pub cache_read: Option<u64>,
    /// Prompt tokens written to a cache (all lifetimes).
    pub cache_write: Option<u64>,
    /// Of `cache_write`, those written for one hour (Anthropic; a dearer rate).
    pub cache_write_1h: Option<u64>,
    /// Of `output`, the reasoning ("thinking") tokens, where the vendor says.
    pub reasoning: Option<u64>,
}

impl Tokens {
    /// Whether any count is known.
    pub fn any_known(&self) -> bool {
        [
            self.input,
            self.output,
            self.cache_read,
            self.cache_write,
            self.reasoning,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A response below 400 streamed to its end.
    Ok,
    /// The upstream answered with an error status, passed on to the client.
    Error,
    /// The proxy answered itself: refused, bad request, every provider failed.
    Failed,
    /// The client went away before the response was complete.
    Aborted,
    /// The upstream broke off the response or went idle too long.
    Cut,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Failed,
        Outcome::Aborted,
        Outcome::Cut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::Cut => "cut",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// Counts in a usage report's `errors`.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Ok)
    }
}

/// One provider attempt given up on before the answer (or before giving up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failover {
    pub provider: String,
    /// `status 529`, `connect timed out`, … (never a key or a query string).
    pub reason: String,
}

/// The headers of one request and of its response, as `name: value` lines,
/// with every secret masked and each direction bounded (see
/// `proxy::capture`). Stored beside the record, never in events or pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    /// What the client sent.
    pub request: String,
    /// What the client got (hyper adds `content-length`/`date` after this).
    pub response: String,
}

/// Which stored request [`crate::protocol::Request::RequestDetail`] asks for:
/// the fields a record already carries that tell requests apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestKey {
    pub app: App,
    pub time_ms: u64,
    pub method: String,
    pub path: String,
    pub latency_ms: u64,
}

impl RequestKey {
    pub fn of(record: &RequestRecord) -> Self {
        RequestKey {
            app: record.app,
            time_ms: record.time_ms,
            method: record.method.clone(),
            path: record.path.clone(),
            latency_ms: record.latency_ms,
        }
    }
}

/// One finished request. Never holds query strings or keys; its headers
/// (masked) only on the way from the worker to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// When the request arrived (unix ms).
    pub time_ms: u64,
    pub app: App,
    /// The provider whose answer the client got; `None` if none answered.
    pub provider: Option<String>,
    /// The login route the provider chose (`api-key`, `oauth`, `chatgpt`, …).
    pub route: Option<String>,
    pub method: String,
    /// The request path without its query (queries may carry `key=`).
    pub path: String,
    /// The model the request asked for, or else the one the response named.
    pub model: Option<String>,
    /// The model sent upstream when a provider's model map changed it.
    pub mapped_model: Option<String>,
    /// The label of the provider's key that served (`env:VAR`, `stored-2`),
    /// never the key; `None` for the client's own credentials.
    pub key: Option<String>,
    /// The status the client got; `None` if it left before any.
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// Arrival to the end of the response (or of the request, if it ended first).
    pub latency_ms: u64,
    /// Arrival to the response headers.
    pub ttfb_ms: Option<u64>,
    /// Arrival (head read) to the first request sent upstream: the proxy's
    /// own time, body buffering and translation included; `None` if nothing
    /// was sent.
    pub queue_ms: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Attempts given up on, in order.
    pub failovers: Vec<Failover>,
    pub tokens: Tokens,
    /// Set by the daemon from the price table; `None`: model or tokens unknown.
    pub cost_nano_usd: Option<u64>,
    /// What went wrong, for `error`, `failed`, `aborted` and `cut`.
    pub error: Option<String>,
    /// The masked headers, from the worker to the store only: the daemon
    /// takes them off before announcing the record, and pages never read them
    /// (the inspector asks with `RequestDetail`).
    pub headers: Option<Box<Headers>>,
}

/// `switchyard requests`: which records, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestsQuery {
    pub app: Option<App>,
    /// Only requests that arrived at or after this (unix ms).
    pub since_ms: Option<u64>,
    pub status: Option<u16>,
    /// The newest `limit` of those that match (still printed oldest first).
    pub limit: u32,
    /// Only rows stored before this one: the `older` of a previous page.
    pub before_id: Option<i64>,
}

/// One page of `switchyard requests`, oldest first. A reply frame is bounded,
/// so a long history comes in pages, newest page first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestsPage {
    pub records: Vec<RequestRecord>,
    /// Set when older matching rows may remain: ask again with this as `before_id`.
    pub older: Option<i64>,
}

/// How `switchyard usage` groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Local calendar day (`YYYY-MM-DD`), in the daemon's time zone.
    Day,
    App,
    Provider,
    Model,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::App => "app",
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    pub since_ms: Option<u64>,
    pub by: GroupBy,
    /// The client's offset from UTC in seconds, so days are the user's days.
    pub utc_offset_s: i32,
}

/// A sum over requests whose parts may be unknown: `value` adds the known
/// ones and `unknown` counts the requests that did not know theirs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    pub value: u64,
    pub unknown: u64,
}

impl Total {
    /// The sum, or `None` when no request knew it.
    pub fn known(&self, requests: u64) -> Option<u64> {
        (self.unknown < requests).then_some(self.value)
    }
}

/// One group of a usage report (or the total).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The group's key; `None` for the total, or a request without one (no model).
    pub key: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: Total,
    pub output_tokens: Total,
    pub cache_read_tokens: Total,
    pub cache_write_tokens: Total,
    pub reasoning_tokens: Total,
    pub cost_nano_usd: Total,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub since_ms: Option<u64>,
    pub by: GroupBy,
    pub rows: Vec<UsageRow>,
    pub total: UsageRow,
    /// Where the prices came from, e.g. `built-in table of 2025-…`.
    pub price_source: String,
}
