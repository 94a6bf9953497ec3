//! The streaming reverse proxy each worker process runs: HTTP/1.1 keep-alive from the
//! CLI, pooled keep-alive (rustls) connections to each provider, bodies streamed end
//! to end, failover before the first response byte, a circuit breaker per provider,
//! and a guard that refuses browsers.
//!
//! Map: `config` (what to do) → `provider` (validated runtime form) → `server`
//! (accept loop, deadlines, drain; `limits`, `connections` for the cap and
//! shedding, `peer` for the owner check) → `forward` (one request: guard, body
//! within `budget`, failover) using
//! `headers`, `guard`, `request`/`response` (bodies), `official` (an official
//! provider's upstream per request), `client` (upstream routes) and `pool`
//! (direct upstream connections),
//! `breaker`; `stats` and `report` are what the worker sends to the daemon,
//! `tap` (the outermost layer of every response body) reads each response's
//! usage and how it ended;
//! `fault` writes the errors the proxy answers itself in each app's API shape;
//! `tunnel` passes WebSocket upgrades through.

mod answer;
mod breaker;
mod budget;
mod capture;
mod client;
mod config;
mod connections;
mod cooling;
mod error;
mod failover;
mod failures;
pub mod fault;
mod forward;
mod guard;
mod headers;
mod idle;
mod keys;
mod limits;
mod loops;
mod model;
mod official;
mod peer;
mod pool;
mod prepare;
mod provider;
mod report;
mod request;
mod response;
mod server;
mod stats;
mod summary;
mod tap;
mod target;
mod translated;
mod tunnel;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper_util::client::proxy::matcher::Matcher;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use breaker::BreakerState;
pub use config::{BreakerPolicy, Credential, ProviderConfig, ProxyConfig, Timeouts};
pub use error::{BodyError, ProxyError};
pub use limits::ClientLimits;
pub use loops::own_port;
pub use stats::{ProviderHealth, ProxyStats, StatsSnapshot};
pub use summary::{ProxyReport, RequestSummary};

use budget::BodyBudget;
use client::Upstream;
use guard::Guard;
use provider::Active;
use stats::Counters;

/// One worker's proxy. Built once; serves one listener; takes new configs live.
pub struct Proxy {
    counters: Arc<Counters>,
    /// Shared by every request across config swaps; its limit follows the config.
    budget: Arc<BodyBudget>,
    active: watch::Sender<Arc<Active>>,
    /// Held while building a new config, so two concurrent `set_config` calls
    /// cannot interleave their breaker carry-over.
    upstream: Mutex<Upstream>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Proxy {
    /// Validates the config and builds the upstream clients. Outbound proxies come
    /// from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` (read now, once).
    pub fn new(config: ProxyConfig) -> Result<Self, ProxyError> {
        Self::with_proxy_matcher(config, Matcher::from_env())
    }

    /// Like [`Proxy::new`] with explicit outbound-proxy rules instead of the
    /// environment (tests, and callers that read proxy settings elsewhere).
    pub fn with_proxy_matcher(config: ProxyConfig, matcher: Matcher) -> Result<Self, ProxyError> {
        let upstream = Upstream::new(matcher);
        let budget = BodyBudget::new(config.limits.body_budget);
        let active = Active::build(config, None, &upstream)?;
        let (active, _) = watch::channel(Arc::new(active));
        Ok(Proxy {
            counters: Arc::new(Counters::default()),
            budget,
            active,
            upstream: Mutex::new(upstream),
        })
    }

    /// A cheap handle for reading counters from another task.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            counters: Arc::clone(&self.counters),
            active: self.active.subscribe(),
        }
    }

    /// Swaps in a new config for requests that start from now on; requests in flight
    /// finish with the config they started with. An invalid config is refused (the
    /// current one stays) and logged; see [`Proxy::try_set_config`] to get the error.
    pub fn set_config(&self, config: ProxyConfig) {
        if let Err(e) = self.try_set_config(config) {
            tracing::error!(error = %e, "new proxy config refused; keeping the current one");
            self.counters.set_last_error(format!("config refused: {e}"));
        }
    }

    /// [`Proxy::set_config`], returning why a config was refused.
    pub fn try_set_config(&self, config: ProxyConfig) -> Result<(), ProxyError> {
        let upstream = self.upstream.lock().unwrap_or_else(PoisonError::into_inner);
        let current = Arc::clone(&self.active.borrow());
        let budget = config.limits.body_budget;
        let next = Active::build(config, Some(&current), &upstream)?;
        self.budget.set_limit(budget);
        self.active.send_replace(Arc::new(next));
        Ok(())
    }

    /// Serves `listener` until `shutdown` is cancelled; then stops accepting, lets
    /// in-flight requests finish, and returns once they have or `drain_deadline` has
    /// passed (remaining connections are then cut). Each finished request is
    /// reported on `reports` with `try_send`: a slow daemon never stalls traffic.
    pub async fn serve(
        &self,
        listener: TcpListener,
        reports: mpsc::Sender<ProxyReport>,
        shutdown: CancellationToken,
        drain_deadline: Duration,
    ) -> std::io::Result<()> {
        let port = listener.local_addr()?.port();
        let shared = server::Shared {
            counters: Arc::clone(&self.counters),
            reports,
            budget: Arc::clone(&self.budget),
            guard: Arc::new(Guard::new(port)),
            active: self.active.subscribe(),
        };
        server::serve(shared, listener, shutdown, drain_deadline).await
    }
}
