//! The dashboard's whole state: the daemon's [`Snapshot`] as folded from its
//! events, plus what only the screen needs (selection, focus, popups, the event
//! log, recent requests, req/s samples, the status line). Time is injected
//! (`now_ms`), never read, so every view is a pure function of the model.

use std::collections::VecDeque;

use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::ProviderInfo;
use switchyard_daemon::protocol::requests::RequestRecord;
use switchyard_daemon::protocol::state::{AppState, Snapshot};

/// How many req/s samples each app keeps (one a second: a minute).
pub const RATE_SAMPLES: usize = 60;
/// How many event log lines are kept.
pub const LOG_MAX: usize = 1000;
/// How many finished requests the traffic pane keeps.
pub const TRAFFIC_MAX: usize = 500;
/// A status line message fades after this long.
pub const STATUS_TTL_MS: u64 = 15_000;

/// The state of our link to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// First attempt, nothing heard yet.
    Connecting,
    /// No daemon answered; one is being started.
    Starting,
    Connected,
    /// Disconnected; the attach task retries after `retry_in_ms`.
    Lost {
        reason: String,
        retry_in_ms: u64,
    },
}

/// Which pane ↑/↓ act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Apps,
    Events,
    Traffic,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Apps => Focus::Events,
            Focus::Events => Focus::Traffic,
            Focus::Traffic => Focus::Apps,
        }
    }

    pub fn prev(self) -> Focus {
        self.next().next()
    }
}

/// A modal box over the dashboard; it takes every key while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    /// `?`: every key; how many lines it is scrolled down.
    Help { scroll: usize },
    /// `Q`: stop the daemon? y/n.
    ConfirmStop,
    /// `e`: the port being typed, and why the last attempt was refused.
    Port {
        app: App,
        input: String,
        error: Option<String>,
    },
    /// `+`: add a provider to `app` from one of the curated presets.
    Presets {
        app: App,
        items: Vec<switchyard_daemon::protocol::PresetInfo>,
        selected: usize,
    },
    /// Enter on a traffic row: the whole record.
    Inspect(Box<TrafficEntry>),
    /// `p`: pick the active provider.
    Provider {
        app: App,
        items: Vec<ProviderInfo>,
        selected: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Good,
    Warn,
    Bad,
}

/// The status line: the outcome of the last action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub severity: Severity,
    pub at_ms: u64,
}

/// One line of the event log, rendered once on arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at_ms: u64,
    pub text: String,
    pub severity: Severity,
}

/// One finished request in the traffic pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficEntry {
    /// When it finished (unix ms).
    pub at_ms: u64,
    pub app: App,
    /// The whole record: the inspector (Enter) and `y` show all of it.
    pub record: RequestRecord,
}

/// req/s of one app, sampled once a tick from the `requests` counter deltas of
/// successive Traffic events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rate {
    pub samples: VecDeque<f64>,
    /// The counter as last reported, to take the next delta from.
    pub last_requests: Option<u64>,
    /// Requests counted since the last sample.
    pub pending: u64,
    pub last_sample_ms: u64,
}

impl Rate {
    /// The latest sample (0 before the first).
    pub fn current(&self) -> f64 {
        self.samples.back().copied().unwrap_or(0.0)
    }
}

