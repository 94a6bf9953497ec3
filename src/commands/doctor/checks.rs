//! The doctor's verdicts, as pure functions of what it observed: the app's
//! state from the daemon, the CLI's login and where its requests go
//! (`login.rs`), and whether the port accepted a connection.

use switchyard_daemon::protocol::state::{AppState, BreakerState, Health, WorkerState};
use switchyard_daemon::takeover;

use super::login::{Fix, Login, Problem, Route};

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

/// Every check for one app: `login` is the CLI's login and route, or why
/// its files could not be read. A disabled app is only checked for a
/// configuration still pointing at its closed port.
pub fn checks(app: &AppState, login: &Result<Login, String>, reachable: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    if app.enabled {
        checks.push(worker(app));
        checks.push(port(app, reachable));
        checks.push(providers(app));
    }
    match login {
        Err(error) => checks.push(Check::new(!app.enabled, "config", error.clone())),
        Ok(login) => {
            checks.push(login_check(app, login));
            if let Route::Follows { .. } = login.route {
                checks.push(config(app, &login.route));
            }
        }
    }
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

/// Whether the CLI's current login reaches the proxy at all. A login that
/// never follows a base URL Switchyard sets fails while the app is enabled
/// (the proxy runs, and the CLI goes around it), and so does one the CLI
/// will refuse to run with.
fn login_check(app: &AppState, login: &Login) -> Check {
    match (&login.route, &login.problem) {
        (_, Some(Problem { why, fix })) if app.enabled => {
            Check::new(false, "login", format!("{}: {why}; {fix}", login.mode))
        }
        (Route::Follows { setting, .. }, _) => Check::new(
            true,
            "login",
            format!("{}; its requests follow {setting}", login.mode),
        ),
        (Route::Elsewhere { why, fix }, _) if app.enabled => {
            Check::new(false, "login", format!("{}: {why}; {fix}", login.mode))
        }
        (Route::Elsewhere { why, .. }, _) => {
            Check::new(true, "login", format!("{}: {why}", login.mode))
        }
    }
}

/// Whether the setting the login follows points at the proxy.
fn config(app: &AppState, route: &Route) -> Check {
    let Route::Follows {
        setting,
        url,
        source,
        fix,
    } = route
    else {
        return Check::new(true, "config", String::new());
    };
    let name = app.app;
    let proxy = takeover::proxy_url(app.port);
    let pointing = url
        .as_deref()
        .is_some_and(|u| takeover::points_at(u, app.port));
    let export = *fix != Fix::Takeover { export: false };
    let fix = match fix {
        Fix::Takeover { export: true } => {
            format!("run `switchyard enable {name} --takeover`, or export {setting}={proxy}")
        }
        Fix::Takeover { export: false } => format!("run `switchyard enable {name} --takeover`"),
        Fix::ByHand => format!("set {setting}={proxy} in that file, or export it"),
    };
    let (ok, detail) = match (app.enabled, pointing, url) {
        (true, true, _) => (true, format!("{source} points at {proxy}")),
        (true, false, Some(other)) => (
            false,
            format!("{source} points {setting} at {other}, not at the proxy; {fix}"),
        ),
        (true, false, None) => {
            let nor = if export {
                format!(", nor does ${setting}")
            } else {
                String::new()
            };
            (
                false,
                format!("{source} does not set {setting}{nor}; {fix}"),
            )
        }
        (false, true, _) => (
            false,
            format!(
                "{source} points at {proxy}, but {name} is disabled, so the CLI cannot connect; run `switchyard enable {name}`, or remove the setting"
            ),
        ),
        (false, false, _) => (true, format!("{source} does not point at Switchyard")),
    };
    Check::new(ok, "config", detail)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
