//! Snapshots of the whole screen (TestBackend + insta) for the states that
//! matter, and a sweep of tiny sizes that must not panic.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use ratatui::style::Color;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::state::{EventKind, NotRecording};

use super::*;
use crate::model::{Focus, Popup};

/// A little history (journal replay: seqs at or below the snapshot's).
fn with_history(model: &mut Model) {
    let kinds = [
        EventKind::AppEnabled {
            app: App::Claude,
            takeover: false,
        },
        EventKind::WorkerStarting { app: App::Claude },
        EventKind::WorkerReady {
            app: App::Claude,
            pid: 4301,
        },
        EventKind::ProviderSelected {
            app: App::Claude,
            provider: Some("anthropic".to_owned()),
        },
        EventKind::WorkerReady {
            app: App::Codex,
            pid: 4302,
        },
        EventKind::WorkerReady {
            app: App::Gemini,
            pid: 4303,
        },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let i = i as u64;
        update(model, event(SEQ - 10 + i, NOW - 3_725_000 + i * 150, kind));
    }
    update(
        model,
        request(
            SEQ - 3,
            NOW - 4_000,
            App::Claude,
            "/v1/messages",
            200,
            1_234,
        ),
    );
    update(
        model,
        request(SEQ - 2, NOW - 2_000, App::Codex, "/v1/responses", 429, 88),
    );
    update(
        model,
        request(
            SEQ - 1,
            NOW - 1_000,
            App::Claude,
            "/v1/messages?beta=true",
            200,
            850,
        ),
    );
}

/// A minute of req/s samples.
fn with_rates(model: &mut Model) {
    for s in 1..=30u64 {
        let requests = 1204 + s * s;
        update(
            model,
            event(
                SEQ + s,
                NOW + s * 1000 - 500,
                EventKind::Traffic {
                    app: App::Claude,
                    traffic: switchyard_daemon::protocol::state::Traffic {
                        requests,
                        errors: 3,
                        in_flight: 2,
                        bytes_in: 250_000,
                        bytes_out: 4_800_000,
                        dropped: 0,
                    },
                },
            ),
        );
        update(
            model,
            Msg::Tick {
                now_ms: NOW + s * 1000,
            },
        );
    }
}