/// A scrollable pane: lines back from the newest (0 follows live).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scroll {
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub now_ms: u64,
    /// Local time's offset from UTC, for clock times in the panes.
    pub utc_offset_s: i32,
    /// False when NO_COLOR is set: no colours at all.
    pub color: bool,
    pub link: Link,
    /// Why starting a daemon failed, until we attach.
    pub start_error: Option<String>,
    pub snapshot: Option<Snapshot>,
    /// The (epoch, seq) of the newest event logged, so replays are not doubled.
    pub logged: Option<(u64, u64)>,
    /// Index into the snapshot's apps.
    pub selected: usize,
    pub focus: Focus,
    pub popup: Option<Popup>,
    pub log: VecDeque<LogEntry>,
    pub log_scroll: Scroll,
    pub filter: String,
    /// `/` was pressed: keys go to the filter.
    pub filter_editing: bool,
    pub traffic: VecDeque<TrafficEntry>,
    pub traffic_scroll: Scroll,
    pub rates: [Rate; 3],
    pub status: Option<Status>,
    /// `Q` was confirmed: the daemon is being stopped.
    pub stopping: bool,
    /// When the link was lost (unix ms), while it is: uptimes stop there,
    /// since nobody knows whether the daemon still runs.
    pub lost_at_ms: Option<u64>,
    /// The log pane, while open (`l`).
    pub logs: Option<crate::logs::LogPane>,
    /// Per app, what requests finished while this dashboard watched used.
    pub since_attach: [AttachUsage; 3],
    /// The usage view (`u`), while open.
    pub usage_view: Option<crate::usage_view::UsageView>,
    /// Whether the mouse is captured (`m` toggles it).
    pub mouse: bool,
    /// Which requests the traffic pane shows.
    pub traffic_filter: TrafficFilter,
    /// `+` asked for this app's presets: the picker opens when they come.
    pub pending_presets: Option<App>,
    /// The inspected request's headers (asked for on Enter).
    pub inspected: Detail,
    /// The terminal's height (0 until known).
    pub screen_rows: u16,
}

/// The inspected request's masked headers, fetched from the store when the
/// inspector opens (events never carry them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Detail {
    /// Asked for; the answer is on its way.
    #[default]
    Loading,
    Loaded(switchyard_daemon::protocol::requests::Headers),
    /// Not on record (pruned, recorded before headers were, or not yet written).
    Missing,
    Failed(String),
}

/// The traffic pane's filter: `a` cycles the app, `s` the status class, `/`
/// (with the pane focused) matches the model or provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficFilter {
    pub app: Option<App>,
    pub class: StatusClass,
    /// Part of the model or provider name (case-insensitive).
    pub text: String,
    pub editing: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusClass {
    #[default]
    All,
    Success,
    ClientError,
    ServerError,
    /// Aborted by the client or cut by the upstream.
    Broken,
    /// Answered after at least one failover.
    FailedOver,
}

impl StatusClass {
    pub fn next(self) -> StatusClass {
        match self {
            StatusClass::All => StatusClass::Success,
            StatusClass::Success => StatusClass::ClientError,
            StatusClass::ClientError => StatusClass::ServerError,
            StatusClass::ServerError => StatusClass::Broken,
            StatusClass::Broken => StatusClass::FailedOver,
            StatusClass::FailedOver => StatusClass::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatusClass::All => "",
            StatusClass::Success => "2xx/3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::Broken => "aborted/cut",
            StatusClass::FailedOver => "failed over",
        }
    }
}

impl TrafficFilter {
    pub fn is_active(&self) -> bool {
        self.app.is_some() || self.class != StatusClass::All || !self.text.is_empty()
    }

    pub fn shows(&self, entry: &TrafficEntry) -> bool {
        use switchyard_daemon::protocol::requests::Outcome;
        let r = &entry.record;
        let class = match self.class {
            StatusClass::All => true,
            StatusClass::Success => matches!(r.status, Some(200..=399)),
            StatusClass::ClientError => matches!(r.status, Some(400..=499)),
            StatusClass::ServerError => matches!(r.status, Some(500..=599)),
            StatusClass::Broken => matches!(r.outcome, Outcome::Aborted | Outcome::Cut),
            StatusClass::FailedOver => !r.failovers.is_empty(),
        };
        let needle = self.text.to_lowercase();
        let text = needle.is_empty()
            || [&r.model, &r.provider, &r.mapped_model].iter().any(|v| {
                v.as_deref()
                    .is_some_and(|v| v.to_lowercase().contains(&needle))
            });
        self.app.is_none_or(|app| entry.app == app) && class && text
    }
}

/// Tokens and cost of the requests seen live since the dashboard attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachUsage {
    pub requests: u64,
    pub tokens: u64,
    pub cost_nano_usd: u64,
}

