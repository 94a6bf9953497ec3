//! Per-request accounting: a [`Tracker`] follows each request from arrival until its
//! response body ends (or is dropped), keeps the in-flight count honest, and sends
//! one [`ProxyReport`] per request to the worker when it is over. Every request
//! gets one: if the worker's queue is full the report is dropped and counted
//! (`dropped` in the heartbeat), never lost silently.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::budget::BodyBudget;
use super::stats::Counters;
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

/// How a response body ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The body reached its end.
    Complete,
    /// The upstream broke it off or went idle too long.
    Cut,
    /// It ended, but the upstream reported an error inside it (an error
    /// event in a stream).
    UpstreamError,
    /// The client went away first.
    Aborted,
}

/// Where one client connection's requests are accounted: the proxy's counters,
/// the queue of summaries to the worker, the body budget, and the connection's
/// own activity (which its idle check and connection shedding read).
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) counters: Arc<Counters>,
    pub(crate) reports: mpsc::Sender<ProxyReport>,
    pub(crate) budget: Arc<BodyBudget>,
    pub(crate) activity: Activity,
}

/// Requests begun and finished on one connection. Only that connection's task
/// writes them (a request starts and its response body ends inside it), so a
/// plain load and store replace a locked read-modify-write.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    begun: AtomicU64,
    ended: AtomicU64,
}

impl Activity {
    /// (requests begun, requests whose response is over).
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.begun.load(Ordering::Relaxed),
            self.ended.load(Ordering::Relaxed),
        )
    }

    fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// Accounting for one request. Dropping it unfinished means the client went away.
#[derive(Debug)]
pub(crate) struct Tracker {
    sink: Arc<Sink>,
    start: Instant,
    pub(crate) summary: RequestSummary,
    /// Bytes of a request body streamed past the buffer cap, counted by the upstream
    /// connection task while this tracker waits.
    pub(crate) streamed_in: Option<Arc<AtomicU64>>,
    counts_as_error: bool,
    /// The proxy answered itself (refused, bad request, no provider): `failed`.
    local: bool,
    done: bool,
}

impl Tracker {
    pub(crate) fn start(sink: &Arc<Sink>, method: &http::Method, path: &str) -> Self {
        sink.counters.requests.fetch_add(1, Ordering::Relaxed);
        sink.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        Activity::bump(&sink.activity.begun);
        let summary = RequestSummary {
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            ..RequestSummary::default()
        };
        Tracker {
            sink: Arc::clone(sink),
            start: Instant::now(),
            summary,
            streamed_in: None,
            counts_as_error: false,
            local: false,
            done: false,
        }
    }

    pub(crate) fn started(&self) -> Instant {
        self.start
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.sink.counters
    }

    /// Where held request bodies are accounted.
    pub(crate) fn body_budget(&self) -> &Arc<BodyBudget> {
        &self.sink.budget
    }

    /// Keeps the client's request headers, masked (see [`super::capture`]).
    pub(crate) fn capture_request(&mut self, headers: &http::HeaderMap) {
        self.summary.headers = Some(Box::new(Headers {
            request: super::capture::capture(headers),
            response: String::new(),
        }));
    }

    /// Keeps the headers of the response the client gets, masked; nothing
    /// once the request is over (a handed-off upgrade) or if the request's
    /// were not kept.
    pub(crate) fn capture_response(&mut self, headers: &http::HeaderMap) {
        if let Some(kept) = self.summary.headers.as_deref_mut() {
            kept.response = super::capture::capture(headers);
        }
    }

    /// A request is about to go upstream: the first one ends the queue time.
    pub(crate) fn sending_upstream(&mut self) {
        if self.summary.queue.is_none() {
            self.summary.queue = Some(self.start.elapsed());
        }
    }

    /// The proxy answers this request itself: it ends `failed`.
    pub(crate) fn answered_locally(&mut self) {
        self.local = true;
    }

    /// Moves this request's accounting out, to whoever now carries the request
    /// (an upgraded connection's task); what stays behind is already finished and
    /// reports nothing.
    pub(crate) fn hand_off(&mut self) -> Tracker {
        let husk = Tracker {
            sink: Arc::clone(&self.sink),
            start: self.start,
            summary: RequestSummary::default(),
            streamed_in: None,
            counts_as_error: false,
            local: false,
            done: true,
        };
        std::mem::replace(self, husk)
    }

    /// Marks the request failed: it counts in `errors` and becomes the last error.
    pub(crate) fn fail(&mut self, message: String) {
        self.counts_as_error = true;
        self.summary.error = Some(message);
    }

    pub(crate) fn add_bytes_in(&mut self, n: u64) {
        self.summary.bytes_in += n;
        Counters::add(&self.sink.counters.bytes_in, n);
    }

    pub(crate) fn add_bytes_out(&mut self, n: u64) {
        self.summary.bytes_out += n;
        Counters::add(&self.sink.counters.bytes_out, n);
    }

