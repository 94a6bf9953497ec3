//! The apps table: one row per app with its state symbol, port, pid, uptime,
//! restarts, health, req/s and its trend, errors, live streams, provider, and
//! usage: tokens and cost today (the daemon's count) and since this dashboard
//! attached.
//! Columns drop out, least useful first, when the terminal is narrow.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Row, Table, TableState};
use switchyard_daemon::protocol::state::{AppState, WorkerState};

use super::{Theme, fit_columns};
use crate::format;
use crate::model::{Focus, Link, Model, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    State,
    App,
    Port,
    Pid,
    Uptime,
    Restarts,
    Health,
    Rate,
    Trend,
    Errors,
    Live,
    Provider,
    Today,
    Cost,
    Attach,
}

/// Columns in display order, with their titles and widths.
const COLUMNS: [(Col, &str, u16); 15] = [
    (Col::State, "STATE", 10),
    (Col::App, "APP", 6),
    (Col::Port, "PORT", 5),
    (Col::Pid, "PID", 7),
    (Col::Uptime, "UPTIME", 7),
    (Col::Restarts, "RST", 3),
    (Col::Health, "HEALTH", 8),
    (Col::Rate, "REQ/S", 5),
    (Col::Trend, "TREND", 6),
    (Col::Errors, "ERR", 4),
    (Col::Live, "LIVE", 4),
    (Col::Today, "TOK TODAY", 9),
    (Col::Cost, "COST", 7),
    (Col::Attach, "SINCE ATTACH", 12),
    (Col::Provider, "PROVIDER", 9),
];
/// Indices into [`COLUMNS`], dropped in this order when space runs out.
const DROP_ORDER: [usize; 13] = [3, 13, 8, 11, 10, 5, 9, 12, 4, 14, 6, 7, 2];
/// The selection marker's width.
const MARKER: &str = "›";

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let focused = model.focus == Focus::Apps;
    let block = Block::bordered()
        .title(Line::from(title(model)).style(theme.bold()))
        .border_style(theme.border(focused));
    let available = area.width.saturating_sub(2 + 1);
    let widths: Vec<u16> = COLUMNS.iter().map(|(_, _, w)| *w).collect();
    let keep = fit_columns(&widths, &DROP_ORDER, available);
    let columns: Vec<_> = COLUMNS
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| *c)
        .collect();

    let header =
        Row::new(columns.iter().map(|(_, title, _)| Cell::from(*title))).style(theme.dim());
    let rows: Vec<Row> = model
        .apps()
        .iter()
        .map(|state| {
            let cells = columns
                .iter()
                .map(|(col, _, width)| cell(*col, *width, state, model, theme));
            let row = Row::new(cells);
            if state.enabled {
                row
            } else {
                row.style(theme.dim())
            }
        })
        .collect();
    let constraints = columns.iter().map(|(col, _, width)| match col {
        Col::Provider => Constraint::Min(*width),
        _ => Constraint::Length(*width),
    });
    let empty = rows.is_empty();
    let table = Table::new(rows, constraints)
        .header(header)
        .block(block)
        .row_highlight_style(theme.selected(focused))
        .highlight_symbol(MARKER)
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected((!empty).then_some(model.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// While disconnected the table shows the last state it knew, and says so.
fn title(model: &Model) -> &'static str {
    if model.snapshot.is_some() && model.link != Link::Connected {
        " Apps · last known state "
    } else {
        " Apps "
    }
}

fn cell<'a>(col: Col, width: u16, state: &AppState, model: &Model, theme: &Theme) -> Cell<'a> {
    let dash = || Cell::from("–");
    match col {
        Col::State => {
            let (s, on, port) = (state.state, state.enabled, state.port_error.is_some());
            let style = theme.severity(format::state_severity(s, on, port));
            Cell::from(Line::from(vec![
                Span::styled(format::state_symbol(s, on, port), style),
                Span::raw(" "),
                Span::styled(format::state_word(s, on, port), style),
            ]))
        }
        Col::App => Cell::from(Span::styled(state.app.name(), theme.bold())),
        Col::Port if state.port_error.is_some() => Cell::from(Span::styled(
            state.port.to_string(),
            theme.severity(Severity::Bad),
        )),
        Col::Port => Cell::from(state.port.to_string()),
        Col::Pid => state
            .pid
            .map_or_else(dash, |pid| Cell::from(pid.to_string())),
        Col::Uptime => match (state.state, state.ready_at_ms) {
            (WorkerState::Running, Some(at)) => {
                Cell::from(format::duration(model.uptime_now().saturating_sub(at)))
            }
            _ => dash(),
        },
        Col::Restarts => Cell::from(state.restarts.to_string()),
        Col::Health if !state.enabled => dash(),
        Col::Health => Cell::from(Span::styled(
            state.health.as_str(),
            theme.severity(format::health_severity(state.health)),
        )),
        Col::Rate if !state.enabled => dash(),
        Col::Rate => Cell::from(format::rate(model.rate(state.app).current())),
        Col::Trend => Cell::from(Span::styled(
            format::sparkline(model.rate(state.app).samples.iter(), usize::from(width)),
            theme.accent(),
        )),
        Col::Errors if !state.enabled => dash(),
        Col::Errors => {
            let style = if state.traffic.errors > 0 {
                theme.severity(Severity::Warn)
            } else {
                theme.dim()
            };
            Cell::from(Span::styled(state.traffic.errors.to_string(), style))
        }
        Col::Live if !state.enabled => dash(),
        Col::Live => Cell::from(state.traffic.in_flight.to_string()),
        Col::Today => {
            let u = &state.usage;
            let tokens =
                u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens;
            if u.requests == 0 {
                dash()
            } else {
                Cell::from(format::count(tokens))
            }
        }
        Col::Cost => {
            let u = &state.usage;
            if u.requests == 0 {
                dash()
            } else if u.cost_unknown == u.requests {
                Cell::from("?")
            } else {
                let partial = if u.cost_unknown > 0 { "+" } else { "" };
                Cell::from(format!("{}{partial}", format::usd(u.cost_nano_usd)))
            }
        }
        Col::Attach => {
            let a = &model.since_attach[state.app.index()];
            if a.requests == 0 {
                dash()
            } else {
                Cell::from(format!(
                    "{} {}",
                    format::count(a.tokens),
                    format::usd(a.cost_nano_usd)
                ))
            }
        }
        Col::Provider => state
            .provider
            .as_deref()
            .map_or_else(dash, |p| Cell::from(p.to_owned())),
    }
}
