//! Human-readable text shared by the CLI and the dashboard: durations,
//! latencies, exits, and the one-line description of every event (its
//! `Display`). One wording everywhere a person reads Switchyard's state.

use std::borrow::Cow;
use std::fmt;

use crate::protocol::state::{BreakerState, EventKind, ExitInfo, NotRecording, WorkerState};

/// `s` with its control characters (line breaks, ESC, …) written as escapes
/// (`\n`, `\u{1b}`): for text a client or a worker supplied, on its way to a
/// log line or a terminal, where it must not forge a line or send a terminal
/// escape sequence. Borrowed when there is nothing to escape.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `not recording: disk full; 12 records dropped; proxies still serve…`: the
/// banner's words; `NotRecording::detail` has the file and what to do.
pub fn not_recording(not: &NotRecording) -> String {
    let mut text = format!("not recording: {}", clean(&not.reason));
    if not.dropped > 0 {
        text.push_str(&format!(
            "; {} {} dropped",
            not.dropped,
            plural(not.dropped, "record")
        ));
    }
    text.push_str("; proxies still serve, records wait in memory");
    text
}

/// `45s`, `12m 05s`, `3h 12m`, `2d 04h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A countdown: tenths below ten seconds (`2.4s`), else as [`duration`].
pub fn countdown(ms: u64) -> String {
    if ms < 10_000 {
        format!("{}.{}s", ms / 1000, ms % 1000 / 100)
    } else {
        duration(ms)
    }
}

/// A request's latency: `850ms`, `1.2s`, `2m 03s`.
pub fn latency(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{}.{}s", ms / 1000, ms % 1000 / 100),
        _ => duration(ms),
    }
}

/// `crashed (code 1)` / `hung (signal 9)`.
pub fn exit(exit: &ExitInfo) -> String {
    let how = match (exit.code, exit.signal) {
        (Some(code), _) => format!(" (code {code})"),
        (None, Some(signal)) => format!(" (signal {signal})"),
        (None, None) => String::new(),
    };
    format!("{}{how}", exit.reason.as_str())
}

/// Who served a request: the provider, and the route an official provider
/// took — `openai · chatgpt`, `anthropic · oauth`, or just `backup`.
pub fn served_by(provider: &str, route: Option<&str>) -> String {
    match route {
        Some(route) => format!("{} · {}", clean(provider), clean(route)),
        None => clean(provider).into_owned(),
    }
}

/// A worker state's word for people, the same in `status` and the
/// dashboard: a disabled, stopped app reads `off`, an enabled one that cannot
/// bind its port `no port` (JSON keeps the machine word, `stopped`).
pub fn state_word(state: WorkerState, enabled: bool, port_error: bool) -> &'static str {
    match state {
        WorkerState::Stopped if enabled && port_error => "no port",
        WorkerState::Stopped if !enabled => "off",
        other => other.as_str(),
    }
}

