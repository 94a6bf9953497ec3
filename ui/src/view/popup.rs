//! Small modal boxes: the port editor (`e`), the provider picker (`p`) and
//! the stop confirmation (`Q`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph, Wrap};

use super::{Theme, centered};
use crate::format;
use crate::model::{Model, Popup, Severity};

pub fn draw(frame: &mut Frame, area: Rect, popup: &Popup, model: &Model, theme: &Theme) {
    match popup {
        Popup::Help { .. } | Popup::Inspect(_) => {}
        Popup::Presets {
            app,
            items,
            selected,
        } => {
            let height = u16::try_from(items.len())
                .unwrap_or(u16::MAX)
                .saturating_add(3);
            let rect = centered(area, 100, height);
            // Columns as wide as their widest entry (the name capped), so
            // they line up; what does not fit ends in `…`.
            let key = |p: &switchyard_daemon::protocol::PresetInfo| {
                p.key_env
                    .as_deref()
                    .map_or_else(|| "passthrough".to_owned(), |k| format!("key ${k}"))
            };
            let widest = |f: &dyn Fn(&switchyard_daemon::protocol::PresetInfo) -> usize| {
                items.iter().map(f).max().unwrap_or(0)
            };
            let id_w = widest(&|p| p.id.chars().count());
            let name_w = widest(&|p| p.name.chars().count()).min(30);
            let key_w = widest(&|p| key(p).chars().count());
            // Inside the borders, after the `› ` marker.
            let room = usize::from(rect.width.saturating_sub(4));
            let rest = room.saturating_sub(id_w + name_w + 2);
            let list_items: Vec<ListItem> = items
                .iter()
                .map(|p| {
                    let name = format::ellipsize(&p.name, name_w);
                    // The base URL only when enough of it shows to tell it.
                    let tail = if rest >= key_w + 1 + 16 {
                        format!("{:<key_w$} {}", key(p), p.base_url)
                    } else {
                        key(p)
                    };
                    ListItem::new(Line::from(vec![
                        Span::styled(format!("{:<id_w$}", p.id), theme.bold()),
                        Span::raw(format!(" {name:<name_w$} ")),
                        Span::styled(format::ellipsize(&tail, rest).into_owned(), theme.dim()),
                    ]))
                })
                .collect();
            let block = Block::bordered()
                .title(
                    Line::from(format!(" {app}: add a provider from a preset "))
                        .style(theme.bold()),
                )
                .title_bottom(Line::styled(
                    " Enter adds it, named after it · Esc cancels ",
                    theme.dim(),
                ))
                .border_style(theme.border(true));
            let list = List::new(list_items)
                .block(block)
                .highlight_style(theme.selected(true))
                .highlight_symbol("› ");
            let mut state = ListState::default().with_selected(Some(*selected));
            frame.render_widget(Clear, rect);
            frame.render_stateful_widget(list, rect, &mut state);
        }
        Popup::ConfirmStop => {
            let pid = model
                .daemon_pid()
                .map_or_else(String::new, |pid| format!(" (pid {pid})"));
            let lines = vec![
                Line::raw(format!("Stop the daemon{pid} and every proxy?")),
                Line::styled(
                    "CLIs pointed at the proxies will fail until it is back.",
                    theme.dim(),
                ),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("y", theme.bold().patch(theme.accent())),
                    Span::raw(" stop   "),
                    Span::styled("n", theme.bold().patch(theme.accent())),
                    Span::raw(" keep it running"),
                ]),
            ];
            boxed(frame, area, " Stop the daemon? ", lines, 60, theme);
        }
        Popup::Port { app, input, error } => {
            let mut lines = vec![
                Line::from(vec![
                    Span::raw(format!("{app} listens on 127.0.0.1:")),
                    Span::styled(format!("{input}▏"), theme.bold()),
                ]),
                Line::raw(""),
            ];
            match error {
                Some(err) => lines.push(Line::styled(err.clone(), theme.severity(Severity::Bad))),
                None => lines.push(Line::styled("Enter saves · Esc cancels", theme.dim())),
            }
            boxed(frame, area, " Port ", lines, 44, theme);
        }
        Popup::Provider {
            app,
            items,
            selected,
        } => {
            let height = u16::try_from(items.len())
                .unwrap_or(u16::MAX)
                .saturating_add(3);
            let rect = centered(area, 56, height);
            let list_items: Vec<ListItem> = items
                .iter()
                .map(|p| {
                    let mut spans = vec![
                        Span::styled(format!("{:<14}", p.name), theme.bold()),
                        Span::styled(format!(" {}", p.base_url), theme.dim()),
                    ];
                    if !p.enabled {
                        spans.push(Span::styled(" (disabled)", theme.dim()));
                    }
                    ListItem::new(Line::from(spans))
                })
                .collect();
            let block = Block::bordered()
                .title(Line::from(format!(" {app}: active provider ")).style(theme.bold()))
                .title_bottom(Line::styled(" Enter picks · Esc cancels ", theme.dim()))
                .border_style(theme.border(true));
            let list = List::new(list_items)
                .block(block)
                .highlight_style(theme.selected(true))
                .highlight_symbol("› ");
            let mut state = ListState::default().with_selected(Some(*selected));
            frame.render_widget(Clear, rect);
            frame.render_stateful_widget(list, rect, &mut state);
        }
    }
}

fn boxed(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, width: u16, theme: &Theme) {
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = centered(area, width, height);
    let block = Block::bordered()
        .title(Line::from(title.to_owned()).style(theme.bold()))
        .border_style(theme.border(true));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
