//! Takeover through the real binary, in a fake `$HOME`: each CLI's file is
//! pointed at its proxy and handed back byte for byte; user edits made while
//! it was taken over survive; absent files come and go; malformed files are
//! refused untouched; port moves follow; and a daemon killed with -9 at any
//! moment leaves a whole file that the next start reconciles with the store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Home, alive, free_port, kill, libc_sig, wait_for};

const SECS_10: Duration = Duration::from_secs(10);

/// A settings file full of other keys, 4-space indented, with unicode and
/// odd spacing, and no final newline.
const CLAUDE: &str = r#"{
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {
        "allow": ["Bash(npm run test:*)", "Read(~/.zshrc)"],
        "deny": []
    },
    "env": {
        "DISABLE_TELEMETRY": "1",
        "GREETING": "héllo ☃ \u00e9"
    },
    "hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "cargo fmt"}]}]},
    "statusLine":   {"type": "command", "command": "~/bin/status"} ,
    "zzz": [1, 2.5e3, true, null]
}"#;

const CODEX: &str = r#"# ~/.codex/config.toml, written by hand
model = "gpt-5-codex"          # the default model
model_reasoning_effort = "high"
approval_policy = 'on-request'

[mcp_servers.docs]
command = "npx"
args    = ["-y", "@acme/docs-mcp"]   # aligned on purpose

[profiles.fast]
model = "gpt-5-mini"

# a trailing comment
"#;

const GEMINI: &str =
    "# Gemini\nGEMINI_API_KEY=abc123\nexport GEMINI_MODEL=\"gemini-2.5-pro\"   # quoted";

/// A running daemon in a fake home, with `app` on a free port.
fn setup(app: &str) -> (Home, u16) {
    let home = Home::with_user_home();
    home.start();
    let port = free_port();
    home.ok(&["port", app, &port.to_string()]);
    (home, port)
}

fn write(home: &Home, relative: &str, content: &str) -> PathBuf {
    let path = home.user().join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    path
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The Claude settings with Switchyard's key taken out, as a JSON value.
fn without_ours(text: &str) -> (serde_json::Value, Option<String>) {
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    let ours = value["env"]
        .as_object_mut()
        .and_then(|env| env.remove("ANTHROPIC_BASE_URL"))
        .and_then(|url| url.as_str().map(str::to_owned));
    (value, ours)
}

fn kill_daemon(home: &Home) {
    let pid = home.daemon_pid().expect("pid file");
    kill(pid, libc_sig::SIGKILL);
    wait_for("the daemon to die", SECS_10, || !alive(pid));
}

fn db(home: &Home) -> rusqlite::Connection {
    rusqlite::Connection::open(home.path().join("switchyard.db")).unwrap()
}

#[test]
fn claude_settings_come_back_byte_identical() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    let out = home.ok(&["enable", "claude", "--takeover"]);
    assert!(
        out.contains(&format!("{} now points at {}", path.display(), url(port))),
        "{out}"
    );
    let (rest, ours) = without_ours(&read(&path));
    assert_eq!(ours, Some(url(port)));
    assert_eq!(
        rest,
        serde_json::from_str::<serde_json::Value>(CLAUDE).unwrap()
    );
    assert_eq!(home.app("claude")["takeover"], true);
    let out = home.ok(&["disable", "claude"]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(read(&path), CLAUDE);
    assert_eq!(home.app("claude")["takeover"], false);
}

#[test]
fn codex_and_gemini_files_come_back_byte_identical() {
    let (home, port) = setup("codex");
    let codex = write(&home, ".codex/config.toml", CODEX);
    let gemini = write(&home, ".gemini/.env", GEMINI);
    let gemini_port = free_port();
    home.ok(&["port", "gemini", &gemini_port.to_string()]);
    home.ok(&["enable", "codex", "--takeover"]);
    home.ok(&["enable", "gemini", "--takeover"]);
    // Codex: the built-in OpenAI provider's base URL, among the top-level keys.
    assert_eq!(
        read(&codex),
        CODEX.replace(
            "approval_policy = 'on-request'\n",
            &format!(
                "approval_policy = 'on-request'\nopenai_base_url = \"{}\"\n",
                url(port)
            )
        )
    );
    // Gemini: one base URL per login mode.
    let g = url(gemini_port);
    assert_eq!(
        read(&gemini),
        format!(
            "{GEMINI}\nGOOGLE_GEMINI_BASE_URL={g}\nGOOGLE_VERTEX_BASE_URL={g}\nCODE_ASSIST_ENDPOINT={g}\n"
        )
    );
    home.ok(&["disable", "codex"]);
    home.ok(&["disable", "gemini"]);
    assert_eq!(read(&codex), CODEX);
    assert_eq!(read(&gemini), GEMINI);
}

#[test]
fn a_user_edit_made_while_enabled_survives_disable() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    // The user adds a key at the top and a variable of their own to `env`.
    let edited = read(&path)
        .replacen('{', "{\n    \"theme\": \"dark\",", 1)
        .replace(
            "\"DISABLE_TELEMETRY\"",
            "\"MINE\": \"x\",\n        \"DISABLE_TELEMETRY\"",
        );
    fs::write(&path, &edited).unwrap();
    assert!(edited.contains(&url(port)));
    home.ok(&["disable", "claude"]);
    let expected = CLAUDE
        .replacen('{', "{\n    \"theme\": \"dark\",", 1)
        .replace(
            "\"DISABLE_TELEMETRY\"",
            "\"MINE\": \"x\",\n        \"DISABLE_TELEMETRY\"",
        );
    assert_eq!(read(&path), expected);
}

