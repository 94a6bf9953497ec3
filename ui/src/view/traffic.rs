//! The traffic pane: recently finished requests (time, app, method, path,
//! model, status, latency, provider with its route: `openai · chatgpt`), newest
//! at the bottom, scrollable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::{Theme, fit_columns};
use crate::format;
use crate::model::{Focus, Model, Severity, TrafficEntry};
use switchyard_daemon::protocol::state::RequestLine;

/// Title and width of each column; the path (index 3) takes what is left, and
/// the provider (index 7) is as wide as its widest visible cell, up to its width
/// here (`google · code-assist`).
const COLUMNS: [(&str, u16); 8] = [
    ("TIME", 8),
    ("APP", 6),
    ("METHOD", 6),
    ("PATH", 10),
    ("MODEL", 18),
    ("CODE", 4),
    ("LATENCY", 7),
    ("PROVIDER", 20),
];
const DROP_ORDER: [usize; 6] = [1, 7, 4, 2, 0, 6];
const PROVIDER: usize = 7;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let focused = model.focus == Focus::Traffic;
    let height = usize::from(area.height.saturating_sub(3));
    let len = model.traffic.len();
    let offset = model.traffic_scroll.offset.min(len.saturating_sub(height));
    let end = len - offset;
    let start = end.saturating_sub(height);

    let mut title = vec![Span::styled(" Traffic ", theme.bold())];
    if offset > 0 {
        title.push(Span::styled(format!("↑{offset} "), theme.dim()));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(theme.border(focused));
    if len == 0 {
        let text = Line::styled("no requests yet", theme.dim());
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let mut widths: Vec<u16> = COLUMNS.iter().map(|(_, w)| *w).collect();
    widths[PROVIDER] = model
        .traffic
        .range(start..end)
        .map(|entry| provider_cell(&entry.request).chars().count() as u16)
        .fold(COLUMNS[PROVIDER].0.len() as u16, u16::max)
        .min(COLUMNS[PROVIDER].1);
    let keep = fit_columns(&widths, &DROP_ORDER, area.width.saturating_sub(2));
    let kept = |i: usize| keep.get(i).copied().unwrap_or(false);

    let header = Row::new(
        COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, _)| kept(*i))
            .map(|(_, (title, _))| Cell::from(*title)),
    )
    .style(theme.dim());
    let rows: Vec<Row> = model
        .traffic
        .range(start..end)
        .map(|entry| {
            let cells = row(entry, model, theme);
            Row::new(
                cells
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| kept(*i))
                    .map(|(_, c)| c),
            )
        })
        .collect();
    let constraints = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| kept(*i))
        .map(|(i, w)| {
            if i == 3 {
                Constraint::Min(*w)
            } else {
                Constraint::Length(*w)
            }
        });
    frame.render_widget(
        Table::new(rows, constraints).header(header).block(block),
        area,
    );
}

fn row<'a>(entry: &TrafficEntry, model: &Model, theme: &Theme) -> [Cell<'a>; 8] {
    let r = &entry.request;
    let status_severity = match r.status {
        200..=399 => Severity::Good,
        400..=499 => Severity::Warn,
        _ => Severity::Bad,
    };
    [
        Cell::from(Span::styled(
            format::clock(entry.at_ms, model.utc_offset_s),
            theme.dim(),
        )),
        Cell::from(entry.app.name()),
        Cell::from(r.method.clone()),
        Cell::from(r.path.clone()),
        Cell::from(r.model.clone().unwrap_or_else(|| "–".to_owned())),
        Cell::from(Span::styled(
            r.status.to_string(),
            theme.severity(status_severity),
        )),
        Cell::from(format::latency(r.latency_ms)),
        Cell::from(provider_cell(r)),
    ]
}

/// `openai · chatgpt`, `backup`, or `–` when no provider answered.
fn provider_cell(r: &RequestLine) -> String {
    r.provider.as_deref().map_or_else(
        || "–".to_owned(),
        |p| format::served_by(p, r.route.as_deref()),
    )
}
