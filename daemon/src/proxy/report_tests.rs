//! Tests of [`super`]: every request reported once, drops counted.

use super::*;
use crate::apps::App;

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

#[test]
fn the_first_upstream_send_ends_the_queue_time_and_headers_ride_masked() {
    let (sink, _, mut rx) = sink(4);
    let mut t = Tracker::start(&sink, &http::Method::POST, "/v1/messages");
    let mut request = http::HeaderMap::new();
    request.insert(
        "x-api-key",
        http::HeaderValue::from_static("sk-ant-api03-NOTSHOWNanywhere0000abcd"),
    );
    t.capture_request(&request);
    t.sending_upstream();
    let first = t.summary.queue;
    t.sending_upstream();
    assert_eq!(t.summary.queue, first, "a failover's send does not move it");
    let mut response = http::HeaderMap::new();
    response.insert("content-type", http::HeaderValue::from_static("text/plain"));
    t.capture_response(&response);
    t.summary.status = 200;
    t.finish(End::Complete);
    let Ok(ProxyReport::Finished(s)) = rx.try_recv() else {
        panic!("no report");
    };
    let record = s.into_record(App::Claude);
    assert!(record.queue_ms.is_some_and(|q| q <= record.latency_ms));
    let headers = record.headers.expect("headers kept");
    assert_eq!(headers.request, "x-api-key: sk-…abcd\n");
    assert_eq!(headers.response, "content-type: text/plain\n");
}
