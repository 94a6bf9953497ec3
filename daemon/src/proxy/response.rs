//! What the client receives: either the upstream's body, forwarded frame by frame as
//! it arrives (never buffered, so SSE events go out at once), translated as it
//! streams, or a small body the proxy wrote itself. Either way it goes out inside
//! a [`Tap`], which carries the request's [`Tracker`], reads its usage as the
//! frames leave and finishes it when the body ends, fails, or is dropped because
//! the client left.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::breaker::Owed;
use super::error::BodyError;
use super::fault::{self, Fault};
use super::idle::IdleTimer;
use super::report::{End, Tracker};
use super::tap::{self, Tap};
use super::translated::{ErrorWatch, Translating};
use crate::apps::App;
use crate::translate::StreamOutcome;

/// The body the client connection writes: a [`ProxyBody`] behind the usage tap.
pub(crate) type ClientBody = Tap;

pub(crate) struct ProxyBody {
    inner: Inner,
    /// Why a body that ended normally still failed (an error event in the
    /// stream, a translated stream that broke): the tap takes it at the end.
    failure: Option<(String, End)>,
    /// A frame already polled by [`ProxyBody::coalesce_small`], handed out first.
    ready: Option<Option<Result<Frame<Bytes>, BodyError>>>,
}

/// Responses of a known length up to this size wait for their first chunk
/// before the headers go out, so both leave in one write: one wake-up of the
/// client instead of two. Streams of unknown length (SSE) are never held.
const COALESCE_LIMIT: u64 = 64 * 1024;

enum Inner {
    Local(Option<Bytes>),
    Upstream {
        body: Incoming,
        /// Armed the first time the upstream makes us wait: a response that
        /// arrives whole (most small ones) never touches the timer wheel.
        idle: IdleTimer,
        /// The breaker's verdict, given at the end: a stream that breaks
        /// mid-way (or, for an event stream, carries an error event) counts
        /// against its provider.
        verdict: Owed,
        /// Set for an event stream: notices error events passing through.
        watch: Option<ErrorWatch>,
    },
    /// A response translated from another API format as it streams.
    Translated(Box<(Translating, Owed)>),
}

impl ProxyBody {
    pub(crate) fn upstream(
        body: Incoming,
        idle: Duration,
        verdict: Owed,
        event_stream: bool,
    ) -> Self {
        ProxyBody {
            inner: Inner::Upstream {
                body,
                idle: IdleTimer::new(idle),
                verdict,
                watch: event_stream.then(ErrorWatch::default),
            },
            failure: None,
            ready: None,
        }
    }

    pub(crate) fn translated(stream: Translating, verdict: Owed) -> Self {
        ProxyBody {
            inner: Inner::Translated(Box::new((stream, verdict))),
            failure: None,
            ready: None,
        }
    }

    /// For a small upstream body of known length, polls its first frame now
    /// (the bytes normally arrived with the headers), so that hyper writes the
    /// headers and the body together. The idle timeout still bounds the wait.
    pub(crate) async fn coalesce_small(&mut self) {
        let small = matches!(self.inner, Inner::Upstream { .. })
            && self
                .size_hint()
                .exact()
                .is_some_and(|n| n > 0 && n <= COALESCE_LIMIT);
        if small && self.ready.is_none() {
            let first = std::future::poll_fn(|cx| Pin::new(&mut *self).poll_frame(cx)).await;
            self.ready = Some(first);
        }
    }
}

impl ProxyBody {
    /// No body at all (a `101 Switching Protocols`).
    pub(crate) fn empty() -> Self {
        ProxyBody {
            inner: Inner::Local(None),
            failure: None,
            ready: None,
        }
    }

    /// Why the body failed although it ended (taken once, by the tap).
    pub(crate) fn take_failure(&mut self) -> Option<(String, End)> {
        self.failure.take()
    }
}

