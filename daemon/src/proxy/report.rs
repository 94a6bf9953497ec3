//! Per-request accounting: a [`Tracker`] follows each request from arrival until its
//! response body ends (or is dropped), keeps the in-flight count honest, and sends
//! one [`ProxyReport`] per request to the worker when it is over. Every request
//! gets one: if the worker's queue is full the report is dropped and counted
//! (`dropped` in the heartbeat), never lost silently.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;

use super::budget::BodyBudget;
use super::stats::Counters;
use super::summary::{ProxyReport, RequestSummary};
use crate::protocol::requests::{Headers, Outcome};

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
#[path = "report_tests.rs"]
mod tests;
