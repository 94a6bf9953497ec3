//! Daemon ↔ worker messages, sent over the inherited control socketpair in the
//! same frames as the client protocol.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::requests::RequestRecord;
use super::state::{BreakerStatus, Traffic};
use crate::apps::AuthStyle;
use crate::translate::Format;

/// Worker → daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WorkerMessage {
    /// The worker serves its listener.
    Ready { pid: u32 },
    /// Sent every [`HEARTBEAT_INTERVAL`]; silence for longer than the hung
    /// timeout gets the worker killed.
    Heartbeat {
        traffic: Traffic,
        breakers: Vec<BreakerStatus>,
        last_error: Option<String>,
    },
    /// Finished requests, in the order they ended (not yet priced).
    Requests(Vec<RequestRecord>),
}

/// Daemon → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DaemonToWorker {
    /// Providers and limits; sent once before the worker serves, and again on change.
    Config(WorkerConfig),
    /// Stop accepting, finish in-flight requests (up to the deadline), then exit 0.
    Drain { deadline_ms: u64 },
}

/// How often a worker reports.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub providers: Vec<WorkerProvider>,
    pub connect_timeout_ms: u64,
    pub first_byte_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_buffered_body: u64,
    /// Bytes of request bodies held for failover over all requests at once.
    pub body_budget: u64,
    /// Every app's proxy port: a provider on a loopback address at one of them
    /// would send Switchyard's requests back to itself, so it is refused.
    pub own_ports: Vec<u16>,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("providers", &self.providers.len())
            .finish_non_exhaustive()
    }
}

/// A provider with its credential resolved: this is the only message that
/// carries a key, and it only travels over the private socketpair.
#[derive(Clone, Serialize, Deserialize)]
pub struct WorkerProvider {
    pub name: String,
    pub base_url: String,
    /// Empty: pass the client's own credentials through. Several: a key pool,
    /// tried in order.
    pub keys: Vec<WorkerKey>,
    /// What the provider speaks; another format than the app's is translated.
    pub format: Format,
    /// The header its keys go in.
    pub auth_style: AuthStyle,
    /// `pattern=model` rules, checked by the daemon.
    pub model_map: Vec<String>,
    pub max_output_tokens: Option<u64>,
    /// The app's official provider (passthrough, at the app's official base
    /// URL): the worker routes each request by its credential (`chatgpt`,
    /// `code-assist`, …) instead of always to `base_url`.
    pub official: bool,
}

/// One key of a provider's pool: its label (what records show) and the key.
#[derive(Clone, Serialize, Deserialize)]
pub struct WorkerKey {
    pub label: String,
    pub key: String,
}
