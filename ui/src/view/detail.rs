//! The detail pane for the selected app: what is wrong first (port error,
//! parked reason with the worker's last stderr lines, backoff countdown), then
//! its address, providers with their breaker state, last exit and traffic.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use switchyard_daemon::protocol::state::{AppState, BreakerState, WorkerState};

use super::Theme;
use crate::format;
use crate::model::{Model, RATE_SAMPLES, Severity};

/// How many stderr lines of a parked worker are shown.
const STDERR_LINES: usize = 6;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(state) = model.selected_app() else {
        let block = Block::bordered()
            .title(" Details ")
            .border_style(theme.border(false));
        let text = Paragraph::new(Line::styled("waiting for the daemon…", theme.dim()));
        frame.render_widget(text.block(block), area);
        return;
    };
    let block = Block::bordered()
        .title(Line::from(format!(" {} ", state.app.name())).style(theme.bold()))
        .border_style(theme.border(false));
    let inner_width = usize::from(area.width.saturating_sub(2));
    let mut lines = problems(state, model, theme);
    lines.push(address(state, theme));
    lines.extend(providers(state, model, theme));
    if let Some(exit) = &state.last_exit {
        let ago = format::duration(model.now_ms.saturating_sub(exit.at_ms));
        let severity = if exit.reason.is_failure() {
            Severity::Warn
        } else {
            Severity::Info
        };
        lines.push(Line::from(vec![
            Span::styled("last exit ", theme.dim()),
            Span::styled(format::exit(exit), theme.severity(severity)),
            Span::styled(format!(" {ago} ago"), theme.dim()),
        ]));
    }
    if state.enabled {
        let t = &state.traffic;
        lines.push(Line::from(vec![
            Span::styled("served ", theme.dim()),
            Span::raw(format!(
                "{} req · {} err · {}",
                t.requests,
                t.errors,
                format::bytes(t.bytes_out)
            )),
        ]));
        if t.dropped > 0 {
            lines.push(Line::from(Span::styled(
                format!(
                    "{} req not recorded (the daemon could not take them)",
                    t.dropped
                ),
                theme.severity(Severity::Warn),
            )));
        }
        if state.usage.requests > 0 {
            lines.push(Line::from(vec![
                Span::styled("today ", theme.dim()),
                Span::raw(switchyard_daemon::usage::report::usage_today_line(
                    &state.usage,
                )),
            ]));
        }
        let rate = model.rate(state.app);
        let spark_width = inner_width.saturating_sub(12).min(RATE_SAMPLES);
        lines.push(Line::from(vec![
            Span::styled("req/s ", theme.dim()),
            Span::raw(format!("{:>5} ", format::rate(rate.current()))),
            Span::styled(
                format::sparkline(rate.samples.iter(), spark_width),
                theme.accent(),
            ),
        ]));
    }
    let pane = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false });
    frame.render_widget(pane, area);
}

/// What needs the user's attention, most urgent first.
fn problems<'a>(state: &AppState, model: &Model, theme: &Theme) -> Vec<Line<'a>> {
    let bad = theme.severity(Severity::Bad);
    let mut lines = Vec::new();
    if let Some(err) = &state.port_error {
        lines.push(Line::from(vec![
            Span::styled("port error ", bad.patch(theme.bold())),
            Span::styled(err.clone(), bad),
        ]));
        lines.push(Line::styled("  e picks another port", theme.dim()));
    }
    if let Some(parked) = &state.parked {
        lines.push(Line::from(vec![
            Span::styled("parked ", bad.patch(theme.bold())),
            Span::styled(parked.reason.clone(), bad),
        ]));
        let skip = parked.stderr_tail.len().saturating_sub(STDERR_LINES);
        for line in parked.stderr_tail.iter().skip(skip) {
            lines.push(Line::styled(format!("  │ {line}"), theme.dim()));
        }
        lines.push(Line::styled("  r restarts it", theme.dim()));
    }
    if state.state == WorkerState::Backoff {
        let warn = theme.severity(Severity::Warn);
        let text = match state.backoff_until_ms {
            Some(until) if until > model.now_ms => {
                format!("retry in {}", format::countdown(until - model.now_ms))
            }
            _ => "retrying now".to_owned(),
        };
        lines.push(Line::from(vec![
            Span::styled("backoff ", warn.patch(theme.bold())),
            Span::styled(text, warn),
        ]));
    }
    lines
}

/// `listen 127.0.0.1:15721 · pid 4301`, or that it is off; and whether the
/// CLI's own configuration points here.
fn address<'a>(state: &AppState, theme: &Theme) -> Line<'a> {
    let mut spans = vec![
        Span::styled("listen ", theme.dim()),
        Span::raw(format!("127.0.0.1:{}", state.port)),
    ];
    match state.pid {
        Some(pid) => spans.push(Span::styled(format!(" · pid {pid}"), theme.dim())),
        None if !state.enabled => spans.push(Span::styled(" · off (␣ enables)", theme.dim())),
        None => {}
    }
    if state.takeover {
        spans.push(Span::styled(" · takeover (t hands back)", theme.dim()));
    }
    Line::from(spans)
}

/// The providers in priority order, the active one marked, each with its
/// breaker state (from the worker) and whether it is disabled.
fn providers<'a>(state: &AppState, model: &Model, theme: &Theme) -> Vec<Line<'a>> {
    let breaker = |name: &str| {
        state
            .breakers
            .iter()
            .find(|b| b.provider == name)
            .map(|b| b.state)
    };
    let mut rows: Vec<(String, bool, Option<BreakerState>)> = model
        .providers_of(state.app)
        .iter()
        .map(|p| (p.name.clone(), p.enabled, breaker(&p.name)))
        .collect();
    if rows.is_empty()
        && let Some(active) = &state.provider
    {
        rows.push((active.clone(), true, breaker(active)));
    }
    if rows.is_empty() {
        return vec![Line::styled(
            "providers none (add one with the CLI)",
            theme.dim(),
        )];
    }
    let mut lines = vec![Line::styled("providers", theme.dim())];
    for (name, enabled, breaker) in rows {
        let active = state.provider.as_deref() == Some(name.as_str());
        let mut spans = vec![
            Span::raw(if active { "  ▸ " } else { "    " }),
            Span::styled(
                format!("{name:<12}"),
                if active {
                    theme.bold()
                } else {
                    Default::default()
                },
            ),
        ];
        match breaker {
            Some(b) => spans.push(Span::styled(
                format!(" {}", format::breaker_word(b)),
                theme.severity(format::breaker_severity(b)),
            )),
            None => spans.push(Span::styled(" –", theme.dim())),
        }
        if !enabled {
            spans.push(Span::styled(" (disabled)", theme.dim()));
        }
        lines.push(Line::from(spans));
    }
    lines
}
