//! The request inspector (Enter on a traffic row): the whole record —
//! timings (queue, first byte, total), every failover attempt with its
//! reason, tokens, cost, route and outcome — and the request's and
//! response's headers with every secret masked, asked from the store when it
//! opens (`loading…` until they come).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use switchyard_daemon::protocol::requests::Outcome;

use super::traffic::outcome_cell;
use super::{Theme, centered};
use crate::format;
use crate::model::{Detail, Model, Severity, TrafficEntry};

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
                "queue {} · first byte {} · total {}",
                r.queue_ms.map_or_else(|| "–".to_owned(), format::latency),
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
    headers(&mut lines, &model.inspected, theme);

    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = centered(area, 90, height);
    let block = Block::bordered()
        .title(Line::from(" Request ").style(theme.bold()))
        .title_bottom(Line::styled(
            " y copies it as JSON · any other key closes ",
            dim,
        ))
        .border_style(theme.border(true));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// The headers, one a line (values escaped: they are the client's and the
/// upstream's text); secrets were masked before they were stored.
fn headers(lines: &mut Vec<Line<'static>>, detail: &Detail, theme: &Theme) {
    let dim = theme.dim();
    let note = |text: &str| {
        Line::from(vec![
            Span::styled(format!("{:<11}", "headers"), dim),
            Span::styled(text.to_owned(), dim),
        ])
    };
    match detail {
        Detail::Loading => lines.push(note("loading…")),
        Detail::Missing => lines.push(note(
            "not on record (pruned, or recorded before headers were)",
        )),
        Detail::Failed(err) => lines.push(Line::from(vec![
            Span::styled(format!("{:<11}", "headers"), dim),
            Span::styled(
                format!("could not be read: {}", switchyard_daemon::text::clean(err)),
                theme.severity(Severity::Bad),
            ),
        ])),
        Detail::Loaded(h) => {
            for (title, text) in [
                ("request headers", &h.request),
                ("response headers", &h.response),
            ] {
                lines.push(Line::styled(title, dim));
                if text.is_empty() {
                    lines.push(Line::styled("  none", dim));
                }
                for line in text.lines() {
                    let clean = switchyard_daemon::text::clean(line);
                    match clean.split_once(": ") {
                        Some((name, value)) => lines.push(Line::from(vec![
                            Span::styled(format!("  {name}: "), dim),
                            Span::raw(value.to_owned()),
                        ])),
                        None => lines.push(Line::styled(format!("  {clean}"), dim)),
                    }
                }
            }
        }
    }
}
