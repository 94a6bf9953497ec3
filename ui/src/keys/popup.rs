//! Keys inside the popups: the help (↑↓ scroll it, any other key closes it), the stop
//! confirmation (y/n), the port editor (digits, validated on Enter) and the
//! provider picker (↑/↓, Enter).

use crossterm::event::KeyCode;
use switchyard_daemon::protocol::Request;

use super::refuse;
use crate::model::{Model, Popup, Severity};
use crate::msg::Action;

/// The same range the CLI and the daemon accept: 0 is "any port", not a fixed
/// one. (A port below 1024 may need privileges; the daemon says so if it
/// lacks them.)
pub const MIN_PORT: u16 = 1;

/// Keys while a popup is open: it takes them all.
pub(super) fn on_key(model: &mut Model, code: KeyCode) -> Option<Action> {
    let popup = model.popup.take()?;
    match popup {
        // Scrolling keys scroll the help (the view stops at its end); any
        // other key closes it.
        Popup::Help { scroll } => {
            let last = match model.screen_rows {
                0 => crate::view::HELP_LINES,
                rows => crate::view::help_max_scroll(rows),
            };
            let scroll = match code {
                KeyCode::Down | KeyCode::Char('j') => scroll + 1,
                KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                KeyCode::PageDown => scroll + 10,
                KeyCode::PageUp => scroll.saturating_sub(10),
                KeyCode::Home | KeyCode::Char('g') => 0,
                KeyCode::End | KeyCode::Char('G') => last,
                _ => return None,
            };
            model.popup = Some(Popup::Help {
                scroll: scroll.min(last),
            });
            None
        }
        Popup::Presets {
            app,
            items,
            selected,
        } => {
            let last = items.len().saturating_sub(1);
            let selected = match code {
                KeyCode::Up | KeyCode::Char('k') => selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => (selected + 1).min(last),
                KeyCode::Enter => {
                    let id = items.get(selected)?.id.clone();
                    if refuse(model, &format!("add {id} to {app}")) {
                        return None;
                    }
                    model.set_status(Severity::Info, format!("adding {id} to {app}…"));
                    // Named after the preset; its key variable, if it needs one.
                    let spec = switchyard_daemon::protocol::ProviderSpec {
                        base_url: None,
                        preset: Some(id.clone()),
                        ..switchyard_daemon::protocol::ProviderSpec::new(app, id, "")
                    };
                    return Some(Action::Request(Request::ProviderAdd(spec)));
                }
                KeyCode::Esc | KeyCode::Char('q') => return None,
                _ => selected,
            };
            model.popup = Some(Popup::Presets {
                app,
                items,
                selected,
            });
            None
        }
        Popup::Inspect(entry) => {
            if code == KeyCode::Char('y') {
                model.popup = Some(Popup::Inspect(entry));
                let action = super::copy(model);
                return action;
            }
            None
        }
        Popup::ConfirmStop => match code {
            KeyCode::Char('y' | 'Y') => {
                model.stopping = true;
                model.set_status(Severity::Warn, "stopping the daemon and every proxy…");
                Some(Action::StopDaemon)
            }
            _ => {
                model.set_status(Severity::Info, "the daemon keeps running");
                None
            }
        },
        Popup::Port {
            app,
            mut input,
            error,
        } => match code {
            KeyCode::Esc => None,
            KeyCode::Enter => match parse_port(&input) {
                Ok(port) if !model.connected() => {
                    model.popup = Some(Popup::Port {
                        app,
                        input,
                        error: None,
                    });
                    refuse(model, &format!("move {app} to port {port}"));
                    None
                }
                Ok(port) => {
                    model.set_status(Severity::Info, format!("moving {app} to port {port}…"));
                    Some(Action::Request(Request::SetPort { app, port }))
                }
                Err(why) => {
                    model.popup = Some(Popup::Port {
                        app,
                        input,
                        error: Some(why),
                    });
                    None
                }
            },
            KeyCode::Backspace => {
                input.pop();
                model.popup = Some(Popup::Port {
                    app,
                    input,
                    error: None,
                });
                None
            }
            KeyCode::Char(c) if c.is_ascii_digit() && input.len() < 5 => {
                input.push(c);
                model.popup = Some(Popup::Port {
                    app,
                    input,
                    error: None,
                });
                None
            }
            _ => {
                model.popup = Some(Popup::Port { app, input, error });
                None
            }
        },
        Popup::Provider {
            app,
            items,
            selected,
        } => match code {
            KeyCode::Esc | KeyCode::Char('q') => None,
            KeyCode::Up | KeyCode::Char('k') => {
                let selected = selected.saturating_sub(1);
                model.popup = Some(Popup::Provider {
                    app,
                    items,
                    selected,
                });
                None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let selected = (selected + 1).min(items.len().saturating_sub(1));
                model.popup = Some(Popup::Provider {
                    app,
                    items,
                    selected,
                });
                None
            }
            KeyCode::Enter => {
                let name = items.get(selected)?.name.clone();
                if !model.connected() {
                    refuse(model, &format!("switch {app} to {name}"));
                    return None;
                }
                model.set_status(Severity::Info, format!("switching {app} to {name}…"));
                Some(Action::Request(Request::ProviderUse { app, name }))
            }
            _ => {
                model.popup = Some(Popup::Provider {
                    app,
                    items,
                    selected,
                });
                None
            }
        },
    }
}

/// A port the user typed: a number from [`MIN_PORT`] to 65535.
pub fn parse_port(input: &str) -> Result<u16, String> {
    let refused = || format!("enter a port from {MIN_PORT} to 65535");
    let port: u32 = input.trim().parse().map_err(|_| refused())?;
    match u16::try_from(port) {
        Ok(port) if port >= MIN_PORT => Ok(port),
        _ => Err(refused()),
    }
}
