//! The request body on its way upstream. Bodies up to the cap are held as the chunks
//! hyper read (no copying) so every failover attempt can replay them; a larger body
//! streams through once, prefix first, with an idle timeout on the client. Held
//! bytes come out of the worker's one [`BodyBudget`]: a body that does not fit
//! streams too, so stalled uploads cannot hold more than the budget in all.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::budget::Reservation;
use super::error::BodyError;
use super::idle::IdleTimer;
use super::report::Tracker;
use super::stats::Counters;

/// A request body after the proxy has read what it may hold.
pub(crate) enum Collected {
    /// The whole body: re-sendable to every provider.
    Full(Replay),
    /// More than the cap or the budget allows: what was read so far and the rest
    /// of the client's stream. Only one provider can get it.
    Partial { prefix: Prefix, rest: Incoming },
}

/// A whole body held for replay, with its share of the budget (given back when
/// the last attempt is over).
pub(crate) struct Replay {
    chunks: Arc<[Bytes]>,
    _held: Option<Reservation>,
}

/// The part of a streamed body read before it had to stream.
pub(crate) struct Prefix {
    chunks: Vec<Bytes>,
    held: Option<Reservation>,
}

impl std::ops::Deref for Replay {
    type Target = [Bytes];
    fn deref(&self) -> &[Bytes] {
        &self.chunks
    }
}

impl std::ops::Deref for Prefix {
    type Target = [Bytes];
    fn deref(&self) -> &[Bytes] {
        &self.chunks
    }
}

/// Reads the client's body up to `cap` bytes, each chunk within `idle`, holding
/// it only while it fits in the tracker's body budget.
pub(crate) async fn collect(
    mut body: Incoming,
    cap: usize,
    idle: Duration,
    tracker: &mut Tracker,
) -> Result<Collected, BodyError> {
    if body.is_end_stream() {
        // No body (GET): nothing to read or reserve.
        return Ok(Collected::Full(Replay {
            chunks: Arc::new([]),
            _held: None,
        }));
    }
    // A declared length over the cap, or over what the budget has left, will not
    // fit: start streaming at once instead of holding 32 MiB first.
    let declared = body.size_hint().lower();
    if declared > cap as u64 {
        return Ok(Collected::Partial {
            prefix: Prefix::empty(),
            rest: body,
        });
    }
    let Some(mut held) = tracker.body_budget().reserve(declared as usize) else {
        return Ok(Collected::Partial {
            prefix: Prefix::empty(),
            rest: body,
        });
    };
    let mut chunks = Vec::new();
    let mut read = 0usize;
    while !body.is_end_stream() {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(BodyError::IdleTimeout(idle)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Client(e)),
            Ok(Some(Ok(frame))) => frame,
        };
        // Request trailers are practically unused by these APIs; they are dropped.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        tracker.add_bytes_in(data.len() as u64);
        read += data.len();
        chunks.push(data);
        // A body of unknown length reserves as it comes.
        let fits = read <= held.bytes() || held.grow(read - held.bytes());
        if read > cap || !fits {
            return Ok(Collected::Partial {
                prefix: Prefix {
                    chunks,
                    held: Some(held),
                },
                rest: body,
            });
        }
    }
    Ok(Collected::Full(Replay {
        chunks: chunks.into(),
        _held: Some(held),
    }))
}

impl Prefix {
    fn empty() -> Self {
        Prefix {
            chunks: Vec::new(),
            held: None,
        }
    }
}

/// The body of one upstream attempt.
pub(crate) enum UpstreamBody {
    Replay {
        chunks: Arc<[Bytes]>,
        next: usize,
        remaining: u64,
    },
    Stream(Box<Streaming>),
}

pub(crate) struct Streaming {
    prefix: std::vec::IntoIter<Bytes>,
    prefix_len: u64,
    /// The prefix's share of the budget, given back once it has gone upstream.
    held: Option<Reservation>,
    rest: Incoming,
    /// Armed on the first wait: the upstream may take a while to connect before it
    /// starts pulling the body, and that wait is not the client's idleness.
    idle: IdleTimer,
    counters: Arc<Counters>,
    seen: Arc<AtomicU64>,
}

impl UpstreamBody {
    pub(crate) fn replay(body: &Replay) -> Self {
        let chunks = &body.chunks;
        UpstreamBody::Replay {
            chunks: Arc::clone(chunks),
            next: 0,
            remaining: chunks.iter().map(|c| c.len() as u64).sum(),
        }
    }

    /// A body built here (a translated request, a rewritten model).
    pub(crate) fn bytes(body: Bytes) -> Self {
        let remaining = body.len() as u64;
        UpstreamBody::Replay {
            chunks: Arc::from([body]),
            next: 0,
            remaining,
        }
    }

    /// A one-shot streaming body; `seen` receives the count of bytes read past the
    /// prefix (the prefix is already counted).
    pub(crate) fn stream(
        prefix: Prefix,
        rest: Incoming,
        idle: Duration,
        counters: Arc<Counters>,
        seen: Arc<AtomicU64>,
    ) -> Self {
        let prefix_len = prefix.iter().map(|c| c.len() as u64).sum();
        UpstreamBody::Stream(Box::new(Streaming {
            prefix: prefix.chunks.into_iter(),
            prefix_len,
            held: prefix.held,
            rest,
            idle: IdleTimer::new(idle),
            counters,
            seen,
        }))
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            UpstreamBody::Replay {
                chunks,
                next,
                remaining,
            } => {
                let Some(chunk) = chunks.get(*next) else {
                    return Poll::Ready(None);
                };
                *next += 1;
                *remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk.clone()))))
            }
            UpstreamBody::Stream(s) => s.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Replay { chunks, next, .. } => *next >= chunks.len(),
            UpstreamBody::Stream(s) => s.prefix.len() == 0 && s.rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Replay { remaining, .. } => SizeHint::with_exact(*remaining),
            UpstreamBody::Stream(s) => grow(s.rest.size_hint(), s.prefix_len),
        }
    }
}

impl Streaming {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(chunk) = self.prefix.next() {
            self.prefix_len -= chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        self.held = None;
        match Pin::new(&mut self.rest).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    self.seen.fetch_add(n, Ordering::Relaxed);
                    Counters::add(&self.counters.bytes_in, n);
                }
                self.idle.touch();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Client(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.idle.poll_expired(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::IdleTimeout(self.idle.idle())))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// `hint` plus `extra` bytes held in front of the body it describes.
pub(crate) fn grow(hint: SizeHint, extra: u64) -> SizeHint {
    let mut grown = SizeHint::new();
    grown.set_lower(hint.lower() + extra);
    if let Some(upper) = hint.upper() {
        grown.set_upper(upper + extra);
    }
    grown
}
