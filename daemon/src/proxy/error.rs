//! Errors the proxy reports: configuration problems callers must act on, and the
//! body errors hyper sees when a stream is cut short.

use std::time::Duration;

/// A configuration the proxy cannot run with. The worker turns these into exit code
/// 78 (permanent: bad config) so the daemon parks the app instead of restarting it.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A provider's base URL is not an absolute `http`/`https` URL we can join paths to.
    #[error("provider {provider:?}: invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        provider: String,
        url: String,
        reason: String,
    },
    /// A provider's key contains bytes that cannot go into an HTTP header. The key
    /// itself is deliberately not part of the message.
    #[error("provider {provider:?}: the API key contains characters not allowed in a header")]
    InvalidKey { provider: String },
}

/// Why a request or response body stream ended early. hyper hands these to the
/// other side as a broken body (the client sees its connection closed mid-response).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client's request body could not be read (it disconnected or sent garbage).
    #[error("reading the request body from the client failed: {0}")]
    Client(#[source] hyper::Error),
    /// The upstream's response body broke off (reset, truncated, protocol error).
    #[error("upstream response body failed: {0}")]
    Upstream(#[source] hyper::Error),
    /// No chunk arrived within the idle timeout.
    #[error("no body data for {0:?} (idle timeout)")]
    IdleTimeout(Duration),
}

/// Renders an error and its sources on one line (`a: b: c`), so a log line or a 502
/// body says *why* ("connection refused"), not just "client error (Connect)".
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        // hyper-util repeats the inner message in some wrappers; skip exact repeats.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_joins_sources() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = BodyError::IdleTimeout(Duration::from_secs(1));
        assert_eq!(chain(&outer), "no body data for 1s (idle timeout)");
        assert_eq!(chain(&inner), "refused");
    }
}
