//! Rate limits a provider announces: `Retry-After` (seconds or an HTTP date),
//! `retry-after-ms`, Anthropic's `anthropic-ratelimit-*-reset` (RFC 3339 times)
//! and OpenAI's `x-ratelimit-reset-*` (`1s`, `6m0s`, `20ms`) on a 429 or 503
//! cool that provider (or, in a key pool, that key) down for exactly that long:
//! it is skipped until then instead of being hammered.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

/// The longest cool-down believed: a header asking for more is capped here.
pub(crate) const MAX_COOL: Duration = Duration::from_secs(3600);

/// How long a key of a pool rests after a 429 that said nothing about when.
pub(crate) const DEFAULT_KEY_REST: Duration = Duration::from_secs(60);

/// One clock for every cool-down in the process, so an instant fits an atomic.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn millis(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(*EPOCH).as_millis()).unwrap_or(u64::MAX)
}

/// Until when something is cooling down (lock-free: read by every request).
#[derive(Debug, Default)]
pub(crate) struct Cooling {
    /// Milliseconds since [`EPOCH`]; 0: not cooling.
    until_ms: AtomicU64,
}

impl Cooling {
    /// How long is left, if it is cooling at `now`.
    pub(crate) fn left(&self, now: Instant) -> Option<Duration> {
        let until = self.until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return None;
        }
        let now = millis(now);
        (until > now).then(|| Duration::from_millis(until - now))
    }

    /// Cools down for `span` from `now` (never shortening a longer one).
    pub(crate) fn cool(&self, now: Instant, span: Duration) {
        let span = span.min(MAX_COOL);
        let until = millis(now).saturating_add(span.as_millis() as u64).max(1);
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }
}

/// How long the provider asked us to wait, from its headers; `None` if it did
/// not say. `Retry-After` wins; otherwise the latest vendor reset.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_millis(ms as u64).min(MAX_COOL));
    }
    if let Some(value) = text("retry-after") {
        if let Ok(secs) = value.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Some(Duration::from_secs_f64(secs.min(MAX_COOL.as_secs_f64())));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
            return Some(until(at.into(), now));
        }
    }
    let mut longest: Option<Duration> = None;
    for (name, value) in headers {
        let name = name.as_str();
        let Ok(value) = value.to_str() else { continue };
        let wait = if name.starts_with("anthropic-ratelimit-") && name.ends_with("-reset") {
            chrono::DateTime::parse_from_rfc3339(value.trim())
                .ok()
                .map(|at| until(at.into(), now))
        } else if name.starts_with("x-ratelimit-reset") {
            go_duration(value.trim())
        } else {
            None
        };
        if let Some(wait) = wait {
            longest = Some(longest.map_or(wait, |l| l.max(wait)));
        }
    }
    longest.map(|l| l.min(MAX_COOL))
}

fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or_default().min(MAX_COOL)
}

/// A Go-style duration as OpenAI writes it (`1s`, `6m0s`, `1h2m3.5s`, `20ms`),
/// or plain seconds.
fn go_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_COOL.as_secs_f64())));
    }
    let mut total = 0.0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total.min(MAX_COOL.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                *k,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn reads_every_vendor_header() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ra = |pairs| retry_after(&headers(pairs), now);
        assert_eq!(ra(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
        assert_eq!(
            ra(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
            Some(Duration::from_millis(1500))
        );
        // 2023-11-14T22:13:20Z is `now`; ten seconds later:
        assert_eq!(
            ra(&[("retry-after", "Tue, 14 Nov 2023 22:13:30 GMT")]),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            ra(&[
                ("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:25Z"),
                ("anthropic-ratelimit-tokens-reset", "2023-11-14T22:13:32Z"),
            ]),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            ra(&[
                ("x-ratelimit-reset-requests", "1m2.5s"),
                ("x-ratelimit-reset-tokens", "20ms")
            ]),
            Some(Duration::from_millis(62_500))
        );
        assert_eq!(ra(&[("retry-after", "999999")]), Some(MAX_COOL));
        assert_eq!(ra(&[("retry-after", "soon")]), None);
        assert_eq!(ra(&[]), None);
    }

    #[test]
    fn cooling_counts_down_and_never_shortens() {
        let c = Cooling::default();
        let _ = millis(Instant::now()); // the epoch is set before t0
        let t0 = Instant::now();
        assert_eq!(c.left(t0), None);
        c.cool(t0, Duration::from_secs(10));
        c.cool(t0, Duration::from_secs(2));
        assert_eq!(c.left(t0), Some(Duration::from_secs(10)));
        assert_eq!(
            c.left(t0 + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(c.left(t0 + Duration::from_secs(10)), None);
    }
}
