//! One memory budget for every request body held for failover. A body is held
//! only if its bytes fit in what is left; otherwise it streams to one provider.
//! Bytes are reserved before they are held and given back when the last attempt
//! no longer needs them, so what the budget says is what the proxy holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct BodyBudget {
    limit: AtomicUsize,
    used: AtomicUsize,
    /// Whether the last reservation failed: the warning is logged once per
    /// episode of a full budget, not once per request.
    full: AtomicBool,
}

impl BodyBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            limit: AtomicUsize::new(limit),
            used: AtomicUsize::new(0),
            full: AtomicBool::new(false),
        })
    }

    /// A new limit from a config swap; bytes held now stay held.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes`, or returns `None` if they do not fit.
    pub(crate) fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        let mut held = Reservation {
            budget: Arc::clone(self),
            bytes: 0,
        };
        held.grow(bytes).then_some(held)
    }

    fn take(&self, bytes: usize) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        let taken = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= limit)
            })
            .is_ok();
        if taken {
            if self.full.load(Ordering::Relaxed) {
                self.full.store(false, Ordering::Relaxed);
                tracing::info!("request bodies fit in the failover budget again");
            }
        } else if !self.full.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                budget_mib = limit >> 20,
                "request bodies held for failover fill their memory budget; larger requests now stream to one provider without failover"
            );
        }
        taken
    }
}

/// Bytes of the budget held by one request; given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Reservation {
    /// Reserves `more` bytes on top; false (nothing changed) if they do not fit.
    pub(crate) fn grow(&mut self, more: usize) -> bool {
        let taken = more == 0 || self.budget.take(more);
        if taken {
            self.bytes += more;
        }
        taken
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_limit_and_give_back_on_drop() {
        let budget = BodyBudget::new(100);
        let a = budget.reserve(60).unwrap();
        assert!(budget.reserve(41).is_none());
        let mut b = budget.reserve(40).unwrap();
        assert_eq!(budget.used(), 100);
        assert!(!b.grow(1));
        assert_eq!(b.bytes(), 40);
        drop(a);
        assert!(b.grow(60));
        assert_eq!(budget.used(), 100);
        drop(b);
        assert_eq!(budget.used(), 0);
        budget.set_limit(10);
        assert!(budget.reserve(11).is_none());
    }
}
