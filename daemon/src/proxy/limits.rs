//! Limits on what clients can hold open: how long a request head may take, how
//! long a keep-alive connection may idle, how many client connections may be
//! open, and how many bytes of request bodies may be held for failover in all.
//! Together they keep the port up for its owner under a flood of slow clients.

use std::time::Duration;

/// Per-listener limits on clients. Part of [`crate::proxy::ProxyConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    /// A connection must deliver a complete request head within this long of
    /// being accepted, or it is closed. Also the period of the one timer each
    /// connection keeps, so later heads and idle connections are checked at this
    /// granularity.
    pub head_timeout: Duration,
    /// A connection on which nothing happened (no request in flight, none begun
    /// or finished) for this long is closed; a stalled head after a keep-alive
    /// request is closed by this limit too.
    pub keep_alive: Duration,
    /// Open client connections at most; `None` derives it from the descriptor
    /// limit (see [`ClientLimits::connection_cap`]). At the cap, a new connection
    /// sheds the oldest idle one.
    pub max_connections: Option<usize>,
    /// Bytes of request bodies held in memory for failover, over all requests at
    /// once. A body that does not fit streams to one provider without failover.
    pub body_budget: usize,
}

impl ClientLimits {
    pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);
    pub const DEFAULT_BODY_BUDGET: usize = 256 * 1024 * 1024;

    /// The cap in force: the configured one, else half of the descriptors left
    /// after a reserve for the process's own (each proxied request may hold an
    /// upstream connection beside its client), between 16 and 4,096.
    pub fn connection_cap(&self, fd_limit: Option<u64>) -> usize {
        /// Descriptors kept for everything that is not a client or upstream
        /// connection: stdio, listener, control socket, log, runtime, DNS, TLS roots.
        const RESERVED_FDS: u64 = 64;
        self.max_connections.unwrap_or_else(|| {
            let limit = fd_limit.unwrap_or(1024);
            (limit.saturating_sub(RESERVED_FDS) / 2).clamp(16, 4096) as usize
        })
    }
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            head_timeout: Self::DEFAULT_HEAD_TIMEOUT,
            keep_alive: Self::DEFAULT_KEEP_ALIVE,
            max_connections: None,
            body_budget: Self::DEFAULT_BODY_BUDGET,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_descriptor_limit() {
        let limits = ClientLimits::default();
        assert_eq!(limits.connection_cap(Some(1024)), 480);
        assert_eq!(limits.connection_cap(Some(128)), 32);
        assert_eq!(limits.connection_cap(Some(20)), 16);
        assert_eq!(limits.connection_cap(Some(1 << 20)), 4096);
        let fixed = ClientLimits {
            max_connections: Some(7),
            ..limits
        };
        assert_eq!(fixed.connection_cap(Some(1024)), 7);
    }
}