    /// Ends the request and reports it; later calls do nothing.
    pub(crate) fn finish(&mut self, end: End) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let mut summary = std::mem::take(&mut self.summary);
        let counters = &self.sink.counters;
        counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        Activity::bump(&self.sink.activity.ended);
        if self.counts_as_error {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            if let Some(error) = &summary.error {
                counters.set_last_error(error.clone());
            }
        }
        summary.outcome = match end {
            _ if self.local => Outcome::Failed,
            End::Cut => Outcome::Cut,
            End::Aborted => Outcome::Aborted,
            End::UpstreamError => Outcome::Error,
            End::Complete if summary.status >= 400 || summary.status == 0 => Outcome::Error,
            End::Complete => Outcome::Ok,
        };
        summary.latency = self.start.elapsed();
        summary.time_ms = crate::store::now_ms().saturating_sub(summary.latency.as_millis() as u64);
        if let Some(streamed) = &self.streamed_in {
            summary.bytes_in += streamed.load(Ordering::Relaxed);
        }
        // Never wait for the daemon on the data path: if the worker's queue is
        // full (or it is gone) the record is dropped, and counted.
        if self
            .sink
            .reports
            .try_send(ProxyReport::Finished(summary))
            .is_err()
        {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Tracker {
    /// Whether the request is over (reported).
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The client went away before the response was complete.
    pub(crate) fn abort(&mut self) {
        if self.done {
            return;
        }
        // A client that hangs up (Ctrl-C in the CLI) is not a proxy error, so it is
        // reported but not counted in `errors`.
        if self.summary.error.is_none() {
            self.summary.error = Some("client disconnected before the response completed".into());
        }
        self.finish(End::Aborted);
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(capacity: usize) -> (Arc<Sink>, Arc<Counters>, mpsc::Receiver<ProxyReport>) {
        let counters = Arc::new(Counters::default());
        let (reports, rx) = mpsc::channel(capacity);
        let sink = Arc::new(Sink {
            counters: Arc::clone(&counters),
            reports,
            budget: BodyBudget::new(1 << 20),
            activity: Activity::default(),
        });
        (sink, counters, rx)
    }

    #[test]
    fn drop_reports_a_disconnect_without_counting_an_error() {
        let (sink, counters, mut rx) = sink(4);
        let tracker = Tracker::start(&sink, &http::Method::POST, "/v1/messages");
        assert_eq!(counters.in_flight.load(Ordering::Relaxed), 1);
        assert_eq!(sink.activity.get(), (1, 0));
        drop(tracker);
        assert_eq!(sink.activity.get(), (1, 1));
        assert_eq!(counters.in_flight.load(Ordering::Relaxed), 0);
        assert_eq!(counters.errors.load(Ordering::Relaxed), 0);
        let Ok(ProxyReport::Finished(s)) = rx.try_recv() else {
            panic!("no report");
        };
        assert_eq!(s.outcome, Outcome::Aborted);
        assert_eq!(
            (s.method.as_str(), s.path.as_str()),
            ("POST", "/v1/messages")
        );
        assert!(s.error.is_some_and(|e| e.contains("client disconnected")));
    }

    #[test]
    fn failures_count_and_full_queues_count_what_they_drop() {
        let (sink, counters, mut rx) = sink(1);
        for _ in 0..3 {
            let mut t = Tracker::start(&sink, &http::Method::GET, "/");
            t.fail("boom".into());
            t.summary.status = 502;
            t.finish(End::Complete);
        }
        assert_eq!(counters.errors.load(Ordering::Relaxed), 3);
        assert_eq!(counters.requests.load(Ordering::Relaxed), 3);
        assert_eq!(counters.in_flight.load(Ordering::Relaxed), 0);
        // The first request found room; the others were dropped and counted.
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 2);
        assert!(
            rx.try_recv()
                .is_ok_and(|ProxyReport::Finished(s)| s.path == "/" && s.outcome == Outcome::Error)
        );
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn outcomes_follow_how_the_body_ended() {
        let (sink, _, mut rx) = sink(8);
        let cases = [
            (200, false, End::Complete, Outcome::Ok),
            (404, false, End::Complete, Outcome::Error),
            (200, false, End::Cut, Outcome::Cut),
            (200, false, End::Aborted, Outcome::Aborted),
            (502, true, End::Complete, Outcome::Failed),
        ];
        for (status, local, end, want) in cases {
            let mut t = Tracker::start(&sink, &http::Method::POST, "/v1/messages");
            t.summary.status = status;
            if local {
                t.answered_locally();
            }
            t.finish(end);
            let Ok(ProxyReport::Finished(s)) = rx.try_recv() else {
                panic!("no report");
            };
            assert_eq!(s.outcome, want, "{status} {end:?}");
            let record = s.into_record(App::Claude);
            assert_eq!(record.status, Some(status));
            assert!(record.time_ms > 0);
        }
    }
}
