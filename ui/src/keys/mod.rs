//! Key handling, by mode: an open popup takes every key, then the `/` filter,
//! then the dashboard's own keys. Every action is one key away; every refusal
//! says why in the status line.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use switchyard_daemon::protocol::{CallerEnv, Request};
use switchyard_daemon::takeover::env::CallerEnvExt;

mod mouse;
mod popup;

pub use mouse::on_mouse;

use crate::model::{Focus, Model, Popup, Scroll, Severity};
use crate::msg::{Action, Exit};

#[cfg(test)]
pub use popup::parse_port;

pub fn on_key(model: &mut Model, key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(detach(model));
    }
    if model.popup.is_some() {
        return popup::on_key(model, key.code);
    }
    if model.filter_editing {
        filter_key(model, key.code);
        return None;
    }
    if model.traffic_filter.editing {
        let filter = &mut model.traffic_filter;
        match key.code {
            KeyCode::Enter => filter.editing = false,
            KeyCode::Esc => {
                filter.editing = false;
                filter.text.clear();
            }
            KeyCode::Backspace => {
                filter.text.pop();
            }
            KeyCode::Char(c) => filter.text.push(c),
            _ => {}
        }
        model.traffic_scroll.offset = 0;
        return None;
    }
    if model.logs.is_some()
        && let Some(action) = logs_key(model, key.code)
    {
        return action;
    }
    if model.usage_view.is_some()
        && let Some(action) = usage_key(model, key.code)
    {
        return action;
    }
    match key.code {
        KeyCode::Char('q') => Some(detach(model)),
        KeyCode::Char('Q') => {
            if refuse(model, "stop the daemon") {
                return None;
            }
            model.popup = Some(Popup::ConfirmStop);
            None
        }
        KeyCode::Char('?') => {
            model.popup = Some(Popup::Help { scroll: 0 });
            None
        }
        KeyCode::Tab => {
            model.focus = model.focus.next();
            None
        }
        KeyCode::BackTab => {
            model.focus = model.focus.prev();
            None
        }
        KeyCode::Up | KeyCode::Char('k') => {
            move_by(model, -1);
            None
        }
        KeyCode::Down | KeyCode::Char('j') => {
            move_by(model, 1);
            None
        }
        KeyCode::PageUp => {
            move_by(model, -10);
            None
        }
        KeyCode::PageDown => {
            move_by(model, 10);
            None
        }
        KeyCode::Home | KeyCode::Char('g') => {
            move_by(model, isize::MIN);
            None
        }
        KeyCode::End | KeyCode::Char('G') => {
            move_by(model, isize::MAX);
            None
        }
        // The traffic pane's own filter: app, status class, model/provider.
        KeyCode::Char('a') if model.focus == Focus::Traffic => {
            let filter = &mut model.traffic_filter;
            filter.app = match filter.app {
                None => Some(switchyard_daemon::apps::App::ALL[0]),
                Some(app) => switchyard_daemon::apps::App::ALL
                    .iter()
                    .position(|a| *a == app)
                    .and_then(|i| switchyard_daemon::apps::App::ALL.get(i + 1))
                    .copied(),
            };
            model.traffic_scroll.offset = 0;
            None
        }
        KeyCode::Char('s') if model.focus == Focus::Traffic => {
            model.traffic_filter.class = model.traffic_filter.class.next();
            model.traffic_scroll.offset = 0;
            None
        }
        KeyCode::Char('/') if model.focus == Focus::Traffic => {
            model.traffic_filter.editing = true;
            None
        }
        KeyCode::Char('/') => {
            model.focus = Focus::Events;
            model.filter_editing = true;
            None
        }
        KeyCode::Esc => {
            model.status = None;
            None
        }
        KeyCode::Enter if model.focus == Focus::Traffic => {
            let entry = model.selected_traffic()?.clone();
            let key = switchyard_daemon::protocol::requests::RequestKey::of(&entry.record);
            model.popup = Some(Popup::Inspect(Box::new(entry)));
            model.inspected = crate::model::Detail::Loading;
            Some(Action::Request(
                switchyard_daemon::protocol::Request::RequestDetail(key),
            ))
        }
        KeyCode::Char('y') => copy(model),
        KeyCode::Char('m') => {
            model.mouse = !model.mouse;
            model.set_status(
                crate::model::Severity::Info,
                if model.mouse {
                    "mouse on: the wheel scrolls, a click selects (m gives the terminal its text selection back)"
                } else {
                    "mouse off: the terminal selects text again (m turns the mouse back on)"
                },
            );
            Some(Action::MouseCapture(model.mouse))
        }
        KeyCode::Char(' ') | KeyCode::Enter => toggle(model),
        KeyCode::Char('r') => app_request(model, "restart", |app| Request::Restart { app }),
        KeyCode::Char('t') => toggle_takeover(model),
        KeyCode::Char('p') => pick_provider(model),
        KeyCode::Char('e') => edit_port(model),
        KeyCode::Char('+') => {
            if refuse(model, "add a provider") {
                return None;
            }
            let app = model.selected_app()?.app;
            model.pending_presets = Some(app);
            model.set_status(Severity::Info, format!("listing the presets for {app}…"));
            Some(Action::Request(Request::ProviderPresets { app: Some(app) }))
        }
        KeyCode::Char('l') => {
            model.usage_view = None;
            model.logs = Some(crate::logs::LogPane::default());
            Some(Action::OpenLogs)
        }
        KeyCode::Char('u') => {
            if refuse(model, "show usage") {
                return None;
            }
            let mut view = crate::usage_view::UsageView::default();
            let asked = requests(view.requests(model.now_ms, model.utc_offset_s));
            model.usage_view = Some(view);
            // One view at a time: the log pane closes.
            Some(match model.logs.take() {
                Some(_) => Action::Many(vec![Action::CloseLogs, asked]),
                None => asked,
            })
        }
        _ => None,
    }
}

