//! WebSocket pass-through. An HTTP/1.1 `Upgrade: websocket` request is guarded,
//! routed and given its credential like any other request (failover included,
//! until an upstream accepts the upgrade); it goes upstream on a connection of
//! its own, and once the upstream answers `101` the client gets that answer and
//! the two upgraded connections are spliced byte for byte — frames, compression
//! and close handshakes stay the two ends' business — until either side closes,
//! both stay silent for the idle timeout, or a drain reaches its deadline.
//!
//! Codex streams Responses this way (`/responses`, falling back to HTTP when
//! the upgrade fails). The tunnel is one request in the counters and one summary
//! when it ends, with the bytes of both directions.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CONNECTION, UPGRADE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::headers::strip_hop_by_hop;
use super::report::{End, Tracker};
use super::response::{ClientBody, ProxyBody};
use super::stats::Counters;
use super::tap::Tap;

/// Takes the client's pending upgrade when this is a WebSocket handshake
/// (`Upgrade: websocket`, `Connection: upgrade`). Costs next to nothing for
/// other requests: hyper attaches a pending upgrade only to requests that ask
/// for one, and an empty extension map is not searched.
pub(crate) fn take_websocket(parts: &mut Parts) -> Option<OnUpgrade> {
    parts.extensions.get::<OnUpgrade>()?;
    let websocket = parts
        .headers
        .get(UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = parts.headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    // Any other upgrade (h2c, …) is served as a plain request: its `Upgrade`
    // header is stripped with the other hop-by-hop headers.
    (websocket && connection)
        .then(|| parts.extensions.remove::<OnUpgrade>())
        .flatten()
}

/// Hop-by-hop headers go, except the handshake's own pair, which the next hop
/// must see.
pub(crate) fn keep_handshake(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
}

/// What a tunnel needs from the server: where to run, and when to give up.
pub(crate) struct Splice {
    pub(crate) idle: Duration,
    pub(crate) counters: Arc<Counters>,
    /// Cancelled at the drain deadline: open tunnels are closed then.
    pub(crate) hard_stop: CancellationToken,
}

/// Answers the client with the upstream's `101` (and its handshake headers:
/// accept key, extensions, protocol, …) and returns the task that splices the
/// two connections once both have switched; the caller runs it where drains
/// wait for it. The request's accounting moves into that task.
pub(crate) fn switch(
    mut response: Response<Incoming>,
    client: OnUpgrade,
    splice: Splice,
    mut tracker: Tracker,
) -> (
    Response<ClientBody>,
    impl Future<Output = ()> + Send + 'static,
) {
    let upstream = hyper::upgrade::on(&mut response);
    let (mut parts, _empty) = response.into_parts();
    keep_handshake(&mut parts.headers);
    parts.version = Version::HTTP_11;
    let task = run(client, upstream, splice, tracker.hand_off());
    (
        Response::from_parts(parts, Tap::new(ProxyBody::empty(), tracker)),
        task,
    )
}

async fn run(client: OnUpgrade, upstream: OnUpgrade, splice: Splice, mut tracker: Tracker) {
    let Splice {
        idle,
        counters,
        hard_stop,
    } = splice;
    // Both resolve at once: the upstream's answer is in, and the client's as
    // soon as hyper has written our 101.
    let switched = tokio::select! {
        both = async { tokio::try_join!(client, upstream) } => both,
        () = tokio::time::sleep(idle) => {
            tracker.fail("the WebSocket upgrade did not complete".to_owned());
            return;
        }
        () = hard_stop.cancelled() => return,
    };
    let (client, upstream) = match switched {
        Ok(both) => both,
        Err(e) => {
            tracker.summary.error = Some(format!("the WebSocket upgrade failed: {e}"));
            return;
        }
    };
    let meter = Meter::new();
    let mut client = Metered {
        io: TokioIo::new(client),
        meter: &meter,
        counters: &counters,
    };
    let mut upstream = TokioIo::new(upstream);
    let ended = tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match copied {
            Ok(_) => None,
            // A side that resets instead of closing: reported, not an error.
            Err(e) => Some((format!("WebSocket connection ended: {e}"), false)),
        },
        () = meter.silent_for(idle) => {
            Some((format!("no WebSocket data for {idle:?} (idle timeout)"), true))
        }
        () = hard_stop.cancelled() => {
            Some(("WebSocket closed at the drain deadline".to_owned(), false))
        }
    };
    drop(client);
    tracker.summary.bytes_in += meter.bytes_in.load(Ordering::Relaxed);
    tracker.summary.bytes_out += meter.bytes_out.load(Ordering::Relaxed);
    let end = match ended {
        Some((message, true)) => {
            tracker.fail(message);
            End::Cut
        }
        Some((message, false)) => {
            tracker.summary.error = Some(message);
            End::Complete
        }
        None => End::Complete,
    };
    tracker.finish(end);
}

/// Bytes through the client's side of a tunnel, and when the last one passed.
struct Meter {
    start: Instant,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Milliseconds from `start` to the last byte in either direction.
    last_ms: AtomicU64,
}

impl Meter {
    fn new() -> Self {
        Meter {
            start: Instant::now(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Returns once nothing has passed either way for `idle`; one timer per
    /// idle period, pushed forward when data came meanwhile.
    async fn silent_for(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let due = self.start + last + idle;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// The client's upgraded connection, counted as it is read and written.
struct Metered<'a, T> {
    io: T,
    meter: &'a Meter,
    counters: &'a Counters,
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<'_, T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        if n > 0 {
            this.meter.bytes_in.fetch_add(n, Ordering::Relaxed);
            Counters::add(&this.counters.bytes_in, n);
            this.meter.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<'_, T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled
            && *n > 0
        {
            let n = *n as u64;
            this.meter.bytes_out.fetch_add(n, Ordering::Relaxed);
            Counters::add(&this.counters.bytes_out, n);
            this.meter.touch();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(headers: &[(&'static str, &'static str)], pending: bool) -> Parts {
        let mut req = Request::new(());
        for (k, v) in headers {
            req.headers_mut().append(*k, HeaderValue::from_static(v));
        }
        if pending {
            // A stand-in for the pending upgrade hyper attaches.
            req.extensions_mut()
                .insert(hyper::upgrade::on(Request::new(())));
        }
        req.into_parts().0
    }

    #[test]
    fn only_websocket_handshakes_are_taken() {
        let ws = [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
        ];
        let mut p = parts(&ws, true);
        assert!(take_websocket(&mut p).is_some());
        assert!(p.extensions.get::<OnUpgrade>().is_none());
        // hyper attaches nothing without an Upgrade header: nothing to take.
        assert!(take_websocket(&mut parts(&ws, false)).is_none());
        let h2c = [("upgrade", "h2c"), ("connection", "upgrade")];
        assert!(take_websocket(&mut parts(&h2c, true)).is_none());
        let no_connection = [("upgrade", "websocket")];
        assert!(take_websocket(&mut parts(&no_connection, true)).is_none());

        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("upgrade, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("sec-websocket-key", HeaderValue::from_static("k"));
        keep_handshake(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["connection", "sec-websocket-key", "upgrade"]);
    }
}
