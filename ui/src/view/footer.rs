//! The bottom line: the filter being typed, else the last action's outcome,
//! else the most useful keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::model::Model;

const HINTS: [(&str, &str); 9] = [
    ("q", "detach"),
    ("Q", "stop"),
    ("␣", "on/off"),
    ("r", "restart"),
    ("p", "provider"),
    ("e", "port"),
    ("/", "filter"),
    ("Tab", "pane"),
    ("?", "help"),
];

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let line = if model.filter_editing {
        Line::from(vec![
            Span::styled(" filter: ", theme.bold()),
            Span::raw(format!("{}▏", model.filter)),
            Span::styled("  Enter keeps it · Esc clears it", theme.dim()),
        ])
    } else if let Some(status) = &model.status {
        Line::from(Span::styled(
            format!(" {}", status.text),
            theme.severity(status.severity),
        ))
    } else {
        let mut spans = vec![Span::raw(" ")];
        for (key, what) in HINTS {
            spans.push(Span::styled(key, theme.bold().patch(theme.accent())));
            spans.push(Span::styled(format!(" {what}  "), theme.dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}
