//! The shared state model: [`Snapshot`], [`Event`] and the one reducer [`apply`].
//!
//! The daemon changes its state only by emitting an event and applying it here;
//! clients fold the same events with the same function, so every view equals the
//! daemon's and every transition is seen exactly once.

use serde::{Deserialize, Serialize};

use crate::apps::App;
use crate::protocol::ProviderInfo;
use crate::protocol::requests::{Outcome, RequestRecord, Tokens};

/// The whole observable state of one daemon run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// New on every daemon start; seqs are only comparable within one epoch.
    pub epoch: u64,
    /// The seq of the last event this snapshot reflects (0: none yet).
    pub seq: u64,
    pub daemon: DaemonInfo,
    pub apps: Vec<AppState>,
    /// What keeps the daemon itself from doing part of its job, while so.
    pub health: DaemonHealth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    pub started_at_ms: u64,
    pub socket: String,
}

/// Conditions of the daemon itself that a person must know about; both
/// `None` while it does its whole job. Each changes only through its event
/// ([`EventKind::RecordingChanged`], [`EventKind::AcceptChanged`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonHealth {
    /// Why the store is not writing to the database (disk full, a damaged
    /// file). Traffic is served all the same; events, worker runs and
    /// settings are held in memory (bounded) and written once it can.
    pub not_recording: Option<NotRecording>,
    /// Why the daemon cannot accept new connections (out of descriptors),
    /// while so: new clients wait in the socket's backlog meanwhile.
    pub accept_error: Option<String>,
}

/// An episode of the store not writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRecording {
    /// What stops it, in a few words (`disk full`).
    pub reason: String,
    /// The whole sentence: which file, what to do.
    pub detail: String,
    /// Since when (unix ms).
    pub since_ms: u64,
    /// Journal events and request records dropped because more were held
    /// than the bound allows.
    pub dropped: u64,
}

/// One app's desired and actual state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppState {
    pub app: App,
    pub enabled: bool,
    pub takeover: bool,
    pub state: WorkerState,
    pub port: u16,
    pub pid: Option<u32>,
    /// Unexpected exits (crashes, hangs) since the daemon started.
    pub restarts: u32,
    /// When the current worker became ready (unix ms).
    pub ready_at_ms: Option<u64>,
    pub health: Health,
    /// The provider requests go to first.
    pub provider: Option<String>,
    /// The route (`chatgpt`, `oauth`, …) of the last reported request that
    /// provider served, when it is the app's official provider.
    #[serde(default)]
    pub route: Option<String>,
    pub last_exit: Option<ExitInfo>,
    pub parked: Option<Parked>,
    /// When the next restart attempt is due (unix ms), while in backoff.
    pub backoff_until_ms: Option<u64>,
    /// Why the port could not be bound, while that is so.
    pub port_error: Option<String>,
    pub traffic: Traffic,
    pub breakers: Vec<BreakerStatus>,
    /// Today's requests, tokens and cost (restored from the database when the
    /// daemon starts, then kept by [`EventKind::RequestsFinished`]).
    #[serde(default)]
    pub usage: UsageToday,
    /// The app's providers in the order requests try them, with how each
    /// authenticates (never a key); changes by [`EventKind::ProvidersChanged`].
    #[serde(default)]
    pub providers: Vec<ProviderInfo>,
    /// `enable --takeover` while another program holds the port: the CLI's
    /// files are left as they are and get pointed once the proxy serves it.
    #[serde(default)]
    pub takeover_waiting: bool,
    /// How the supervisor restarts this app's worker (defaults with the
    /// app's stored overrides); fixed for the daemon's run.
    #[serde(default)]
    pub policy: PolicyInfo,
}

/// The supervision policy as clients see it, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    pub healthy_after_ms: u64,
    pub rapid_window_ms: u64,
    pub park_after: u32,
    pub hung_after_ms: u64,
    pub ready_timeout_ms: u64,
    pub drain_ms: u64,
    pub term_grace_ms: u64,
}

