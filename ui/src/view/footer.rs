//! The bottom lines: the filter being typed, else the last action's outcome
//! (wrapped over up to [`STATUS_LINES`] lines, so a long message is read
//! whole), else the most useful keys — `? help` always among them, the others
//! dropped from the right as the terminal narrows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::format;
use crate::model::Model;

/// At most this many lines for a status message; a longer one ends in `…`.
pub const STATUS_LINES: u16 = 3;

const HINTS: [(&str, &str); 9] = [
    ("q", "detach"),
    ("Q", "stop"),
    ("␣", "on/off"),
    ("r", "restart"),
    ("p", "provider"),
    ("e", "port"),
    ("l", "logs"),
    ("/", "filter"),
    ("Tab", "pane"),
];
const HELP: (&str, &str) = ("?", "help");

/// How many lines the footer needs at `width` columns.
pub fn height(model: &Model, width: u16) -> u16 {
    match &model.status {
        Some(status) if !model.filter_editing => {
            let text = format!(" {}", status.text);
            let width = usize::from(width.max(1));
            let lines = unicode_width::UnicodeWidthStr::width(text.as_str()).div_ceil(width);
            u16::try_from(lines)
                .unwrap_or(u16::MAX)
                .clamp(1, STATUS_LINES)
        }
        _ => 1,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let width = usize::from(area.width);
    if model.filter_editing {
        let line = Line::from(vec![
            Span::styled(" filter: ", theme.bold()),
            Span::raw(format!("{}▏", model.filter)),
            Span::styled("  Enter keeps it · Esc clears it", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
    } else if let Some(status) = &model.status {
        // Whole words per line; what does not fit the lines there are ends in `…`.
        // Word wrapping leaves up to a word's width free at each line's end.
        let lines = usize::from(area.height.max(1));
        let room = (width * lines).saturating_sub(1 + 8 * (lines - 1));
        let text = format::ellipsize(&status.text, room);
        let pane = Paragraph::new(Line::styled(
            format!(" {text}"),
            theme.severity(status.severity),
        ))
        .wrap(Wrap { trim: false });
        frame.render_widget(pane, area);
    } else {
        frame.render_widget(Paragraph::new(hints(width, theme)), area);
    }
}

/// As many hints as fit, then `? help`, which always does.
fn hints<'a>(width: usize, theme: &Theme) -> Line<'a> {
    let cell = |(key, what): (&str, &str)| key.chars().count() + what.len() + 3;
    let mut room = width.saturating_sub(1 + cell(HELP));
    let mut spans = vec![Span::raw(" ")];
    let push = |spans: &mut Vec<Span<'a>>, (key, what): (&'a str, &'a str)| {
        spans.push(Span::styled(key, theme.bold().patch(theme.accent())));
        spans.push(Span::styled(format!(" {what}  "), theme.dim()));
    };
    for hint in HINTS {
        if cell(hint) > room {
            break;
        }
        room -= cell(hint);
        push(&mut spans, hint);
    }
    push(&mut spans, HELP);
    Line::from(spans)
}
