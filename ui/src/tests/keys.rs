//! Keys on the model: selection, focus and scrolling, the actions they
//! produce, refusals while disconnected, the filter, the port and provider
//! popups, help, and the ways out.

use crossterm::event::KeyCode;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::state::EventKind;
use switchyard_daemon::protocol::{Reply, Request};

use super::*;
use crate::model::{Focus, Link, Popup, Severity};
use crate::msg::Exit;

#[test]
fn arrows_and_jk_select_within_the_apps() {
    let mut model = attached(snapshot(all_running()));
    assert_eq!(model.selected, 0);
    update(&mut model, key('k'));
    assert_eq!(model.selected, 0, "stays at the top");
    update(&mut model, key('j'));
    update(&mut model, code(KeyCode::Down));
    assert_eq!(model.selected, 2);
    update(&mut model, key('j'));
    assert_eq!(model.selected, 2, "stays at the bottom");
    update(&mut model, code(KeyCode::Up));
    assert_eq!(model.selected, 1);
}

#[test]
fn tab_moves_focus_and_arrows_then_scroll_that_pane() {
    let mut model = attached(snapshot(all_running()));
    for seq in 1..=20 {
        update(
            &mut model,
            event(seq, NOW, EventKind::WorkerStarting { app: App::Codex }),
        );
    }
    update(&mut model, code(KeyCode::Tab));
    assert_eq!(model.focus, Focus::Events);
    update(&mut model, key('k'));
    update(&mut model, key('k'));
    assert_eq!(model.log_scroll.offset, 2);
    assert_eq!(model.selected, 0, "the selection did not move");
    update(&mut model, key('G'));
    assert_eq!(model.log_scroll.offset, 0, "End follows live again");
    update(&mut model, code(KeyCode::Tab));
    assert_eq!(model.focus, Focus::Traffic);
    update(&mut model, code(KeyCode::Tab));
    assert_eq!(model.focus, Focus::Apps);
    update(&mut model, code(KeyCode::BackTab));
    assert_eq!(model.focus, Focus::Traffic);
}

#[test]
fn space_and_enter_toggle_the_selected_app() {
    let mut model = attached(snapshot(vec![off(App::Claude), running(App::Codex, 7, 1)]));
    let action = update(&mut model, key(' '));
    assert!(matches!(
        action,
        Some(Action::Request(Request::Enable {
            app: App::Claude,
            takeover: false,
            ..
        }))
    ));
    update(&mut model, key('j'));
    let action = update(&mut model, code(KeyCode::Enter));
    assert!(matches!(
        action,
        Some(Action::Request(Request::Disable { app: App::Codex }))
    ));
    let action = update(&mut model, key('r'));
    assert!(matches!(
        action,
        Some(Action::Request(Request::Restart { app: App::Codex }))
    ));
}

#[test]
fn t_toggles_the_takeover_of_the_selected_app() {
    let mut taken = running(App::Codex, 7, 1);
    taken.takeover = true;
    let mut model = attached(snapshot(vec![off(App::Claude), taken]));
    let action = update(&mut model, key('t'));
    assert!(matches!(
        action,
        Some(Action::Request(Request::Enable {
            app: App::Claude,
            takeover: true,
            ..
        }))
    ));
    update(&mut model, key('j'));
    let action = update(&mut model, key('t'));
    assert!(matches!(
        action,
        Some(Action::Request(Request::Enable {
            app: App::Codex,
            takeover: false,
            ..
        }))
    ));
}

#[test]
fn actions_are_refused_while_disconnected() {
    let mut model = attached(snapshot(all_running()));
    update(&mut model, lost());
    assert!(matches!(model.link, Link::Lost { .. }));
    for c in [' ', 'r', 'p', 'e', 'Q'] {
        model.status = None;
        assert!(
            type_keys(&mut model, &c.to_string()).is_none(),
            "{c} was not refused"
        );
        assert!(model.popup.is_none());
        let status = model.status.clone();
        assert!(
            status
                .as_ref()
                .is_some_and(|s| s.severity == Severity::Bad
                    && s.text.contains("not connected to the daemon")),
            "{c}: {status:?}"
        );
    }
    // Reading and leaving still work.
    update(&mut model, key('j'));
    assert_eq!(model.selected, 1);
    let action = update(&mut model, key('q'));
    assert!(matches!(
        action,
        Some(Action::Quit(Exit::DetachedLost {
            pid: Some(DAEMON_PID),
            ..
        }))
    ));
}

#[test]
fn the_filter_narrows_the_event_log() {
    let mut model = attached(snapshot(all_running()));
    update(
        &mut model,
        event(101, NOW, EventKind::WorkerStarting { app: App::Claude }),
    );
    update(
        &mut model,
        event(
            102,
            NOW,
            EventKind::WorkerReady {
                app: App::Claude,
                pid: 9,
            },
        ),
    );
    update(
        &mut model,
        event(103, NOW, EventKind::AppDisabled { app: App::Gemini }),
    );
    assert_eq!(model.filtered_log().len(), 3);

    update(&mut model, key('/'));
    assert!(model.filter_editing);
    assert_eq!(model.focus, Focus::Events);
    // Keys go to the filter, not to the dashboard: `q` does not quit here.
    assert!(type_keys(&mut model, "qready").is_none());
    update(&mut model, code(KeyCode::Backspace));
    assert_eq!(model.filter, "qread");
    model.filter = "READY".to_owned();
    let shown: Vec<_> = model
        .filtered_log()
        .iter()
        .map(|e| e.text.clone())
        .collect();
    assert_eq!(shown, ["claude worker ready (pid 9)"]);
    update(&mut model, code(KeyCode::Enter));
    assert!(!model.filter_editing);
    assert_eq!(model.filtered_log().len(), 1, "Enter keeps the filter");

    update(&mut model, key('/'));
    update(&mut model, code(KeyCode::Esc));
    assert!(model.filter.is_empty(), "Esc clears it");
    assert_eq!(model.filtered_log().len(), 3);
}

