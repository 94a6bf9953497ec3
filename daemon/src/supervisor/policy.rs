//! Supervision policy and the restart arithmetic: exponential backoff with a
//! cap and a reset after healthy uptime, and parking after rapid failures.
//! Pure functions of durations, so the rules are tested without processes.

use std::time::Duration;

/// Per-app supervision settings (DESIGN.md, "Supervision defaults").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Uptime after which the delay and the rapid-failure count reset.
    pub healthy_after: Duration,
    /// A failure within this time of the run's start counts as rapid…
    pub rapid_window: Duration,
    /// …and this many rapid failures in a row park the app.
    pub park_after: u32,
    /// Silence on the control channel after which a worker counts as hung.
    pub hung_after: Duration,
    /// How long a worker may take from spawn to `Ready`.
    pub ready_timeout: Duration,
    /// How long in-flight requests may take to finish on stop.
    pub drain: Duration,
    /// How long SIGTERM has before SIGKILL.
    pub term_grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            rapid_window: Duration::from_secs(10),
            park_after: 5,
            hung_after: Duration::from_secs(5),
            ready_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(10),
            term_grace: Duration::from_secs(5),
        }
    }
}

/// Per-app overrides as stored in the `apps.policy` column (JSON, every field
/// optional), e.g. `{"park_after": 10, "initial_delay_ms": 50}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Overrides {
    initial_delay_ms: Option<u64>,
    max_delay_ms: Option<u64>,
    healthy_after_ms: Option<u64>,
    rapid_window_ms: Option<u64>,
    park_after: Option<u32>,
    hung_after_ms: Option<u64>,
    ready_timeout_ms: Option<u64>,
    drain_ms: Option<u64>,
    term_grace_ms: Option<u64>,
}

impl Policy {
    /// The policy as clients see it (the snapshot's [`PolicyInfo`]).
    pub fn info(&self) -> crate::protocol::state::PolicyInfo {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        crate::protocol::state::PolicyInfo {
            initial_delay_ms: ms(self.initial_delay),
            max_delay_ms: ms(self.max_delay),
            healthy_after_ms: ms(self.healthy_after),
            rapid_window_ms: ms(self.rapid_window),
            park_after: self.park_after,
            hung_after_ms: ms(self.hung_after),
            ready_timeout_ms: ms(self.ready_timeout),
            drain_ms: ms(self.drain),
            term_grace_ms: ms(self.term_grace),
        }
    }

    /// The defaults with an app's stored overrides applied.
    pub fn with_overrides(mut self, json: &str) -> Result<Policy, serde_json::Error> {
        let o: Overrides = serde_json::from_str(json)?;
        let ms = Duration::from_millis;
        let set = |field: &mut Duration, value: Option<u64>| {
            if let Some(v) = value {
                *field = ms(v);
            }
        };
        set(&mut self.initial_delay, o.initial_delay_ms);
        set(&mut self.max_delay, o.max_delay_ms);
        set(&mut self.healthy_after, o.healthy_after_ms);
        set(&mut self.rapid_window, o.rapid_window_ms);
        set(&mut self.hung_after, o.hung_after_ms);
        set(&mut self.ready_timeout, o.ready_timeout_ms);
        set(&mut self.drain, o.drain_ms);
        set(&mut self.term_grace, o.term_grace_ms);
        if let Some(n) = o.park_after {
            self.park_after = n.max(1);
        }
        Ok(self)
    }
}

/// The exit code a worker uses for a permanent error (bad configuration):
/// `EX_CONFIG` from sysexits.h. It parks the app at once.
pub const EXIT_CONFIG: i32 = 78;

/// What to do after a worker failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Restart { attempt: u32, delay: Duration },
    Park { reason: String },
}

/// Failure bookkeeping for one app.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    /// Failures since the last healthy run (drives the delay).
    attempt: u32,
    /// Consecutive failures that each came within the rapid window of their start.
    rapid: u32,
}