/// One app's totals for one local day. Counts nobody reported are left out of
/// the sums and counted in `*_unknown`, so a sum is never passed off as whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageToday {
    /// The local midnight (unix ms) that began the day these totals are for.
    pub day_start_ms: u64,
    pub requests: u64,
    /// Requests whose outcome was not `ok`.
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    /// Requests whose tokens were unknown (not in the sums).
    pub tokens_unknown: u64,
    pub cost_nano_usd: u64,
    /// Requests whose cost was unknown (model without a price, or tokens unknown).
    pub cost_unknown: u64,
}

impl UsageToday {
    /// Adds one finished request.
    pub fn add(&mut self, record: &RequestRecord) {
        self.requests += 1;
        if record.outcome != Outcome::Ok {
            self.errors += 1;
        }
        let Tokens {
            input,
            output,
            cache_read,
            cache_write,
            reasoning,
            ..
        } = record.tokens;
        if record.tokens.any_known() {
            for (sum, n) in [
                (&mut self.input_tokens, input),
                (&mut self.output_tokens, output),
                (&mut self.cache_read_tokens, cache_read),
                (&mut self.cache_write_tokens, cache_write),
                (&mut self.reasoning_tokens, reasoning),
            ] {
                *sum = sum.saturating_add(n.unwrap_or(0));
            }
        } else {
            self.tokens_unknown += 1;
        }
        match record.cost_nano_usd {
            Some(cost) => self.cost_nano_usd = self.cost_nano_usd.saturating_add(cost),
            None => self.cost_unknown += 1,
        }
    }
}

impl AppState {
    /// The state of an app before anything happened to it.
    pub fn new(app: App, enabled: bool, port: u16) -> Self {
        AppState {
            app,
            enabled,
            takeover: false,
            state: WorkerState::Stopped,
            port,
            pid: None,
            restarts: 0,
            ready_at_ms: None,
            health: Health::Unknown,
            provider: None,
            route: None,
            last_exit: None,
            parked: None,
            backoff_until_ms: None,
            port_error: None,
            traffic: Traffic::default(),
            breakers: Vec::new(),
            usage: UsageToday::default(),
            providers: Vec::new(),
            takeover_waiting: false,
            policy: PolicyInfo::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    Stopped,
    Starting,
    Running,
    Backoff,
    Parked,
    Stopping,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Stopped => "stopped",
            WorkerState::Starting => "starting",
            WorkerState::Running => "running",
            WorkerState::Backoff => "backoff",
            WorkerState::Parked => "parked",
            WorkerState::Stopping => "stopping",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Degraded,
    Down,
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// Why a worker run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitReason {
    /// Exited or died on its own.
    Crashed,
    /// Missed its heartbeats and was killed.
    Hung,
    /// Stopped on purpose (disable, restart, daemon stop).
    Stopped,
    /// Found open after a daemon crash.
    DaemonLost,
    /// Exit code 78: a permanent configuration error.
    Config,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Crashed => "crashed",
            ExitReason::Hung => "hung",
            ExitReason::Stopped => "stopped",
            ExitReason::DaemonLost => "daemon-lost",
            ExitReason::Config => "config",
        }
    }

    /// Whether this exit counts as a failure (and a restart).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            ExitReason::Crashed | ExitReason::Hung | ExitReason::Config
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub pid: u32,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub reason: ExitReason,
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    pub reason: String,
    pub stderr_tail: Vec<String>,
}

/// A worker's traffic counters, as last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub requests: u64,
    pub errors: u64,
    pub in_flight: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Finished requests the worker could not queue for the daemon (it was
    /// unreachable that long): not on record, but counted, never a silent gap.
    #[serde(default)]
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerStatus {
    pub provider: String,
    pub state: BreakerState,
}

/// One finished proxied request, as the traffic pane shows it (made from the
/// [`RequestRecord`]s of [`EventKind::RequestsFinished`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLine {
    pub method: String,
    pub path: String,
    pub model: Option<String>,
    pub status: u16,
    pub provider: Option<String>,
    /// The route the official provider took (`chatgpt`, `oauth`, …): shown as
    /// `openai · chatgpt`. `None` for other providers (and in journals written
    /// before routes existed).
    #[serde(default)]
    pub route: Option<String>,
    pub latency_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub bytes_out: u64,
    /// Providers tried and given up on before this one answered.
    pub failovers: u32,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub cost_nano_usd: Option<u64>,
}

