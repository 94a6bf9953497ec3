//! Unit tests of the doctor's verdicts.

use switchyard_daemon::apps::App;
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

/// A login that follows `ANTHROPIC_BASE_URL`, set in the settings file
/// (`file`) or the shell (`env`; the file wins, as in Claude Code).
fn seen(file: Option<&str>, env: Option<&str>) -> Result<Login, String> {
    let (url, source) = match (file, env) {
        (Some(url), _) => (Some(url), "/h/.claude/settings.json"),
        (None, Some(url)) => (Some(url), "$ANTHROPIC_BASE_URL"),
        (None, None) => (None, "/h/.claude/settings.json"),
    };
    Ok(Login {
        mode: "API key ($ANTHROPIC_API_KEY)".into(),
        route: Route::Follows {
            setting: "ANTHROPIC_BASE_URL".into(),
            url: url.map(str::to_owned),
            source: source.into(),
            fix: Fix::Takeover { export: true },
        },
        problem: None,
    })
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
    assert_eq!(checks.len(), 5);
    assert_eq!(
        checks[3].detail,
        "API key ($ANTHROPIC_API_KEY); its requests follow ANTHROPIC_BASE_URL"
    );
    assert_eq!(
        checks[4].detail,
        "/h/.claude/settings.json points at http://127.0.0.1:15721"
    );
}

#[test]
fn not_pointing_or_pointing_elsewhere_fails_the_config_check_with_a_fix() {
    let app = running(App::Claude, 15721);
    let checks = checks(&app, &seen(None, None), true);
    assert_eq!(failed(&checks), ["config"]);
    assert_eq!(
        checks[4].detail,
        "/h/.claude/settings.json does not set ANTHROPIC_BASE_URL, nor does $ANTHROPIC_BASE_URL; run `switchyard enable claude --takeover`, or export ANTHROPIC_BASE_URL=http://127.0.0.1:15721"
    );
    let checks = super::checks(&app, &seen(Some("https://api.anthropic.com"), None), true);
    assert!(
        checks[4]
            .detail
            .contains("points ANTHROPIC_BASE_URL at https://api.anthropic.com, not at the proxy"),
        "{:?}",
        checks[4]
    );
    // A URL written by hand with `localhost` and a slash counts.
    let checks = super::checks(&app, &seen(None, Some("http://localhost:15721/")), true);
    assert_eq!(failed(&checks), Vec::<&str>::new());
    // A setting only config.toml can hold is not offered as an export.
    let codex = Ok(Login {
        mode: "ChatGPT login (/h/.codex/auth.json)".into(),
        route: Route::Follows {
            setting: "openai_base_url".into(),
            url: None,
            source: "/h/.codex/config.toml".into(),
            fix: Fix::Takeover { export: false },
        },
        problem: None,
    });
    let checks = super::checks(&running(App::Codex, 15722), &codex, true);
    assert_eq!(
        checks[4].detail,
        "/h/.codex/config.toml does not set openai_base_url; run `switchyard enable codex --takeover`"
    );
}

#[test]
fn a_login_that_bypasses_the_proxy_fails_while_the_app_is_enabled() {
    let bedrock = Ok(Login {
        mode: "Amazon Bedrock ($CLAUDE_CODE_USE_BEDROCK)".into(),
        route: Route::Elsewhere {
            why: "it goes to Bedrock".into(),
            fix: "unset CLAUDE_CODE_USE_BEDROCK".into(),
        },
        problem: None,
    });
    let mut app = running(App::Claude, 15721);
    app.takeover = true;
    let checks = checks(&app, &bedrock, true);
    assert_eq!(failed(&checks), ["login"]);
    // No config line: the login says what is wrong and what to do.
    assert_eq!(checks.len(), 4);
    assert_eq!(
        checks[3].detail,
        "Amazon Bedrock ($CLAUDE_CODE_USE_BEDROCK): it goes to Bedrock; unset CLAUDE_CODE_USE_BEDROCK"
    );
    // Disabled, it is only information.
    let checks = super::checks(&AppState::new(App::Claude, false, 15721), &bedrock, false);
    assert_eq!(failed(&checks), Vec::<&str>::new());
}

#[test]
fn a_login_the_cli_refuses_fails_and_its_base_url_is_still_checked() {
    let gateway = Ok(Login {
        mode: "Gemini API key (GEMINI_API_KEY)".into(),
        route: Route::Follows {
            setting: "GOOGLE_GEMINI_BASE_URL".into(),
            url: Some("http://127.0.0.1:15723".into()),
            source: "/h/.gemini/.env".into(),
            fix: Fix::Takeover { export: true },
        },
        problem: Some(Problem {
            why: "taken for gateway".into(),
            fix: "select gemini-api-key".into(),
        }),
    });
    let checks = checks(&running(App::Gemini, 15723), &gateway, true);
    assert_eq!(failed(&checks), ["login"]);
    assert_eq!(
        checks[3].detail,
        "Gemini API key (GEMINI_API_KEY): taken for gateway; select gemini-api-key"
    );
    // Disabled: only the setting left pointing at the closed port matters.
    let checks = super::checks(&AppState::new(App::Gemini, false, 15723), &gateway, false);
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
    assert_eq!((checks.len(), failed(&checks)), (2, vec![]));
    let checks = super::checks(&app, &seen(Some("http://127.0.0.1:15721"), None), false);
    assert_eq!(failed(&checks), ["config"]);
    assert!(checks[1].detail.contains("claude is disabled"));
    let broken = Err("/h/.claude/settings.json: not valid JSON".to_owned());
    assert_eq!(
        failed(&super::checks(&app, &broken, false)),
        Vec::<&str>::new()
    );
    // Enabled, a file the doctor cannot read is a problem.
    let checks = super::checks(&running(App::Claude, 15721), &broken, true);
    assert_eq!(failed(&checks), ["config"]);
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