impl Backoff {
    /// Records a failed run that lasted `uptime` and decides what comes next.
    pub fn on_failure(&mut self, policy: &Policy, uptime: Duration, permanent: bool) -> Decision {
        if permanent {
            return Decision::Park {
                reason: format!(
                    "the worker exited with code {EXIT_CONFIG} (configuration error); fix the configuration, then restart"
                ),
            };
        }
        if uptime >= policy.healthy_after {
            self.attempt = 0;
            self.rapid = 0;
        }
        if uptime < policy.rapid_window {
            self.rapid += 1;
        } else {
            self.rapid = 0;
        }
        if self.rapid >= policy.park_after {
            return Decision::Park {
                reason: format!(
                    "crashed {} times in a row, each within {}s of starting",
                    self.rapid,
                    policy.rapid_window.as_secs()
                ),
            };
        }
        self.attempt += 1;
        Decision::Restart {
            attempt: self.attempt,
            delay: delay_for(policy, self.attempt),
        }
    }

    /// A user's restart clears the slate.
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// initial × 2^(attempt−1), capped.
pub fn delay_for(policy: &Policy, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(31);
    policy
        .initial_delay
        .saturating_mul(1u32 << exp)
        .min(policy.max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_millis(50);

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = Policy::default();
        let delays: Vec<_> = (1..=10)
            .map(|a| delay_for(&policy, a).as_millis())
            .collect();
        assert_eq!(
            delays,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
    }

    #[test]
    fn five_rapid_failures_park() {
        let policy = Policy::default();
        let mut backoff = Backoff::default();
        for attempt in 1..=4 {
            assert_eq!(
                backoff.on_failure(&policy, QUICK, false),
                Decision::Restart {
                    attempt,
                    delay: delay_for(&policy, attempt)
                }
            );
        }
        assert!(matches!(
            backoff.on_failure(&policy, QUICK, false),
            Decision::Park { .. }
        ));
    }

    #[test]
    fn a_slow_failure_breaks_the_rapid_run_and_healthy_uptime_resets_the_delay() {
        let policy = Policy::default();
        let mut backoff = Backoff::default();
        for _ in 0..4 {
            backoff.on_failure(&policy, QUICK, false);
        }
        // 20 s of uptime: not rapid, but not healthy either: the delay keeps growing.
        assert_eq!(
            backoff.on_failure(&policy, Duration::from_secs(20), false),
            Decision::Restart {
                attempt: 5,
                delay: Duration::from_millis(3200)
            }
        );
        // Healthy for 60 s: back to the first delay.
        assert_eq!(
            backoff.on_failure(&policy, Duration::from_secs(61), false),
            Decision::Restart {
                attempt: 1,
                delay: Duration::from_millis(200)
            }
        );
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let policy = Policy::default()
            .with_overrides(r#"{"park_after": 100, "initial_delay_ms": 10}"#)
            .unwrap();
        assert_eq!(policy.park_after, 100);
        assert_eq!(policy.initial_delay, Duration::from_millis(10));
        assert_eq!(policy.max_delay, Policy::default().max_delay);
        assert!(
            Policy::default()
                .with_overrides(r#"{"parkafter": 1}"#)
                .is_err()
        );
    }

    /// The supervisor measures uptime with tokio's clock; with the clock paused,
    /// a crash loop plays out in virtual time: four restarts after 0.2 + 0.4 +
    /// 0.8 + 1.6 s of backoff, then parked on the fifth rapid crash.
    #[tokio::test(start_paused = true)]
    async fn a_crash_loop_in_paused_time() {
        let policy = Policy::default();
        let mut backoff = Backoff::default();
        let began = tokio::time::Instant::now();
        let mut restarts = 0;
        loop {
            let started = tokio::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(30)).await; // the run
            match backoff.on_failure(&policy, started.elapsed(), false) {
                Decision::Restart { delay, .. } => {
                    restarts += 1;
                    tokio::time::sleep(delay).await;
                }
                Decision::Park { .. } => break,
            }
        }
        assert_eq!(restarts, 4);
        assert_eq!(
            began.elapsed(),
            Duration::from_millis(5 * 30 + 200 + 400 + 800 + 1600)
        );
    }

    #[test]
    fn exit_78_parks_at_once() {
        let mut backoff = Backoff::default();
        let decision = backoff.on_failure(&Policy::default(), QUICK, true);
        assert!(matches!(decision, Decision::Park { reason } if reason.contains("78")));
    }
}
