//! Providers given up on during one request, in order, with their reasons.

use crate::protocol::requests::Failover;

/// Providers given up on, in order, each with its reason: the 502's message
/// names them all; the request's record keeps those that were tried (not the
/// ones skipped without a request: cooling, resting keys, loops, refusals).
#[derive(Default)]
pub(super) struct Failures(Vec<(Failover, bool)>);

impl Failures {
    /// A provider tried and given up on.
    pub(super) fn push(&mut self, provider: &str, reason: String) {
        self.add(provider, reason, true);
    }

    /// A provider passed over without a request.
    pub(super) fn skip(&mut self, provider: &str, reason: String) {
        self.add(provider, reason, false);
    }

    fn add(&mut self, provider: &str, reason: String, tried: bool) {
        let failover = Failover {
            provider: provider.to_owned(),
            reason,
        };
        self.0.push((failover, tried));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `a: status 529; b: connection refused`.
    pub(super) fn join(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(f, _)| format!("{}: {}", f.provider, f.reason))
            .collect();
        parts.join("; ")
    }

    /// The attempts given up on, for the record.
    pub(super) fn take(&mut self) -> Vec<Failover> {
        std::mem::take(&mut self.0)
            .into_iter()
            .filter_map(|(f, tried)| tried.then_some(f))
            .collect()
    }
}
