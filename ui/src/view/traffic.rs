//! The traffic pane: recently finished requests (time, app, method, path,
//! model, status — or how it ended when not answered whole: `aborted`, `cut` —,
//! latency, tokens, failovers, provider with its route: `openai · chatgpt`),
//! newest at the bottom, scrollable; the selected row (focused pane) is the
//! one Enter inspects and `y` copies.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::{Theme, fit_columns};
use crate::format;
use crate::model::{Focus, Model, Severity, TrafficEntry};
use switchyard_daemon::protocol::requests::{Outcome, RequestRecord};

/// Title and widest width of each column: the path (index 3) takes what is
/// left; every other column is as wide as its widest visible cell (or its
/// title), up to its width here (`google · code-assist`), so the path gets
/// what they do not need.
const COLUMNS: [(&str, u16); 10] = [
    ("TIME", 8),
    ("APP", 6),
    ("METHOD", 6),
    ("PATH", 16),
    ("MODEL", 18),
    ("CODE", 7),
    ("LATENCY", 7),
    ("TOKENS", 11),
    ("FO", 2),
    ("PROVIDER", 20),
];
const DROP_ORDER: [usize; 8] = [2, 1, 8, 9, 4, 7, 0, 6];
const PATH: usize = 3;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let focused = model.focus == Focus::Traffic;
    let height = usize::from(area.height.saturating_sub(3));
    let shown = model.shown_traffic();
    let len = shown.len();
    let offset = model.traffic_scroll.offset.min(len.saturating_sub(height));
    let end = len - offset;
    let start = end.saturating_sub(height);

    let mut title = vec![Span::styled(" Traffic ", theme.bold())];
    let filter = &model.traffic_filter;
    if filter.is_active() || filter.editing {
        let mut parts = Vec::new();
        if let Some(app) = filter.app {
            parts.push(app.name().to_owned());
        }
        if !filter.class.label().is_empty() {
            parts.push(filter.class.label().to_owned());
        }
        if filter.editing || !filter.text.is_empty() {
            let cursor = if filter.editing { "▏" } else { "" };
            parts.push(format!("/{}{cursor}", filter.text));
        }
        title.push(Span::styled(
            format!("{} ", parts.join(" · ")),
            theme.accent(),
        ));
    }
    if focused {
        title.push(Span::styled("(a app · s status · / model) ", theme.dim()));
    }
    if offset > 0 {
        title.push(Span::styled(format!("↑{offset} "), theme.dim()));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(theme.border(focused));
    if len == 0 {
        let text = if model.traffic.is_empty() {
            "no requests yet"
        } else {
            "no request matches the filter"
        };
        let text = Line::styled(text, theme.dim());
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let texts: Vec<[String; 10]> = shown[start..end]
        .iter()
        .map(|entry| texts(entry, model))
        .collect();
    let mut widths: Vec<u16> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (title, most))| {
            if i == PATH {
                return *most;
            }
            let widest = texts
                .iter()
                .map(|t| unicode_width::UnicodeWidthStr::width(t[i].as_str()))
                .fold(title.len(), usize::max);
            u16::try_from(widest).unwrap_or(u16::MAX).min(*most)
        })
        .collect();
    let keep = fit_columns(&widths, &DROP_ORDER, area.width.saturating_sub(2));
    let kept = |i: usize| keep.get(i).copied().unwrap_or(false);
    // The path takes what the others leave (one column between each two).
    let others: u16 = (0..COLUMNS.len())
        .filter(|i| kept(*i) && *i != PATH)
        .map(|i| widths[i] + 1)
        .sum();
    widths[PATH] = area.width.saturating_sub(2 + others).max(widths[PATH]);

    let header = Row::new(
        COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, _)| kept(*i))
            .map(|(_, (title, _))| Cell::from(*title)),
    )
    .style(theme.dim());
    let selected = end.checked_sub(1).filter(|_| focused);
    let rows: Vec<Row> = shown[start..end]
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(n, (entry, texts))| {
            let cells = row(&entry.record, texts, theme, &widths);
            let row = Row::new(
                cells
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| kept(*i))
                    .map(|(_, c)| c),
            );
            if Some(start + n) == selected {
                row.style(theme.selected(true))
            } else {
                row
            }
        })
        .collect();
    let constraints = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| kept(*i))
        .map(|(i, w)| {
            if i == PATH {
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

/// One request's cell texts, in [`COLUMNS`] order.
fn texts(entry: &TrafficEntry, model: &Model) -> [String; 10] {
    let r = &entry.record;
    [
        format::clock(entry.at_ms, model.utc_offset_s),
        entry.app.name().to_owned(),
        r.method.clone(),
        r.path.clone(),
        r.model.clone().unwrap_or_else(|| "–".to_owned()),
        outcome_cell(r).0,
        format::latency(r.latency_ms),
        tokens_cell(r),
        match r.failovers.len() {
            0 => "–".to_owned(),
            n => n.to_string(),
        },
        provider_cell(r),
    ]
}

/// One request's cells, each cut to its column's width with `…`.
fn row<'a>(
    r: &RequestRecord,
    texts: [String; 10],
    theme: &Theme,
    widths: &[u16],
) -> [Cell<'a>; 10] {
    let severity = outcome_cell(r).1;
    let mut n = 0;
    texts.map(|text| {
        let i = n;
        n += 1;
        let width = widths.get(i).copied().map_or(usize::MAX, usize::from);
        let text = format::ellipsize(&text, width).into_owned();
        let style = match i {
            0 => theme.dim(),
            5 => theme.severity(severity),
            8 if r.failovers.is_empty() => theme.dim(),
            8 => theme.severity(Severity::Warn),
            _ => ratatui::style::Style::default(),
        };
        Cell::from(Span::styled(text, style))
    })
}

/// The status, or how the request ended when it was not answered whole:
/// `aborted` (the client left), `cut` (the upstream broke off), `failed`.
pub fn outcome_cell(r: &RequestRecord) -> (String, Severity) {
    let status = r.status.map_or_else(|| "–".to_owned(), |s| s.to_string());
    match r.outcome {
        Outcome::Aborted => (format!("{status} ab"), Severity::Warn),
        Outcome::Cut => (format!("{status} cut"), Severity::Bad),
        _ => {
            let severity = match r.status {
                Some(200..=399) => Severity::Good,
                Some(400..=499) => Severity::Warn,
                _ => Severity::Bad,
            };
            (status, severity)
        }
    }
}

/// `1.2k→340`: input (cache reads included) → output, or `–` when unknown.
pub fn tokens_cell(r: &RequestRecord) -> String {
    let t = &r.tokens;
    if !t.any_known() {
        return "–".to_owned();
    }
    let input = t.input.unwrap_or(0) + t.cache_read.unwrap_or(0) + t.cache_write.unwrap_or(0);
    format!(
        "{}→{}",
        format::count(input),
        t.output.map_or_else(|| "?".to_owned(), format::count)
    )
}

/// `openai · chatgpt`, `backup`, or `–` when no provider answered.
fn provider_cell(r: &RequestRecord) -> String {
    r.provider.as_deref().map_or_else(
        || "–".to_owned(),
        |p| format::served_by(p, r.route.as_deref()),
    )
}