#[test]
fn absent_files_are_created_then_removed() {
    let (home, port) = setup("claude");
    let claude = home.user().join(".claude/settings.json");
    let gemini = home.user().join(".gemini/.env");
    home.ok(&["port", "gemini", &free_port().to_string()]);
    home.ok(&["enable", "claude", "--takeover"]);
    home.ok(&["enable", "gemini", "--takeover"]);
    assert_eq!(without_ours(&read(&claude)).1, Some(url(port)));
    assert!(read(&gemini).starts_with("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:"));
    let out = home.ok(&["disable", "claude"]);
    assert!(out.contains("removed"), "{out}");
    home.ok(&["disable", "gemini"]);
    assert!(!claude.exists() && !gemini.exists());
}

#[test]
fn a_malformed_file_is_refused_and_left_untouched() {
    let (home, port) = setup("claude");
    let broken = "{\n  \"model\": \"opus\",\n  \"env\": {\n    \"A\": \"1\",\n  }\n}\n";
    let path = write(&home, ".claude/settings.json", broken);
    let out = home.run(&["enable", "claude", "--takeover"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}, line 5", path.display())),
        "{err}"
    );
    assert!(err.contains("left untouched"), "{err}");
    assert_eq!(read(&path), broken);
    // Nothing else changed either: the app is still off and its port free.
    assert_eq!(home.app("claude")["enabled"], false);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let toml = write(&home, ".codex/config.toml", "model = \"gpt-5\n");
    let out = home.run(&["enable", "codex", "--takeover"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}, line 1", toml.display())),
        "{err}"
    );
    assert_eq!(read(&toml), "model = \"gpt-5\n");
}

#[test]
fn a_port_move_re_points_the_file() {
    let (home, _) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    let moved = free_port();
    home.ok(&["port", "claude", &moved.to_string()]);
    wait_for("the file to follow the port", SECS_10, || {
        without_ours(&read(&path)).1 == Some(url(moved))
    });
    home.ok(&["disable", "claude"]);
    assert_eq!(read(&path), CLAUDE);
}

#[test]
fn a_taken_port_hands_the_file_back_until_the_proxy_serves_it() {
    let (home, _) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    home.ok(&["port", "claude", &port.to_string()]);
    let out = home.run(&["enable", "claude", "--takeover"]);
    assert_eq!(out.status.code(), Some(1));
    // Another program holds the port: the CLI must not send its key there.
    wait_for("the file to be handed back", SECS_10, || {
        read(&path) == CLAUDE
    });
    drop(holder);
    wait_for(
        "the file to point at the proxy once it serves",
        SECS_10,
        || without_ours(&read(&path)).1 == Some(url(port)),
    );
    home.ok(&["disable", "claude"]);
    assert_eq!(read(&path), CLAUDE);
}

#[test]
fn enable_without_takeover_hands_the_file_back_and_keeps_serving() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    let out = home.ok(&["enable", "claude"]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(read(&path), CLAUDE);
    let app = home.app("claude");
    assert_eq!(
        (app["enabled"].clone(), app["takeover"].clone()),
        (true.into(), false.into())
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}

#[test]
fn kill_9_then_disabled_in_the_store_restores_the_file_on_start() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    assert_eq!(without_ours(&read(&path)).1, Some(url(port)));
    kill_daemon(&home);
    // As if the disable had reached the store but not the file.
    db(&home)
        .execute(
            "UPDATE apps SET enabled = 0, takeover = 0 WHERE app = 'claude'",
            [],
        )
        .unwrap();
    home.start();
    assert_eq!(read(&path), CLAUDE);
    let records: i64 = db(&home)
        .query_row("SELECT count(*) FROM takeover", [], |row| row.get(0))
        .unwrap();
    assert_eq!(records, 0);
}

#[test]
fn kill_9_then_a_hand_reverted_file_is_pointed_again_on_start() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    kill_daemon(&home);
    fs::write(&path, CLAUDE).unwrap();
    home.start();
    assert_eq!(without_ours(&read(&path)).1, Some(url(port)));
    assert_eq!(home.app("claude")["takeover"], true);
    home.ok(&["disable", "claude"]);
    assert_eq!(read(&path), CLAUDE);
}

#[test]
fn a_kill_at_any_moment_leaves_a_whole_file_and_the_next_start_agrees() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    for delay_ms in [0, 2, 4, 5, 6, 7, 10, 15, 25, 40] {
        let mut enable = home
            .command(&["enable", "claude", "--takeover"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill_daemon(&home);
        let _ = enable.wait();
        let now = read(&path);
        let pointed = now != CLAUDE && without_ours(&now).1 == Some(url(port));
        assert!(
            now == CLAUDE || pointed,
            "a partial file after {delay_ms} ms:\n{now}"
        );
        // Whatever the store says, the next start makes the file agree, and
        // a disable then hands back the original.
        home.start();
        home.ok(&["disable", "claude"]);
        assert_eq!(read(&path), CLAUDE, "after a kill at {delay_ms} ms");
    }
}

#[test]
fn a_file_broken_while_taken_over_is_left_alone_and_handed_back_once_fixed() {
    let (home, _) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    let pointed = read(&path);
    fs::write(&path, format!("{pointed},")).unwrap();
    // The disable itself succeeds; the file is not touched, and says why.
    let out = home.ok(&["disable", "claude"]);
    assert!(out.contains("not handed back"), "{out}");
    assert!(out.contains("settings.json, line 16"), "{out}");
    assert_eq!(read(&path), format!("{pointed},"));
    // Once the user fixes it, the next disable (or start) hands it back.
    fs::write(&path, &pointed).unwrap();
    let out = home.ok(&["disable", "claude"]);
    assert!(
        out.contains("already disabled") && out.contains("restored"),
        "{out}"
    );
    assert_eq!(read(&path), CLAUDE);
}
