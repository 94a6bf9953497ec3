//! The loop on a TestBackend: messages and keys in, actions and the exit out.

use std::io;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyEvent, KeyModifiers};
use futures::channel::mpsc as input;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use switchyard_daemon::apps::App;
use tokio::sync::mpsc;

use super::*;
use crate::event_loop::run_loop;
use crate::msg::Exit;

fn press(c: char) -> io::Result<TermEvent> {
    Ok(TermEvent::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

#[tokio::test]
async fn keys_become_actions_and_q_detaches() {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(80, 24));
    let mut model = Model::new(NOW, false);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (keys, key_stream) = input::unbounded();
    let mut performed = Vec::new();

    let driver = async {
        let attached = ConnMsg::Attached(Box::new(snapshot(vec![off(App::Claude)])));
        let _ = tx.send(Msg::Conn(attached));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = keys.unbounded_send(press(' '));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = keys.unbounded_send(press('q'));
    };
    let run = run_loop(
        &mut terminal,
        &mut model,
        key_stream,
        &mut rx,
        |action| performed.push(action),
        || NOW,
    );
    let (exit, ()) = tokio::join!(run, driver);

    let exit = exit.ok();
    assert_eq!(
        exit,
        Some(Exit::Detached {
            pid: Some(DAEMON_PID)
        })
    );
    assert!(matches!(
        performed.as_slice(),
        [Action::Request(Request::Enable {
            app: App::Claude,
            takeover: false,
            ..
        }),]
    ));
    let screen = terminal.backend().to_string();
    assert!(screen.contains("enable claude…"), "{screen}");
    assert!(screen.contains("claude"));
}
