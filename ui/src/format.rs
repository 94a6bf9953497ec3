//! Turning numbers and events into short text: durations, clock times, rates,
//! sparklines, and the one-line rendering of every [`EventKind`].

use switchyard_daemon::protocol::Request;
use switchyard_daemon::protocol::state::{BreakerState, EventKind, Health, WorkerState};
pub use switchyard_daemon::text::{
    breaker as breaker_word, countdown, duration, exit, latency, served_by,
};

use crate::model::Severity;

/// `HH:MM:SS` of a unix-ms instant, shifted by the local UTC offset.
pub fn clock(at_ms: u64, utc_offset_s: i32) -> String {
    let secs = (at_ms / 1000) as i64 + i64::from(utc_offset_s);
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// req/s in at most five characters: `0`, `3.2`, `42`, `1.2k`.
pub fn rate(per_s: f64) -> String {
    if per_s <= 0.0 {
        "0".to_owned()
    } else if per_s < 10.0 {
        format!("{per_s:.1}")
    } else if per_s < 1000.0 {
        format!("{per_s:.0}")
    } else {
        format!("{:.1}k", per_s / 1000.0)
    }
}

/// 1234567 → `1.2 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The newest `width` samples as block characters, scaled to their maximum;
/// padded on the left so the newest is always at the right edge.
pub fn sparkline<'a>(samples: impl DoubleEndedIterator<Item = &'a f64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let mut recent: Vec<f64> = samples.rev().take(width).copied().collect();
    recent.reverse();
    let max = recent.iter().copied().fold(0.0_f64, f64::max);
    let mut out = " ".repeat(width.saturating_sub(recent.len()));
    for value in recent {
        if max <= 0.0 || value <= 0.0 {
            out.push(' ');
        } else {
            let level = ((value / max) * 7.0).round() as usize;
            out.push(BARS[level.min(7)]);
        }
    }
    out
}

/// The symbol shown before a worker state (`port_error`: the port could not
/// be bound, which says more than `stopped`).
pub fn state_symbol(state: WorkerState, enabled: bool, port_error: bool) -> &'static str {
    match state {
        WorkerState::Stopped if enabled && port_error => "✖",
        WorkerState::Running => "●",
        WorkerState::Starting => "◐",
        WorkerState::Stopping => "◑",
        WorkerState::Backoff => "↻",
        WorkerState::Parked => "■",
        WorkerState::Stopped if enabled => "◌",
        WorkerState::Stopped => "○",
    }
}

pub use switchyard_daemon::text::state_word;

/// Dollars from nano-USD, short: `$0.31`, `$12.40`, `$1.2k`.
pub fn usd(nano: u64) -> String {
    let dollars = nano as f64 / 1e9;
    if dollars >= 1000.0 {
        format!("${:.1}k", dollars / 1000.0)
    } else {
        format!("${dollars:.2}")
    }
}

/// A count in at most five characters: `950`, `12.3k`, `4.1M`.
pub fn count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=99_999 => format!("{:.1}k", n as f64 / 1e3),
        100_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `text` cut to `width` terminal columns, ending in `…` when it was cut.
pub fn ellipsize(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(text) <= width {
        return text.into();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out.into()
}

pub fn state_severity(state: WorkerState, enabled: bool, port_error: bool) -> Severity {
    match state {
        WorkerState::Stopped if enabled && port_error => Severity::Bad,
        WorkerState::Running => Severity::Good,
        WorkerState::Starting | WorkerState::Stopping | WorkerState::Backoff => Severity::Warn,
        WorkerState::Parked => Severity::Bad,
        WorkerState::Stopped if enabled => Severity::Warn,
        WorkerState::Stopped => Severity::Info,
    }
}

pub fn health_severity(health: Health) -> Severity {
    match health {
        Health::Ok => Severity::Good,
        Health::Degraded => Severity::Warn,
        Health::Down => Severity::Bad,
        Health::Unknown => Severity::Info,
    }
}

pub fn breaker_severity(state: BreakerState) -> Severity {
    match state {
        BreakerState::Closed => Severity::Good,
        BreakerState::HalfOpen => Severity::Warn,
        BreakerState::Open => Severity::Bad,
    }
}

/// One event as one readable line (the shared wording), and how alarming it is.
pub fn event(kind: &EventKind) -> (String, Severity) {
    use EventKind::*;
    use Severity::*;
    let severity = match kind {
        AppEnabled { .. } | WorkerReady { .. } => Good,
        PortConflict { .. } | WorkerParked { .. } | WorkerHung { .. } => Bad,
        RecordingChanged {
            not_recording: Some(_),
        }
        | AcceptChanged { error: Some(_) } => Bad,
        RecordingChanged {
            not_recording: None,
        }
        | AcceptChanged { error: None } => Good,
        WorkerExited { exit, .. } if exit.reason.is_failure() => Bad,
        WorkerBackoff { .. }
        | DaemonStopping
        | ProviderSelected { provider: None, .. }
        | Failover { .. } => Warn,
        HealthChanged { health, .. } => health_severity(*health),
        BreakerChanged { breakers, .. }
            if breakers.iter().any(|b| b.state != BreakerState::Closed) =>
        {
            Warn
        }
        RequestsFinished { requests, .. }
            if requests.iter().any(|r| r.status.is_some_and(|s| s >= 500)) =>
        {
            Bad
        }
        _ => Info,
    };
    (kind.to_string(), severity)
}

/// What a request was, for an error in the status line: `restart claude`.
pub fn request(request: &Request) -> String {
    match request {
        Request::Ping => "ping".to_owned(),
        Request::Status => "status".to_owned(),
        Request::Shutdown => "stop the daemon".to_owned(),
        Request::Enable { app, .. } => format!("enable {app}"),
        Request::Disable { app } => format!("disable {app}"),
        Request::Restart { app } => format!("restart {app}"),
        Request::SetPort { app, port } => format!("move {app} to port {port}"),
        Request::ProviderList { app: Some(app) } => format!("list {app}'s providers"),
        Request::ProviderList { app: None } => "list providers".to_owned(),
        Request::ProviderAdd(spec) => format!("add provider {}", spec.name),
        Request::ProviderRemove { app, name } => format!("remove {app}'s provider {name}"),
        Request::ProviderUse { app, name } => format!("switch {app} to {name}"),
        Request::ProviderPresets { .. } => "list provider presets".to_owned(),
        Request::Subscribe { .. } => "subscribe".to_owned(),
        Request::SubscribeLogs => "stream the log".to_owned(),
        Request::Requests(_) => "read the request history".to_owned(),
        Request::Usage(_) => "read usage".to_owned(),
        Request::RequestDetail(_) => "read the request's headers".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_wraps_days_and_applies_the_offset() {
        assert_eq!(clock(1_700_000_000_000, 0), "22:13:20");
        assert_eq!(clock(1_700_000_000_000, 3600), "23:13:20");
        assert_eq!(clock(1_700_000_000_000, 2 * 3600), "00:13:20");
    }

    #[test]
    fn rates_and_sparklines() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(3.24), "3.2");
        assert_eq!(rate(42.4), "42");
        assert_eq!(rate(1234.0), "1.2k");
        let samples = [0.0, 1.0, 2.0, 4.0];
        assert_eq!(sparkline(samples.iter(), 6), "   ▃▅█");
        assert_eq!(sparkline(samples.iter(), 2), "▅█");
        assert_eq!(sparkline([].iter(), 3), "   ");
        assert_eq!(bytes(1_234_567), "1.2 MB");
        assert_eq!(bytes(999), "999 B");
    }
}
