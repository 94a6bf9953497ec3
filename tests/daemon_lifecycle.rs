//! The daemon's lifecycle through the real binary: start/status/stop,
//! idempotence, one daemon per home, stale leftovers, signals, file modes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Home, alive, kill, libc_sig, wait_for};

#[test]
fn start_status_stop_round_trip() {
    let home = Home::new();
    let out = home.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "status before start exits 3");
    assert_eq!(home.status()["daemon"]["state"], "stopped");

    let started = home.ok(&["daemon", "start"]);
    assert!(started.contains("daemon started"), "{started}");
    let status = home.status();
    assert_eq!(status["daemon"]["state"], "running");
    // One vocabulary for people (issue 16, bug 6): a disabled app reads `off`
    // as on the dashboard; JSON keeps the contract's `stopped`.
    let text = home.ok(&["status"]);
    let claude = text
        .lines()
        .find(|l| l.starts_with("claude"))
        .expect("a claude row");
    assert!(claude.starts_with("claude   off "), "{text}");
    assert_eq!(status["apps"][0]["state"], "stopped");
    let pid = status["daemon"]["pid"].as_u64().expect("pid") as u32;
    assert!(alive(pid));
    assert_eq!(status["daemon"]["version"], env!("CARGO_PKG_VERSION"));
    // Every app is listed before any worker exists, with its default port.
    let apps: Vec<_> = status["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .map(|a| {
            (
                a["app"].as_str().unwrap_or("").to_owned(),
                a["port"].as_u64().unwrap_or(0),
                a["state"].clone(),
            )
        })
        .collect();
    assert_eq!(
        apps,
        [
            ("claude".into(), 15721, "stopped".into()),
            ("codex".into(), 15722, "stopped".into()),
            ("gemini".into(), 15723, "stopped".into())
        ]
    );
    assert!(home.run(&["daemon", "status"]).status.success());

    let stopped = home.ok(&["daemon", "stop"]);
    assert!(stopped.contains("daemon stopped"), "{stopped}");
    wait_for("the daemon to exit", Duration::from_secs(5), || !alive(pid));
    assert!(!home.socket().exists(), "socket removed on stop");
    assert_eq!(home.run(&["daemon", "status"]).status.code(), Some(3));
}

#[test]
fn start_and_stop_are_idempotent() {
    let home = Home::new();
    assert!(home.ok(&["daemon", "stop"]).contains("not running"));
    home.start();
    let pid = home.daemon_pid().expect("pid file");
    let again = home.ok(&["daemon", "start"]);
    assert!(
        again.contains(&format!("already running (pid {pid})")),
        "{again}"
    );
    home.ok(&["daemon", "stop"]);
    assert!(home.ok(&["daemon", "stop"]).contains("not running"));
}

#[test]
fn a_second_daemon_is_refused_and_names_the_first() {
    let home = Home::new();
    home.start();
    let pid = home.daemon_pid().expect("pid file");
    let out = home.run(&["--daemon"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("already running (pid {pid})")),
        "{err}"
    );
    assert!(
        home.run(&["status"]).status.success(),
        "first daemon unaffected"
    );
}