pub fn breaker(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half-open",
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventKind::*;
        match self {
            AppEnabled {
                app,
                takeover: true,
            } => write!(f, "{app} enabled (takeover)"),
            AppEnabled { app, .. } => write!(f, "{app} enabled"),
            AppDisabled { app } => write!(f, "{app} disabled"),
            PortChanged { app, port } => write!(f, "{app} port set to {port}"),
            PortConflict { app, port, message } => {
                write!(f, "{app} cannot bind port {port}: {}", clean(message))
            }
            WorkerStarting { app } => write!(f, "{app} worker starting"),
            WorkerReady { app, pid } => write!(f, "{app} worker ready (pid {pid})"),
            WorkerExited { app, exit: info } => {
                write!(f, "{app} worker {} exited: {}", info.pid, exit(info))
            }
            WorkerBackoff {
                app,
                attempt,
                delay_ms,
            } => write!(
                f,
                "{app} restarting in {} (attempt {attempt})",
                countdown(*delay_ms)
            ),
            WorkerParked { app, parked } => write!(f, "{app} parked: {}", clean(&parked.reason)),
            WorkerHung { app, pid } => write!(f, "{app} worker {pid} hung (no heartbeat)"),
            WorkerStopping { app } => write!(f, "{app} worker stopping"),
            HealthChanged { app, health } => write!(f, "{app} health {}", health.as_str()),
            ProviderSelected {
                app,
                provider: Some(name),
            } => {
                write!(f, "{app} now sends requests to {}", clean(name))
            }
            ProviderSelected {
                app,
                provider: None,
            } => write!(f, "{app} has no provider"),
            BreakerChanged { app, breakers } => {
                write!(f, "{app} breakers:")?;
                for (i, b) in breakers.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{} {}", clean(&b.provider), breaker(b.state))?;
                }
                Ok(())
            }
            Failover {
                app,
                provider,
                reason,
            } => write!(
                f,
                "{app} failed over from {}: {}",
                clean(provider),
                clean(reason)
            ),
            Traffic { app, traffic } => write!(
                f,
                "{app} traffic: {} {}, {} {}, {} in flight",
                traffic.requests,
                plural(traffic.requests, "request"),
                traffic.errors,
                plural(traffic.errors, "error"),
                traffic.in_flight
            ),
            RequestsFinished { app, requests, .. } => match requests.as_slice() {
                // As the journal keeps it.
                [] => write!(f, "{app} requests finished (see `switchyard requests`)"),
                [request] => {
                    write!(
                        f,
                        "{app} {} {} → {} in {}",
                        clean(&request.method),
                        clean(&request.path),
                        request.status.map_or("-".to_owned(), |s| s.to_string()),
                        latency(request.latency_ms)
                    )?;
                    if request.outcome != crate::protocol::requests::Outcome::Ok {
                        write!(f, " ({})", request.outcome.as_str())?;
                    }
                    if let Some(provider) = &request.provider {
                        write!(f, " via {}", served_by(provider, request.route.as_deref()))?;
                    }
                    match request.failovers.len() {
                        0 => {}
                        1 => f.write_str(" after 1 failover")?,
                        n => write!(f, " after {n} failovers")?,
                    }
                    match (request.tokens.input, request.tokens.output) {
                        (Some(i), Some(o)) => write!(f, ", {i} in / {o} out tokens"),
                        _ => Ok(()),
                    }
                }
                many => {
                    let errors = many.iter().filter(|r| r.outcome.is_error()).count();
                    write!(
                        f,
                        "{app} {} {} finished, {errors} not ok",
                        many.len(),
                        plural(many.len() as u64, "request")
                    )
                }
            },
            UsageDay { .. } => f.write_str("a new day: today's usage starts from zero"),
            ProvidersChanged { app, providers } => {
                write!(f, "{app} providers:")?;
                if providers.is_empty() {
                    return f.write_str(" none");
                }
                for (i, p) in providers.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{} ({})", clean(&p.name), clean(&p.auth))?;
                }
                Ok(())
            }
            TakeoverWaiting { app, waiting: true } => write!(
                f,
                "{app} takeover waits: its files are pointed once the proxy serves the port"
            ),
            TakeoverWaiting {
                app,
                waiting: false,
            } => write!(f, "{app} takeover no longer waits for the port"),
            DaemonStopping => f.write_str("daemon stopping"),
            RecordingChanged {
                not_recording: Some(not),
            } => write!(f, "daemon {}", not_recording(not)),
            RecordingChanged {
                not_recording: None,
            } => f.write_str("daemon recording again: what was held in memory is written"),
            AcceptChanged { error: Some(error) } => {
                write!(f, "daemon cannot accept connections: {}", clean(error))
            }
            AcceptChanged { error: None } => f.write_str("daemon accepting connections again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(45_900), "45s");
        assert_eq!(duration(725_000), "12m 05s");
        assert_eq!(duration(3 * 3_600_000 + 12 * 60_000), "3h 12m");
        assert_eq!(duration(2 * 86_400_000 + 4 * 3_600_000), "2d 04h");
        assert_eq!(countdown(2_450), "2.4s");
        assert_eq!(latency(850), "850ms");
        assert_eq!(latency(1_250), "1.2s");
        assert_eq!(served_by("openai", Some("chatgpt")), "openai · chatgpt");
        assert_eq!(served_by("backup", None), "backup");
    }

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(clean("claude-cli 1.0"), Cow::Borrowed(_)));
        assert_eq!(clean("a\nb\u{1b}[31mc\r"), "a\\nb\\u{1b}[31mc\\r");
        assert!(!clean("x\u{7}\u{9b}y").chars().any(char::is_control));
    }
}
