//! Unit tests of the doctor's verdicts.

use switchyard_daemon::protocol::state::{BreakerStatus, Parked};

use super::*;

fn running(app: App, port: u16) -> AppState {
    let mut state = AppState::new(app, true, port);
    state.state = WorkerState::Running;
    state.health = Health::Ok;
    state.pid = Some(42);
    state.provider = Some("official".into());
    state
}

fn seen(file: Option<&str>, env: Option<&str>) -> ConfigSeen {
    ConfigSeen {
        path: PathBuf::from("/h/.claude/settings.json"),
        file: Ok(file.map(str::to_owned)),
        env: env.map(str::to_owned),
    }
}

fn failed(checks: &[Check]) -> Vec<&'static str> {
    checks.iter().filter(|c| !c.ok).map(|c| c.what).collect()
}

#[test]
fn a_healthy_pointed_app_passes_every_check() {
    let checks = checks(
        &running(App::Claude, 15721),
        &seen(Some("http://127.0.0.1:15721"), None),
        true,
    );
    assert_eq!(failed(&checks), Vec::<&str>::new());
    assert_eq!(checks.len(), 4);
    assert_eq!(
        checks[3].detail,
        "/h/.claude/settings.json points at http://127.0.0.1:15721"
    );
}

#[test]
fn not_pointing_or_pointing_elsewhere_fails_the_config_check_with_a_fix() {
    let app = running(App::Claude, 15721);
    let checks = checks(&app, &seen(None, None), true);
    assert_eq!(failed(&checks), ["config"]);
    assert!(
        checks[3]
            .detail
            .contains("switchyard enable claude --takeover"),
        "{:?}",
        checks[3]
    );
    let checks = super::checks(&app, &seen(Some("https://api.anthropic.com"), None), true);
    assert!(
        checks[3]
            .detail
            .contains("points at https://api.anthropic.com, not at the proxy")
    );
    // The shell's variable counts when the file says nothing.
    let checks = super::checks(&app, &seen(None, Some("http://localhost:15721/")), true);
    assert_eq!(failed(&checks), Vec::<&str>::new());
    // Gemini CLI's shell variable beats its .env file.
    let checks = super::checks(
        &running(App::Gemini, 15723),
        &seen(Some("http://127.0.0.1:15723"), Some("https://other")),
        true,
    );
    assert_eq!(failed(&checks), ["config"]);
}

#[test]
fn an_unreachable_port_a_sick_worker_and_open_breakers_fail() {
    let mut app = running(App::Codex, 15722);
    app.state = WorkerState::Parked;
    app.health = Health::Down;
    app.parked = Some(Parked {
        reason: "crashed 5 times".into(),
        stderr_tail: Vec::new(),
    });
    app.breakers = vec![
        BreakerStatus {
            provider: "openai".into(),
            state: BreakerState::Open,
        },
        BreakerStatus {
            provider: "backup".into(),
            state: BreakerState::Closed,
        },
    ];
    let checks = checks(&app, &seen(Some("http://127.0.0.1:15722"), None), false);
    assert_eq!(failed(&checks), ["worker", "port", "breakers"]);
    assert!(checks[0].detail.contains("switchyard restart codex"));
    assert_eq!(
        checks[1].detail,
        "nothing accepts connections on 127.0.0.1:15722"
    );
    assert!(checks[2].detail.starts_with("openai open"));
}

#[test]
fn a_disabled_app_fails_only_if_its_cli_still_points_at_the_closed_port() {
    let app = AppState::new(App::Claude, false, 15721);
    let checks = checks(&app, &seen(None, None), false);
    assert_eq!((checks.len(), failed(&checks)), (1, vec![]));
    let checks = super::checks(&app, &seen(Some("http://127.0.0.1:15721"), None), false);
    assert_eq!(failed(&checks), ["config"]);
    assert!(checks[0].detail.contains("claude is disabled"));
    let mut broken = seen(None, None);
    broken.file = Err("settings.json, line 2: not valid JSON".into());
    assert_eq!(
        failed(&super::checks(&app, &broken, false)),
        Vec::<&str>::new()
    );
}

#[test]
fn an_app_without_a_usable_provider_says_how_to_add_one() {
    let mut app = running(App::Codex, 15722);
    app.provider = None;
    app.health = Health::Down;
    let checks = checks(&app, &seen(Some("http://127.0.0.1:15722"), None), true);
    assert_eq!(failed(&checks), ["worker", "providers"]);
    assert!(
        checks[2]
            .detail
            .contains("switchyard provider add codex NAME --base-url URL"),
        "{:?}",
        checks[2]
    );
}
