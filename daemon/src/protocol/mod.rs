//! The wire: every type that crosses a socket, and nothing else.
//!
//! Clients speak [`ClientMessage`] and hear [`ServerMessage`]; workers speak
//! [`WorkerMessage`] and hear [`DaemonToWorker`]. All of them travel in
//! [`codec::FrameCodec`] frames. `Hello` and `Welcome`/`Error` keep their variant
//! positions forever so that any two versions can at least tell each other apart.

pub mod codec;
pub mod requests;
pub mod state;
pub mod worker;

use crate::translate::Format;
use serde::{Deserialize, Serialize};

pub use crate::apps::App;
pub use codec::{Encoded, FrameCodec, FrameError, MAX_FRAME};
pub use state::{AppState, Event, EventKind, Health, Snapshot, WorkerState};

/// Bumped on any incompatible change to the messages below (3: the snapshot's
/// `health` and its two events; 4: provider formats, presets and key pools;
/// 5: an app's providers, takeover wait and policy in the snapshot, with their
/// events, and every request on record — `Requests` batches from workers,
/// `RequestsFinished`, `UsageDay`, each app's `usage` and `traffic.dropped`;
/// 6: the `Failover` event; 7: `queue_ms` and headers on request records,
/// `RequestDetail`).
pub const PROTOCOL_VERSION: u32 = 7;

/// Client → daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientMessage {
    /// Must be the first frame. Variant 0 forever.
    Hello {
        protocol: u32,
        client: String,
    },
    Request {
        id: u64,
        request: Request,
    },
}

/// Daemon → client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServerMessage {
    /// Variant 0 forever.
    Welcome {
        protocol: u32,
        pid: u32,
        version: String,
    },
    /// A connection-level error; the daemon closes the connection after it.
    /// Variant 1 forever.
    Error(ErrorReply),
    Response {
        id: u64,
        result: Result<Reply, ErrorReply>,
    },
    /// On a subscription: the current state (first, and again after a resync).
    Snapshot(Box<Snapshot>),
    /// On a subscription: one state change.
    Event(Event),
    /// On a log subscription: one line of the daemon's log.
    Log(LogLine),
}

/// One line of the daemon's log, as a log subscription carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at_ms: u64,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// A worker's line (from its stderr), not the daemon's own.
    pub worker: bool,
    /// The app the line is about, when it names one.
    pub app: Option<String>,
    /// The message and its fields, as the log file has them.
    pub text: String,
}

/// What a client can ask.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Ping,
    Status,
    /// Stop the daemon and its workers.
    Shutdown,
    Enable {
        app: App,
        takeover: bool,
        /// The caller's environment as far as it decides which files the
        /// CLI reads: takeover edits those, not the daemon's.
        env: CallerEnv,
    },
    Disable {
        app: App,
    },
    Restart {
        app: App,
    },
    SetPort {
        app: App,
        port: u16,
    },
    ProviderList {
        app: Option<App>,
    },
    ProviderAdd(ProviderSpec),
    ProviderRemove {
        app: App,
        name: String,
    },
    ProviderUse {
        app: App,
        name: String,
    },
    /// The provider presets (for one app, or all), as `provider add --preset` takes them.
    ProviderPresets {
        app: Option<App>,
    },
    /// Turn this connection into an event stream. With `since`, replay journal
    /// events after that seq (same epoch) instead of starting with a snapshot.
    Subscribe {
        since: Option<u64>,
    },
    /// `switchyard requests`: one page of the request history.
    Requests(requests::RequestsQuery),
    /// `switchyard usage`: tokens and cost per group.
    Usage(requests::UsageQuery),
    /// The inspector: one stored request's masked headers.
    RequestDetail(requests::RequestKey),
    /// Turn this connection into a stream of the daemon's log lines (workers'
    /// included), from now on, as [`ServerMessage::Log`]. Nothing is
    /// formatted for it while no such stream is open.
    SubscribeLogs,
}

