//! Per-request accounting: a [`Tracker`] follows each request from arrival until its
//! response body ends (or is dropped), keeps the in-flight count honest, and sends
//! one [`ProxyReport`] to the worker when the request is over — if the worker's
//! queue has room. The counters count every request; the summary is a sample, so a
//! request that starts while the queue is full skips building one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::budget::BodyBudget;
use super::stats::Counters;

/// What the proxy tells the worker glue, which forwards it to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyReport {
    /// One request is over: its response finished, failed, or the client left.
    Finished(RequestSummary),
    /// A provider failed a request and the next was tried.
    Failover { provider: String, reason: String },
}

/// One finished request. Never contains headers, query strings or keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSummary {
    pub method: String,
    /// The request path without its query (queries may carry `key=`).
    pub path: String,
    /// The `model` field of a JSON request body, or the `models/NAME` path segment.
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
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Providers given up on before the one that answered (or before giving up).
    pub failovers: u32,
    /// The label of the provider's key that served (`env:VAR`, `stored-2`):
    /// never the key. `None` for passthrough.
    pub key: Option<Arc<str>>,
    /// The model the provider was asked for, when its model map (or
    /// translation) changed it; `model` keeps the client's.
    pub upstream_model: Option<String>,
    pub error: Option<String>,
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
    /// Whether this request's summary will be sent (the queue had room when it
    /// began); if not, the summary's strings are never built.
    wanted: bool,
    start: Instant,
    pub(crate) summary: RequestSummary,
    /// Bytes of a request body streamed past the buffer cap, counted by the upstream
    /// connection task while this tracker waits.
    pub(crate) streamed_in: Option<Arc<AtomicU64>>,
    counts_as_error: bool,
    done: bool,
}

impl Tracker {
    pub(crate) fn start(sink: &Arc<Sink>, method: &http::Method, path: &str) -> Self {
        sink.counters.requests.fetch_add(1, Ordering::Relaxed);
        sink.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        Activity::bump(&sink.activity.begun);
        let wanted = sink.reports.capacity() > 0;
        let summary = if wanted {
            RequestSummary {
                method: method.as_str().to_owned(),
                path: path.to_owned(),
                ..RequestSummary::default()
            }
        } else {
            RequestSummary::default()
        };
        Tracker {
            sink: Arc::clone(sink),
            wanted,
            start: Instant::now(),
            summary,
            streamed_in: None,
            counts_as_error: false,
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

    /// Whether the summary will be sent, so worth filling in (model, provider).
    pub(crate) fn wanted(&self) -> bool {
        self.wanted
    }

    /// Moves this request's accounting out, to whoever now carries the request
    /// (an upgraded connection's task); what stays behind is already finished and
    /// reports nothing.
    pub(crate) fn hand_off(&mut self) -> Tracker {
        let husk = Tracker {
            sink: Arc::clone(&self.sink),
            wanted: false,
            start: self.start,
            summary: RequestSummary::default(),
            streamed_in: None,
            counts_as_error: false,
            done: true,
        };
        std::mem::replace(self, husk)
    }

    /// Tells the worker a provider failed this request (dropped if its queue is full).
    pub(crate) fn report_failover(&self, provider: &str, reason: &str) {
        let _ = self.sink.reports.try_send(ProxyReport::Failover {
            provider: provider.to_owned(),
            reason: reason.to_owned(),
        });
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
    pub(crate) fn finish(&mut self) {
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
        if !self.wanted {
            return;
        }
        summary.latency = self.start.elapsed();
        if let Some(streamed) = &self.streamed_in {
            summary.bytes_in += streamed.load(Ordering::Relaxed);
        }
        // Never wait for the daemon on the data path: if its queue is full (or it is
        // gone) the summary is dropped; the counters above still account for it.
        let _ = self.sink.reports.try_send(ProxyReport::Finished(summary));
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.done {
            // A client that hangs up (Ctrl-C in the CLI) is not a proxy error, so it is
            // reported but not counted in `errors`.
            if self.summary.error.is_none() {
                self.summary.error =
                    Some("client disconnected before the response completed".into());
            }
            self.finish();
        }
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
        assert_eq!(
            (s.method.as_str(), s.path.as_str()),
            ("POST", "/v1/messages")
        );
        assert!(s.error.is_some_and(|e| e.contains("client disconnected")));
    }

    #[test]
    fn failures_count_and_full_queues_do_not_block() {
        let (sink, counters, mut rx) = sink(1);
        for _ in 0..3 {
            let mut t = Tracker::start(&sink, &http::Method::GET, "/");
            t.fail("boom".into());
            t.finish();
        }
        assert_eq!(counters.errors.load(Ordering::Relaxed), 3);
        assert_eq!(counters.requests.load(Ordering::Relaxed), 3);
        assert_eq!(counters.in_flight.load(Ordering::Relaxed), 0);
        // The first request found room; the others skipped their summaries.
        assert!(
            rx.try_recv()
                .is_ok_and(|r| matches!(r, ProxyReport::Finished(s) if s.path == "/"))
        );
        assert!(rx.try_recv().is_err());
        let t = Tracker::start(&sink, &http::Method::GET, "/again");
        assert!(t.wanted(), "room again once the queue was emptied");
    }
}
