//! Connection slots: the accept loop's record of every open request
//! connection, so that at the cap the oldest idle one is shed for a newcomer
//! (the owner's `status` and `stop` always get in) and, out of descriptors,
//! an idle one gives its descriptor back. Event subscribers are long-lived by
//! design and counted apart (see `MAX_SUBSCRIBERS`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

/// What a connection task shares with the accept loop about itself: written by
/// the task as it goes, read by the loop only when it must shed one.
pub(super) struct Slot {
    /// Milliseconds (since the server started) when the connection last went
    /// idle; [`BUSY`] while it is in a request.
    idle_since: AtomicU64,
    /// Became an event stream: no longer a request connection.
    subscriber: AtomicBool,
    /// Cancelled to shed the connection.
    pub shed: CancellationToken,
    epoch: Instant,
}

const BUSY: u64 = u64::MAX;

impl Slot {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn busy(&self) {
        self.idle_since.store(BUSY, Ordering::Relaxed);
    }

    pub fn idle(&self) {
        self.idle_since.store(self.now(), Ordering::Relaxed);
    }

    pub fn subscribed(&self) {
        self.subscriber.store(true, Ordering::Relaxed);
    }
}

/// Every open connection, owned by the accept loop.
pub(super) struct Slots {
    open: HashMap<u64, Arc<Slot>>,
    next_id: u64,
    epoch: Instant,
}

impl Slots {
    pub fn new() -> Slots {
        Slots {
            open: HashMap::new(),
            next_id: 0,
            epoch: Instant::now(),
        }
    }

    /// A slot for a new connection (idle from now), with its id.
    pub fn add(&mut self, shed: CancellationToken) -> (u64, Arc<Slot>) {
        let slot = Arc::new(Slot {
            idle_since: AtomicU64::new(0),
            subscriber: AtomicBool::new(false),
            shed,
            epoch: self.epoch,
        });
        slot.idle();
        self.next_id += 1;
        self.open.insert(self.next_id, Arc::clone(&slot));
        (self.next_id, slot)
    }

    pub fn remove(&mut self, id: u64) {
        self.open.remove(&id);
    }

    /// Open request connections (subscribers and those being shed not counted).
    pub fn requests(&self) -> usize {
        self.open
            .values()
            .filter(|s| !s.subscriber.load(Ordering::Relaxed) && !s.shed.is_cancelled())
            .count()
    }

    /// Sheds the request connection idle the longest; false when none is idle.
    pub fn shed_oldest_idle(&mut self) -> bool {
        let oldest = self
            .open
            .iter()
            .filter(|(_, s)| !s.subscriber.load(Ordering::Relaxed) && !s.shed.is_cancelled())
            .map(|(id, s)| (s.idle_since.load(Ordering::Relaxed), *id))
            .filter(|(since, _)| *since != BUSY)
            .min();
        match oldest.and_then(|(_, id)| self.open.get(&id)) {
            Some(slot) => {
                slot.shed.cancel();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_the_oldest_idle_request_connection_only() {
        let mut slots = Slots::new();
        let (_, first) = slots.add(CancellationToken::new());
        let (_, busy) = slots.add(CancellationToken::new());
        let (_, subscriber) = slots.add(CancellationToken::new());
        let (_, newest) = slots.add(CancellationToken::new());
        first.idle_since.store(1, Ordering::Relaxed);
        newest.idle_since.store(5, Ordering::Relaxed);
        subscriber.idle_since.store(0, Ordering::Relaxed);
        busy.busy();
        subscriber.subscribed();
        assert_eq!(slots.requests(), 3);
        assert!(slots.shed_oldest_idle());
        assert!(first.shed.is_cancelled());
        assert_eq!(slots.requests(), 2, "a shed one no longer counts");
        assert!(slots.shed_oldest_idle());
        assert!(newest.shed.is_cancelled());
        assert!(!slots.shed_oldest_idle(), "busy and subscribed ones stay");
        assert!(!busy.shed.is_cancelled() && !subscriber.shed.is_cancelled());
    }
}
