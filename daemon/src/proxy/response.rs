//! What the client receives: either the upstream's body, forwarded frame by frame as
//! it arrives (never buffered, so SSE events go out at once), or a small JSON error
//! the proxy wrote itself. Either way it goes out inside a [`Tap`], which carries the
//! request's [`Tracker`] and reads its usage as the frames leave.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::breaker::Breaker;
use super::config::BreakerPolicy;
use super::error::BodyError;
use super::fault::{self, Fault};
use super::idle::IdleTimer;
use super::report::Tracker;
use super::tap::Tap;
use crate::apps::App;

/// The body the client connection writes: a [`ProxyBody`] behind the usage tap.
pub(crate) type ClientBody = Tap<ProxyBody>;

pub(crate) struct ProxyBody {
    inner: Inner,
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
        /// A stream that breaks mid-way counts against its provider's breaker.
        breaker: Arc<Breaker>,
        policy: BreakerPolicy,
    },
}

impl ProxyBody {
    pub(crate) fn upstream(
        body: Incoming,
        idle: Duration,
        breaker: Arc<Breaker>,
        policy: BreakerPolicy,
    ) -> Self {
        ProxyBody {
            inner: Inner::Upstream {
                body,
                idle: IdleTimer::new(idle),
                breaker,
                policy,
            },
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
            ready: None,
        }
    }
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
            Inner::Upstream {
                body,
                idle,
                breaker,
                policy,
            } => {
                let polled = match Pin::new(body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        idle.touch();
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
                if let Poll::Ready(Some(Err(_))) = &polled {
                    breaker.record_failure(policy, std::time::Instant::now());
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
        }
    }

    fn size_hint(&self) -> SizeHint {
        let rest = match &self.inner {
            Inner::Local(Some(data)) => SizeHint::with_exact(data.len() as u64),
            Inner::Local(None) => SizeHint::with_exact(0),
            Inner::Upstream { body, .. } => body.size_hint(),
        };
        let held = match &self.ready {
            Some(Some(Ok(frame))) => frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => 0,
        };
        super::request::grow(rest, held)
    }
}
