//! `switchyard status [--json]`: the daemon and every app. The JSON shape is
//! part of the command-line contract in DESIGN.md.

use std::process::ExitCode;

use color_eyre::eyre::Result;
use serde_json::{Value, json};
use switchyard_daemon::lifecycle::{self, Probe};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::state::{AppState, BreakerState, Snapshot};
use switchyard_daemon::protocol::{Reply, Request};
use switchyard_daemon::store::now_ms;
use switchyard_daemon::text;
use switchyard_daemon::usage::report;

use super::EXIT_NOT_RUNNING;

/// The daemon's part of a status report.
pub struct DaemonView {
    pub json: Value,
    pub line: String,
    pub snapshot: Option<Snapshot>,
}

pub async fn daemon_view(paths: &Paths, probe: Probe) -> Result<DaemonView> {
    let socket = paths.socket().display().to_string();
    Ok(match probe {
        Probe::Running(mut client) => {
            let snapshot = match client.request(Request::Status).await? {
                Reply::Status(snapshot) => *snapshot,
                other => color_eyre::eyre::bail!("unexpected reply to status: {other:?}"),
            };
            let info = &snapshot.daemon;
            let uptime_s = now_ms().saturating_sub(info.started_at_ms) / 1000;
            let health = &snapshot.health;
            let mut line = format!(
                "daemon: running (pid {}, version {}, up {}) on {}",
                info.pid,
                info.version,
                text::duration(uptime_s * 1000),
                info.socket
            );
            if let Some(not) = &health.not_recording {
                line.push_str(&format!(
                    "\n        ! {}\n          ({})",
                    text::not_recording(not),
                    text::clean(&not.detail)
                ));
            }
            if let Some(error) = &health.accept_error {
                line.push_str(&format!(
                    "\n        ! cannot accept new connections: {}",
                    text::clean(error)
                ));
            }
            DaemonView {
                json: json!({"state": "running", "pid": info.pid, "version": info.version,
                    "uptime_s": uptime_s, "socket": info.socket,
                    "not_recording": health.not_recording.as_ref().map(|n| json!({
                        "reason": n.reason, "detail": n.detail, "since_ms": n.since_ms,
                        "dropped": n.dropped,
                    })),
                    "accept_error": health.accept_error}),
                line,
                snapshot: Some(snapshot),
            }
        }
        Probe::Stopped => DaemonView {
            json: json!({"state": "stopped", "pid": null, "version": null, "uptime_s": null, "socket": socket}),
            line: "daemon: stopped (start it with `switchyard daemon start`)".into(),
            snapshot: None,
        },
        Probe::Busy { pid } => DaemonView {
            json: json!({"state": "running", "pid": pid, "version": null, "uptime_s": null, "socket": socket}),
            line: format!(
                "daemon: running (pid {pid}) but not answering: starting up, stopping, or out of descriptors or connections (see `switchyard logs`)"
            ),
            snapshot: None,
        },
        Probe::Stale { pid } => DaemonView {
            json: json!({"state": "stale", "pid": pid, "version": null, "uptime_s": null, "socket": socket}),
            line: format!(
                "daemon: stale (pid {} is gone, its socket or pid file remains; `switchyard daemon start` cleans up)",
                pid.map_or_else(|| "?".to_owned(), |p| p.to_string())
            ),
            snapshot: None,
        },
    })
}

pub async fn run(paths: &Paths, json: bool) -> Result<ExitCode> {
    let probe = lifecycle::probe(paths).await?;
    let busy = matches!(probe, Probe::Busy { .. });
    let view = daemon_view(paths, probe).await?;
    let apps = view
        .snapshot
        .as_ref()
        .map(|s| s.apps.as_slice())
        .unwrap_or(&[]);
    if json {
        let apps: Vec<Value> = apps.iter().map(app_json).collect();
        let out = json!({"daemon": view.json, "apps": apps});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", view.line);
        if !apps.is_empty() {
            println!();
            println!(
                "{:<8} {:<9} {:<6} {:<8} {:<9} {:<8} {:<9} PROVIDER",
                "APP", "STATE", "PORT", "PID", "RESTARTS", "UPTIME", "HEALTH"
            );
        }
        for app in apps {
            println!(
                "{:<8} {:<9} {:<6} {:<8} {:<9} {:<8} {:<9} {}",
                app.app.name(),
                text::state_word(app.state, app.enabled, app.port_error.is_some()),
                app.port,
                app.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                app.restarts,
                uptime_s(app).map_or_else(|| "-".into(), |s| text::duration(s * 1000)),
                app.health.as_str(),
                provider_cell(app),
            );
            if let Some(error) = &app.port_error {
                println!("         ! {}", text::clean(error));
            }
            if app.usage.requests > 0 {
                println!("         today: {}", report::usage_today_line(&app.usage));
            }
            if app.traffic.dropped > 0 {
                println!(
                    "         ! {} finished {} not recorded: the worker's queue to the daemon was full",
                    app.traffic.dropped,
                    if app.traffic.dropped == 1 {
                        "request"
                    } else {
                        "requests"
                    }
                );
            }
            if let Some(parked) = &app.parked {
                println!(
                    "         ! parked: {} (recover: switchyard restart {})",
                    text::clean(&parked.reason),
                    app.app
                );
            }
        }
    }
    Ok(if view.snapshot.is_some() || busy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_RUNNING)
    })
}

fn uptime_s(app: &AppState) -> Option<u64> {
    app.ready_at_ms.map(|at| now_ms().saturating_sub(at) / 1000)
}

fn app_json(app: &AppState) -> Value {
    json!({
        "app": app.app.name(),
        "enabled": app.enabled,
        "takeover": app.takeover,
        "state": app.state.as_str(),
        "port": app.port,
        "pid": app.pid,
        "restarts": app.restarts,
        "uptime_s": uptime_s(app),
        "health": app.health.as_str(),
        "provider": app.provider,
        "route": app.route,
        "error": app.port_error,
        "parked_reason": app.parked.as_ref().map(|p| p.reason.clone()),
        "last_exit": app.last_exit.as_ref().map(|e| json!({
            "pid": e.pid, "code": e.code, "signal": e.signal, "reason": e.reason.as_str(),
        })),
        "dropped_requests": app.traffic.dropped,
        "usage_today": report::usage_today_json(&app.usage),
    })
}

/// The provider requests try first (with the route its last request took:
/// `openai · chatgpt`), and whether its breaker currently sends them on to the
/// next one.
fn provider_cell(app: &AppState) -> String {
    let Some(first) = app.provider.as_deref() else {
        return "-".to_owned();
    };
    let served = text::served_by(first, app.route.as_deref());
    let breaker = app.breakers.iter().find(|b| b.provider == first);
    match breaker.map(|b| b.state) {
        Some(BreakerState::Open) => format!("{served} (breaker open: skipped)"),
        Some(BreakerState::HalfOpen) => format!("{served} (breaker half-open)"),
        _ => served,
    }
}
