//! Live counters for the worker's heartbeat: plain atomics bumped on the data path,
//! read by [`ProxyStats::snapshot`] without ever blocking a request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use super::breaker::BreakerState;
use super::provider::Active;

/// The shared counters. `last_error` is behind a mutex because it is a string, but it
/// is only written when something fails and never held across an await.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Request records not queued for the daemon because the queue was full.
    pub(crate) dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_last_error(&self, message: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A cheap, cloneable handle on a proxy's counters, for the worker's heartbeat task.
#[derive(Clone)]
pub struct ProxyStats {
    pub(crate) counters: Arc<Counters>,
    pub(crate) active: watch::Receiver<Arc<Active>>,
}

impl std::fmt::Debug for ProxyStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

/// The counters at one moment. `requests`, `errors` and the byte counts only grow;
/// `in_flight` counts requests whose response has not finished yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub errors: u64,
    pub in_flight: u64,
    /// Request body bytes read from clients.
    pub bytes_in: u64,
    /// Response body bytes written to clients.
    pub bytes_out: u64,
    /// Finished requests whose record was dropped (the worker's queue to the
    /// daemon was full): counted, never a silent gap.
    pub dropped: u64,
    /// One entry per configured provider, in failover order.
    pub providers: Vec<ProviderHealth>,
    /// The most recent failure, including a provider attempt that failover then
    /// recovered from (so a flapping provider is visible while requests succeed).
    pub last_error: Option<String>,
}

/// One provider's circuit-breaker view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderHealth {
    pub name: String,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
}

impl ProxyStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let c = &self.counters;
        // Clone the Arc so the watch lock is released before we walk the providers.
        let active = Arc::clone(&self.active.borrow());
        let now = Instant::now();
        StatsSnapshot {
            requests: c.requests.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            in_flight: c.in_flight.load(Ordering::Relaxed),
            bytes_in: c.bytes_in.load(Ordering::Relaxed),
            bytes_out: c.bytes_out.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            providers: active
                .providers
                .iter()
                .map(|p| ProviderHealth {
                    name: p.name.clone(),
                    breaker: p.breaker.state(&active.policy, now),
                    consecutive_failures: p.breaker.consecutive_failures(),
                })
                .collect(),
            last_error: c.last_error(),
        }
    }
}