/// Successful answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Pong,
    Status(Box<Snapshot>),
    /// The action was carried out (or was already so); the text says which.
    Done(String),
    Providers(Vec<ProviderInfo>),
    Presets(Vec<PresetInfo>),
    /// Events follow on this connection.
    Subscribed,
    Requests(requests::RequestsPage),
    Usage(Box<requests::UsageReport>),
    /// `None`: no such request on record (pruned, or never stored).
    RequestDetail(Option<Box<requests::Headers>>),
}

/// A failed request or connection, with a message meant for a person.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

impl ErrorReply {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorReply {
            kind,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The frame or request could not be understood.
    BadRequest,
    /// The peer speaks another protocol version.
    VersionMismatch,
    /// The peer runs as another user.
    PermissionDenied,
    /// The handshake did not arrive in time.
    Timeout,
    NotFound,
    /// The request conflicts with the current state (port in use, …).
    Conflict,
    /// The daemon could not carry out a valid request.
    Failed,
}

/// How a provider authenticates, as clients may see it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthSpec {
    /// Forward the client's own key or token.
    Passthrough,
    /// Read the key from this environment variable of the daemon.
    KeyEnv(String),
    /// The key is kept in the store. Only sent client → daemon, never back.
    StoredKey(String),
}

/// The variables of the caller's environment that decide where a CLI keeps
/// its files and how it logs in (`takeover::env` names them), as raw bytes.
/// Secrets never travel: a key variable is only said to be set.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerEnv {
    pub vars: Vec<(String, Vec<u8>)>,
}

/// Names only: values are paths and flags, but a log needs neither.
impl std::fmt::Debug for CallerEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.vars.iter().map(|(name, _)| name))
            .finish()
    }
}

/// A provider to add: from a preset, a base URL, or a preset with some of its
/// settings replaced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderSpec {
    pub app: App,
    pub name: String,
    /// Required without a preset; with one, replaces its base URL.
    pub base_url: Option<String>,
    /// A preset id (`switchyard provider presets`).
    pub preset: Option<String>,
    /// What the provider speaks; default: the preset's, else the app's own.
    pub format: Option<Format>,
    /// `pattern=model` rules, first match wins; default: the preset's.
    pub model_map: Vec<String>,
    /// The first key (or passthrough). Without a preset's key variable and
    /// with a preset that needs a key, `Passthrough` means "the preset's variable".
    pub auth: AuthSpec,
    /// More keys: a key pool, tried in order, a rate-limited key resting.
    pub extra_keys: Vec<AuthSpec>,
    pub priority: Option<i64>,
    /// Replace a provider of that name in place (its place in the order kept
    /// unless `priority` is given); without it an existing name is refused.
    pub replace: bool,
}

impl ProviderSpec {
    /// A passthrough provider of the app's own format at `base_url`.
    pub fn new(app: App, name: impl Into<String>, base_url: impl Into<String>) -> Self {
        ProviderSpec {
            app,
            name: name.into(),
            base_url: Some(base_url.into()),
            preset: None,
            format: None,
            model_map: Vec::new(),
            auth: AuthSpec::Passthrough,
            extra_keys: Vec::new(),
            priority: None,
            replace: false,
        }
    }
}

/// A provider as listed to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub app: App,
    pub name: String,
    pub base_url: String,
    /// `passthrough`, `env:VAR` or `stored`.
    pub auth: String,
    pub priority: i64,
    pub enabled: bool,
    pub active: bool,
    /// What it speaks; another format than the app's is translated.
    pub format: Format,
    /// Its model map's rules, in order.
    pub model_map: Vec<String>,
    /// Its keys' labels (`env:VAR`, `stored`, …), never the keys.
    pub keys: Vec<String>,
    pub preset: Option<String>,
}

/// One provider preset as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresetInfo {
    pub id: String,
    pub name: String,
    pub apps: Vec<App>,
    pub base_url: String,
    pub format: Format,
    /// `x-api-key`, `bearer`, `goog-api-key` or `none`.
    pub auth: String,
    /// The variable the key is usually in.
    pub key_env: Option<String>,
    pub model_map: Vec<String>,
    pub docs: String,
    pub note: Option<String>,
}
