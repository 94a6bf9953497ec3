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
mod inspect;
mod logs;
mod popup;
mod theme;
mod traffic;
mod usage;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::{Focus, Model, Popup};

#[cfg(test)]
pub use header::banner;
pub use theme::Theme;

/// How many lines the help has (the most it can scroll).
pub const HELP_LINES: usize = help::KEYS.len();
pub use help::max_scroll as help_max_scroll;

/// Every key and what it does, as the help lists them.
#[cfg(test)]
pub fn help_keys() -> &'static [(&'static str, &'static str)] {
    &help::KEYS
}

/// Below this width the detail and event panes take turns instead of sharing.
const SIDE_BY_SIDE_MIN_WIDTH: u16 = 70;
/// Below this height (under the apps table) the traffic pane is hidden.
const TRAFFIC_MIN_HEIGHT: u16 = 14;
/// Below this height (under the apps table) only the apps table is shown.
const PANES_MIN_HEIGHT: u16 = 6;

/// Where each pane is on a screen of a given size: what the view draws
/// and what a mouse click or wheel lands on. A pure function of the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub banner: Rect,
    pub apps: Rect,
    /// The log pane or the usage view, when one is open (they take the rest).
    pub overlay: Option<Rect>,
    pub detail: Option<Rect>,
    pub events: Option<Rect>,
    pub traffic: Option<Rect>,
    pub footer: Rect,
}

/// Which pane a screen cell belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Apps,
    Overlay,
    Detail,
    Events,
    Traffic,
}

impl Areas {
    pub fn pane_at(&self, x: u16, y: u16) -> Option<Pane> {
        let at = ratatui::layout::Position { x, y };
        [
            (Some(self.apps), Pane::Apps),
            (self.overlay, Pane::Overlay),
            (self.detail, Pane::Detail),
            (self.events, Pane::Events),
            (self.traffic, Pane::Traffic),
        ]
        .into_iter()
        .find_map(|(area, pane)| area.filter(|a| a.contains(at)).map(|_| pane))
    }
}

pub fn areas(model: &Model, screen: Rect) -> Areas {
    let banner = header::banner(model);
    let [top, banner_area, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner.is_some())),
        Constraint::Fill(1),
        Constraint::Length(footer::height(model, screen.width)),
    ])
    .areas(screen);
    let mut areas = Areas {
        header: top,
        banner: banner_area,
        apps: body,
        footer: bottom,
        ..Areas::default()
    };
    let rows = u16::try_from(model.apps().len().max(1)).unwrap_or(u16::MAX);
    let table_height = rows.saturating_add(3);
    if body.height.saturating_sub(table_height) < PANES_MIN_HEIGHT {
        return areas;
    }
    let [table, rest] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)]).areas(body);
    areas.apps = table;
    if model.logs.is_some() || model.usage_view.is_some() {
        areas.overlay = Some(rest);
        return areas;
    }
    let show_traffic = rest.height >= TRAFFIC_MIN_HEIGHT;
    let middle = if show_traffic {
        let traffic_height = rest.height * 2 / 5;
        let [middle, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(traffic_height)]).areas(rest);
        areas.traffic = Some(bottom);
        middle
    } else {
        rest
    };
    // Without room for the traffic pane, it takes the event pane's place when focused.
    let right_is_traffic = !show_traffic && model.focus == Focus::Traffic;
    let mut right = |area: Rect| {
        if right_is_traffic {
            areas.traffic = Some(area);
        } else {
            areas.events = Some(area);
        }
    };
    if middle.width >= SIDE_BY_SIDE_MIN_WIDTH {
        let [left, other] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(middle);
        right(other);
        areas.detail = Some(left);
    } else if model.focus == Focus::Apps {
        areas.detail = Some(middle);
    } else {
        right(middle);
    }
    areas
}

pub fn draw(frame: &mut Frame, model: &Model) {
    let theme = Theme::new(model.color);
    let at = areas(model, frame.area());
    header::draw(frame, at.header, model, &theme);
    if let Some((text, severity)) = header::banner(model) {
        header::draw_banner(frame, at.banner, &text, severity, &theme);
    }
    apps::draw(frame, at.apps, model, &theme);
    if let Some(area) = at.overlay {
        match (&model.logs, &model.usage_view) {
            (Some(pane), _) => logs::draw(frame, area, pane, &theme),
            (None, Some(view)) => usage::draw(frame, area, view, &theme),
            (None, None) => {}
        }
    }
    if let Some(area) = at.detail {
        detail::draw(frame, area, model, &theme);
    }
    if let Some(area) = at.events {
        events::draw(frame, area, model, &theme);
    }
    if let Some(area) = at.traffic {
        traffic::draw(frame, area, model, &theme);
    }
    footer::draw(frame, at.footer, model, &theme);
    match &model.popup {
        Some(Popup::Help { scroll }) => help::draw(frame, frame.area(), *scroll, &theme),
        Some(Popup::Inspect(entry)) => inspect::draw(frame, frame.area(), entry, model, &theme),
        Some(popup) => popup::draw(frame, frame.area(), popup, model, &theme),
        None => {}
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
