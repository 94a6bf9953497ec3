//! The response side of a translated request: the upstream's body goes through
//! the [`StreamTranslator`] as it arrives and the client's events leave as soon
//! as each upstream event is whole — nothing is held to the end. A broken,
//! malformed or silent upstream ends the client's stream with an error event in
//! its own format and a clean end (never a cut connection), and counts as the
//! provider's failure. Small whole answers (a non-streamed request, an error, a
//! server that ignored `stream`) are read, bounded, and translated at once.
//!
//! Also here: the check that passes a same-format SSE stream through untouched
//! but notices the error events in it ([`ErrorWatch`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

use super::error::chain;
use super::idle::IdleTimer;
use crate::translate::{StreamOutcome, StreamTranslator};

/// Largest whole upstream answer read for translation.
pub(crate) const MAX_WHOLE: usize = 32 * 1024 * 1024;

/// A streamed upstream body, translated.
pub(crate) struct Translating {
    body: Incoming,
    idle: IdleTimer,
    translator: StreamTranslator,
    out: BytesMut,
    ended: bool,
    reported: bool,
}

impl Translating {
    pub(crate) fn new(body: Incoming, idle: Duration, translator: StreamTranslator) -> Self {
        Translating {
            body,
            idle: IdleTimer::new(idle),
            translator,
            out: BytesMut::new(),
            ended: false,
            reported: false,
        }
    }

    /// The next client-format bytes; `None` once the stream is over. Never an
    /// error: what broke is told to the client inside the stream.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            if self.ended {
                return Poll::Ready((!self.out.is_empty()).then(|| self.out.split().freeze()));
            }
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.idle.touch();
                    if let Ok(data) = frame.into_data() {
                        self.translator.feed(&data, &mut self.out);
                    }
                    if *self.translator.outcome() != StreamOutcome::Open {
                        self.ended = true;
                    } else if !self.out.is_empty() {
                        return Poll::Ready(Some(self.out.split().freeze()));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.translator.abort(&chain(&e), &mut self.out);
                    self.ended = true;
                }
                Poll::Ready(None) => {
                    self.translator.finish(&mut self.out);
                    self.ended = true;
                }
                Poll::Pending => match self.idle.poll_expired(cx) {
                    Poll::Ready(()) => {
                        let why = format!("no data for {:?} (idle timeout)", self.idle.idle());
                        self.translator.abort(&why, &mut self.out);
                        self.ended = true;
                    }
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }

    /// How the stream ended, once, as soon as it has (hyper may stop polling
    /// before a last `None` once the body says it is at its end).
    pub(crate) fn take_outcome(&mut self) -> Option<StreamOutcome> {
        if !self.ended || std::mem::replace(&mut self.reported, true) {
            return None;
        }
        Some(self.translator.outcome().clone())
    }

    pub(crate) fn is_end(&self) -> bool {
        self.ended && self.out.is_empty()
    }
}

