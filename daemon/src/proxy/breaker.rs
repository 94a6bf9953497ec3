//! A lock-free circuit breaker per provider: after enough consecutive failures the
//! provider is skipped for a cool-down, then exactly one probe request decides
//! whether it closes again or re-opens.
//!
//! State is three atomics rather than a mutex because every request consults it;
//! the races this allows are benign (at worst two requests see a stale count).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::BreakerPolicy;

/// A provider's breaker as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Healthy: requests go through.
    Closed,
    /// Failing: skipped until the cool-down ends.
    Open,
    /// Cool-down over: the next request is a probe.
    HalfOpen,
}

/// What the breaker says about sending the current request to its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Closed: send it.
    Pass,
    /// Half-open and this request won the single probe slot.
    Probe,
    /// Open (or half-open with a probe already out): try the next provider.
    Skip,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    /// Reference point for `opened_at_ms`, so the timestamp fits an atomic.
    epoch: Instant,
    consecutive_failures: AtomicU32,
    /// When the breaker last (re)opened, in ms since `epoch`.
    opened_at_ms: AtomicU64,
    /// Set while a half-open probe is in flight so only one gets through.
    probing: AtomicBool,
}

impl Breaker {
    pub(crate) fn new() -> Self {
        Breaker {
            epoch: Instant::now(),
            consecutive_failures: AtomicU32::new(0),
            opened_at_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    fn millis_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn cooled_down(&self, policy: &BreakerPolicy, now: Instant) -> bool {
        let opened = self.opened_at_ms.load(Ordering::Acquire);
        let elapsed = self.millis_since_epoch(now).saturating_sub(opened);
        Duration::from_millis(elapsed) >= policy.cool_down
    }

    fn is_tripped(&self, policy: &BreakerPolicy) -> bool {
        self.consecutive_failures.load(Ordering::Acquire) >= policy.failures_to_open.max(1)
    }

    pub(crate) fn admit(&self, policy: &BreakerPolicy, now: Instant) -> Admit {
        if !self.is_tripped(policy) {
            return Admit::Pass;
        }
        if !self.cooled_down(policy, now) {
            return Admit::Skip;
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Admit::Probe,
            Err(_) => Admit::Skip,
        }
    }

    pub(crate) fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Release);
        self.probing.store(false, Ordering::Release);
    }

    pub(crate) fn record_failure(&self, policy: &BreakerPolicy, now: Instant) {
        // Stamp the opening time before the count crosses the threshold, so a
        // concurrent `admit` never pairs "tripped" with a stale timestamp.
        let next = self
            .consecutive_failures
            .load(Ordering::Acquire)
            .saturating_add(1);
        if next >= policy.failures_to_open.max(1) {
            self.opened_at_ms
                .store(self.millis_since_epoch(now), Ordering::Release);
        }
        self.consecutive_failures.fetch_add(1, Ordering::AcqRel);
        self.probing.store(false, Ordering::Release);
    }

    /// A probe that ended without a verdict (the client went away first) frees the
    /// slot so the provider is not stuck half-open forever.
    pub(crate) fn release_probe(&self) {
        self.probing.store(false, Ordering::Release);
    }

    pub(crate) fn state(&self, policy: &BreakerPolicy, now: Instant) -> BreakerState {
        if !self.is_tripped(policy) {
            BreakerState::Closed
        } else if self.cooled_down(policy, now) {
            BreakerState::HalfOpen
        } else {
            BreakerState::Open
        }
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Acquire)
    }
}

/// A breaker verdict owed for one attempt. It is given when the attempt is
/// really over — for a response that streams, at the end of its body, so that
/// a stream that breaks (or carries an error event) counts as the failure it
/// is. Dropped without one (the client left), it frees a half-open probe slot.
pub(crate) struct Owed {
    breaker: Arc<Breaker>,
    policy: BreakerPolicy,
    probe: bool,
    settled: bool,
}

impl Owed {
    pub(crate) fn new(breaker: &Arc<Breaker>, policy: BreakerPolicy, probe: bool) -> Owed {
        Owed {
            breaker: Arc::clone(breaker),
            policy,
            probe,
            settled: false,
        }
    }

    /// A verdict already given (a held 429/5xx answer handed back at last).
    pub(crate) fn given(breaker: &Arc<Breaker>, policy: BreakerPolicy) -> Owed {
        Owed {
            breaker: Arc::clone(breaker),
            policy,
            probe: false,
            settled: true,
        }
    }

    pub(crate) fn success(&mut self) {
        if !std::mem::replace(&mut self.settled, true) {
            self.breaker.record_success();
        }
    }

    pub(crate) fn failure(&mut self) {
        if !std::mem::replace(&mut self.settled, true) {
            self.breaker.record_failure(&self.policy, Instant::now());
        }
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.release_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BreakerPolicy = BreakerPolicy {
        failures_to_open: 2,
        cool_down: Duration::from_secs(10),
    };

    #[test]
    fn opens_after_threshold_then_probes_once_after_cool_down() {
        let b = Breaker::new();
        let t0 = b.epoch + Duration::from_secs(1);
        assert_eq!(b.admit(&POLICY, t0), Admit::Pass);
        b.record_failure(&POLICY, t0);
        assert_eq!(b.state(&POLICY, t0), BreakerState::Closed);
        b.record_failure(&POLICY, t0);
        assert_eq!(b.state(&POLICY, t0), BreakerState::Open);
        assert_eq!(b.admit(&POLICY, t0 + Duration::from_secs(9)), Admit::Skip);

        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.state(&POLICY, later), BreakerState::HalfOpen);
        assert_eq!(b.admit(&POLICY, later), Admit::Probe);
        assert_eq!(b.admit(&POLICY, later), Admit::Skip, "one probe at a time");

        // A failed probe re-opens for a fresh cool-down.
        b.record_failure(&POLICY, later);
        assert_eq!(
            b.state(&POLICY, later + Duration::from_secs(5)),
            BreakerState::Open
        );
        let again = later + Duration::from_secs(10);
        assert_eq!(b.admit(&POLICY, again), Admit::Probe);
        b.record_success();
        assert_eq!(b.state(&POLICY, again), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 0);
        assert_eq!(b.admit(&POLICY, again), Admit::Pass);
    }

    #[test]
    fn abandoned_probe_frees_the_slot() {
        let b = Breaker::new();
        let t0 = b.epoch;
        b.record_failure(&POLICY, t0);
        b.record_failure(&POLICY, t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&POLICY, later), Admit::Probe);
        b.release_probe();
        assert_eq!(b.admit(&POLICY, later), Admit::Probe);
    }
}
