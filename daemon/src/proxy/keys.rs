//! When a key of a pool is the trouble, not its provider: a 429, an exhausted
//! quota or credit (HTTP 402, or a 400/403/429 whose body says so in a vendor's
//! words), or a revoked key (401). Such a key rests and the next key of the pool
//! is tried at once; the provider's breaker is not told.
//!
//! Only answers to a pooled key with one of those statuses are read here, and
//! only the first [`ERROR_BODY_LIMIT`] bytes: never a success, never a stream.

use std::borrow::Cow;
use std::io::Read;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::cooling;

/// How much of an error body is read to tell a quota error from another one.
/// Vendors' error bodies are a few hundred bytes; the rest of a larger one is
/// dropped (the client still gets this much of it).
pub(crate) const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// How long a key rests whose quota or credit ran out, or that was refused
/// (401): the longest cool-down there is, an hour. Quotas reset daily or
/// monthly and credit needs a person to top it up, so retrying sooner only
/// burns requests; one request an hour per key is cheap, and a key that was
/// topped up (or a pool edited) is back within the hour. Restarting the
/// worker forgets every rest.
pub(crate) const QUOTA_REST: Duration = cooling::MAX_COOL;

/// What is wrong with the key that was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyTrouble {
    /// Rate limited: rests as long as the provider asked, else a minute.
    RateLimited,
    /// Quota or credit exhausted: rests [`QUOTA_REST`].
    Quota,
    /// Refused (401): revoked or mistyped; rests [`QUOTA_REST`].
    Refused,
}

impl KeyTrouble {
    /// How long the key rests; `asked` is the provider's `Retry-After`.
    pub(crate) fn rest(self, asked: Option<Duration>) -> Duration {
        match self {
            KeyTrouble::RateLimited => asked.unwrap_or(cooling::DEFAULT_KEY_REST),
            KeyTrouble::Quota | KeyTrouble::Refused => QUOTA_REST,
        }
    }

    /// For the request record: `key stored-2 rests (quota)`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            KeyTrouble::RateLimited => "rate limited",
            KeyTrouble::Quota => "quota or credit exhausted",
            KeyTrouble::Refused => "refused",
        }
    }
}

/// Whether an answer with this status may be about the key, so its body is
/// worth reading (for a key of a pool only).
pub(crate) fn may_be_key_trouble(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400..=403 | 429)
}

/// Words vendors put in the body of an exhausted quota or credit: OpenAI's
/// `insufficient_quota` (a 429) and billing codes, Anthropic's "credit balance
/// is too low" (a 400 `invalid_request_error`) and `billing_error`.
const QUOTA_MARKERS: [&[u8]; 5] = [
    b"insufficient_quota",
    b"billing_hard_limit_reached",
    b"billing_not_active",
    b"credit balance is too low",
    b"billing_error",
];

/// What the answer says about the key, from its status and the start of its
/// body (`encoding`: its `Content-Encoding`, decoded here up to the limit).
pub(crate) fn classify(
    status: StatusCode,
    encoding: Option<&[u8]>,
    body: &[u8],
) -> Option<KeyTrouble> {
    let quota = || {
        let body = decoded(encoding, body);
        QUOTA_MARKERS
            .iter()
            .any(|m| memchr::memmem::find(&body, m).is_some())
    };
    match status.as_u16() {
        401 => Some(KeyTrouble::Refused),
        // Payment Required: OpenRouter, DeepSeek and others when credit is gone.
        402 => Some(KeyTrouble::Quota),
        429 if quota() => Some(KeyTrouble::Quota),
        429 => Some(KeyTrouble::RateLimited),
        400 | 403 if quota() => Some(KeyTrouble::Quota),
        _ => None,
    }
}

