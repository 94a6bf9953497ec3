//! What a worker's proxy is told to do: the app it serves, its ordered providers,
//! timeouts, the failover body cap and the circuit-breaker policy.
//!
//! These are plain Rust types; the worker glue converts the daemon's wire `Config`
//! into them. Nothing here is validated yet — [`crate::proxy::Proxy::new`] and
//! [`crate::proxy::Proxy::set_config`] do that when they build the runtime form.

use std::fmt;
use std::time::Duration;

use super::limits::ClientLimits;
use crate::apps::{App, AuthStyle};
use crate::translate::{Format, ModelMap};

/// Everything one worker's proxy needs. Built by the worker, swapped at run time with
/// [`crate::proxy::Proxy::set_config`].
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub app: App,
    /// Already sorted by priority and filtered to enabled providers: the proxy tries
    /// them in this order.
    pub providers: Vec<ProviderConfig>,
    pub timeouts: Timeouts,
    /// Request bodies up to this size are held in memory so they can be re-sent on
    /// failover; larger ones stream straight to the first provider.
    pub max_buffered_body: usize,
    pub breaker: BreakerPolicy,
    /// Deadlines, connection cap and body budget for clients.
    pub limits: ClientLimits,
    /// Switchyard's own proxy ports: a provider on a loopback address at one
    /// of them is never sent a request (it would be a loop).
    pub own_ports: Vec<u16>,
}

impl ProxyConfig {
    /// The default body cap: far above any realistic prompt, small enough that a
    /// handful of concurrent requests cannot exhaust memory.
    pub const DEFAULT_MAX_BUFFERED_BODY: usize = 32 * 1024 * 1024;

    /// A config with default timeouts, cap and breaker policy.
    pub fn new(app: App, providers: Vec<ProviderConfig>) -> Self {
        ProxyConfig {
            app,
            providers,
            timeouts: Timeouts::default(),
            max_buffered_body: Self::DEFAULT_MAX_BUFFERED_BODY,
            breaker: BreakerPolicy::default(),
            limits: ClientLimits::default(),
            own_ports: Vec::new(),
        }
    }
}

/// One upstream the proxy may send an app's requests to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Shown in summaries, stats and error messages; also how breaker state is carried
    /// across a config swap.
    pub name: String,
    /// `scheme://host[:port][/base/path]`, e.g. `https://api.anthropic.com` or
    /// `http://127.0.0.1:9999/v1`. The request path is appended to the base path.
    pub base_url: String,
    pub credential: Credential,
    /// The app's official provider (the one the store seeds, at the app's
    /// official base URL): with [`Credential::Passthrough`] it sends each request
    /// to the upstream its credential and path belong to (a ChatGPT login to
    /// `chatgpt.com/backend-api/codex`, Code Assist to `cloudcode-pa`, …), and
    /// `base_url` serves the default route (`api-key`). Ignored with a key.
    pub official: bool,
    /// What the provider speaks; `None`: the app's own format (bytes pass
    /// through). Another format is translated, request and response.
    pub format: Option<Format>,
    /// The header keys go in; `None`: the format's usual one.
    pub auth_style: Option<AuthStyle>,
    /// Applied to the model of every request to this provider.
    pub model_map: ModelMap,
    /// A cap on the output tokens clients ask for (translated requests).
    pub max_output_tokens: Option<u64>,
}

/// How requests to a provider are authenticated.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credential {
    /// Forward the client's own auth headers untouched (a logged-in CLI keeps
    /// working). To a provider of another format the client's credentials are
    /// not sent at all: they are for its own vendor.
    #[default]
    Passthrough,
    /// Replace the client's auth headers with this key, in the app's header style.
    Key(String),
    /// A key pool: (label, key) pairs tried in order; a key answered 429 rests
    /// for the provider's `Retry-After` (60 s without one), one out of quota or
    /// credit or refused (401) an hour, and the next serves (`proxy::keys`).
    Pool(Vec<(String, String)>),
}

// Hand-written so a key can never reach a log line through `{:?}`.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Passthrough => f.write_str("Passthrough"),
            Credential::Key(_) => f.write_str("Key(<redacted>)"),
            Credential::Pool(keys) => {
                let labels: Vec<&str> = keys.iter().map(|(l, _)| l.as_str()).collect();
                write!(f, "Pool({labels:?}, <redacted>)")
            }
        }
    }
}

/// Time limits that always apply: no request may hang forever on a silent upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect (plus proxy handshake) to an upstream.
    pub connect: Duration,
    /// From sending the request to receiving the response headers. Generous
    /// (5 min) because LLM providers may think for a while before answering, and
    /// the proxy must never give up on a request before the CLI itself would.
    pub first_byte: Duration,
    /// Longest silence between two body chunks, in either direction, and on an
    /// upgraded (WebSocket) connection. 5 min: Codex's own stream idle timeout
    /// is 300 s, so long silent reasoning is cut by the CLI, not by us.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(300),
        }
    }
}

/// When a provider's circuit breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub failures_to_open: u32,
    /// How long an open breaker skips the provider before letting one probe through.
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failures_to_open: 3,
            cool_down: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_keys() {
        let provider = ProviderConfig {
            name: "p".into(),
            base_url: "http://127.0.0.1:1".into(),
            credential: Credential::Key("sk-secret-123".into()),
            ..ProviderConfig::default()
        };
        let config = ProxyConfig::new(App::Claude, vec![provider]);
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("Key(<redacted>)"), "{shown}");
    }

    #[test]
    fn defaults_match_the_design() {
        let t = Timeouts::default();
        assert_eq!(t.connect, Duration::from_secs(10));
        // Never shorter than the CLIs' own limits (Codex: 300 s stream idle).
        assert_eq!(t.first_byte, Duration::from_secs(300));
        assert_eq!(t.idle, Duration::from_secs(300));
        let b = BreakerPolicy::default();
        assert_eq!(
            (b.failures_to_open, b.cool_down),
            (3, Duration::from_secs(30))
        );
        let c = ProxyConfig::new(App::Codex, Vec::new());
        assert_eq!(c.max_buffered_body, 32 * 1024 * 1024);
    }
}
