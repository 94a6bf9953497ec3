//! The view: `draw(frame, model)`, a pure function of the model. Lays out the
//! header, the banner (while not connected), the apps table, the detail and
//! event panes, the traffic pane and the status line, and hides panes as the
//! terminal shrinks (never panicking, however small it gets).

mod apps;
mod detail;
mod events;
mod footer;
mod header;
mod help;
mod popup;
mod theme;
mod traffic;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::{Focus, Model, Popup};

#[cfg(test)]
pub use header::banner;
pub use theme::Theme;

/// Below this width the detail and event panes take turns instead of sharing.
const SIDE_BY_SIDE_MIN_WIDTH: u16 = 70;
/// Below this height (under the apps table) the traffic pane is hidden.
const TRAFFIC_MIN_HEIGHT: u16 = 14;
/// Below this height (under the apps table) only the apps table is shown.
const PANES_MIN_HEIGHT: u16 = 6;

pub fn draw(frame: &mut Frame, model: &Model) {
    let theme = Theme::new(model.color);
    let banner = header::banner(model);
    let [top, banner_area, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner.is_some())),
        Constraint::Fill(1),
        Constraint::Length(footer::height(model, frame.area().width)),
    ])
    .areas(frame.area());
    header::draw(frame, top, model, &theme);
    if let Some((text, severity)) = banner {
        header::draw_banner(frame, banner_area, &text, severity, &theme);
    }
    draw_body(frame, body, model, &theme);
    footer::draw(frame, bottom, model, &theme);
    match &model.popup {
        Some(Popup::Help) => help::draw(frame, frame.area(), &theme),
        Some(popup) => popup::draw(frame, frame.area(), popup, model, &theme),
        None => {}
    }
}

fn draw_body(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let rows = u16::try_from(model.apps().len().max(1)).unwrap_or(u16::MAX);
    let table_height = rows.saturating_add(3);
    let rest_height = area.height.saturating_sub(table_height);
    if rest_height < PANES_MIN_HEIGHT {
        apps::draw(frame, area, model, theme);
        return;
    }
    let [table, rest] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)]).areas(area);
    apps::draw(frame, table, model, theme);

    let show_traffic = rest.height >= TRAFFIC_MIN_HEIGHT;
    let middle = if show_traffic {
        let traffic_height = rest.height * 2 / 5;
        let [middle, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(traffic_height)]).areas(rest);
        traffic::draw(frame, bottom, model, theme);
        middle
    } else {
        rest
    };
    // Without room for the traffic pane, it takes the event pane's place when focused.
    let right_is_traffic = !show_traffic && model.focus == Focus::Traffic;
    let draw_right = |frame: &mut Frame, area: Rect| {
        if right_is_traffic {
            traffic::draw(frame, area, model, theme);
        } else {
            events::draw(frame, area, model, theme);
        }
    };
    if middle.width >= SIDE_BY_SIDE_MIN_WIDTH {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(middle);
        detail::draw(frame, left, model, theme);
        draw_right(frame, right);
    } else if model.focus == Focus::Apps {
        detail::draw(frame, middle, model, theme);
    } else {
        draw_right(frame, middle);
    }
}

/// Which of `widths` fit in `available` columns (with one column of spacing
/// between them), dropping columns by `drop_order` (first entry dropped first).
pub fn fit_columns(widths: &[u16], drop_order: &[usize], available: u16) -> Vec<bool> {
    let mut keep = vec![true; widths.len()];
    let total = |keep: &[bool]| -> u32 {
        let kept: Vec<u32> = widths
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(w, _)| u32::from(*w))
            .collect();
        kept.iter().sum::<u32>() + u32::try_from(kept.len().saturating_sub(1)).unwrap_or(0)
    };
    for &index in drop_order {
        if total(&keep) <= u32::from(available) {
            break;
        }
        if let Some(k) = keep.get_mut(index) {
            *k = false;
        }
    }
    keep
}

/// A `width`×`height` box in the middle of `area`, shrunk to fit it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