#[test]
fn the_port_popup_validates_before_sending() {
    let mut model = attached(snapshot(all_running()));
    update(&mut model, key('e'));
    let Some(Popup::Port {
        app: App::Claude,
        input,
        ..
    }) = &model.popup
    else {
        panic!("no port popup: {:?}", model.popup);
    };
    assert_eq!(input, "15721");
    for _ in 0..5 {
        update(&mut model, code(KeyCode::Backspace));
    }
    type_keys(&mut model, "0x");
    assert!(update(&mut model, code(KeyCode::Enter)).is_none());
    let Some(Popup::Port {
        input,
        error: Some(error),
        ..
    }) = &model.popup
    else {
        panic!("port 0 was not refused: {:?}", model.popup);
    };
    assert_eq!(input, "0", "non-digits are ignored");
    assert_eq!(error, "enter a port from 1 to 65535");

    update(&mut model, code(KeyCode::Backspace));
    type_keys(&mut model, "800000");
    let Some(Popup::Port { input, .. }) = &model.popup else {
        panic!("popup closed");
    };
    assert_eq!(input, "80000", "at most five digits");
    assert!(update(&mut model, code(KeyCode::Enter)).is_none());
    assert!(matches!(
        model.popup,
        Some(Popup::Port { error: Some(_), .. })
    ));

    for _ in 0..5 {
        update(&mut model, code(KeyCode::Backspace));
    }
    type_keys(&mut model, "15800");
    let action = update(&mut model, code(KeyCode::Enter));
    assert!(matches!(
        action,
        Some(Action::Request(Request::SetPort {
            app: App::Claude,
            port: 15800
        }))
    ));
    assert!(model.popup.is_none());

    update(&mut model, key('e'));
    update(&mut model, code(KeyCode::Esc));
    assert!(model.popup.is_none(), "Esc cancels");
    assert_eq!(crate::keys::parse_port("65535"), Ok(65535));
    assert!(crate::keys::parse_port("").is_err());
}

#[test]
fn p_lists_providers_and_enter_picks_one() {
    let mut model = attached(snapshot(all_running()));
    update(&mut model, key('j'));
    let action = update(&mut model, key('p'));
    assert!(action.is_none(), "the snapshot has the list: {action:?}");
    let Some(Popup::Provider {
        app: App::Codex,
        items,
        selected: 0,
    }) = &model.popup
    else {
        panic!("no picker on the active provider: {:?}", model.popup);
    };
    assert_eq!(items.len(), 2);

    update(&mut model, key('j'));
    update(&mut model, key('j'));
    let action = update(&mut model, code(KeyCode::Enter));
    let Some(Action::Request(Request::ProviderUse {
        app: App::Codex,
        name,
    })) = action
    else {
        panic!("no ProviderUse: {action:?}");
    };
    assert_eq!(name, "backup");
    assert!(model.popup.is_none());

    let done = Reply::Done("codex now sends requests to backup first".to_owned());
    let request = Request::ProviderUse {
        app: App::Codex,
        name,
    };
    update(
        &mut model,
        Msg::Reply {
            request,
            result: Ok(done),
        },
    );
    assert_eq!(
        status_text(&model),
        "codex now sends requests to backup first"
    );
}

#[test]
fn q_detaches_and_big_q_stops_after_a_yes() {
    let mut model = attached(snapshot(all_running()));
    let action = update(&mut model, key('q'));
    assert!(matches!(
        action,
        Some(Action::Quit(Exit::Detached {
            pid: Some(DAEMON_PID)
        }))
    ));

    update(&mut model, key('Q'));
    assert_eq!(model.popup, Some(Popup::ConfirmStop));
    assert!(update(&mut model, key('n')).is_none());
    assert!(model.popup.is_none());
    assert!(!model.stopping);

    update(&mut model, key('Q'));
    let action = update(&mut model, key('y'));
    assert!(matches!(action, Some(Action::StopDaemon)));
    assert!(model.stopping);
    assert!(
        type_keys(&mut model, "r").is_none(),
        "nothing else while stopping"
    );
    let action = update(
        &mut model,
        Msg::Stopped(Ok("stopped the daemon (pid 4242)".to_owned())),
    );
    let Some(Action::Quit(exit)) = action else {
        panic!("did not quit: {action:?}");
    };
    assert_eq!(exit.message(), "switchyard: stopped the daemon (pid 4242)");
    assert_eq!(
        Exit::Detached { pid: Some(9) }.message(),
        "switchyard: detached; the daemon (pid 9) keeps serving"
    );
}

#[test]
fn help_opens_with_question_mark_and_any_key_closes_it() {
    let mut model = attached(snapshot(all_running()));
    update(&mut model, key('?'));
    assert_eq!(model.popup, Some(Popup::Help { scroll: 0 }));
    assert!(
        update(&mut model, key('q')).is_none(),
        "q closes the help, not the dashboard"
    );
    assert!(model.popup.is_none());
}