#[test]
fn racing_starts_end_with_exactly_one_daemon() {
    let home = Home::new();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            home.command(&["daemon", "start"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for racer in racers {
        let out = racer.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pid = home.daemon_pid().expect("pid file");
    let needle = format!("SWITCHYARD_HOME={}", home.path().display());
    let mut system = sysinfo::System::new();
    system.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::All,
        true,
        sysinfo::ProcessRefreshKind::nothing()
            .without_tasks()
            .with_cmd(sysinfo::UpdateKind::Always)
            .with_environ(sysinfo::UpdateKind::Always),
    );
    let daemons = system
        .processes()
        .values()
        .filter(|p| {
            p.environ().iter().any(|kv| *kv == *needle)
                && p.cmd().iter().any(|arg| arg == "--daemon")
                && alive(p.pid().as_u32())
        })
        .count();
    assert_eq!(
        daemons, 1,
        "exactly one daemon (pid {pid}) survives the race"
    );
}

#[test]
fn kill_9_leaves_stale_state_that_the_next_start_cleans() {
    let home = Home::new();
    home.start();
    let pid = home.daemon_pid().expect("pid file");
    kill(pid, libc_sig::SIGKILL);
    wait_for("the daemon to die", Duration::from_secs(5), || !alive(pid));
    let out = home.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["daemon"]["state"], "stale");
    assert_eq!(status["daemon"]["pid"], pid);

    home.start();
    let status = home.status();
    assert_eq!(status["daemon"]["state"], "running");
    assert_ne!(status["daemon"]["pid"], pid);
}

#[test]
fn sigterm_exits_zero_and_removes_the_socket() {
    let home = Home::new();
    let mut child = home.spawn_foreground();
    assert!(home.socket().exists());
    kill(child.id(), libc_sig::SIGTERM);
    let mut status = None;
    wait_for(
        "the daemon to exit on SIGTERM",
        Duration::from_secs(10),
        || {
            status = child.try_wait().expect("wait");
            status.is_some()
        },
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(!home.socket().exists());
    assert!(!home.path().join("run/daemon.pid").exists());
}

#[test]
fn socket_and_directory_are_private() {
    let home = Home::new();
    home.start();
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&home.path().join("run")), 0o700);
    assert_eq!(mode(&home.socket()), 0o600);
    assert_eq!(mode(&home.path().join("switchyard.db")), 0o600);
}

