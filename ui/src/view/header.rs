//! The top line (daemon pid, version, uptime, connection state) and the banner
//! shown under it while the daemon is starting, stopping or gone, or cannot
//! do part of its job (not recording, out of descriptors).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use switchyard_daemon::text;

use super::Theme;
use crate::format;
use crate::model::{Link, Model, Severity};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut spans = vec![Span::styled(
        " switchyard",
        theme.bold().patch(theme.accent()),
    )];
    if let Some(snapshot) = &model.snapshot {
        let daemon = &snapshot.daemon;
        let up = format::duration(model.uptime_now().saturating_sub(daemon.started_at_ms));
        spans.push(Span::styled(
            format!("  daemon {} · pid {} · up {up}", daemon.version, daemon.pid),
            theme.dim(),
        ));
    }
    let (symbol, word, severity) = link_state(model);
    let state = Line::from(vec![
        Span::raw(" "),
        Span::styled(symbol, theme.severity(severity)),
        Span::raw(format!(" {word} ")),
    ]);
    let state_width = u16::try_from(state.width()).unwrap_or(u16::MAX);
    let [left, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(state_width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(state), right);
}

fn link_state(model: &Model) -> (&'static str, &'static str, Severity) {
    if model.stopping {
        return ("◑", "stopping", Severity::Warn);
    }
    match model.link {
        Link::Connected => ("●", "connected", Severity::Good),
        Link::Connecting => ("◌", "connecting", Severity::Warn),
        Link::Starting => ("◐", "starting daemon", Severity::Warn),
        Link::Lost { .. } => ("○", "disconnected", Severity::Bad),
    }
}

/// The banner's text while the daemon is not (or not yet) there.
pub fn banner(model: &Model) -> Option<(String, Severity)> {
    if model.stopping {
        return Some((
            "stopping the daemon and every proxy…".to_owned(),
            Severity::Warn,
        ));
    }
    let text = match &model.link {
        Link::Connected => return daemon_health(model),
        Link::Connecting => return Some(("connecting to the daemon…".to_owned(), Severity::Info)),
        Link::Starting => return Some(("starting daemon…".to_owned(), Severity::Warn)),
        Link::Lost { .. } if model.start_error.is_some() => {
            let err = model.start_error.as_deref().unwrap_or_default();
            format!("could not start the daemon: {err}; still trying to connect")
        }
        Link::Lost {
            reason,
            retry_in_ms,
        } if model.snapshot.is_some() => format!(
            "daemon gone ({reason}) · reconnecting in {} · actions refused until it is back",
            format::countdown(*retry_in_ms)
        ),
        Link::Lost {
            reason,
            retry_in_ms,
        } => format!(
            "cannot reach the daemon ({reason}); retrying in {}",
            format::countdown(*retry_in_ms)
        ),
    };
    Some((text, Severity::Bad))
}

/// What keeps a connected daemon from doing its whole job, if anything.
fn daemon_health(model: &Model) -> Option<(String, Severity)> {
    let health = &model.snapshot.as_ref()?.health;
    let mut problems = Vec::new();
    if let Some(not) = &health.not_recording {
        problems.push(text::not_recording(not));
    }
    if let Some(error) = &health.accept_error {
        problems.push(format!("cannot accept new connections: {error}"));
    }
    (!problems.is_empty()).then(|| (problems.join(" · "), Severity::Bad))
}

pub fn draw_banner(frame: &mut Frame, area: Rect, text: &str, severity: Severity, theme: &Theme) {
    let line = Line::from(format!(" ⚠ {text}"));
    frame.render_widget(Paragraph::new(line).style(theme.banner(severity)), area);
}
