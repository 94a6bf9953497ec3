//! The request inspector (Enter on a traffic row): the whole record —
//! timings, every failover attempt with its reason, tokens, cost, route and
//! outcome. Headers are not in it: Switchyard never records them, so no key
//! can leak through a record.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use switchyard_daemon::protocol::requests::Outcome;

use super::traffic::outcome_cell;
use super::{Theme, centered};
use crate::format;
use crate::model::{Model, Severity, TrafficEntry};

pub fn draw(frame: &mut Frame, area: Rect, entry: &TrafficEntry, model: &Model, theme: &Theme) {
    let r = &entry.record;
    let dim = theme.dim();
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<11}"), dim),
            Span::raw(value),
        ])
    };
    let (_, severity) = outcome_cell(r);
    let code = r
        .status
        .map_or_else(|| "no status".to_owned(), |s| s.to_string());
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} {}", r.method, r.path), theme.bold()),
            Span::raw("  "),
            Span::styled(code, theme.severity(severity)),
            Span::styled(format!(" {}", r.outcome.as_str()), theme.severity(severity)),
        ]),
        field(
            "app",
            format!(
                "{} · arrived {}",
                entry.app,
                format::clock(r.time_ms, model.utc_offset_s)
            ),
        ),
        field(
            "timings",
            format!(
                "first byte {} · total {}",
                r.ttfb_ms.map_or_else(|| "–".to_owned(), format::latency),
                format::latency(r.latency_ms)
            ),
        ),
        field(
            "served by",
            r.provider.as_deref().map_or_else(
                || "no provider answered".to_owned(),
                |p| format::served_by(p, r.route.as_deref()),
            ),
        ),
        field(
            "model",
            match (&r.model, &r.mapped_model) {
                (Some(m), Some(sent)) => format!("{m} (sent as {sent})"),
                (Some(m), None) => m.clone(),
                (None, _) => "–".to_owned(),
            },
        ),
    ];
    if r.failovers.is_empty() {
        lines.push(field("failovers", "none".to_owned()));
    } else {
        lines.push(field(
            "failovers",
            format!("{} before the answer:", r.failovers.len()),
        ));
        for (i, f) in r.failovers.iter().enumerate() {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {}. {} ", i + 1, f.provider),
                    theme.severity(Severity::Warn),
                ),
                Span::raw(f.reason.clone()),
            ]));
        }
    }
    let t = &r.tokens;
    let n = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    lines.push(field(
        "tokens",
        if t.any_known() {
            format!(
                "in {} · out {} (reasoning {}) · cache {} read, {} written",
                n(t.input),
                n(t.output),
                n(t.reasoning),
                n(t.cache_read),
                n(t.cache_write)
            )
        } else {
            "not reported".to_owned()
        },
    ));
    lines.push(field(
        "cost",
        r.cost_nano_usd.map_or_else(
            || "unknown (no price for the model, or tokens unknown)".to_owned(),
            switchyard_daemon::usage::report::usd,
        ),
    ));
    lines.push(field(
        "bytes",
        format!(
            "in {} · out {}",
            format::bytes(r.bytes_in),
            format::bytes(r.bytes_out)
        ),
    ));
    if let Some(error) = &r.error {
        let severity = if r.outcome == Outcome::Aborted {
            Severity::Warn
        } else {
            Severity::Bad
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<11}", "what ended"), dim),
            Span::styled(
                switchyard_daemon::text::clean(error).into_owned(),
                theme.severity(severity),
            ),
        ]));
    }
    lines.push(field(
        "headers",
        "never recorded (keys and tokens stay out of records)".to_owned(),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "y copies it as JSON · any other key closes",
        dim,
    ));

    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = centered(area, 90, height);
    let block = Block::bordered()
        .title(Line::from(" Request ").style(theme.bold()))
        .border_style(theme.border(true));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