#[test]
fn a_corrupt_database_is_refused_and_left_untouched() {
    let home = Home::new();
    let db = home.path().join("switchyard.db");
    let garbage = vec![0x42u8; 4096];
    std::fs::write(&db, &garbage).expect("write");
    let out = home.run(&["--daemon"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&db.display().to_string()),
        "names the file: {err}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), garbage);
    // `daemon start` reports the daemon's own error.
    let out = home.run(&["daemon", "start"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unreadable"), "{err}");
}

#[test]
fn logs_show_the_daemon_lifecycle() {
    let home = Home::new();
    home.start();
    home.ok(&["daemon", "stop"]);
    let logs = home.ok(&["logs"]);
    assert!(logs.contains("daemon ready"), "{logs}");
    assert!(logs.contains("daemon stopped"), "{logs}");
}

#[test]
fn a_daemon_that_does_not_answer_is_not_called_stale() {
    let home = Home::new();
    home.start();
    let pid = home.daemon_pid().expect("pid file");
    kill(pid, libc_sig::SIGSTOP);
    // The kernel still accepts connections; the handshake times out.
    let out = home.run(&["status", "--json"]);
    kill(pid, libc_sig::SIGCONT);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["daemon"]["state"], "running", "{status}");
    assert_eq!(status["daemon"]["pid"], pid);
    assert!(home.socket().exists(), "nothing was cleaned away");
    assert_eq!(
        home.status()["daemon"]["version"],
        env!("CARGO_PKG_VERSION")
    );
}

/// Issue 16, bug 8: a `SWITCHYARD_HOME` too deep for a Unix socket path
/// still works (the socket moves to a short private directory) and `status`
/// keeps its exit codes: 3 before start, 0 while running, 3 after stop.
#[test]
fn a_long_home_works_and_status_keeps_its_exit_codes() {
    let base = Home::new();
    let deep = base.path().join("a-rather-long-directory-name-".repeat(4));
    std::fs::create_dir_all(&deep).unwrap();
    let status = |args: &[&str]| {
        let mut cmd = base.command(args);
        cmd.env("SWITCHYARD_HOME", &deep);
        base.run_command(cmd)
    };
    let out = status(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("sun_path"), "{err}");
    let out = status(&["daemon", "start"]);
    assert!(out.status.success(), "{out:?}");
    let out = status(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let socket = json["daemon"]["socket"].as_str().unwrap().to_owned();
    assert!(socket.len() <= 103, "{socket}");
    let out = status(&["daemon", "stop"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(status(&["status"]).status.code(), Some(3));
    assert!(!std::path::Path::new(&socket).exists(), "{socket} removed");
}

/// Issue 16, bug 10: a worker's lines in `logs` carry its own level, once
/// (not `INFO DEBUG …`).
#[test]
fn worker_lines_in_the_log_say_their_level_once() {
    let home = Home::new().env("SWITCHYARD_LOG", "debug");
    home.start();
    home.ok(&["port", "claude", &common::free_port().to_string()]);
    home.ok(&["enable", "claude"]);
    home.ok(&["disable", "claude"]);
    let logs = home.ok(&["logs", "--app", "claude"]);
    let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
    let worker_lines: Vec<&str> = logs.lines().filter(|l| l.contains(" worker=")).collect();
    assert!(!worker_lines.is_empty(), "{logs}");
    for line in logs.lines() {
        let words: Vec<&str> = line.split_whitespace().take(3).collect();
        let doubled = words.len() == 3 && levels.contains(&words[1]) && levels.contains(&words[2]);
        assert!(!doubled, "level said twice: {line}");
    }
    assert!(
        logs.contains("DEBUG"),
        "the worker's debug lines are kept as such: {logs}"
    );
}

/// A running `switchyard logs -f …`, its stdout and stderr collected as they come.
struct Follow {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<String>>,
    err: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Follow {
    fn spawn(home: &Home, args: &[&str]) -> Follow {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = home
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = text.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
            text
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Follow { child, out, err }
    }

    fn out(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    fn wait_out(&self, text: &str) {
        wait_for(
            &format!("{text:?} on stdout"),
            Duration::from_secs(10),
            || self.out().contains(text),
        );
    }

    fn wait_err(&self, text: &str) {
        wait_for(
            &format!("{text:?} on stderr"),
            Duration::from_secs(10),
            || self.err().contains(text),
        );
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `logs -f` prints the file, then follows the daemon's live log stream
/// (each line once, `--app` kept); when the daemon stops it hands over to
/// the file and says so; with no daemon it follows the file and says so.
#[test]
fn logs_follow_streams_from_the_daemon_and_falls_back_to_the_file() {
    let home = Home::new();
    let before = Follow::spawn(&home, &["logs", "-f", "--app", "claude"]);
    before.wait_err("no daemon is running; following the log file");

    home.start();
    let all = Follow::spawn(&home, &["logs", "-f"]);
    let claude = Follow::spawn(&home, &["logs", "-f", "--app", "claude"]);
    // Subscribed before it reads the file: its lines come from the stream.
    all.wait_out("daemon ready");
    home.ok(&["port", "claude", &common::free_port().to_string()]);
    home.ok(&["enable", "claude"]);
    all.wait_out("worker ready app=claude");
    claude.wait_out("worker ready app=claude");
    before.wait_out("worker ready app=claude");
    assert_eq!(all.err(), "", "a daemon answered: no fallback");
    let lines = claude.out();
    assert!(
        lines.lines().all(|l| l.contains("app=claude")),
        "--app claude keeps claude's lines only:\n{lines}"
    );
    assert!(!lines.contains("daemon ready"), "{lines}");
    // The file's format: `TIME LEVEL text`.
    let worker = all
        .out()
        .lines()
        .find(|l| l.contains("worker ready"))
        .unwrap()
        .to_owned();
    let words: Vec<&str> = worker.split_whitespace().collect();
    assert!(words[0].ends_with('Z') && words[1] == "INFO", "{worker}");

    home.ok(&["daemon", "stop"]);
    all.wait_err("the daemon's log stream ended");
    all.wait_out("daemon stopped");
    let out = all.out();
    for once in [
        "daemon ready",
        "worker ready",
        "shutdown requested",
        "daemon stopped",
    ] {
        let n = out.lines().filter(|l| l.contains(once)).count();
        assert_eq!(n, 1, "{once:?} printed {n} times:\n{out}");
    }
}