fn requests(list: [Request; 2]) -> Action {
    Action::Many(list.into_iter().map(Action::Request).collect())
}

/// Keys of the open usage view: `d` the period, `b` the grouping, `u` or
/// `Esc` closes; `None` lets the dashboard's own keys act.
fn usage_key(model: &mut Model, code: KeyCode) -> Option<Option<Action>> {
    let (now, offset) = (model.now_ms, model.utc_offset_s);
    let view = model.usage_view.as_mut()?;
    match code {
        KeyCode::Char('u') | KeyCode::Esc => {
            model.usage_view = None;
            Some(None)
        }
        KeyCode::Char('d') => {
            view.next_period();
            Some(Some(requests(view.requests(now, offset))))
        }
        KeyCode::Char('b') => {
            view.next_by();
            Some(Some(requests(view.requests(now, offset))))
        }
        _ => None,
    }
}

/// Keys of the open log pane; `None` lets the dashboard's own keys act
/// (`q`, `Q`, `?`, …). Its scroll keys scroll the log.
fn logs_key(model: &mut Model, code: KeyCode) -> Option<Option<Action>> {
    let pane = model.logs.as_mut()?;
    if pane.search_editing {
        match code {
            KeyCode::Enter => pane.search_editing = false,
            KeyCode::Esc => {
                pane.search_editing = false;
                pane.search.clear();
            }
            KeyCode::Backspace => {
                pane.search.pop();
            }
            KeyCode::Char(c) => pane.search.push(c),
            _ => {}
        }
        pane.scroll.offset = 0;
        return Some(None);
    }
    let len = pane.visible().len();
    let delta: isize = match code {
        KeyCode::Char('l') | KeyCode::Esc => {
            model.logs = None;
            return Some(Some(Action::CloseLogs));
        }
        KeyCode::Char('a') => {
            pane.next_app();
            return Some(None);
        }
        // The selected line (the bottom one shown) as JSON.
        KeyCode::Char('y') => {
            let shown = pane.visible();
            let offset = pane.scroll.offset.min(shown.len().checked_sub(1)?);
            let line = shown.get(shown.len() - 1 - offset)?;
            let json = serde_json::json!({"time": line.clock, "level": line.level,
                "app": line.app, "worker": line.worker, "text": line.text});
            model.set_status(Severity::Good, "copied the log line as JSON (OSC 52)");
            return Some(Some(Action::Copy(json.to_string())));
        }
        KeyCode::Char('/') => {
            pane.search_editing = true;
            return Some(None);
        }
        KeyCode::Up | KeyCode::Char('k') => -1,
        KeyCode::Down | KeyCode::Char('j') => 1,
        KeyCode::PageUp => -10,
        KeyCode::PageDown => 10,
        KeyCode::Home | KeyCode::Char('g') => isize::MIN,
        KeyCode::End | KeyCode::Char('G') => isize::MAX,
        _ => return None,
    };
    scroll(&mut pane.scroll, len, delta);
    Some(None)
}

/// `y`: the selected request (traffic pane, or the one inspected) or the
/// selected event line, as one JSON object, to the clipboard.
pub(super) fn copy(model: &mut Model) -> Option<Action> {
    let (what, json) = match (&model.popup, model.focus) {
        (Some(Popup::Inspect(entry)), _) => ("the request", record_json(entry)),
        (_, Focus::Traffic) => ("the request", record_json(model.selected_traffic()?)),
        (_, Focus::Events) => {
            let entry = model.selected_log()?;
            let json = serde_json::json!({"at_ms": entry.at_ms, "text": entry.text});
            ("the event line", json.to_string())
        }
        _ => {
            model.set_status(
                Severity::Info,
                "y copies the selected request or event line: Tab to the traffic or events pane first",
            );
            return None;
        }
    };
    model.set_status(Severity::Good, format!("copied {what} as JSON (OSC 52)"));
    Some(Action::Copy(json))
}