impl From<&RequestRecord> for RequestLine {
    fn from(r: &RequestRecord) -> Self {
        RequestLine {
            method: r.method.clone(),
            path: r.path.clone(),
            model: r.model.clone(),
            status: r.status.unwrap_or(0),
            provider: r.provider.clone(),
            route: r.route.clone(),
            latency_ms: r.latency_ms,
            ttfb_ms: r.ttfb_ms,
            bytes_out: r.bytes_out,
            failovers: u32::try_from(r.failovers.len()).unwrap_or(u32::MAX),
            tokens: r.tokens,
            cost_nano_usd: r.cost_nano_usd,
        }
    }
}

/// One state change, numbered gaplessly within a daemon run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at_ms: u64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    AppEnabled {
        app: App,
        takeover: bool,
    },
    AppDisabled {
        app: App,
    },
    PortChanged {
        app: App,
        port: u16,
    },
    PortConflict {
        app: App,
        port: u16,
        message: String,
    },
    WorkerStarting {
        app: App,
    },
    WorkerReady {
        app: App,
        pid: u32,
    },
    WorkerExited {
        app: App,
        exit: ExitInfo,
    },
    WorkerBackoff {
        app: App,
        attempt: u32,
        delay_ms: u64,
    },
    WorkerParked {
        app: App,
        parked: Parked,
    },
    WorkerHung {
        app: App,
        pid: u32,
    },
    WorkerStopping {
        app: App,
    },
    HealthChanged {
        app: App,
        health: Health,
    },
    ProviderSelected {
        app: App,
        provider: Option<String>,
    },
    BreakerChanged {
        app: App,
        breakers: Vec<BreakerStatus>,
    },
    Traffic {
        app: App,
        traffic: Traffic,
    },
    /// A batch of finished requests (as the worker sent them, priced), each
    /// also a row in the `requests` table. The journal keeps the event without
    /// its records: that table is the record.
    RequestsFinished {
        app: App,
        /// The local day the requests count towards (see [`UsageToday`]).
        day_start_ms: u64,
        requests: Vec<RequestRecord>,
    },
    /// A new local day began: every app's [`UsageToday`] starts again.
    UsageDay {
        day_start_ms: u64,
    },
    /// A provider failed a request (an error status, a refused connection, a
    /// rate limit, a loop) and the next one was tried. At most one a second
    /// per provider: the breaker's transitions say the rest.
    Failover {
        app: App,
        provider: String,
        reason: String,
    },
    /// The app's providers (order, credentials kind, enabled) changed.
    ProvidersChanged {
        app: App,
        providers: Vec<ProviderInfo>,
    },
    /// `enable --takeover` began (`true`) or stopped (`false`) waiting for
    /// the proxy to serve a port another program held.
    TakeoverWaiting {
        app: App,
        waiting: bool,
    },
    DaemonStopping,
    /// The store stopped (`Some`) or resumed (`None`) writing to the database.
    RecordingChanged {
        not_recording: Option<NotRecording>,
    },
    /// The socket's accept loop ran into (`Some`) or out of (`None`) a
    /// resource limit.
    AcceptChanged {
        error: Option<String>,
    },
}

impl EventKind {
    /// The app this event concerns, if any.
    pub fn app(&self) -> Option<App> {
        use EventKind::*;
        match self {
            AppEnabled { app, .. }
            | AppDisabled { app }
            | PortChanged { app, .. }
            | PortConflict { app, .. }
            | WorkerStarting { app }
            | WorkerReady { app, .. }
            | WorkerExited { app, .. }
            | WorkerBackoff { app, .. }
            | WorkerParked { app, .. }
            | WorkerHung { app, .. }
            | WorkerStopping { app }
            | HealthChanged { app, .. }
            | ProviderSelected { app, .. }
            | BreakerChanged { app, .. }
            | Traffic { app, .. }
            | RequestsFinished { app, .. }
            | Failover { app, .. }
            | ProvidersChanged { app, .. }
            | TakeoverWaiting { app, .. } => Some(*app),
            DaemonStopping | RecordingChanged { .. } | AcceptChanged { .. } | UsageDay { .. } => {
                None
            }
        }
    }
}

