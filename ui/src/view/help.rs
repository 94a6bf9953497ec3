//! The `?` overlay: every key, one line each. Any key closes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{Theme, centered};

/// Every key the dashboard knows, as shown in the overlay.
pub const KEYS: [(&str, &str); 23] = [
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

pub fn draw(frame: &mut Frame, area: Rect, theme: &Theme) {
    let height = u16::try_from(KEYS.len())
        .unwrap_or(u16::MAX)
        .saturating_add(4);
    let popup = centered(area, 66, height);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<14}"), theme.bold().patch(theme.accent())),
                Span::raw(*what),
            ])
        })
        .chain([
            Line::raw(""),
            Line::styled(" any key closes this help", theme.dim()),
        ])
        .collect();
    let block = Block::bordered()
        .title(Line::from(" Keys ").style(theme.bold()))
        .border_style(theme.border(true));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
