//! Supervision through the real binary: workers serve real HTTP, come back
//! after kill -9, park crash loops with a reason, get killed when hung, keep
//! their ports across daemon restarts, and never outlive the daemon.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::time::Duration;

use common::upstream::MockUpstream;
use common::{Home, alive, free_port, http, kill, libc_sig, running_pid, wait_for};

const SECS_10: Duration = Duration::from_secs(10);

#[test]
fn enable_serves_real_http_through_the_worker() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    let out = home.ok(&["enable", "claude"]);
    assert!(out.contains(&format!("http://127.0.0.1:{port}")), "{out}");
    let (status, body) = http(port, "POST", "/v1/messages", r#"{"model":"m"}"#).expect("request");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""upstream":"mock""#), "{body}");
    assert!(body.contains(r#""path":"/v1/messages""#), "{body}");
    let app = home.app("claude");
    assert_eq!(app["state"], "running");
    assert_eq!(app["enabled"], true);
    assert_eq!(app["port"], port);
    // Idempotent.
    assert!(home.ok(&["enable", "claude"]).contains("already enabled"));
    // Disable releases the port.
    home.ok(&["disable", "claude"]);
    assert_eq!(home.app("claude")["state"], "stopped");
    wait_for("the port to be released", SECS_10, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    assert!(home.ok(&["disable", "claude"]).contains("already disabled"));
}

#[test]
fn a_killed_worker_comes_back_with_a_new_pid() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    let first = running_pid(&home, "claude", None, SECS_10);
    kill(first as u32, libc_sig::SIGKILL);
    let second = running_pid(&home, "claude", Some(first), SECS_10);
    assert_ne!(first, second);
    let app = home.app("claude");
    assert_eq!(app["restarts"], 1);
    assert_eq!(app["last_exit"]["reason"], "crashed");
    assert_eq!(app["last_exit"]["signal"], 9);
    assert_eq!(http(port, "GET", "/ping", "").expect("request").0, 200);
}

#[test]
fn a_crash_loop_parks_after_five_and_the_port_answers_503() {
    let home = Home::new().env("SWITCHYARD_TEST_WORKER_EXIT", "1");
    home.start();
    let port = free_port();
    home.ok(&["port", "claude", &port.to_string()]);
    let out = home.run(&["enable", "claude"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("parked"), "{err}");
    let app = home.app("claude");
    assert_eq!(app["state"], "parked");
    assert_eq!(app["restarts"], 5);
    let reason = app["parked_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("crashed 5 times"), "{reason}");
    let (status, body) = http(port, "POST", "/v1/messages", "{}").expect("a 503, not a refusal");
    assert_eq!(status, 503);
    assert!(body.contains("switchyard restart claude"), "{body}");
    assert!(body.contains("crashed 5 times"), "{body}");
    // No Retry-After: only the user's `restart` brings a parked app back.
    let head = raw_head(port);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("retry-after"), "{head}");
    // Other apps are not affected by claude's failures.
    assert_eq!(home.app("codex")["restarts"], 0);
    // Disabling a parked app stops it for good and releases the port.
    home.ok(&["disable", "claude"]);
    let app = home.app("claude");
    assert_eq!(app["state"], "stopped");
    assert_eq!(app["health"], "unknown");
    assert_eq!(app["parked_reason"], serde_json::Value::Null);
    wait_for("the port to be released", SECS_10, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
}

#[test]
fn exit_78_parks_at_once_and_restart_unparks() {
    let home = Home::new().env("SWITCHYARD_TEST_WORKER_EXIT", "78");
    home.start();
    home.ok(&["port", "gemini", &free_port().to_string()]);
    assert_eq!(home.run(&["enable", "gemini"]).status.code(), Some(1));
    let app = home.app("gemini");
    assert_eq!(app["state"], "parked");
    assert_eq!(app["restarts"], 1);
    assert!(
        app["parked_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("78")
    );
    // `restart` un-parks (and parks again here, since the cause persists).
    let out = home.run(&["restart", "gemini"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(home.app("gemini")["restarts"], 2);
}

#[test]
fn a_stopped_worker_is_killed_as_hung_and_restarted() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    home.route("codex", upstream.port);
    home.ok(&["enable", "codex"]);
    let first = running_pid(&home, "codex", None, SECS_10);
    kill(first as u32, libc_sig::SIGSTOP);
    let second = running_pid(&home, "codex", Some(first), Duration::from_secs(20));
    assert_ne!(first, second);
    let app = home.app("codex");
    assert_eq!(app["restarts"], 1);
    assert_eq!(app["last_exit"]["reason"], "hung");
    assert!(!alive(first as u32));
}

#[test]
fn killing_the_daemon_leaves_no_orphans() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    home.route("claude", upstream.port);
    home.route("codex", upstream.port);
    home.ok(&["enable", "claude"]);
    home.ok(&["enable", "codex"]);
    let workers = [
        running_pid(&home, "claude", None, SECS_10) as u32,
        running_pid(&home, "codex", None, SECS_10) as u32,
    ];
    // What a later daemon's reconcile checks to prove them its own, had they
    // outlived it: the recorded start time and the command line.
    let db = rusqlite::Connection::open(home.path().join("switchyard.db")).expect("db");
    for (pid, app) in workers.iter().zip(["claude", "codex"]) {
        let found = switchyard_daemon::process_info::look(*pid, true).expect("the worker");
        assert!(found.is_worker_of(app), "{found:?}");
        let recorded: i64 = db
            .query_row(
                "SELECT pid_start_unix_s FROM runs WHERE pid = ?1 AND ended_at_ms IS NULL",
                [pid],
                |r| r.get(0),
            )
            .expect("the worker's run");
        assert_eq!(recorded as u64, found.started_s);
    }
    let daemon = home.daemon_pid().expect("pid");
    kill(daemon, libc_sig::SIGKILL);
    // The requirement is 1 s; the deadline leaves room for a loaded CI machine.
    wait_for("every worker to exit", Duration::from_secs(3), || {
        workers.iter().all(|p| !alive(*p))
    });
}

#[test]
fn apps_come_back_on_the_same_ports_after_a_daemon_restart() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    home.ok(&["daemon", "restart"]);
    running_pid(&home, "claude", None, SECS_10);
    assert_eq!(home.app("claude")["port"], port);
    assert_eq!(home.app("codex")["enabled"], false);
    assert_eq!(http(port, "GET", "/x", "").expect("request").0, 200);
}

/// A stand-in for a worker a crashed daemon left behind: a shell blocked on
/// reading its stdin (a builtin, so no child of its own to leave behind),
/// whose command line ends `worker --app APP` as a real worker's does.
fn fake_worker(app: &str) -> std::process::Child {
    std::process::Command::new("sh")
        .args(["-c", "read line", "worker", "--app", app])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sh")
}

#[test]
fn a_new_daemon_kills_a_leftover_worker_only_when_pid_start_time_and_command_prove_it_its_own() {
    use switchyard_daemon::process_info;
    let home = Home::new();
    home.start();
    home.ok(&["daemon", "stop"]);
    let mut ours = fake_worker("claude");
    let mut ours_recorded_in_ticks = fake_worker("codex");
    let mut started_a_second_later = fake_worker("claude");
    let mut another_apps_worker = fake_worker("codex");
    let start = |p: &std::process::Child| process_info::start_time(p.id()).expect("start time");
    // What versions before migration 0005 stored: clock ticks after boot.
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .expect("sysconf")
        .expect("CLK_TCK") as u64;
    let ticks = (start(&ours_recorded_in_ticks) - sysinfo::System::boot_time()) * hz + hz / 2;
    let db = rusqlite::Connection::open(home.path().join("switchyard.db")).expect("db");
    let record = |app: &str, pid: u32, unix_s: Option<u64>, ticks: Option<u64>| {
        db.execute(
            "INSERT INTO runs (app, epoch, pid, pid_start_unix_s, pid_start, started_at_ms) VALUES (?1, 1, ?2, ?3, ?4, 0)",
            rusqlite::params![app, pid, unix_s.map(|s| s as i64), ticks.map(|t| t as i64)],
        )
        .expect("insert");
    };
    record("claude", ours.id(), Some(start(&ours)), None);
    record("codex", ours_recorded_in_ticks.id(), None, Some(ticks));
    let later = Some(start(&started_a_second_later) + 1);
    record("claude", started_a_second_later.id(), later, None);
    record(
        "claude",
        another_apps_worker.id(),
        Some(start(&another_apps_worker)),
        None,
    );
    drop(db);

    home.start();
    for killed in [&mut ours, &mut ours_recorded_in_ticks] {
        let pid = killed.id();
        wait_for("the leftover worker to be killed", SECS_10, || !alive(pid));
        let status = killed.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }
    for spared in [&mut started_a_second_later, &mut another_apps_worker] {
        assert!(
            spared.try_wait().expect("try_wait").is_none(),
            "a process the runs do not prove ours is left alone"
        );
        spared.kill().expect("kill");
        spared.wait().expect("wait");
    }
    let db = rusqlite::Connection::open(home.path().join("switchyard.db")).expect("db");
    let open: i64 = db
        .query_row(
            "SELECT count(*) FROM runs WHERE ended_at_ms IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(open, 0, "every leftover run is closed");
}

#[test]
fn after_a_daemon_crash_the_store_is_reconciled() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    let worker = running_pid(&home, "claude", None, SECS_10) as u32;
    kill(home.daemon_pid().expect("pid"), libc_sig::SIGKILL);
    wait_for("the worker to exit", SECS_10, || !alive(worker));
    home.start();
    let new_worker = running_pid(&home, "claude", None, SECS_10);
    assert_eq!(http(port, "GET", "/x", "").expect("request").0, 200);
    let db = rusqlite::Connection::open(home.path().join("switchyard.db")).expect("db");
    let lost: i64 = db
        .query_row(
            "SELECT count(*) FROM runs WHERE reason = 'daemon-lost' AND pid = ?1",
            [worker],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(lost, 1, "the lost run is closed as daemon-lost");
    let open: Vec<i64> = db
        .prepare("SELECT pid FROM runs WHERE ended_at_ms IS NULL")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("query");
    assert_eq!(
        open,
        [new_worker as i64],
        "the store says exactly what runs"
    );
}

#[test]
fn a_taken_port_is_reported_then_taken_as_soon_as_it_is_free() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    home.route("claude", upstream.port);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    // Accepted for a disabled app, with a word about the other program.
    let moved = home.ok(&["port", "claude", &port.to_string()]);
    assert!(moved.contains("in use by another program"), "{moved}");
    // Enabled and waiting for its port: a success that says so (issue 16,
    // bug 6), naming the port and its owner.
    let out = home.run(&["enable", "claude"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("claude enabled, not serving yet"), "{err}");
    assert!(err.contains(&format!("port {port}")), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "names the owner: {err}"
    );
    let app = home.app("claude");
    assert!(
        app["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("port {port}"))
    );
    assert_eq!(app["state"], "backoff", "retrying the port: {app}");
    assert!(home.run(&["status"]).status.success());

    // The other program lets go: the daemon takes the port on its next try.
    drop(holder);
    wait_for("claude to start on the freed port", SECS_10, || {
        home.app("claude")["state"] == "running"
    });
    assert_eq!(
        home.app("claude")["error"],
        serde_json::Value::Null,
        "the port error is cleared"
    );
    assert_eq!(http(port, "GET", "/x", "").expect("proxied").0, 200);
}

#[test]
fn moving_a_port_binds_the_new_one_first() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let old = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    // A taken target port: refused, the old port keeps serving.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("addr").port();
    assert_eq!(
        home.run(&["port", "claude", &taken.to_string()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(http(old, "GET", "/x", "").expect("old port").0, 200);
    // A free one: moved, the old one released.
    let new = free_port();
    home.ok(&["port", "claude", &new.to_string()]);
    assert_eq!(http(new, "GET", "/x", "").expect("new port").0, 200);
    assert_eq!(home.app("claude")["port"], new);
    wait_for("the old port to be released", SECS_10, || {
        std::net::TcpStream::connect(("127.0.0.1", old)).is_err()
    });
}

#[test]
fn disable_drains_a_stream_in_flight_before_stopping_the_worker() {
    use std::io::Read;
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    let mut stream = raw_get(port, "/slow");
    let mut first = [0u8; 256];
    let n = stream.read(&mut first).expect("first bytes");
    assert!(n > 0);
    // Disable while the stream is in flight: it must finish first.
    let disabling = {
        let cmd = home
            .command(&["disable", "claude"])
            .stdout(std::process::Stdio::null())
            .spawn();
        cmd.expect("spawn disable")
    };
    let mut rest = String::new();
    stream
        .read_to_string(&mut rest)
        .expect("the stream completes");
    let whole = String::from_utf8_lossy(&first[..n]).into_owned() + &rest;
    for i in 0..5 {
        assert!(
            whole.contains(&format!("data: event {i}")),
            "event {i} missing: {whole}"
        );
    }
    let status = disabling.wait_with_output().expect("disable").status;
    assert!(status.success());
    assert_eq!(home.app("claude")["state"], "stopped");
    assert_eq!(home.app("claude")["last_exit"]["reason"], "stopped");
}

/// A connection to 127.0.0.1:`port` with a bare `GET path` sent on it.
fn raw_get(port: u16, path: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(SECS_10)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    stream
}

/// The status line and headers of a bare GET to 127.0.0.1:`port`.
fn raw_head(port: u16) -> String {
    use std::io::Read;
    let mut stream = raw_get(port, "/");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_owned()
}
