//! What one finished request leaves behind: the [`RequestSummary`] the proxy
//! fills in as the request runs, and the [`RequestRecord`] the daemon stores
//! from it (long texts cut; never a query string or a key).

use std::sync::Arc;
use std::time::Duration;

use crate::apps::App;
use crate::protocol::requests::{Failover, Headers, Outcome, RequestRecord, Tokens};

/// What the proxy tells the worker glue, which forwards it to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyReport {
    /// One request is over: its response finished, failed, or the client left.
    Finished(RequestSummary),
}

/// One finished request. Never contains query strings or keys; headers only
/// as [`super::capture`] masks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    pub method: String,
    /// The request path without its query (queries may carry `key=`).
    pub path: String,
    /// The `model` field of a JSON request body, or the `models/NAME` path
    /// segment, or else the model the response named.
    pub model: Option<String>,
    /// The status the client got (0 if it left before any response).
    pub status: u16,
    /// The provider whose response the client got.
    pub provider: Option<String>,
    /// The route an official provider sent it on (`chatgpt`, `oauth`, …); `None`
    /// for other providers. A static name: nothing is built per request.
    pub route: Option<&'static str>,
    /// Arrival to end of the response body.
    pub latency: Duration,
    /// Arrival to the chosen provider's response headers.
    pub ttfb: Option<Duration>,
    /// Arrival to the first request sent upstream (the proxy's own time).
    pub queue: Option<Duration>,
    /// The request's and the response's headers, masked and bounded.
    pub headers: Option<Box<Headers>>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Providers given up on before the one that answered (or before giving up).
    pub failovers: Vec<Failover>,
    /// The label of the provider's key that served (`env:VAR`, `stored-2`):
    /// never the key. `None` for passthrough.
    pub key: Option<Arc<str>>,
    /// The model the provider was asked for, when its model map (or
    /// translation) changed it; `model` keeps the client's.
    pub upstream_model: Option<String>,
    pub error: Option<String>,
    /// How it ended; set when the tracker finishes.
    pub outcome: Outcome,
    /// What the response reported (all unknown unless a usage scan found them).
    pub tokens: Tokens,
    /// When the request arrived (unix ms); set when the tracker finishes.
    pub time_ms: u64,
}

impl Default for RequestSummary {
    fn default() -> Self {
        RequestSummary {
            method: String::new(),
            path: String::new(),
            model: None,
            status: 0,
            provider: None,
            route: None,
            latency: Duration::ZERO,
            ttfb: None,
            queue: None,
            headers: None,
            bytes_in: 0,
            bytes_out: 0,
            failovers: Vec::new(),
            key: None,
            upstream_model: None,
            error: None,
            outcome: Outcome::Aborted,
            tokens: Tokens::default(),
            time_ms: 0,
        }
    }
}

/// Longest error text a record carries (the rest is in the worker's log).
const MAX_ERROR: usize = 512;

impl RequestSummary {
    /// The record the daemon stores (priced there). Long texts are cut so a
    /// batch of records always fits in a frame.
    pub fn into_record(self, app: App) -> RequestRecord {
        RequestRecord {
            time_ms: self.time_ms,
            app,
            provider: self.provider,
            route: self.route.map(str::to_owned),
            method: self.method,
            path: self.path,
            model: self.model,
            mapped_model: self.upstream_model,
            key: self.key.map(|k| k.to_string()),
            status: (self.status != 0).then_some(self.status),
            outcome: self.outcome,
            latency_ms: self.latency.as_millis() as u64,
            ttfb_ms: self.ttfb.map(|t| t.as_millis() as u64),
            queue_ms: self.queue.map(|t| t.as_millis() as u64),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            failovers: self.failovers,
            tokens: self.tokens,
            cost_nano_usd: None,
            error: self.error.map(|mut e| {
                if e.len() > MAX_ERROR {
                    let mut at = MAX_ERROR;
                    while !e.is_char_boundary(at) {
                        at -= 1;
                    }
                    e.truncate(at);
                    e.push('…');
                }
                e
            }),
            headers: self.headers,
        }
    }
}
