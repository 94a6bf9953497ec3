//! The idle-gap timeout on a streaming body: how long it may stay silent between
//! two chunks. Armed only once the body first makes us wait, and not re-registered
//! with the timer wheel on every chunk (a chunk only notes the time): when the
//! timer fires after data has come since it was set, it is pushed forward from the
//! last chunk instead. An SSE stream then costs one timer operation per `idle`
//! period, not one per event.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub(crate) struct IdleTimer {
    idle: Duration,
    /// When the last chunk came (or the timer was armed).
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    pub(crate) fn new(idle: Duration) -> Self {
        IdleTimer {
            idle,
            last: Instant::now(),
            sleep: None,
        }
    }

    pub(crate) fn idle(&self) -> Duration {
        self.idle
    }

    /// A chunk arrived.
    pub(crate) fn touch(&mut self) {
        if self.sleep.is_some() {
            self.last = Instant::now();
        }
    }

    /// Called while the body is pending: ready once it has been silent for the
    /// whole idle period.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = match &mut self.sleep {
            Some(sleep) => sleep,
            None => {
                self.last = Instant::now();
                self.sleep
                    .insert(Box::pin(tokio::time::sleep_until(self.last + self.idle)))
            }
        };
        loop {
            ready!(sleep.as_mut().poll(cx));
            let due = self.last + self.idle;
            if Instant::now() >= due {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expires_only_after_a_whole_silent_period() {
        async fn pending(timer: &mut IdleTimer) -> bool {
            std::future::poll_fn(|cx| Poll::Ready(timer.poll_expired(cx).is_pending())).await
        }
        let mut timer = IdleTimer::new(Duration::from_secs(10));
        assert!(pending(&mut timer).await, "armed, not expired");
        tokio::time::advance(Duration::from_secs(6)).await;
        timer.touch();
        tokio::time::advance(Duration::from_secs(6)).await;
        // 12 s since arming, but only 6 s since the last chunk.
        assert!(pending(&mut timer).await);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!pending(&mut timer).await, "11 s of silence");
    }
}
