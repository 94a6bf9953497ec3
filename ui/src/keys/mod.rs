//! Key handling, by mode: an open popup takes every key, then the `/` filter,
//! then the dashboard's own keys. Every action is one key away; every refusal
//! says why in the status line.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use switchyard_daemon::protocol::{CallerEnv, Request};
use switchyard_daemon::takeover::env::CallerEnvExt;

mod popup;

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
            model.popup = Some(Popup::Help);
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
        KeyCode::Char('/') => {
            model.focus = Focus::Events;
            model.filter_editing = true;
            None
        }
        KeyCode::Esc => {
            model.status = None;
            None
        }
        KeyCode::Char(' ') | KeyCode::Enter => toggle(model),
        KeyCode::Char('r') => app_request(model, "restart", |app| Request::Restart { app }),
        KeyCode::Char('t') => toggle_takeover(model),
        KeyCode::Char('p') => pick_provider(model),
        KeyCode::Char('e') => edit_port(model),
        _ => None,
    }
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
            let len = model.traffic.len();
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
