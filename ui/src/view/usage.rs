//! The usage view (`u`): a bar per day (tokens, the cost under it), then a
//! table per model, provider or app, for the chosen period, with the total.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Cell, Paragraph, Row, Table};
use switchyard_daemon::protocol::requests::{UsageReport, UsageRow};

use super::Theme;
use crate::format;
use crate::model::Severity;
use crate::usage_view::UsageView;

pub fn draw(frame: &mut Frame, area: Rect, view: &UsageView, theme: &Theme) {
    let by = view.by.as_str();
    let block = Block::bordered()
        .title(Line::from(vec![
            Span::styled(" Usage ", theme.bold()),
            Span::styled(
                format!("· {} (d) · by {by} (b) ", view.period.label()),
                theme.dim(),
            ),
        ]))
        .title_bottom(Line::styled(" u closes · d period · b group ", theme.dim()))
        .border_style(theme.border(true));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [chart, table] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(inner);
    match &view.days {
        None => waiting(frame, chart, theme),
        Some(Err(err)) => failed(frame, chart, err, theme),
        Some(Ok(report)) => bars(frame, chart, report, theme),
    }
    match &view.table {
        None => waiting(frame, table, theme),
        Some(Err(err)) => failed(frame, table, err, theme),
        Some(Ok(report)) => rows(frame, table, report, theme),
    }
}

fn waiting(frame: &mut Frame, area: Rect, theme: &Theme) {
    frame.render_widget(
        Paragraph::new(Line::styled("reading the records…", theme.dim())),
        area,
    );
}

fn failed(frame: &mut Frame, area: Rect, err: &str, theme: &Theme) {
    let text = format!("cannot read usage: {err}");
    frame.render_widget(
        Paragraph::new(Line::styled(text, theme.severity(Severity::Bad))),
        area,
    );
}

fn tokens(row: &UsageRow) -> u64 {
    row.input_tokens.value
        + row.output_tokens.value
        + row.cache_read_tokens.value
        + row.cache_write_tokens.value
}

/// One bar per day with requests: its tokens, labelled `MM-DD`.
fn bars(frame: &mut Frame, area: Rect, report: &UsageReport, theme: &Theme) {
    if report.rows.is_empty() {
        let text = Line::styled("no requests in this period", theme.dim());
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let n = u16::try_from(report.rows.len()).unwrap_or(u16::MAX);
    let width = (area.width / n.max(1)).saturating_sub(1).clamp(1, 9);
    let bars: Vec<Bar> = report
        .rows
        .iter()
        .map(|row| {
            let day = row.key.as_deref().unwrap_or("?");
            let label = day.get(5..).unwrap_or(day).to_owned();
            Bar::default()
                .value(tokens(row))
                .text_value(format::count(tokens(row)))
                .label(Line::from(label))
                .style(theme.accent())
                .value_style(theme.bold().patch(Style::default().reversed()))
        })
        .collect();
    let chart = BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(width)
        .bar_gap(1);
    frame.render_widget(chart, area);
}

/// The groups, most tokens first, and the total.
fn rows(frame: &mut Frame, area: Rect, report: &UsageReport, theme: &Theme) {
    let header =
        Row::new(["", "REQ", "ERR", "INPUT", "OUTPUT", "CACHE RD", "COST"].map(Cell::from))
            .style(theme.dim());
    let mut sorted: Vec<&UsageRow> = report.rows.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(tokens(r)));
    // The name takes what the numbers leave (one column between each two).
    let name_width = usize::from(area.width).saturating_sub(47);
    let line = |row: &UsageRow, style: Style| {
        let cost = match row.cost_nano_usd.known(row.requests) {
            None => "?".to_owned(),
            Some(c) if row.cost_nano_usd.unknown > 0 => format!("{}+", format::usd(c)),
            Some(c) => format::usd(c),
        };
        Row::new(vec![
            Cell::from(
                format::ellipsize(row.key.as_deref().unwrap_or("(none)"), name_width).into_owned(),
            ),
            Cell::from(row.requests.to_string()),
            Cell::from(row.errors.to_string()),
            Cell::from(format::count(row.input_tokens.value)),
            Cell::from(format::count(row.output_tokens.value)),
            Cell::from(format::count(row.cache_read_tokens.value)),
            Cell::from(cost),
        ])
        .style(style)
    };
    let mut table_rows: Vec<Row> = sorted
        .into_iter()
        .map(|r| line(r, Style::default()))
        .collect();
    let mut total = report.total.clone();
    total.key = Some("total".to_owned());
    table_rows.push(line(&total, theme.bold()));
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(9),
    ];
    frame.render_widget(Table::new(table_rows, widths).header(header), area);
}
