//! Takeover through the real binary, in a fake `$HOME`: each CLI's file is
//! pointed at its proxy and handed back byte for byte; user edits made while
//! it was taken over survive (a value set on an owned key too); absent files
//! and folders come and go; malformed files are refused untouched; port moves
//! follow; a port another program holds never gets the file; the caller's
//! environment names the file; a daemon killed with -9 at any moment leaves a
//! whole file that the next start reconciles; a lost database still lets the
//! file be handed back; files taken over by an older Switchyard move to the
//! current keys; and `status` never waits behind a takeover's file work.

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
    // The folders takeover made for them go too (issue 16, bug 10).
    for dir in [".claude", ".gemini"] {
        assert!(!home.user().join(dir).exists(), "~/{dir} left behind");
    }
    let codex = home.user().join(".codex/config.toml");
    home.ok(&["port", "codex", &free_port().to_string()]);
    home.ok(&["enable", "codex", "--takeover"]);
    assert!(read(&codex).starts_with("openai_base_url = "));
    fs::write(home.user().join(".codex/auth.json"), "{}").unwrap();
    home.ok(&["disable", "codex"]);
    // A folder the CLI has put its own files in meanwhile stays.
    assert!(!codex.exists() && home.user().join(".codex/auth.json").exists());
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
    // The app is enabled and waits for its port: a success, said as such
    // (issue 16, bug 6), never "failed".
    assert!(out.status.success(), "{out:?}");
    // Another program holds the port: the CLI must not send its key there,
    // so the file was never pointed, and the message says what is true now
    // and what will happen (issue 16, bug 2).
    assert_eq!(read(&path), CLAUDE);
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("claude enabled, not serving yet: port"),
        "{err}"
    );
    assert!(home.app("claude")["enabled"] == true, "{err}");
    assert!(!err.contains("now points at"), "{err}");
    assert!(
        err.contains(&format!(
            "{} was left as it is, and will point at {} once the proxy serves port {port}",
            path.display(),
            url(port)
        )),
        "{err}"
    );
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
    assert!(!home.path().join("takeover/claude.json").exists());
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

