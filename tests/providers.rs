//! Providers through the CLI: validation writes nothing on bad input, the
//! order decides where requests go first, and `use` switches it live.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::time::Duration;

use common::upstream::MockUpstream;
use common::{Home, free_port, http, wait_for};

fn names(home: &Home, app: &str) -> Vec<String> {
    let out = home.ok(&["provider", "list", app, "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let home = Home::new();
    home.start();
    let before = names(&home, "claude");
    for (args, needle) in [
        (
            vec!["provider", "add", "claude", "x", "--base-url", "not a url"],
            "not a valid base URL",
        ),
        (
            vec!["provider", "add", "claude", "x", "--base-url", "ftp://h"],
            "http:// or https://",
        ),
        (
            vec![
                "provider",
                "add",
                "claude",
                "bad name",
                "--base-url",
                "https://h",
            ],
            "not a valid provider name",
        ),
        (
            vec!["provider", "remove", "claude", "nope"],
            "no provider named",
        ),
        (
            vec!["provider", "use", "claude", "nope"],
            "no provider named",
        ),
    ] {
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = home.run(&["provider", "add", "vim", "x", "--base-url", "https://h"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown app is a usage error"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("possible values: claude, codex, gemini")
    );
    assert_eq!(names(&home, "claude"), before);
}

#[test]
fn use_moves_traffic_to_the_chosen_provider_live() {
    let first = MockUpstream::start();
    let second = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", first.port);
    home.ok(&[
        "provider",
        "add",
        "claude",
        "second",
        "--base-url",
        &format!("http://127.0.0.1:{}", second.port),
    ]);
    assert_eq!(names(&home, "claude"), ["mock", "anthropic", "second"]);
    home.ok(&["enable", "claude"]);
    assert_eq!(http(port, "GET", "/a", "").unwrap().0, 200);
    assert_eq!(first.hits.load(std::sync::atomic::Ordering::Relaxed), 1);

    home.ok(&["provider", "use", "claude", "second"]);
    assert_eq!(names(&home, "claude")[0], "second");
    assert_eq!(home.app("claude")["provider"], "second");
    assert_eq!(http(port, "GET", "/b", "").unwrap().0, 200);
    assert_eq!(
        second.hits.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the running worker got the new order"
    );
    assert_eq!(first.hits.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn a_stored_key_is_injected_and_never_shown() {
    let upstream = MockUpstream::start();
    let home = Home::new().env("BENCH_KEY_VAR", "sk-from-env");
    home.start();
    let port = common::free_port();
    home.ok(&["port", "claude", &port.to_string()]);
    home.ok(&[
        "provider",
        "add",
        "claude",
        "keyed",
        "--base-url",
        &format!("http://127.0.0.1:{}", upstream.port),
        "--key-env",
        "BENCH_KEY_VAR",
        "--priority",
        "-5",
    ]);
    home.ok(&["enable", "claude"]);
    let (status, body) = http(port, "POST", "/v1/messages", "{}").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(r#""x_api_key":"sk-from-env""#),
        "the key from the daemon's environment is injected: {body}"
    );
    let listing = home.ok(&["provider", "list", "claude"]);
    assert!(listing.contains("env:BENCH_KEY_VAR"));
    assert!(!listing.contains("sk-from-env"));
}

#[test]
fn use_and_remove_say_when_the_order_is_not_what_it_looks_like() {
    let home = Home::new();
    home.start();
    home.ok(&[
        "provider",
        "add",
        "codex",
        "keyed",
        "--base-url",
        "http://127.0.0.1:9",
        "--key-env",
        "SWITCHYARD_TEST_NEVER_SET",
    ]);
    let used = home.ok(&["provider", "use", "codex", "keyed"]);
    assert!(
        used.contains("skipped") && used.contains("requests go to openai first"),
        "{used}"
    );
    assert_eq!(home.app("codex")["provider"], "openai");

    home.ok(&["provider", "remove", "codex", "keyed"]);
    let removed = home.ok(&["provider", "remove", "codex", "openai"]);
    assert!(removed.contains("no usable provider left"), "{removed}");
}

/// The worker keeps one breaker per provider, whichever client connection a
/// failure came on: three failed attempts (the default threshold), each on a
/// connection of its own, open it, and `status` says the provider is skipped.
/// (A worker with a proxy per core once kept a breaker per thread, and needed
/// up to three failures on every thread.)
#[test]
fn three_failures_on_three_connections_open_the_one_breaker_and_status_says_so() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    // Nothing listens there: every attempt is refused, then failed over.
    let dead = free_port();
    home.ok(&[
        "provider",
        "add",
        "claude",
        "dead",
        "--base-url",
        &format!("http://127.0.0.1:{dead}"),
        "--priority",
        "-20",
    ]);
    home.ok(&["enable", "claude"]);
    for _ in 0..3 {
        // `http` opens a new connection for every request.
        assert_eq!(http(port, "GET", "/x", "").unwrap().0, 200, "failed over");
    }
    wait_for(
        "status to show the open breaker after three failures",
        Duration::from_secs(10),
        || {
            String::from_utf8_lossy(&home.run(&["status"]).stdout)
                .contains("dead (breaker open: skipped)")
        },
    );
}

/// Issue 16, bug 4: adding a name that exists is refused with a hint and
/// changes nothing; `--replace` changes it in place, keeps its place in the
/// order and says "replaced".
#[test]
fn an_existing_name_is_refused_or_replaced_in_place_never_moved() {
    let home = Home::new();
    home.start();
    home.ok(&[
        "provider",
        "add",
        "claude",
        "second",
        "--base-url",
        "https://two.example",
    ]);
    let before = names(&home, "claude");
    assert_eq!(before, ["anthropic", "second"]);

    let out = home.run(&[
        "provider",
        "add",
        "claude",
        "anthropic",
        "--base-url",
        "https://other.example",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already has a provider named anthropic"),
        "{err}"
    );
    assert!(err.contains("--replace"), "{err}");
    assert_eq!(names(&home, "claude"), before, "nothing moved");

    let out = home.ok(&[
        "provider",
        "add",
        "claude",
        "anthropic",
        "--base-url",
        "https://other.example",
        "--replace",
    ]);
    assert!(
        out.contains("provider anthropic replaced in claude"),
        "{out}"
    );
    assert_eq!(names(&home, "claude"), before, "its place is kept");
    let list: serde_json::Value =
        serde_json::from_str(&home.ok(&["provider", "list", "claude", "--json"])).unwrap();
    assert_eq!(list[0]["base_url"], "https://other.example");
}

/// Issue 16: `enable`, `disable` and `restart` take several apps; each is
/// answered, and one that fails makes the exit code 1 after all were tried.
#[test]
fn enable_disable_and_restart_take_several_apps() {
    let home = Home::new();
    home.start();
    home.ok(&["port", "claude", &free_port().to_string()]);
    home.ok(&["port", "codex", &free_port().to_string()]);
    let out = home.ok(&["enable", "claude", "codex"]);
    assert!(
        out.contains("claude enabled") && out.contains("codex enabled"),
        "{out}"
    );
    for app in ["claude", "codex"] {
        assert_eq!(home.app(app)["state"], "running", "{app}");
    }
    let out = home.ok(&["restart", "claude", "codex"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = home.run(&["restart", "gemini", "claude"]);
    assert_eq!(out.status.code(), Some(1), "gemini is disabled");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("claude"),
        "{out:?}"
    );
    home.ok(&["disable", "claude", "codex"]);
    for app in ["claude", "codex"] {
        assert_eq!(home.app(app)["enabled"], false, "{app}");
    }
}
