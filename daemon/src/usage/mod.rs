//! Token usage and cost: read from each response as it streams past, priced
//! from a table the user can extend.
//!
//! - [`UsageScanner`] is fed every body frame the client gets (split anywhere)
//!   and reads the usage the upstream reported, without delaying, copying or
//!   changing those frames: plain JSON, server-sent events, and bodies
//!   compressed with gzip, deflate, br or zstd (decoded on the side, bounded).
//!   Where usage is in each format: [`format`]; what the counts mean once
//!   normalised (the same for every vendor, so that cost is one formula):
//!   [`Tokens`](crate::protocol::requests::Tokens).
//! - [`prices`] holds the price table (`assets/prices.toml` plus the user's
//!   `prices.toml`) and the cost arithmetic, in integer units.
//!
//! What it costs on the data path: nothing for responses that carry no usage
//! (other paths, other content types, error statuses — the caller skips
//! them); for a JSON body, a scan that jumps through strings with `memchr` and
//! copies only the usage object; for an event stream, one `memchr` per line
//! and no parsing at all except in the events that carry usage
//! (`tests/benches/usage.sh` counts the instructions).
//!
//! Anything odd — malformed or truncated data, numbers that are not token
//! counts, a usage object where none belongs, an undecodable body — gives
//! `tokens: None` (unknown), never a wrong count, and never a panic.

mod decode;
pub mod format;
mod found;
mod json;
pub mod prices;
pub mod report;
pub mod since;
mod sse;
mod tokens;

use http::HeaderValue;

pub use format::Format;
pub use found::Scanned;
pub use prices::Prices;

use decode::{Decode, Framer};
use found::Body;
use sse::Sse;

/// Reads one response's usage as its body streams past.
pub struct UsageScanner {
    format: Format,
    decode: Decode,
}

impl std::fmt::Debug for UsageScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageScanner")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Whether `haystack` contains `needle`, ignoring ASCII case.
fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

impl UsageScanner {
    /// A scanner for a response of `format` with these headers, or `None` if
    /// its content type is neither JSON nor an event stream (nothing to read).
    pub fn new(
        format: Format,
        content_type: Option<&HeaderValue>,
        content_encoding: Option<&HeaderValue>,
    ) -> Option<Self> {
        let content_type = content_type?.as_bytes();
        let framer = if contains_ignore_case(content_type, b"text/event-stream") {
            Framer::Sse(Box::new(Sse::new(format.sse())))
        } else if contains_ignore_case(content_type, b"json") {
            Framer::Body(Box::new(Body::new(format)))
        } else {
            return None;
        };
        Some(UsageScanner {
            format,
            decode: Decode::new(content_encoding.map(HeaderValue::as_bytes), framer),
        })
    }

    /// Reads one body frame, exactly as the client gets it.
    pub fn feed(&mut self, frame: &[u8]) {
        self.decode.feed(frame);
    }

    /// What the response reported. `complete`: the body ended normally (not
    /// cut by the upstream or left by the client); a cut stream still reports
    /// what it said before the cut, where that can be trusted.
    pub fn finish(mut self, complete: bool) -> Scanned {
        self.decode.finish(complete).finish(self.format)
    }
}

#[cfg(test)]
#[path = "scanner_tests.rs"]
mod tests;