/// Runs `args` with extra variables in the caller's environment only.
fn run_with(home: &Home, args: &[&str], vars: &[(&str, &Path)]) -> std::process::Output {
    let mut cmd = home.command(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_file_is_the_one_the_callers_environment_names() {
    let (home, port) = setup("claude");
    // The daemon runs without CLAUDE_CONFIG_DIR / CODEX_HOME; the caller has them.
    let claude_dir = home.user().join("elsewhere/claude");
    let codex_dir = home.user().join("elsewhere/codex");
    let out = run_with(
        &home,
        &["enable", "claude", "--takeover"],
        &[("CLAUDE_CONFIG_DIR", &claude_dir)],
    );
    assert!(out.status.success(), "{out:?}");
    let path = claude_dir.join("settings.json");
    assert_eq!(without_ours(&read(&path)).1, Some(url(port)));
    assert!(!home.user().join(".claude").exists());
    home.ok(&["port", "codex", &free_port().to_string()]);
    let out = run_with(
        &home,
        &["enable", "codex", "--takeover"],
        &[("CODEX_HOME", &codex_dir)],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(codex_dir.join("config.toml").exists());
    assert!(!home.user().join(".codex").exists());
    // A restart re-points the recorded file, not the daemon's idea of it.
    home.ok(&["daemon", "restart"]);
    let moved = free_port();
    home.ok(&["port", "claude", &moved.to_string()]);
    wait_for("the recorded file to follow the port", SECS_10, || {
        without_ours(&read(&path)).1 == Some(url(moved))
    });
    assert!(!home.user().join(".claude").exists());
    // Hand-back needs no environment: the record names the files.
    home.ok(&["disable", "claude"]);
    home.ok(&["disable", "codex"]);
    assert!(!path.exists() && !codex_dir.exists());
}

#[test]
fn a_value_the_user_set_on_an_owned_key_is_kept_and_said() {
    let (home, port) = setup("gemini");
    let env = write(&home, ".gemini/.env", GEMINI);
    home.ok(&["enable", "gemini", "--takeover"]);
    let pointed = read(&env);
    let mine = pointed.replace(
        &format!("GOOGLE_GEMINI_BASE_URL={}", url(port)),
        "GOOGLE_GEMINI_BASE_URL=https://gateway.example",
    );
    assert_ne!(mine, pointed);
    fs::write(&env, &mine).unwrap();
    let out = home.ok(&["disable", "gemini"]);
    assert!(
        out.contains("keeping the value you set while Switchyard held it: GOOGLE_GEMINI_BASE_URL=https://gateway.example"),
        "{out}"
    );
    assert_eq!(
        read(&env),
        format!("{GEMINI}\nGOOGLE_GEMINI_BASE_URL=https://gateway.example\n")
    );
}

#[test]
fn gemini_with_only_an_api_key_gets_its_login_selected_and_back() {
    let (home, port) = setup("gemini");
    let env = write(&home, ".gemini/.env", "GEMINI_API_KEY=abc\n");
    let settings = home.user().join(".gemini/settings.json");
    let out = home.ok(&["enable", "gemini", "--takeover"]);
    assert!(
        out.contains("settings.json selects the login your environment chose (gemini-api-key)"),
        "{out}"
    );
    let value: serde_json::Value = serde_json::from_str(&read(&settings)).unwrap();
    assert_eq!(value["security"]["auth"]["selectedType"], "gemini-api-key");
    assert!(read(&env).contains(&format!("CODE_ASSIST_ENDPOINT={}", url(port))));
    home.ok(&["disable", "gemini"]);
    assert!(!settings.exists());
    assert_eq!(read(&env), "GEMINI_API_KEY=abc\n");
    // A login already selected is never touched.
    let selected = "{\"security\": {\"auth\": {\"selectedType\": \"oauth-personal\"}}}";
    write(&home, ".gemini/settings.json", selected);
    home.ok(&["enable", "gemini", "--takeover"]);
    assert_eq!(read(&settings), selected);
    home.ok(&["disable", "gemini"]);
    assert_eq!(read(&env), "GEMINI_API_KEY=abc\n");
}

#[test]
fn a_lost_database_still_lets_the_file_be_handed_back() {
    let (home, port) = setup("claude");
    let path = write(&home, ".claude/settings.json", CLAUDE);
    home.ok(&["enable", "claude", "--takeover"]);
    assert_eq!(without_ours(&read(&path)).1, Some(url(port)));
    home.ok(&["daemon", "stop"]);
    // What the daemon says to do with a database it refuses: move it aside.
    let aside = home.path().join("aside");
    fs::create_dir(&aside).unwrap();
    for name in ["switchyard.db", "switchyard.db-wal", "switchyard.db-shm"] {
        let from = home.path().join(name);
        if from.exists() {
            fs::rename(&from, aside.join(name)).unwrap();
        }
    }
    // …and, to start afresh on purpose, delete the marker that says a
    // database existed here (without it a lost database is refused).
    fs::remove_file(home.path().join("switchyard.db.marker")).unwrap();
    home.start();
    // A fresh database knows of no takeover and has claude disabled; the
    // record beside it hands the user's bytes back.
    wait_for("the file to be handed back", SECS_10, || {
        read(&path) == CLAUDE
    });
    let out = home.ok(&["disable", "claude"]);
    assert!(out.contains("already disabled"), "{out}");
    assert_eq!(read(&path), CLAUDE);
    assert!(!home.path().join("takeover/claude.json").exists());
}

#[test]
fn a_file_taken_over_by_an_older_switchyard_moves_to_the_current_key() {
    let (home, port) = setup("codex");
    let original = "model = \"gpt-5\"   # mine\n";
    // What the old takeover wrote, and the record it kept in the database.
    let old = format!(
        "model = \"gpt-5\"   # mine\nmodel_provider = \"switchyard\"\n\n[model_providers.switchyard]\nname = \"Switchyard proxy\"\nbase_url = \"{}\"\nwire_api = \"responses\"\nrequires_openai_auth = true\n",
        url(port)
    );
    let path = write(&home, ".codex/config.toml", &old);
    home.ok(&["daemon", "stop"]);
    let previous = r#"{"format":"toml","model_provider":null,"provider":null,"providers":false}"#;
    db(&home)
        .execute(
            "INSERT INTO takeover (app, path, original, written, previous, clean, created_at_ms, updated_at_ms)
             VALUES ('codex', ?1, ?2, ?3, ?4, 1, 0, 0)",
            rusqlite::params![
                path.to_str().unwrap().as_bytes(),
                original.as_bytes(),
                old.as_bytes(),
                previous
            ],
        )
        .unwrap();
    db(&home)
        .execute(
            "UPDATE apps SET enabled = 1, takeover = 1 WHERE app = 'codex'",
            [],
        )
        .unwrap();
    home.start();
    let expected = format!(
        "model = \"gpt-5\"   # mine\nopenai_base_url = \"{}\"\n",
        url(port)
    );
    wait_for("the file to move to openai_base_url", SECS_10, || {
        read(&path) == expected
    });
    let rows: i64 = db(&home)
        .query_row("SELECT count(*) FROM takeover", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 0, "the record left the database");
    home.ok(&["disable", "codex"]);
    assert_eq!(read(&path), original);
}

#[test]
fn status_answers_while_a_takeover_waits_on_its_file() {
    let (home, _) = setup("claude");
    // A FIFO: reading it blocks until someone writes, like a stalled disk.
    let path = home.user().join(".claude/settings.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let mut enable = home
        .command(&["enable", "claude", "--takeover"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..3 {
        let mut status = home
            .command(&["status", "--json"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let code = loop {
            if let Some(code) = status.try_wait().unwrap() {
                break Some(code);
            }
            if std::time::Instant::now() > deadline {
                let _ = status.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            code.is_some_and(|c| c.success()),
            "status waited behind the takeover's file work: {code:?}"
        );
    }
    assert!(
        enable.try_wait().unwrap().is_none(),
        "the enable should still wait on its file"
    );
    kill_daemon(&home);
    let _ = enable.wait();
}
