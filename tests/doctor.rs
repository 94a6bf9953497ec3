//! `switchyard doctor` through the real binary, in a fake `$HOME`: its
//! verdicts and exit codes, and what it says about each CLI's login. (The
//! verdict for an unreachable port, which the daemon's held listener makes
//! hard to provoke, is unit-tested; that the logins it passes really flow
//! through the proxy is shown with the real CLIs in `tests/e2e/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::fs;
use std::path::Path;

use common::{Home, free_port, login_shell};

fn doctor(home: &Home) -> (Option<i32>, String) {
    doctor_with(home, &[])
}

/// `switchyard doctor` in the fake `$HOME` as the working folder, in a shell
/// whose login variables are `env` (`common::LOGIN_VARS`).
fn doctor_with(home: &Home, env: &[(&str, &str)]) -> (Option<i32>, String) {
    doctor_in(home, &home.user(), env)
}

/// `switchyard doctor` run in the folder `dir`.
fn doctor_in(home: &Home, dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = home.command(&["doctor"]);
    login_shell(&mut cmd, env);
    cmd.current_dir(dir);
    let out = home.run_command(cmd);
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

/// The lines of `app`'s section of the report.
fn section<'a>(text: &'a str, app: &str) -> &'a str {
    let start = text.find(&format!("\n{app} ")).unwrap_or(0);
    let end = text[start + 1..]
        .find("\n\n")
        .map_or(text.len(), |e| start + 1 + e);
    &text[start..end]
}

#[test]
fn doctor_fails_a_claude_on_bedrock_that_goes_around_the_proxy() {
    let home = Home::with_user_home();
    home.start();
    home.ok(&["port", "claude", &free_port().to_string()]);
    home.ok(&["enable", "claude", "--takeover"]);
    let (code, text) = doctor_with(&home, &[("ANTHROPIC_API_KEY", "sk-ant-x")]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(
            "login     API key ($ANTHROPIC_API_KEY); its requests follow ANTHROPIC_BASE_URL"
        ),
        "{text}"
    );
    let (code, text) = doctor_with(&home, &[("CLAUDE_CODE_USE_BEDROCK", "1")]);
    assert_eq!(code, Some(1), "{text}");
    let claude = section(&text, "claude");
    assert!(
        claude.contains("FAIL  login     Amazon Bedrock ($CLAUDE_CODE_USE_BEDROCK)"),
        "{text}"
    );
    assert!(claude.contains("bypass the proxy"), "{text}");
    assert!(claude.contains("unset CLAUDE_CODE_USE_BEDROCK"), "{text}");
}

#[test]
fn doctor_fails_a_codex_whose_config_selects_another_provider() {
    let home = Home::with_user_home();
    home.start();
    home.ok(&["port", "codex", &free_port().to_string()]);
    home.ok(&["enable", "codex"]);
    let dir = home.user().join(".codex");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("config.toml"),
        "model_provider = \"azure\"\n\n[model_providers.azure]\nbase_url = \"https://x.openai.azure.com/openai\"\n",
    )
    .unwrap();
    let (code, text) = doctor_with(&home, &[]);
    assert_eq!(code, Some(1), "{text}");
    let codex = section(&text, "codex");
    assert!(
        codex.contains("FAIL  login     model_provider = \"azure\""),
        "{text}"
    );
    assert!(
        codex.contains("remove `model_provider = \"azure\"`"),
        "{text}"
    );
    // The built-in provider pointed at the proxy, with a ChatGPT login: fine.
    let port = home.app("codex")["port"].as_u64().unwrap();
    fs::write(
        dir.join("config.toml"),
        format!("openai_base_url = \"http://127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    fs::write(
        dir.join("auth.json"),
        r#"{"auth_mode":"chatgpt","tokens":{"id_token":"a.b.c","access_token":"a.b.c","refresh_token":"r"}}"#,
    )
    .unwrap();
    let (code, text) = doctor_with(&home, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        section(&text, "codex").contains("ChatGPT login ("),
        "{text}"
    );
}

#[test]
fn doctor_checks_the_base_url_each_gemini_login_reads() {
    let home = Home::with_user_home();
    home.start();
    let port = free_port();
    home.ok(&["port", "gemini", &port.to_string()]);
    home.ok(&["enable", "gemini"]);
    let dir = home.user().join(".gemini");
    fs::create_dir_all(&dir).unwrap();
    // Only the Gemini API's base URL: what takeover wrote before it knew the
    // other logins.
    fs::write(
        dir.join(".env"),
        format!("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port}\n"),
    )
    .unwrap();
    // An API key without a selected login: gemini-cli takes it for "gateway".
    let (code, text) = doctor_with(&home, &[("GEMINI_API_KEY", "AIza-x")]);
    assert_eq!(code, Some(1), "{text}");
    let gemini = section(&text, "gemini");
    assert!(
        gemini.contains("FAIL  login     Gemini API key (GEMINI_API_KEY)"),
        "{text}"
    );
    assert!(gemini.contains("exit 41"), "{text}");
    assert!(gemini.contains("\"gemini-api-key\""), "{text}");
    // A Google login reads CODE_ASSIST_ENDPOINT, which nothing sets.
    fs::write(
        dir.join("settings.json"),
        r#"{"security":{"auth":{"selectedType":"oauth-personal"}}}"#,
    )
    .unwrap();
    let (code, text) = doctor_with(&home, &[]);
    assert_eq!(code, Some(1), "{text}");
    let gemini = section(&text, "gemini");
    assert!(gemini.contains("Google login (Code Assist)"), "{text}");
    assert!(
        gemini.contains("does not set CODE_ASSIST_ENDPOINT"),
        "{text}"
    );
    assert!(
        gemini.contains(&format!(
            "export CODE_ASSIST_ENDPOINT=http://127.0.0.1:{port}"
        )),
        "{text}"
    );
    // Set in the shell, it counts.
    let url = format!("http://127.0.0.1:{port}");
    let (code, text) = doctor_with(&home, &[("CODE_ASSIST_ENDPOINT", &url)]);
    assert_eq!(code, Some(0), "{text}");
    // Set in ~/.gemini/.env too: but in a project with its own .env, Gemini
    // CLI loads that one instead, and takeover cannot fix it.
    fs::write(
        dir.join(".env"),
        format!("GOOGLE_GEMINI_BASE_URL={url}\nCODE_ASSIST_ENDPOINT={url}\n"),
    )
    .unwrap();
    let project = home.user().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join(".env"), "DEBUG=1\n").unwrap();
    let (code, text) = doctor_with(&home, &[]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = doctor_in(&home, &project, &[]);
    assert_eq!(code, Some(1), "{text}");
    let gemini = section(&text, "gemini");
    assert!(
        gemini.contains("project/.env (Gemini CLI loads it in this folder instead of"),
        "{text}"
    );
    assert!(
        gemini.contains("set CODE_ASSIST_ENDPOINT=http://127.0.0.1:"),
        "{text}"
    );
}
