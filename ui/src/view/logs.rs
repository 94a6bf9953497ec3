//! The log pane (key `l`): the daemon's and its workers' lines, newest at the
//! bottom, levels coloured, one app's or all merged, searchable; it follows
//! the newest line unless scrolled back.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::Theme;
use crate::format;
use crate::logs::LogPane;
use crate::model::Severity;

pub fn draw(frame: &mut Frame, area: Rect, pane: &LogPane, theme: &Theme) {
    let lines = pane.visible();
    let height = usize::from(area.height.saturating_sub(2));
    let offset = pane.scroll.offset.min(lines.len().saturating_sub(height));
    let end = lines.len() - offset;
    let start = end.saturating_sub(height);

    let which = pane.app.map_or("all apps", |app| app.name());
    let mut title = vec![
        Span::styled(" Logs ", theme.bold()),
        Span::styled(format!("· {which} (a) "), theme.dim()),
    ];
    if pane.search_editing || !pane.search.is_empty() {
        let cursor = if pane.search_editing { "▏" } else { "" };
        title.push(Span::styled(
            format!("/{}{cursor} ", pane.search),
            theme.accent(),
        ));
    }
    title.push(if offset > 0 {
        Span::styled(format!("↑{offset} (G follows) "), theme.dim())
    } else {
        Span::styled("following ", theme.dim())
    });
    if let Some(ended) = &pane.ended {
        title.push(Span::styled(
            format!("· live lines stopped: {ended} "),
            theme.severity(Severity::Warn),
        ));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .title_bottom(Line::styled(" l closes · / search · a app ", theme.dim()))
        .border_style(theme.border(true));

    let room = usize::from(area.width.saturating_sub(2));
    let shown: Vec<Line> = if lines.is_empty() {
        let text = if pane.lines.is_empty() {
            "no log lines yet"
        } else {
            "no line matches"
        };
        vec![Line::styled(text, theme.dim())]
    } else {
        lines[start..end]
            .iter()
            .map(|line| {
                let level = theme.severity(line.severity());
                let text_style = if line.quiet() {
                    theme.dim()
                } else {
                    Default::default()
                };
                let app = line.app.as_deref().unwrap_or("daemon");
                let from = if line.worker {
                    format!("{app}▸")
                } else {
                    app.to_owned()
                };
                let head = format!("{} {:<5} {from:<7} ", line.clock, line.level);
                let rest = room.saturating_sub(head.chars().count());
                Line::from(vec![
                    Span::styled(line.clock.clone(), theme.dim()),
                    Span::raw(" "),
                    Span::styled(format!("{:<5}", line.level), level.patch(theme.bold())),
                    Span::styled(format!(" {from:<7} "), theme.accent()),
                    Span::styled(format::ellipsize(&line.text, rest).into_owned(), text_style),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(shown).block(block), area);
}
