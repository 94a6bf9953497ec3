//! The usage tap: the outermost layer of every response body, so it sees
//! exactly the frames the client receives (after a format translation, if the
//! provider needed one). It counts them, hands each one to the request's
//! [`UsageScanner`] without copying or holding it, and tells the request's
//! [`Tracker`] how the body ended:
//!
//! - the body reached its end (or hyper stopped polling because it knew the
//!   end, as for `HEAD` or an exact length): complete — unless the body says
//!   the upstream failed inside it (an error event: `error`; a translated
//!   stream that broke: `cut`);
//! - the body failed (the upstream broke off, or went idle too long): cut,
//!   with the error;
//! - the tap was dropped before either (the client went away): aborted.
//!
//! A cut or aborted stream keeps whatever usage it reported before the end.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use hyper::body::{Body, Frame, SizeHint};

use super::error::{BodyError, chain};
use super::report::{End, Tracker};
use super::response::ProxyBody;
use crate::apps::App;
use crate::usage::{Format, UsageScanner};

pub(crate) struct Tap {
    inner: ProxyBody,
    tracker: Tracker,
    /// `None` for responses that report no usage (other paths, error
    /// statuses, other content types): then the tap only counts.
    scanner: Option<Box<UsageScanner>>,
}

/// The scanner for a response to `app`'s request for `path`, if it is a
/// successful answer on an endpoint that reports usage, in JSON or SSE.
pub(crate) fn scanner(
    app: App,
    path: &str,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<UsageScanner> {
    if !status.is_success() {
        return None;
    }
    UsageScanner::new(
        Format::for_request(app, path)?,
        headers.get(header::CONTENT_TYPE),
        headers.get(header::CONTENT_ENCODING),
    )
}

impl Tap {
    pub(crate) fn new(inner: ProxyBody, tracker: Tracker) -> Self {
        Tap {
            inner,
            tracker,
            scanner: None,
        }
    }

    /// Reads the response's usage as it leaves.
    pub(crate) fn with_usage(mut self, scanner: Option<UsageScanner>) -> Self {
        self.scanner = scanner.map(Box::new);
        self
    }

    /// The request's accounting (its headers are noted on it before the
    /// body starts).
    pub(crate) fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    /// See [`ProxyBody::coalesce_small`]; the frame it holds passes the tap
    /// when it is handed out.
    pub(crate) async fn coalesce_small(&mut self) {
        self.inner.coalesce_small().await;
    }

    /// Finishes the request: what the scan found goes into its record first.
    fn end(&mut self, mut end: End) {
        if let Some((why, how)) = self.inner.take_failure() {
            self.tracker.fail(why);
            if end == End::Complete {
                end = how;
            }
        }
        if let Some(scanner) = self.scanner.take() {
            let scanned = scanner.finish(end == End::Complete);
            let summary = &mut self.tracker.summary;
            if let Some(tokens) = scanned.tokens {
                summary.tokens = tokens;
            }
            if summary.model.is_none() {
                summary.model = scanned.model;
            }
        }
        match end {
            End::Aborted => self.tracker.abort(),
            end => self.tracker.finish(end),
        }
    }
}

impl Body for Tap {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.tracker.add_bytes_out(data.len() as u64);
                    if let Some(scanner) = &mut this.scanner {
                        scanner.feed(data);
                    }
                }
            }
            Poll::Ready(Some(Err(e))) => {
                this.tracker.fail(chain(e));
                this.end(End::Cut);
            }
            Poll::Ready(None) => this.end(End::Complete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if self.tracker.is_done() {
            return;
        }
        // hyper may stop polling once `is_end_stream` says so (HEAD, 204, exact
        // lengths): that is a complete response, not a client that went away.
        let end = if self.inner.is_end_stream() {
            End::Complete
        } else {
            End::Aborted
        };
        self.end(end);
    }
}