impl Model {
    pub fn new(now_ms: u64, color: bool) -> Self {
        let rate = Rate {
            last_sample_ms: now_ms,
            ..Rate::default()
        };
        Model {
            now_ms,
            utc_offset_s: 0,
            color,
            link: Link::Connecting,
            start_error: None,
            snapshot: None,
            logged: None,
            selected: 0,
            focus: Focus::Apps,
            popup: None,
            log: VecDeque::new(),
            log_scroll: Scroll::default(),
            filter: String::new(),
            filter_editing: false,
            traffic: VecDeque::new(),
            traffic_scroll: Scroll::default(),
            rates: [rate.clone(), rate.clone(), rate],
            status: None,
            stopping: false,
            lost_at_ms: None,
            screen_rows: 0,
            logs: None,
            since_attach: [AttachUsage::default(); 3],
            usage_view: None,
            mouse: false,
            traffic_filter: TrafficFilter::default(),
            pending_presets: None,
            inspected: Detail::Loading,
        }
    }

    /// The instant uptimes are measured to: now, or when the link was lost.
    pub fn uptime_now(&self) -> u64 {
        self.lost_at_ms.unwrap_or(self.now_ms)
    }

    pub fn connected(&self) -> bool {
        self.link == Link::Connected && !self.stopping
    }

    pub fn apps(&self) -> &[AppState] {
        self.snapshot.as_ref().map_or(&[], |s| s.apps.as_slice())
    }

    pub fn selected_app(&self) -> Option<&AppState> {
        self.apps().get(self.selected)
    }

    pub fn daemon_pid(&self) -> Option<u32> {
        self.snapshot.as_ref().map(|s| s.daemon.pid)
    }

    pub fn rate(&self, app: App) -> &Rate {
        &self.rates[app.index()]
    }

    /// The app's providers in the order requests try them (from the
    /// snapshot, so always current).
    pub fn providers_of(&self, app: App) -> &[ProviderInfo] {
        self.apps()
            .iter()
            .find(|s| s.app == app)
            .map_or(&[], |s| s.providers.as_slice())
    }

    /// The log lines that pass the filter (case-insensitive substring).
    pub fn filtered_log(&self) -> Vec<&LogEntry> {
        let needle = self.filter.to_lowercase();
        self.log
            .iter()
            .filter(|e| needle.is_empty() || e.text.to_lowercase().contains(&needle))
            .collect()
    }

    /// The requests the traffic pane shows (through its filter), oldest first.
    pub fn shown_traffic(&self) -> Vec<&TrafficEntry> {
        self.traffic
            .iter()
            .filter(|e| self.traffic_filter.shows(e))
            .collect()
    }

    /// The traffic row the focused pane points at: the bottom one shown
    /// (the newest, or as far back as it was scrolled).
    pub fn selected_traffic(&self) -> Option<&TrafficEntry> {
        let shown = self.shown_traffic();
        let offset = self.traffic_scroll.offset.min(shown.len().checked_sub(1)?);
        shown.get(shown.len() - 1 - offset).copied()
    }

    /// The event line the focused pane points at (as `selected_traffic`).
    pub fn selected_log(&self) -> Option<&LogEntry> {
        let shown = self.filtered_log();
        let offset = self.log_scroll.offset.min(shown.len().checked_sub(1)?);
        shown.get(shown.len() - 1 - offset).copied()
    }

    pub fn set_status(&mut self, severity: Severity, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            severity,
            at_ms: self.now_ms,
        });
    }

    pub fn push_log(&mut self, entry: LogEntry) {
        let shown = self.filter.is_empty()
            || entry
                .text
                .to_lowercase()
                .contains(&self.filter.to_lowercase());
        if self.log.len() == LOG_MAX {
            self.log.pop_front();
        }
        self.log.push_back(entry);
        // A scrolled-back view stays on the same lines while new ones arrive.
        if self.log_scroll.offset > 0 && shown {
            self.log_scroll.offset += 1;
        }
    }

    pub fn push_traffic(&mut self, entry: TrafficEntry) {
        if self.traffic.len() == TRAFFIC_MAX {
            self.traffic.pop_front();
        }
        let shown = self.traffic_filter.shows(&entry);
        self.traffic.push_back(entry);
        if self.traffic_scroll.offset > 0 && shown {
            self.traffic_scroll.offset += 1;
        }
    }
}
