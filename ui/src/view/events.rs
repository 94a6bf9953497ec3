//! The event log pane: one human-readable line per event, newest at the
//! bottom, scrollable (↑ goes back in time) and filtered with `/`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::Theme;
use crate::format;
use crate::model::{Focus, Model};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let focused = model.focus == Focus::Events;
    let entries = model.filtered_log();
    let height = usize::from(area.height.saturating_sub(2));
    let offset = model
        .log_scroll
        .offset
        .min(entries.len().saturating_sub(height));
    let end = entries.len() - offset;
    let start = end.saturating_sub(height);

    let mut title = vec![Span::styled(" Events ", theme.bold())];
    if model.filter_editing || !model.filter.is_empty() {
        let cursor = if model.filter_editing { "▏" } else { "" };
        title.push(Span::styled(
            format!("/{}{cursor} ", model.filter),
            theme.accent(),
        ));
    }
    if offset > 0 {
        title.push(Span::styled(format!("↑{offset} "), theme.dim()));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(theme.border(focused));

    let lines: Vec<Line> = if entries.is_empty() {
        let text = if model.filter.is_empty() {
            "no events yet"
        } else {
            "no event matches the filter"
        };
        vec![Line::styled(text, theme.dim())]
    } else {
        // Clock (8) and a space before the text; a cut line ends in `…`.
        let room = usize::from(area.width.saturating_sub(2)).saturating_sub(9);
        entries[start..end]
            .iter()
            .map(|entry| {
                Line::from(vec![
                    Span::styled(format::clock(entry.at_ms, model.utc_offset_s), theme.dim()),
                    Span::raw(" "),
                    Span::styled(
                        format::ellipsize(&entry.text, room).into_owned(),
                        theme.severity(entry.severity),
                    ),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
