//! Tests: the model's update rules, the view's snapshots and the loop, all on
//! hand-made snapshots with fixed timestamps (the model's clock is injected).

mod event_loop;
mod help;
mod inspect;
mod keys;
mod logs;
mod mouse;
mod presets;
mod update;
mod usage;
mod view;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::ProviderInfo;
use switchyard_daemon::protocol::requests::{Outcome, RequestRecord, Tokens};
use switchyard_daemon::protocol::state::{
    AppState, BreakerState, BreakerStatus, DaemonInfo, Event, EventKind, ExitInfo, ExitReason,
    Health, Parked, Snapshot, Traffic, WorkerState,
};
use switchyard_daemon::protocol::{Reply, Request};

use crate::model::Model;
use crate::msg::{Action, ConnMsg, Msg};
use crate::update::update;

/// 2023-11-14 22:13:20 UTC.
pub const NOW: u64 = 1_700_000_000_000;
pub const EPOCH: u64 = 7;
/// The seq the fixture snapshots reflect.
pub const SEQ: u64 = 100;
pub const DAEMON_PID: u32 = 4242;

pub fn snapshot(apps: Vec<AppState>) -> Snapshot {
    Snapshot {
        epoch: EPOCH,
        seq: SEQ,
        daemon: DaemonInfo {
            pid: DAEMON_PID,
            version: "0.1.0".to_owned(),
            started_at_ms: NOW - (2 * 3600 + 5 * 60) * 1000,
            socket: "/run/user/1000/switchyard/switchyard.sock".to_owned(),
        },
        apps,
        health: Default::default(),
    }
}

pub fn off(app: App) -> AppState {
    AppState {
        providers: providers().into_iter().filter(|p| p.app == app).collect(),
        ..AppState::new(app, false, app.default_port())
    }
}

pub fn running(app: App, pid: u32, up_s: u64) -> AppState {
    let official = app.official_provider_name().to_owned();
    AppState {
        state: WorkerState::Running,
        pid: Some(pid),
        ready_at_ms: Some(NOW - up_s * 1000),
        health: Health::Ok,
        provider: Some(official.clone()),
        traffic: Traffic {
            requests: 1204,
            errors: 3,
            in_flight: 2,
            bytes_in: 250_000,
            bytes_out: 4_800_000,
            dropped: 0,
        },
        breakers: vec![
            BreakerStatus {
                provider: official,
                state: BreakerState::Closed,
            },
            BreakerStatus {
                provider: "backup".to_owned(),
                state: BreakerState::Open,
            },
        ],
        providers: providers().into_iter().filter(|p| p.app == app).collect(),
        ..AppState::new(app, true, app.default_port())
    }
}

pub fn backoff(app: App) -> AppState {
    AppState {
        state: WorkerState::Backoff,
        pid: None,
        ready_at_ms: None,
        health: Health::Down,
        restarts: 3,
        backoff_until_ms: Some(NOW + 2_400),
        last_exit: Some(ExitInfo {
            pid: 5001,
            code: Some(1),
            signal: None,
            reason: ExitReason::Crashed,
            at_ms: NOW - 1_600,
        }),
        traffic: Traffic::default(),
        ..running(app, 0, 0)
    }
}

pub fn parked(app: App) -> AppState {
    AppState {
        state: WorkerState::Parked,
        pid: None,
        ready_at_ms: None,
        health: Health::Down,
        restarts: 5,
        parked: Some(Parked {
            reason: "exit code 78: the configuration is invalid".to_owned(),
            stderr_tail: vec![
                "error: provider openai: base URL \"htp://x\" is not http(s)".to_owned(),
                "worker exiting with code 78".to_owned(),
            ],
        }),
        last_exit: Some(ExitInfo {
            pid: 5102,
            code: Some(78),
            signal: None,
            reason: ExitReason::Config,
            at_ms: NOW - 42_000,
        }),
        traffic: Traffic::default(),
        ..running(app, 0, 0)
    }
}

pub fn all_running() -> Vec<AppState> {
    vec![
        running(App::Claude, 4301, 3_725),
        running(App::Codex, 4302, 3_725),
        running(App::Gemini, 4303, 59),
    ]
}

pub fn providers() -> Vec<ProviderInfo> {
    App::ALL
        .into_iter()
        .flat_map(|app| {
            [
                ProviderInfo {
                    app,
                    name: app.official_provider_name().to_owned(),
                    base_url: app.official_base_url().to_owned(),
                    auth: "passthrough".to_owned(),
                    priority: 0,
                    enabled: true,
                    active: true,
                    format: switchyard_daemon::translate::Format::of_app(app),
                    model_map: Vec::new(),
                    keys: Vec::new(),
                    preset: None,
                },
                ProviderInfo {
                    app,
                    name: "backup".to_owned(),
                    base_url: "https://backup.example/v1".to_owned(),
                    auth: "env:BACKUP_KEY".to_owned(),
                    priority: 10,
                    enabled: true,
                    active: false,
                    format: switchyard_daemon::translate::Format::of_app(app),
                    model_map: Vec::new(),
                    keys: vec!["env:BACKUP_KEY".to_owned()],
                    preset: None,
                },
            ]
        })
        .collect()
}

/// A model attached to `snapshot` (which carries the providers: no request).
pub fn attached(snapshot: Snapshot) -> Model {
    let mut model = Model::new(NOW, true);
    let action = update(&mut model, Msg::Conn(ConnMsg::Attached(Box::new(snapshot))));
    assert!(action.is_none(), "{action:?}");
    model
}

pub fn event(seq: u64, at_ms: u64, kind: EventKind) -> Msg {
    Msg::Conn(ConnMsg::Event(Event { seq, at_ms, kind }))
}

pub fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn key(c: char) -> Msg {
    code(KeyCode::Char(c))
}

/// Presses each character of `keys` in turn; returns the last action.
pub fn type_keys(model: &mut Model, keys: &str) -> Option<Action> {
    keys.chars().fold(None, |_, c| update(model, key(c)))
}

pub fn request(seq: u64, at_ms: u64, app: App, path: &str, status: u16, latency_ms: u64) -> Msg {
    event(
        seq,
        at_ms,
        EventKind::RequestsFinished {
            app,
            day_start_ms: 0,
            requests: vec![RequestRecord {
                // Finished at `at_ms`, as the traffic pane shows it.
                time_ms: at_ms - latency_ms,
                app,
                provider: Some(app.official_provider_name().to_owned()),
                route: Some("api-key".to_owned()),
                method: "POST".to_owned(),
                path: path.to_owned(),
                model: Some("claude-sonnet-4-5".to_owned()),
                mapped_model: None,
                key: None,
                status: Some(status),
                outcome: if status < 400 {
                    Outcome::Ok
                } else {
                    Outcome::Error
                },
                latency_ms,
                ttfb_ms: Some(latency_ms / 3),
                queue_ms: None,
                bytes_in: 0,
                bytes_out: 2048,
                failovers: Vec::new(),
                tokens: Tokens::default(),
                cost_nano_usd: None,
                error: None,
                headers: None,
            }],
        },
    )
}

pub fn render(model: &Model, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(terminal) => terminal,
        Err(never) => match never {},
    };
    if let Err(never) = terminal.draw(|frame| crate::view::draw(frame, model)) {
        match never {}
    }
    terminal
}

pub fn lost() -> Msg {
    Msg::Conn(ConnMsg::Lost {
        reason: "connection closed".to_owned(),
        retry_in_ms: 400,
    })
}

pub fn status_text(model: &Model) -> String {
    model
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}
