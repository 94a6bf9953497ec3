//! The doctor's verdicts, as pure functions of what it observed: the app's
//! state from the daemon, what the CLI's configuration says, and whether the
//! port accepted a connection.

use std::path::PathBuf;

use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::state::{AppState, BreakerState, Health, WorkerState};
use switchyard_daemon::takeover;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub what: &'static str,
    pub detail: String,
}

impl Check {
    fn new(ok: bool, what: &'static str, detail: String) -> Check {
        Check { ok, what, detail }
    }
}

/// What the CLI's own configuration says.
#[derive(Debug, Clone)]
pub struct ConfigSeen {
    pub path: PathBuf,
    /// The URL the file points the CLI at, or why it could not be read.
    pub file: Result<Option<String>, String>,
    /// The CLI's base-URL variable in this shell, if set.
    pub env: Option<String>,
}

/// The environment variable each CLI also takes its base URL from.
pub fn env_var(app: App) -> &'static str {
    match app {
        App::Claude => "ANTHROPIC_BASE_URL",
        App::Codex => "OPENAI_BASE_URL",
        App::Gemini => "GOOGLE_GEMINI_BASE_URL",
    }
}

/// Every check for one app. A disabled app is only checked for a
/// configuration still pointing at its closed port.
pub fn checks(app: &AppState, seen: &ConfigSeen, reachable: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    if app.enabled {
        checks.push(worker(app));
        checks.push(port(app, reachable));
        checks.push(providers(app));
    }
    checks.push(config(app, seen));
    checks
}

fn worker(app: &AppState) -> Check {
    let running = app.state == WorkerState::Running;
    let mut detail = format!("{}, health {}", app.state.as_str(), app.health.as_str());
    if let Some(pid) = app.pid {
        detail.push_str(&format!(" (pid {pid})"));
    }
    if let Some(parked) = &app.parked {
        detail.push_str(&format!(
            ": {}; recover with `switchyard restart {}`",
            parked.reason, app.app
        ));
    }
    Check::new(running && app.health == Health::Ok, "worker", detail)
}

fn port(app: &AppState, reachable: bool) -> Check {
    let detail = match (&app.port_error, reachable) {
        (Some(error), _) => error.clone(),
        (None, true) => format!("127.0.0.1:{} accepts connections", app.port),
        (None, false) => format!("nothing accepts connections on 127.0.0.1:{}", app.port),
    };
    Check::new(reachable && app.port_error.is_none(), "port", detail)
}

/// Whether requests have somewhere to go: a usable provider, whose breakers
/// are closed.
fn providers(app: &AppState) -> Check {
    if app.provider.is_none() {
        let detail = format!(
            "none usable, so requests get 502; add one with `switchyard provider add {} NAME --base-url URL` (or set the missing key)",
            app.app
        );
        return Check::new(false, "providers", detail);
    }
    let tripped: Vec<String> = app
        .breakers
        .iter()
        .filter(|b| b.state != BreakerState::Closed)
        .map(|b| {
            let state = if b.state == BreakerState::Open {
                "open"
            } else {
                "half-open"
            };
            format!("{} {state}", b.provider)
        })
        .collect();
    if tripped.is_empty() {
        Check::new(true, "breakers", "all closed".into())
    } else {
        let detail = format!(
            "{} (the provider is failing; requests fail over)",
            tripped.join(", ")
        );
        Check::new(false, "breakers", detail)
    }
}

fn config(app: &AppState, seen: &ConfigSeen) -> Check {
    let name = app.app;
    let var = env_var(name);
    let path = seen.path.display();
    let file = match &seen.file {
        Ok(url) => url.clone(),
        Err(error) => return Check::new(!app.enabled, "config", error.clone()),
    };
    let env = seen.env.clone().filter(|v| !v.is_empty());
    // Which setting the CLI obeys: Gemini CLI's .env never overrides the
    // shell; the other two CLIs' files win over it.
    let (url, source) = match (file, env) {
        (Some(_), Some(env)) if name == App::Gemini => (Some(env), format!("${var} in this shell")),
        (Some(url), _) => (Some(url), path.to_string()),
        (None, Some(env)) => (Some(env), format!("${var} in this shell")),
        (None, None) => (None, path.to_string()),
    };
    let proxy = takeover::proxy_url(app.port);
    let pointing = url
        .as_deref()
        .is_some_and(|u| takeover::points_at(u, app.port));
    let fix = format!("run `switchyard enable {name} --takeover`, or export {var}={proxy}");
    let (ok, detail) = match (app.enabled, pointing, url) {
        (true, true, _) => (true, format!("{source} points at {proxy}")),
        (true, false, Some(other)) => (
            false,
            format!("{source} points at {other}, not at the proxy; {fix}"),
        ),
        (true, false, None) => (
            false,
            format!(
                "{path} does not set {}, nor does ${var}; {fix}",
                takeover::owned_setting(name)
            ),
        ),
        (false, true, _) => (
            false,
            format!(
                "{source} points at {proxy}, but {name} is disabled, so the CLI cannot connect; run `switchyard enable {name}`, or remove the setting"
            ),
        ),
        (false, false, _) => (true, format!("{path} does not point at Switchyard")),
    };
    Check::new(ok, "config", detail)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