#[test]
fn no_apps_enabled() {
    let model = attached(snapshot(App::ALL.into_iter().map(off).collect()));
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn all_running() {
    let mut model = attached(snapshot(super::all_running()));
    with_history(&mut model);
    with_rates(&mut model);
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn one_in_backoff() {
    let mut apps = super::all_running();
    apps[0] = backoff(App::Claude);
    let mut model = attached(snapshot(apps));
    with_history(&mut model);
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn one_parked() {
    let mut apps = super::all_running();
    apps[1] = parked(App::Codex);
    let mut model = attached(snapshot(apps));
    update(&mut model, key('j'));
    let parked = model.apps()[1]
        .parked
        .clone()
        .unwrap_or_else(|| unreachable!());
    let kind = EventKind::WorkerParked {
        app: App::Codex,
        parked,
    };
    update(&mut model, event(SEQ, NOW - 42_000, kind));
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn port_conflict() {
    let mut apps = super::all_running();
    apps[2] = AppState {
        port_error: Some("127.0.0.1:15723 is in use by another program".to_owned()),
        state: switchyard_daemon::protocol::state::WorkerState::Stopped,
        pid: None,
        ready_at_ms: None,
        health: Health::Down,
        ..off(App::Gemini)
    };
    apps[2].enabled = true;
    let mut model = attached(snapshot(apps));
    update(&mut model, key('G'));
    update(&mut model, key('j'));
    update(&mut model, key('j'));
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn disconnected_banner() {
    let mut model = attached(snapshot(super::all_running()));
    with_history(&mut model);
    update(
        &mut model,
        Msg::Conn(ConnMsg::Lost {
            reason: "connection closed".to_owned(),
            retry_in_ms: 800,
        }),
    );
    update(&mut model, key('r'));
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn daemon_not_recording() {
    let mut snap = snapshot(super::all_running());
    snap.health.not_recording = Some(NotRecording {
        reason: "disk full".to_owned(),
        detail: "disk full: the disk holding /home/u/.local/share/switchyard/switchyard.db has no space left; free some".to_owned(),
        since_ms: NOW - 60_000,
        dropped: 12,
    });
    let model = attached(snap);
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn starting_daemon() {
    let mut model = Model::new(NOW, true);
    update(&mut model, Msg::Conn(ConnMsg::Starting));
    assert_snapshot!(render(&model, 80, 24).backend());
}

#[test]
fn help_overlay() {
    let mut model = attached(snapshot(super::all_running()));
    update(&mut model, key('?'));
    assert_snapshot!(render(&model, 100, 30).backend());
}

#[test]
fn provider_picker() {
    let mut model = attached(snapshot(super::all_running()));
    update(&mut model, key('p'));
    let request = Request::ProviderList {
        app: Some(App::Claude),
    };
    let result = Ok(Reply::Providers(providers()));
    update(&mut model, Msg::Reply { request, result });
    update(&mut model, key('j'));
    assert!(matches!(
        model.popup,
        Some(Popup::Provider { selected: 1, .. })
    ));
    assert_snapshot!(render(&model, 80, 24).backend());
}

#[test]
fn port_editor_with_error() {
    let mut model = attached(snapshot(super::all_running()));
    update(&mut model, key('e'));
    for _ in 0..5 {
        update(&mut model, code(KeyCode::Backspace));
    }
    type_keys(&mut model, "0");
    update(&mut model, code(KeyCode::Enter));
    assert_snapshot!(render(&model, 80, 24).backend());
}

#[test]
fn at_80x24() {
    let mut model = attached(snapshot(super::all_running()));
    with_history(&mut model);
    with_rates(&mut model);
    update(&mut model, code(KeyCode::Tab));
    assert_eq!(model.focus, Focus::Events);
    assert_snapshot!(render(&model, 80, 24).backend());
}

#[test]
fn narrow_and_short() {
    let mut model = attached(snapshot(super::all_running()));
    with_history(&mut model);
    assert_snapshot!(render(&model, 60, 16).backend());
}

#[test]
fn tiny_sizes_never_panic() {
    let mut apps = super::all_running();
    apps[0] = parked(App::Claude);
    apps[1] = backoff(App::Codex);
    let mut model = attached(snapshot(apps));
    with_history(&mut model);
    update(
        &mut model,
        Msg::Conn(ConnMsg::Lost {
            reason: "gone".to_owned(),
            retry_in_ms: 2000,
        }),
    );
    let popups = [
        None,
        Some(Popup::Help { scroll: 0 }),
        Some(Popup::ConfirmStop),
        Some(Popup::Port {
            app: App::Claude,
            input: "1".to_owned(),
            error: Some("x".to_owned()),
        }),
        Some(Popup::Provider {
            app: App::Claude,
            items: providers(),
            selected: 3,
        }),
    ];
    let focuses = [Focus::Apps, Focus::Events, Focus::Traffic];
    let widths = [0, 1, 2, 5, 10, 20, 30, 40, 50, 59, 60, 69, 70, 79, 80, 120];
    let heights = [0, 1, 2, 3, 5, 8, 10, 12, 14, 16, 19, 20, 24, 40];
    for (i, popup) in popups.into_iter().enumerate() {
        model.popup = popup;
        for width in widths {
            for (j, height) in heights.into_iter().enumerate() {
                model.focus = focuses[(i + j) % focuses.len()];
                render(&model, width, height);
            }
        }
    }
}

#[test]
fn no_color_means_no_colour_at_all() {
    let mut apps = super::all_running();
    apps[0] = parked(App::Claude);
    apps[1] = backoff(App::Codex);
    let mut model = attached(snapshot(apps));
    with_history(&mut model);
    with_rates(&mut model);
    update(
        &mut model,
        Msg::Conn(ConnMsg::Lost {
            reason: "gone".to_owned(),
            retry_in_ms: 100,
        }),
    );
    for (color, popup) in [
        (true, None),
        (false, None),
        (false, Some(Popup::Help { scroll: 0 })),
    ] {
        model.color = color;
        model.popup = popup;
        let terminal = render(&model, 100, 30);
        let cells = terminal.backend().buffer().content();
        let coloured = cells
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count();
        assert_eq!(
            coloured == 0,
            !color,
            "colour {color}: {coloured} coloured cells"
        );
    }
}

pub fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// Issue 16, bug 9: at 80 columns the footer keeps `? help`; a long status
/// message wraps and is read whole; a long event line ends in `…`.
#[test]
fn long_texts_wrap_or_end_in_an_ellipsis_and_help_stays() {
    let mut model = attached(snapshot(super::all_running()));
    let screen = rows(&render(&model, 80, 24));
    let footer = screen.last().unwrap();
    assert!(footer.contains("? help"), "{footer}");

    let long = "claude enabled, not serving yet: port 15721 on 127.0.0.1 is in use by another program (pid 4711, python3); Switchyard keeps trying it and starts claude once it is free (the end)";
    model.set_status(crate::model::Severity::Warn, long);
    let screen = rows(&render(&model, 80, 24)).join("\n");
    assert!(screen.contains("(the end)"), "{screen}");

    model.status = None;
    model.push_log(crate::model::LogEntry {
        at_ms: NOW,
        text: format!("gemini parked: {}", "very long reason ".repeat(10)),
        severity: crate::model::Severity::Bad,
    });
    let screen = rows(&render(&model, 120, 35)).join("\n");
    let line = screen
        .lines()
        .find(|l| l.contains("gemini parked"))
        .unwrap();
    assert!(line.contains("…"), "{line}");
}