fn record_json(entry: &crate::model::TrafficEntry) -> String {
    switchyard_daemon::usage::report::record_json(&entry.record).to_string()
}

fn detach(model: &Model) -> Action {
    let pid = model.daemon_pid();
    Action::Quit(match &model.link {
        crate::model::Link::Lost { reason, .. } if pid.is_some() => Exit::DetachedLost {
            pid,
            reason: reason.clone(),
        },
        _ => Exit::Detached { pid },
    })
}

/// Refuses an action while there is no daemon to carry it out.
fn refuse(model: &mut Model, what: &str) -> bool {
    if model.stopping {
        model.set_status(
            Severity::Bad,
            format!("cannot {what}: the daemon is stopping"),
        );
        return true;
    }
    if !model.connected() {
        model.set_status(
            Severity::Bad,
            format!("cannot {what}: not connected to the daemon (reconnecting…)"),
        );
        return true;
    }
    if model.selected_app().is_none() {
        model.set_status(Severity::Bad, format!("cannot {what}: no app selected"));
        return true;
    }
    false
}

/// ↑/↓ in the focused pane: select an app, or scroll a log (up = older).
fn move_by(model: &mut Model, delta: isize) {
    match model.focus {
        Focus::Apps => {
            let last = model.apps().len().saturating_sub(1);
            model.selected = model.selected.saturating_add_signed(delta).min(last);
        }
        Focus::Events => {
            let len = model.filtered_log().len();
            scroll(&mut model.log_scroll, len, delta);
        }
        Focus::Traffic => {
            let len = model.shown_traffic().len();
            scroll(&mut model.traffic_scroll, len, delta);
        }
    }
}

fn scroll(scroll: &mut Scroll, len: usize, delta: isize) {
    // Up (negative) goes back in time, away from the newest line.
    let offset = scroll.offset.saturating_add_signed(delta.saturating_neg());
    scroll.offset = offset.min(len.saturating_sub(1));
}

fn toggle(model: &mut Model) -> Option<Action> {
    let enabled = model.selected_app().is_some_and(|s| s.enabled);
    if enabled {
        app_request(model, "disable", |app| Request::Disable { app })
    } else {
        app_request(model, "enable", |app| Request::Enable {
            app,
            takeover: false,
            env: CallerEnv::default(),
        })
    }
}

/// Points the selected CLI's own configuration at its proxy (enabling the app
/// if needed), or hands the configuration back while the proxy keeps serving.
fn toggle_takeover(model: &mut Model) -> Option<Action> {
    let takeover = !model.selected_app().is_some_and(|s| s.takeover);
    let what = if takeover {
        "take over the config of"
    } else {
        "hand back the config of"
    };
    // The files the user's own shell makes the CLI read: this one's.
    let env = if takeover {
        CallerEnv::current()
    } else {
        CallerEnv::default()
    };
    app_request(model, what, |app| Request::Enable { app, takeover, env })
}

fn app_request(
    model: &mut Model,
    what: &str,
    request: impl FnOnce(switchyard_daemon::apps::App) -> Request,
) -> Option<Action> {
    if refuse(model, what) {
        return None;
    }
    let app = model.selected_app()?.app;
    model.set_status(Severity::Info, format!("{what} {app}…"));
    Some(Action::Request(request(app)))
}

fn pick_provider(model: &mut Model) -> Option<Action> {
    if refuse(model, "pick a provider") {
        return None;
    }
    let state = model.selected_app()?;
    let app = state.app;
    let items = state.providers.clone();
    if items.is_empty() {
        model.set_status(
            Severity::Warn,
            format!("{app} has no providers; add one with `switchyard provider add {app} …`"),
        );
        return None;
    }
    let selected = items
        .iter()
        .position(|p| Some(&p.name) == state.provider.as_ref())
        .or_else(|| items.iter().position(|p| p.active))
        .unwrap_or(0);
    model.status = None;
    model.popup = Some(Popup::Provider {
        app,
        items,
        selected,
    });
    None
}

fn edit_port(model: &mut Model) -> Option<Action> {
    if refuse(model, "change a port") {
        return None;
    }
    let state = model.selected_app()?;
    model.popup = Some(Popup::Port {
        app: state.app,
        input: state.port.to_string(),
        error: None,
    });
    None
}

fn filter_key(model: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Enter => model.filter_editing = false,
        KeyCode::Esc => {
            model.filter_editing = false;
            model.filter.clear();
        }
        KeyCode::Backspace => {
            model.filter.pop();
        }
        KeyCode::Char(c) => model.filter.push(c),
        _ => return,
    }
    model.log_scroll.offset = 0;
}
