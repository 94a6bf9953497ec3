//! The help popup (`?`) at the sizes people use: it shows every key or
//! scrolls to them with a visible hint; and traffic cells cut with `…`.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use switchyard_daemon::apps::App;

use super::view::rows;
use super::*;
use crate::model::Popup;
use crate::view::HELP_LINES;

fn with_help(rows: u16) -> Model {
    let mut model = attached(snapshot(super::all_running()));
    update(&mut model, Msg::Resize { rows });
    update(&mut model, key('?'));
    model
}

/// Every key's description is on screen whole (none cut at the right).
fn assert_whole(screen: &str) {
    for (_, what) in crate::view::help_keys() {
        assert!(screen.contains(what), "{what:?} missing or cut:\n{screen}");
    }
}

#[test]
fn help_120x35_shows_every_key_whole() {
    let model = with_help(35);
    let terminal = render(&model, 120, 35);
    assert_whole(&rows(&terminal).join("\n"));
    assert_snapshot!(terminal.backend());
}

#[test]
fn help_100x30_shows_every_key_whole() {
    let model = with_help(30);
    let terminal = render(&model, 100, 30);
    let screen = rows(&terminal).join("\n");
    assert_whole(&screen);
    assert!(screen.contains("any key closes this help"), "{screen}");
    assert_snapshot!(terminal.backend());
}

#[test]
fn help_80x24_scrolls_to_every_key_and_says_so() {
    let mut model = with_help(24);
    let terminal = render(&model, 80, 24);
    let top = rows(&terminal).join("\n");
    assert!(top.contains("more · ↑↓ scroll"), "{top}");
    assert_snapshot!(terminal.backend());

    // Scrolling down shows the rest; the view stops at the last line.
    let mut seen = top;
    for _ in 0..HELP_LINES {
        update(&mut model, code(KeyCode::Down));
        seen.push_str(&rows(&render(&model, 80, 24)).join("\n"));
    }
    assert_whole(&seen);
    let Some(Popup::Help { scroll }) = model.popup else {
        panic!("↓ keeps the help open: {:?}", model.popup);
    };
    assert_eq!(scroll, crate::view::help_max_scroll(24));
    // One ↑ moves at once (no scrolling past the end to come back from).
    update(&mut model, key('k'));
    assert_eq!(model.popup, Some(Popup::Help { scroll: scroll - 1 }));
    // Any other key closes it.
    update(&mut model, key('q'));
    assert!(model.popup.is_none());
}

#[test]
fn traffic_cells_too_long_for_their_column_end_in_an_ellipsis() {
    let mut model = attached(snapshot(super::all_running()));
    let path = format!("/v1/messages/{}", "segment/".repeat(20));
    update(
        &mut model,
        request(SEQ + 1, NOW - 1_000, App::Claude, &path, 200, 812),
    );
    for (width, height) in [(80, 24), (120, 35)] {
        let screen = rows(&render(&model, width, height));
        let line = screen
            .iter()
            .find(|l| l.contains("/v1/messages/"))
            .unwrap_or_else(|| panic!("no traffic row:\n{}", screen.join("\n")));
        assert!(
            line.contains("/v1/messages/segment/") && line.contains("…"),
            "{line}"
        );
    }
    assert_snapshot!(render(&model, 80, 24).backend());
}