/// An error body as text: decoded when it came compressed (the client's
/// `Accept-Encoding` is passed through), at most [`ERROR_BODY_LIMIT`] bytes of
/// it; what cannot be decoded is searched as it is (and then matches nothing).
fn decoded<'a>(encoding: Option<&[u8]>, body: &'a [u8]) -> Cow<'a, [u8]> {
    let encoding = encoding.map(<[u8]>::trim_ascii).unwrap_or_default();
    let is = |name: &str| encoding.eq_ignore_ascii_case(name.as_bytes());
    let reader: Box<dyn Read + 'a> = if is("gzip") || is("x-gzip") {
        Box::new(flate2::read::GzDecoder::new(body))
    } else if is("deflate") {
        Box::new(flate2::read::ZlibDecoder::new(body))
    } else if is("br") {
        Box::new(brotli_decompressor::Decompressor::new(body, 4096))
    } else if is("zstd") {
        match zstd::stream::read::Decoder::with_buffer(body) {
            Ok(decoder) => Box::new(decoder),
            Err(_) => return Cow::Borrowed(body),
        }
    } else {
        return Cow::Borrowed(body);
    };
    let mut out = Vec::new();
    // A body cut at the read limit decodes as far as it goes.
    let _ = reader.take(ERROR_BODY_LIMIT as u64).read_to_end(&mut out);
    Cow::Owned(out)
}

/// The first [`ERROR_BODY_LIMIT`] bytes of an error body, waiting at most
/// `idle` for each chunk. What did not arrive in time, or broke, is left out.
pub(crate) async fn read_error_body(mut body: Incoming, idle: Duration) -> Bytes {
    let mut out = BytesMut::new();
    while out.len() < ERROR_BODY_LIMIT {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            _ => break,
        };
        if let Ok(data) = frame.into_data() {
            let room = ERROR_BODY_LIMIT - out.len();
            out.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(status: u16, body: &str) -> Option<KeyTrouble> {
        classify(
            StatusCode::from_u16(status).unwrap_or_default(),
            None,
            body.as_bytes(),
        )
    }

    #[test]
    fn a_compressed_quota_error_is_read() -> std::io::Result<()> {
        use std::io::Write;
        let body = br#"{"error":{"code":"insufficient_quota"}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body)?;
        let gz = gz.finish()?;
        let status = StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(
            classify(status, Some(b"gzip"), &gz),
            Some(KeyTrouble::Quota)
        );
        Ok(())
    }

    #[test]
    fn vendors_quota_errors_are_told_from_other_errors() {
        let openai = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert_eq!(of(429, openai), Some(KeyTrouble::Quota));
        let rate = r#"{"error":{"type":"rate_limit_error","message":"slow down"}}"#;
        assert_eq!(of(429, rate), Some(KeyTrouble::RateLimited));
        let credit = r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}"#;
        assert_eq!(of(400, credit), Some(KeyTrouble::Quota));
        let billing = r#"{"type":"error","error":{"type":"billing_error","message":"x"}}"#;
        assert_eq!(of(403, billing), Some(KeyTrouble::Quota));
        assert_eq!(
            of(402, r#"{"error":{"message":"Insufficient credits"}}"#),
            Some(KeyTrouble::Quota)
        );
        assert_eq!(of(401, ""), Some(KeyTrouble::Refused));
        // An ordinary bad request or refusal is the request's, not the key's.
        let bad = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}"#;
        assert_eq!(of(400, bad), None);
        assert_eq!(of(403, r#"{"error":"forbidden"}"#), None);
        assert_eq!(of(500, openai), None);
    }

    #[test]
    fn quota_rests_long_and_a_rate_limit_as_asked() {
        let asked = Some(Duration::from_secs(7));
        assert_eq!(KeyTrouble::RateLimited.rest(asked), Duration::from_secs(7));
        assert_eq!(
            KeyTrouble::RateLimited.rest(None),
            cooling::DEFAULT_KEY_REST
        );
        assert_eq!(KeyTrouble::Quota.rest(asked), QUOTA_REST);
        assert_eq!(KeyTrouble::Refused.rest(None), QUOTA_REST);
        assert!(may_be_key_trouble(StatusCode::PAYMENT_REQUIRED));
        assert!(!may_be_key_trouble(StatusCode::OK));
        assert!(!may_be_key_trouble(StatusCode::NOT_FOUND));
    }
}