/// Reads a whole upstream body, at most `limit` bytes, each chunk within `idle`.
pub(crate) async fn read_whole(
    mut body: Incoming,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    loop {
        let frame = tokio::time::timeout(idle, body.frame())
            .await
            .map_err(|_| format!("no data for {idle:?} (idle timeout)"))?;
        match frame {
            None => return Ok(out.freeze()),
            Some(Err(e)) => return Err(chain(&e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > limit {
                        return Err(format!("the answer is larger than {limit} bytes"));
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Notices error events in a same-format event stream passed through
/// untouched: Anthropic's `event: error` (overloaded, …) or a bare
/// `data: {"type":"error"`, the Responses API's `response.failed` and `error`,
/// and a Chat or Gemini `data: {"error": …}`. One SIMD scan per chunk for
/// `error` or `failed`; the patterns are checked only in a chunk that has one.
/// A pattern split across chunks is found where they join: the last
/// [`CARRY`] bytes of the stream so far are kept (a fixed array, never the
/// stream) and searched together with the start of the next chunk.
#[derive(Debug, Default)]
pub(crate) struct ErrorWatch {
    pub(crate) seen: bool,
    /// The stream's last bytes, up to [`CARRY`].
    tail: [u8; CARRY],
    tail_len: usize,
}

const ERROR_PATTERNS: [&[u8]; 8] = [
    b"event: error",
    b"event:error",
    b"event: response.failed",
    b"event:response.failed",
    b"data: {\"error\"",
    b"data:{\"error\"",
    b"data: {\"type\":\"error\"",
    b"data:{\"type\":\"error\"",
];

/// One byte short of the longest pattern: a split pattern has at most this
/// much before the join.
const CARRY: usize = 21;

const _: () = {
    let mut i = 0;
    while i < ERROR_PATTERNS.len() {
        assert!(ERROR_PATTERNS[i].len() <= CARRY + 1);
        i += 1;
    }
};

impl ErrorWatch {
    pub(crate) fn scan(&mut self, data: &[u8]) {
        if self.seen || data.is_empty() {
            return;
        }
        let held = self.tail_len;
        if held > 0 {
            // The join: the kept tail and the chunk's first bytes.
            let head = &data[..data.len().min(CARRY)];
            let mut joint = [0u8; 2 * CARRY];
            joint[..held].copy_from_slice(&self.tail[..held]);
            joint[held..held + head.len()].copy_from_slice(head);
            if has_error(&joint[..held + head.len()]) {
                self.seen = true;
                return;
            }
        }
        if has_error(data) {
            self.seen = true;
            return;
        }
        if data.len() >= CARRY {
            self.tail.copy_from_slice(&data[data.len() - CARRY..]);
            self.tail_len = CARRY;
        } else {
            // A short chunk: the tail keeps the end of the one before too.
            let keep = held.min(CARRY - data.len());
            self.tail.copy_within(held - keep..held, 0);
            self.tail[keep..keep + data.len()].copy_from_slice(data);
            self.tail_len = keep + data.len();
        }
    }
}

fn has_error(data: &[u8]) -> bool {
    let candidate = memchr::memmem::find(data, b"error").is_some()
        || memchr::memmem::find(data, b"failed").is_some();
    candidate
        && ERROR_PATTERNS
            .iter()
            .any(|p| memchr::memmem::find(data, p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_events_are_noticed_and_text_about_errors_is_not() {
        let seen = |chunk: &[u8]| {
            let mut w = ErrorWatch::default();
            w.scan(chunk);
            w.seen
        };
        assert!(seen(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n"));
        assert!(seen(b"event: response.failed\ndata: {}\n\n"));
        assert!(seen(b"data: {\"error\":{\"message\":\"boom\"}}\n\n"));
        assert!(!seen(
            b"event: content_block_delta\ndata: {\"delta\":{\"text\":\"an error occurred\"}}\n\n"
        ));
        assert!(!seen(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"failed\"}}]}\n\n"
        ));
    }

    #[test]
    fn an_error_event_split_across_chunks_is_noticed() {
        let stream: &[u8] = b"event: ping\ndata: {}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n";
        let bare: &[u8] = b"data: {\"delta\":1}\n\ndata: {\"type\":\"error\",\"error\":{}}\n\n";
        for whole in [stream, bare] {
            // Cut in two at every place, and in pieces of every size.
            for at in 0..whole.len() {
                let mut w = ErrorWatch::default();
                w.scan(&whole[..at]);
                w.scan(&whole[at..]);
                assert!(w.seen, "missed when cut at {at}");
            }
            for size in 1..whole.len() {
                let mut w = ErrorWatch::default();
                for piece in whole.chunks(size) {
                    w.scan(piece);
                }
                assert!(w.seen, "missed in pieces of {size}");
            }
        }
        // Text about errors, cut anywhere, stays text.
        let text: &[u8] = b"data: {\"delta\":{\"text\":\"the error event: it failed\"}}\n\n";
        for size in 1..text.len() {
            let mut w = ErrorWatch::default();
            for piece in text.chunks(size) {
                w.scan(piece);
            }
            assert!(!w.seen, "text taken for an error in pieces of {size}");
        }
    }
}
