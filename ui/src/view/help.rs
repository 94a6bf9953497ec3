//! The `?` overlay: every key, one line each. When the screen is too short
//! for all of them it scrolls (↑↓ j k PgUp PgDn g G) and says how many lines
//! are above and below; any other key closes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{Theme, centered};

/// Every key the dashboard knows, as shown in the overlay.
pub const KEYS: [(&str, &str); 24] = [
    ("↑ ↓  k j", "select an app / scroll the focused pane"),
    ("PgUp PgDn", "scroll ten lines"),
    ("g G  Home End", "oldest / newest (End follows live)"),
    ("Tab  S-Tab", "cycle focus: apps, events, traffic"),
    ("Space  Enter", "enable or disable the selected app"),
    ("r", "restart the selected app (unparks it)"),
    ("t", "take over the CLI's own config, or hand it back"),
    ("p", "pick the selected app's active provider"),
    ("e", "edit the selected app's port"),
    ("+", "add a provider to the selected app from a preset"),
    ("/", "filter the event log (Enter keeps, Esc clears)"),
    ("l", "daemon + worker logs (a app, / search, l closes)"),
    ("u", "usage: bars per day, table (d period, b group)"),
    ("Enter", "traffic pane: inspect the selected request"),
    ("a s /", "traffic pane: filter by app, status, model"),
    ("y", "copy the selected request or event as JSON"),
    ("m", "mouse: wheel scrolls, click selects; off: select text"),
    ("Esc", "clear the status line"),
    ("?", "this help"),
    ("q  Ctrl-C", "detach: the daemon keeps serving"),
    ("Q", "stop the daemon and every proxy (asks y/n)"),
    ("", ""),
    ("state", "● running ◐ starting ↻ backoff ■ parked ○ off"),
    ("LIVE", "streams in flight · RST restarts · ERR errors"),
];

/// Columns the key names take (a space, the key, padding).
const KEY_WIDTH: usize = 15;

/// The widest line: the key column plus the longest description.
fn content_width() -> u16 {
    let widest = KEYS
        .iter()
        .map(|(_, what)| unicode_width::UnicodeWidthStr::width(*what))
        .max()
        .unwrap_or(0);
    u16::try_from(KEY_WIDTH + widest + 1).unwrap_or(u16::MAX)
}

/// How far the help can scroll on a screen of `height` rows (0: it fits).
pub fn max_scroll(height: u16) -> usize {
    KEYS.len()
        .saturating_sub(usize::from(height.saturating_sub(2)))
}

pub fn draw(frame: &mut Frame, area: Rect, scroll: usize, theme: &Theme) {
    let height = u16::try_from(KEYS.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let popup = centered(area, content_width().saturating_add(2), height);
    let rows = usize::from(popup.height.saturating_sub(2));
    let offset = scroll.min(max_scroll(area.height));
    let below = KEYS.len().saturating_sub(offset + rows);
    let lines: Vec<Line> = KEYS
        .iter()
        .skip(offset)
        .take(rows)
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<14}"), theme.bold().patch(theme.accent())),
                Span::raw(*what),
            ])
        })
        .collect();
    let mut title = vec![Span::styled(" Keys ", theme.bold())];
    if offset > 0 {
        title.push(Span::styled(format!("↑{offset} more "), theme.dim()));
    }
    let hint = if offset > 0 || below > 0 {
        let more = if below > 0 {
            format!("↓{below} more · ")
        } else {
            String::new()
        };
        format!(" {more}↑↓ scroll · any other key closes ")
    } else {
        " any key closes this help ".to_owned()
    };
    let block = Block::bordered()
        .title(Line::from(title))
        .title_bottom(Line::styled(hint, theme.dim()))
        .border_style(theme.border(true));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