/// A whole body the proxy has ready (a translated answer, in `app`'s format),
/// sent as it is; its usage is read as it leaves.
pub(crate) fn whole(
    app: App,
    status: http::StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    mut tracker: Tracker,
) -> Response<ClientBody> {
    tracker.summary.status = status.as_u16();
    let mut headers = http::HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let scanner = tap::scanner(app, &tracker.summary.path, status, &headers);
    let body = ProxyBody {
        inner: Inner::Local(Some(Bytes::from(body))),
        failure: None,
        ready: None,
    };
    let mut response = Response::new(Tap::new(body, tracker).with_usage(scanner));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// An upstream answer that was read before it was passed on (a pooled key's
/// error, read to see whether the key is the trouble): its status and headers
/// as the upstream sent them, its body (at most what was read) in one piece.
pub(crate) fn read_back(
    app: App,
    mut parts: http::response::Parts,
    body: Bytes,
    tracker: Tracker,
) -> Response<ClientBody> {
    super::headers::strip_hop_by_hop(&mut parts.headers);
    parts.version = http::Version::HTTP_11;
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let scanner = tap::scanner(app, &tracker.summary.path, parts.status, &parts.headers);
    let body = ProxyBody {
        inner: Inner::Local(Some(body)),
        failure: None,
        ready: None,
    };
    Response::from_parts(parts, Tap::new(body, tracker).with_usage(scanner))
}

/// An error the proxy answers itself, in `app`'s API error shape ([`fault`]).
pub(crate) fn json_error(
    app: App,
    fault: Fault,
    message: &str,
    mut tracker: Tracker,
) -> Response<ClientBody> {
    let body = fault::body(app, fault, message);
    let status = fault.status();
    tracker.summary.status = status.as_u16();
    tracker.answered_locally();
    let body = ProxyBody {
        inner: Inner::Local(Some(Bytes::from(body))),
        failure: None,
        ready: None,
    };
    let mut response = Response::new(Tap::new(body, tracker));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(ready) = this.ready.take() {
            return Poll::Ready(ready);
        }
        match &mut this.inner {
            Inner::Local(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Inner::Translated(translated) => {
                let (stream, verdict) = &mut **translated;
                let polled = stream.poll_next(cx);
                match stream.take_outcome() {
                    Some(StreamOutcome::Failed(why)) => {
                        verdict.failure();
                        this.failure =
                            Some((format!("the provider's stream failed: {why}"), End::Cut));
                    }
                    Some(_) => verdict.success(),
                    None => {}
                }
                polled.map(|data| data.map(|d| Ok(Frame::data(d))))
            }
            Inner::Upstream {
                body,
                idle,
                verdict,
                watch,
            } => {
                let polled = match Pin::new(body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        idle.touch();
                        if let (Some(watch), Some(data)) = (watch.as_mut(), frame.data_ref()) {
                            watch.scan(data);
                        }
                        Poll::Ready(Some(Ok(frame)))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Upstream(e)))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => match idle.poll_expired(cx) {
                        Poll::Ready(()) => {
                            Poll::Ready(Some(Err(BodyError::IdleTimeout(idle.idle()))))
                        }
                        Poll::Pending => Poll::Pending,
                    },
                };
                match &polled {
                    Poll::Ready(Some(Err(_))) => verdict.failure(),
                    Poll::Ready(None) if watch.as_ref().is_some_and(|w| w.seen) => {
                        verdict.failure();
                        this.failure = Some((
                            "the provider sent an error event in its stream".to_owned(),
                            End::UpstreamError,
                        ));
                    }
                    Poll::Ready(None) => verdict.success(),
                    _ => {}
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if let Some(ready) = &self.ready {
            return ready.is_none();
        }
        match &self.inner {
            Inner::Local(data) => data.is_none(),
            Inner::Upstream { body, .. } => body.is_end_stream(),
            Inner::Translated(translated) => translated.0.is_end(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        let rest = match &self.inner {
            Inner::Local(Some(data)) => SizeHint::with_exact(data.len() as u64),
            Inner::Local(None) => SizeHint::with_exact(0),
            Inner::Upstream { body, .. } => body.size_hint(),
            Inner::Translated(_) => SizeHint::default(),
        };
        let held = match &self.ready {
            Some(Some(Ok(frame))) => frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => 0,
        };
        super::request::grow(rest, held)
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        // hyper may stop polling once `is_end_stream` says so (HEAD, 204, exact
        // lengths): that is a complete response, not a client that went away.
        // (The tap finishes the request; only the breaker's verdict is owed here.)
        if self.is_end_stream()
            && let Inner::Upstream { verdict, watch, .. } = &mut self.inner
            && !watch.as_ref().is_some_and(|w| w.seen)
        {
            verdict.success();
        }
    }
}
