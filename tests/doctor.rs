//! `switchyard doctor` through the real binary, in a fake `$HOME`: its
//! verdicts and exit codes. (The verdict for an unreachable port, which the
//! daemon's held listener makes hard to provoke, is unit-tested.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::fs;

use common::{Home, free_port};

fn doctor(home: &Home) -> (Option<i32>, String) {
    let out = home.run(&["doctor"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn doctor_passes_a_healthy_taken_over_app_and_fails_one_not_pointed_at() {
    let home = Home::with_user_home();
    home.start();
    home.ok(&["port", "claude", &free_port().to_string()]);
    home.ok(&["port", "codex", &free_port().to_string()]);
    home.ok(&["enable", "claude", "--takeover"]);
    let (code, text) = doctor(&home);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("claude   ok"), "{text}");
    assert!(text.contains("everything looks fine"), "{text}");
    // Codex's proxy runs, but nothing points Codex at it.
    home.ok(&["enable", "codex"]);
    let (code, text) = doctor(&home);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("codex    PROBLEM"), "{text}");
    assert!(text.contains("FAIL  config"), "{text}");
    assert!(
        text.contains("switchyard enable codex --takeover"),
        "{text}"
    );
    assert!(text.contains("1 problem found"), "{text}");
}

#[test]
fn doctor_fails_a_disabled_app_whose_cli_still_points_at_its_port() {
    let home = Home::with_user_home();
    home.start();
    let port = free_port();
    home.ok(&["port", "gemini", &port.to_string()]);
    let dir = home.user().join(".gemini");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(".env"),
        format!("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port}\n"),
    )
    .unwrap();
    let (code, text) = doctor(&home);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("gemini is disabled, so the CLI cannot connect"),
        "{text}"
    );
}

#[test]
fn doctor_without_a_daemon_exits_3() {
    let home = Home::with_user_home();
    let (code, text) = doctor(&home);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("switchyard daemon start"), "{text}");
}
