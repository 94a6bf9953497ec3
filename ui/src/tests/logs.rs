//! The log pane (`l`): opening asks for the stream, closing stops it, lines
//! are filtered per app and searched, and it draws at both sizes.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::LogLine;

use super::*;
use crate::msg::LogsMsg;

fn line(at_ms: u64, level: &str, app: Option<&str>, worker: bool, text: &str) -> Msg {
    Msg::Logs(LogsMsg::Line(LogLine {
        at_ms,
        level: level.to_owned(),
        worker,
        app: app.map(str::to_owned),
        text: text.to_owned(),
    }))
}

/// A model with the pane open and a few lines in it.
pub fn with_logs() -> Model {
    let mut model = attached(snapshot(all_running()));
    let action = update(&mut model, key('l'));
    assert!(matches!(action, Some(Action::OpenLogs)), "{action:?}");
    let tail = "2023-11-14T22:13:00.000000Z  INFO daemon ready pid=4242\n\
                2023-11-14T22:13:01.000000Z  WARN takeover waits app=gemini\n\
                2023-11-14T22:13:02.000000Z DEBUG upstream connected app=gemini worker=4303\n";
    update(
        &mut model,
        Msg::Logs(LogsMsg::Tail {
            text: tail.to_owned(),
            cut: false,
        }),
    );
    update(
        &mut model,
        line(
            NOW - 3_000,
            "INFO",
            Some("claude"),
            false,
            "worker ready app=claude pid=4301",
        ),
    );
    update(
        &mut model,
        line(
            NOW - 2_000,
            "DEBUG",
            Some("claude"),
            true,
            "upstream connected provider=anthropic",
        ),
    );
    update(
        &mut model,
        line(
            NOW - 1_000,
            "ERROR",
            Some("codex"),
            true,
            "upstream refused provider=openai status=529",
        ),
    );
    update(
        &mut model,
        line(
            NOW,
            "INFO",
            None,
            false,
            "a very long line ".repeat(12).as_str(),
        ),
    );
    model
}

#[test]
fn l_opens_streams_filters_and_closes() {
    let mut model = with_logs();
    let pane = model.logs.as_ref().unwrap();
    assert_eq!(
        pane.lines.len(),
        7,
        "the file's tail first, then live lines"
    );
    assert_eq!(pane.lines[0].text, "daemon ready pid=4242");

    update(&mut model, key('a'));
    let pane = model.logs.as_ref().unwrap();
    assert_eq!(pane.app, Some(App::Claude));
    assert_eq!(pane.visible().len(), 2, "claude's lines only");

    update(&mut model, key('/'));
    type_keys(&mut model, "upstream");
    update(&mut model, code(KeyCode::Enter));
    let pane = model.logs.as_ref().unwrap();
    assert_eq!(pane.visible().len(), 1);
    assert!(!pane.search_editing);

    let Some(Action::Copy(json)) = update(&mut model, key('y')) else {
        panic!("y copies the selected line");
    };
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (value["level"].as_str(), value["worker"].as_bool()),
        (Some("DEBUG"), Some(true))
    );

    // Back to every app, no search: scrolled back, a new line keeps the view.
    for _ in 0..3 {
        update(&mut model, key('a'));
    }
    assert_eq!(model.logs.as_ref().unwrap().app, None);
    update(&mut model, key('/'));
    update(&mut model, code(KeyCode::Esc));
    update(&mut model, code(KeyCode::Up));
    update(
        &mut model,
        line(NOW, "INFO", Some("claude"), false, "worker upstream retry"),
    );
    assert_eq!(model.logs.as_ref().unwrap().scroll.offset, 2);
    let action = update(&mut model, code(KeyCode::Esc));
    assert!(matches!(action, Some(Action::CloseLogs)), "{action:?}");
    assert!(model.logs.is_none());
    update(&mut model, key('l'));
    let action = update(&mut model, key('l'));
    assert!(matches!(action, Some(Action::CloseLogs)), "{action:?}");
    // A line that comes after closing is dropped.
    update(&mut model, line(NOW, "INFO", None, false, "late"));
    assert!(model.logs.is_none());
}

/// Lines read from the log file keep their app and whether a worker wrote
/// them, so the per-app filter shows them beside the live ones.
#[test]
fn file_lines_are_filtered_by_app_and_marked_as_the_workers() {
    let mut model = with_logs();
    for _ in 0..3 {
        update(&mut model, key('a'));
    }
    let pane = model.logs.as_ref().unwrap();
    assert_eq!(pane.app, Some(App::Gemini));
    let shown: Vec<(&str, bool)> = pane
        .visible()
        .iter()
        .map(|l| (l.text.as_str(), l.worker))
        .collect();
    assert_eq!(
        shown,
        [
            ("takeover waits app=gemini", false),
            ("upstream connected app=gemini worker=4303", true),
        ]
    );
    let screen = render(&model, 80, 24);
    let buffer = screen.backend().buffer();
    let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("gemini▸"), "a worker's line is marked ▸");
}

#[test]
fn log_pane_120x35() {
    let model = with_logs();
    assert_snapshot!(render(&model, 120, 35).backend());
}

#[test]
fn log_pane_80x24() {
    let mut model = with_logs();
    update(&mut model, key('a'));
    assert_snapshot!(render(&model, 80, 24).backend());
}
