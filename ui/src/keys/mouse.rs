//! The mouse, while captured (`m` toggles it, so the terminal can select
//! text): the wheel scrolls the pane under the pointer, a click focuses a
//! pane and selects the app or request under it. Which pane is where comes
//! from the view's own layout function, so clicks land where things are drawn.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::scroll;
use crate::model::{Focus, Model};
use crate::view::{Pane, areas};

/// Lines one wheel notch scrolls a log or the traffic.
const WHEEL_LINES: isize = 3;

pub fn on_mouse(model: &mut Model, event: MouseEvent, screen: Rect) {
    if model.popup.is_some() {
        return;
    }
    let at = areas(model, screen);
    let Some(pane) = at.pane_at(event.column, event.row) else {
        return;
    };
    let delta = match event.kind {
        MouseEventKind::ScrollUp => -1,
        MouseEventKind::ScrollDown => 1,
        MouseEventKind::Down(MouseButton::Left) => {
            click(model, pane, &at, event.row);
            return;
        }
        _ => return,
    };
    match pane {
        Pane::Apps | Pane::Detail => {
            let last = model.apps().len().saturating_sub(1);
            model.selected = model.selected.saturating_add_signed(delta).min(last);
        }
        Pane::Events => {
            let len = model.filtered_log().len();
            scroll(&mut model.log_scroll, len, delta * WHEEL_LINES);
        }
        Pane::Traffic => {
            let len = model.shown_traffic().len();
            scroll(&mut model.traffic_scroll, len, delta * WHEEL_LINES);
        }
        Pane::Overlay => {
            if let Some(logs) = model.logs.as_mut() {
                let len = logs.visible().len();
                scroll(&mut logs.scroll, len, delta * WHEEL_LINES);
            }
        }
    }
}

/// Focuses the pane; in the apps table selects the app, in the traffic pane
/// the request (both below their border and header lines).
fn click(model: &mut Model, pane: Pane, at: &crate::view::Areas, y: u16) {
    match pane {
        Pane::Apps | Pane::Detail => {
            model.focus = Focus::Apps;
            if pane == Pane::Apps {
                let row = usize::from(y.saturating_sub(at.apps.y + 2));
                if y >= at.apps.y + 2 && row < model.apps().len() {
                    model.selected = row;
                }
            }
        }
        Pane::Events => model.focus = Focus::Events,
        Pane::Traffic => {
            model.focus = Focus::Traffic;
            let Some(area) = at.traffic else {
                return;
            };
            // The rows shown, as the traffic pane computes them.
            let height = usize::from(area.height.saturating_sub(3));
            let len = model.shown_traffic().len();
            let offset = model.traffic_scroll.offset.min(len.saturating_sub(height));
            let end = len - offset;
            let start = end.saturating_sub(height);
            if y < area.y + 2 {
                return;
            }
            let index = start + usize::from(y - area.y - 2);
            if index < end {
                model.traffic_scroll.offset = len - 1 - index;
            }
        }
        Pane::Overlay => {}
    }
}
