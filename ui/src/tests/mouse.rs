//! The mouse: the wheel scrolls the pane under the pointer, a click focuses
//! a pane and selects the app or request under it, `m` toggles capture.

use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use switchyard_daemon::apps::App;

use super::*;
use crate::model::Focus;

const SCREEN: Rect = Rect::new(0, 0, 120, 35);

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Msg {
    Msg::Mouse {
        event: MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        },
        screen: SCREEN,
    }
}

#[test]
fn clicks_select_and_the_wheel_scrolls_the_pane_under_it() {
    let mut model = attached(snapshot(super::all_running()));
    for i in 0..30 {
        update(
            &mut model,
            request(
                SEQ + 1 + i,
                NOW - 30_000 + i * 1000,
                App::Claude,
                "/v1/messages",
                200,
                500,
            ),
        );
    }
    let at = crate::view::areas(&model, SCREEN);
    // The second app's row: under the border and the header.
    update(
        &mut model,
        mouse(MouseEventKind::Down(MouseButton::Left), 10, at.apps.y + 3),
    );
    assert_eq!((model.focus, model.selected), (Focus::Apps, 1));

    let traffic = at.traffic.expect("a traffic pane at 120x35");
    update(
        &mut model,
        mouse(MouseEventKind::ScrollUp, 10, traffic.y + 3),
    );
    assert_eq!(
        model.traffic_scroll.offset, 3,
        "a notch is three lines, older"
    );
    assert_eq!(
        model.focus,
        Focus::Apps,
        "the wheel does not move the focus"
    );

    // A click on the traffic pane's first row selects that request.
    update(
        &mut model,
        mouse(MouseEventKind::Down(MouseButton::Left), 10, traffic.y + 2),
    );
    assert_eq!(model.focus, Focus::Traffic);
    let first_shown = model.selected_traffic().unwrap().at_ms;
    let height = usize::from(traffic.height - 3);
    assert_eq!(model.traffic_scroll.offset, 3 + height - 1);
    assert_eq!(first_shown, NOW - 30_000 + (30 - 3 - height as u64) * 1000);

    model.mouse = true; // as `run` starts it
    let Some(Action::MouseCapture(false)) = update(&mut model, key('m')) else {
        panic!("m lets the terminal have the mouse");
    };
    assert!(status_text(&model).contains("mouse off"));
}
