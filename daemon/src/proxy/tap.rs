//! The usage tap: the outermost layer of every response body, so it sees
//! exactly the frames the client receives (after anything an inner layer,
//! such as a format translation, did to them). It counts them, hands each one
//! to the request's [`UsageScanner`] without copying or holding it, and tells
//! the request's [`Tracker`] how the body ended:
//!
//! - the body reached its end (or hyper stopped polling because it knew the
//!   end, as for `HEAD` or an exact length): complete;
//! - the inner body failed (the upstream broke off, or went idle too long):
//!   cut, with the error;
//! - the tap was dropped before either (the client went away): aborted.
//!
//! A cut or aborted stream keeps whatever usage it reported before the end.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::error::{BodyError, chain};
use super::report::{End, Tracker};
use super::response::ProxyBody;
use crate::usage::UsageScanner;

pub(crate) struct Tap<B: Body> {
    inner: B,
    tracker: Tracker,
    /// `None` for responses that report no usage (other paths, error
    /// statuses, other content types): then the tap only counts.
    scanner: Option<Box<UsageScanner>>,
}

impl<B: Body> Tap<B> {
    pub(crate) fn new(inner: B, tracker: Tracker) -> Self {
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

    /// Finishes the request: what the scan found goes into its record first.
    fn end(&mut self, end: End) {
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

impl Tap<ProxyBody> {
    /// See [`ProxyBody::coalesce_small`]; the frame it holds passes the tap
    /// when it is handed out.
    pub(crate) async fn coalesce_small(&mut self) {
        self.inner.coalesce_small().await;
    }
}

impl<B> Body for Tap<B>
where
    B: Body<Data = Bytes, Error = BodyError> + Unpin,
{
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

impl<B: Body> Drop for Tap<B> {
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
