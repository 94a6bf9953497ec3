//! The open client connections of one listener, as the accept loop sees them: in
//! accept order, each with its activity and a handle to end it. At the cap (or
//! when accept runs out of descriptors) the oldest idle connection is shed to make
//! room: first one that has not yet completed a request head (a slow or silent
//! client), then a keep-alive connection with nothing in flight. A connection with
//! a request in flight is never shed.

use std::sync::Arc;

use tokio::task::AbortHandle;

use super::report::Sink;

#[derive(Default)]
pub(crate) struct Connections {
    /// In accept order; finished ones are pruned in batches.
    open: Vec<Entry>,
}

struct Entry {
    sink: Arc<Sink>,
    task: AbortHandle,
}

impl Connections {
    /// Notes a new connection. `cap` bounds how many finished entries pile up
    /// before a prune, so the list stays within twice the cap.
    pub(crate) fn add(&mut self, sink: Arc<Sink>, task: AbortHandle, cap: usize) {
        if self.open.len() >= cap.saturating_mul(2).max(64) {
            self.open.retain(|e| !e.task.is_finished());
        }
        self.open.push(Entry { sink, task });
    }

    /// Ends the oldest idle connection; false if every open one is busy. The
    /// connection's task is aborted: its socket closes as soon as the runtime
    /// drops it, which on this one thread is before the next accept.
    pub(crate) fn shed_oldest_idle(&mut self) -> bool {
        let never_began = |e: &Entry| e.sink.activity.get().0 == 0;
        let idle = |e: &Entry| {
            let (begun, ended) = e.sink.activity.get();
            begun == ended
        };
        self.open.retain(|e| !e.task.is_finished());
        let Some(index) = self
            .open
            .iter()
            .position(never_began)
            .or_else(|| self.open.iter().position(idle))
        else {
            return false;
        };
        self.open.remove(index).task.abort();
        true
    }
}
