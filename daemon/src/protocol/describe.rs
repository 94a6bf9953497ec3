//! One-line, human-readable descriptions of events, shared by `switchyard
//! events` and the dashboard's event pane.

use std::fmt;

use super::state::{BreakerState, EventKind};

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventKind::*;
        match self {
            AppEnabled {
                app,
                takeover: true,
            } => write!(f, "{app}: enabled (with takeover)"),
            AppEnabled { app, .. } => write!(f, "{app}: enabled"),
            AppDisabled { app } => write!(f, "{app}: disabled"),
            PortChanged { app, port } => write!(f, "{app}: port is now {port}"),
            PortConflict { app, message, .. } => write!(f, "{app}: {message}"),
            WorkerStarting { app } => write!(f, "{app}: worker starting"),
            WorkerReady { app, pid } => write!(f, "{app}: worker ready (pid {pid})"),
            WorkerExited { app, exit } => {
                write!(
                    f,
                    "{app}: worker {} exited ({}",
                    exit.pid,
                    exit.reason.as_str()
                )?;
                if let Some(code) = exit.code {
                    write!(f, ", code {code}")?;
                }
                if let Some(signal) = exit.signal {
                    write!(f, ", signal {signal}")?;
                }
                f.write_str(")")
            }
            WorkerBackoff {
                app,
                attempt,
                delay_ms,
            } => {
                write!(f, "{app}: restart #{attempt} in {delay_ms} ms")
            }
            WorkerParked { app, parked } => write!(f, "{app}: parked: {}", parked.reason),
            WorkerHung { app, pid } => write!(f, "{app}: worker {pid} is hung; killing it"),
            WorkerStopping { app } => write!(f, "{app}: worker draining"),
            HealthChanged { app, health } => write!(f, "{app}: health {}", health.as_str()),
            ProviderSelected { app, provider } => write!(
                f,
                "{app}: provider {}",
                provider.as_deref().unwrap_or("(none)")
            ),
            BreakerChanged { app, breakers } => {
                write!(f, "{app}: breakers")?;
                for b in breakers {
                    let state = match b.state {
                        BreakerState::Closed => "closed",
                        BreakerState::Open => "open",
                        BreakerState::HalfOpen => "half-open",
                    };
                    write!(f, " {}={state}", b.provider)?;
                }
                Ok(())
            }
            Traffic { app, traffic } => write!(
                f,
                "{app}: {} requests, {} errors, {} in flight",
                traffic.requests, traffic.errors, traffic.in_flight
            ),
            RequestFinished { app, request: r } => write!(
                f,
                "{app}: {} {} → {} in {} ms via {}",
                r.method,
                r.path,
                r.status,
                r.latency_ms,
                r.provider.as_deref().unwrap_or("-")
            ),
            DaemonStopping => f.write_str("daemon stopping"),
        }
    }
}