/// The one reducer. Applies `event` to `snapshot` and advances its seq.
pub fn apply(snapshot: &mut Snapshot, event: &Event) {
    snapshot.seq = event.seq;
    match &event.kind {
        EventKind::RecordingChanged { not_recording } => {
            snapshot.health.not_recording = not_recording.clone();
        }
        EventKind::AcceptChanged { error } => snapshot.health.accept_error = error.clone(),
        EventKind::UsageDay { day_start_ms } => {
            for state in &mut snapshot.apps {
                if state.usage.day_start_ms < *day_start_ms {
                    state.usage = UsageToday {
                        day_start_ms: *day_start_ms,
                        ..UsageToday::default()
                    };
                }
            }
        }
        _ => {}
    }
    let Some(app) = event.kind.app() else {
        return;
    };
    let Some(state) = snapshot.apps.iter_mut().find(|s| s.app == app) else {
        return;
    };
    use EventKind::*;
    match &event.kind {
        AppEnabled { takeover, .. } => {
            // Also sent when an enabled app's takeover changes: that must not
            // wipe a parked reason or a port error.
            if !state.enabled {
                state.parked = None;
                state.port_error = None;
            }
            state.enabled = true;
            state.takeover = *takeover;
        }
        AppDisabled { .. } => {
            state.enabled = false;
            state.takeover = false;
            state.takeover_waiting = false;
            state.parked = None;
            state.backoff_until_ms = None;
            state.port_error = None;
            // No worker to drain (parked, in backoff, port lost): stopped now.
            // A running worker reports its own stop and exit.
            if state.pid.is_none() {
                state.state = WorkerState::Stopped;
                state.health = Health::Unknown;
            }
        }
        PortChanged { port, .. } => {
            state.port = *port;
            state.port_error = None;
        }
        PortConflict { message, .. } => {
            state.port_error = Some(message.clone());
            state.health = Health::Down;
        }
        WorkerStarting { .. } => {
            state.state = WorkerState::Starting;
            state.pid = None;
            state.parked = None;
            state.backoff_until_ms = None;
            state.port_error = None;
        }
        WorkerReady { pid, .. } => {
            state.state = WorkerState::Running;
            state.pid = Some(*pid);
            state.ready_at_ms = Some(event.at_ms);
            state.health = Health::Ok;
        }
        WorkerExited { exit, .. } => {
            state.state = WorkerState::Stopped;
            state.pid = None;
            state.ready_at_ms = None;
            state.traffic.in_flight = 0;
            if exit.reason.is_failure() {
                state.restarts += 1;
            }
            state.health = Health::Unknown;
            state.last_exit = Some(exit.clone());
        }
        WorkerBackoff { delay_ms, .. } => {
            state.state = WorkerState::Backoff;
            state.backoff_until_ms = Some(event.at_ms + delay_ms);
            state.health = Health::Down;
        }
        WorkerParked { parked, .. } => {
            state.state = WorkerState::Parked;
            state.parked = Some(parked.clone());
            state.backoff_until_ms = None;
            state.health = Health::Down;
        }
        WorkerHung { .. } => state.health = Health::Down,
        WorkerStopping { .. } => state.state = WorkerState::Stopping,
        HealthChanged { health, .. } => state.health = *health,
        ProviderSelected { provider, .. } => {
            if state.provider != *provider {
                state.route = None;
            }
            state.provider = provider.clone();
        }
        BreakerChanged { breakers, .. } => state.breakers = breakers.clone(),
        Traffic { traffic, .. } => state.traffic = traffic.clone(),
        RequestsFinished {
            day_start_ms,
            requests,
            ..
        } => {
            if state.usage.day_start_ms < *day_start_ms {
                state.usage = UsageToday {
                    day_start_ms: *day_start_ms,
                    ..UsageToday::default()
                };
            }
            for request in requests {
                if state.usage.day_start_ms == *day_start_ms {
                    state.usage.add(request);
                }
                if request.provider.is_some() && request.provider == state.provider {
                    state.route.clone_from(&request.route);
                }
            }
        }
        ProvidersChanged { providers, .. } => state.providers.clone_from(providers),
        TakeoverWaiting { waiting, .. } => state.takeover_waiting = *waiting,
        DaemonStopping
        | RecordingChanged { .. }
        | AcceptChanged { .. }
        | UsageDay { .. }
        | Failover { .. } => {}
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
