//! The proxy port stays up for its owner, against the real binary: a flood of
//! slow clients beyond a low descriptor limit does not shut normal requests out
//! (nor fill the log), and another local user's connection is refused before it
//! can spend the owner's key.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::upstream::MockUpstream;
use common::{Home, http, running_pid};

/// A daemon (and so its workers) started with `limit` descriptors, soft and
/// hard, as `prlimit --nofile=LIMIT:LIMIT switchyard daemon start` would.
fn start_with_fd_limit(home: &Home, limit: u64) {
    let mut start = home.command(&["daemon", "start"]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        start.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit));
    }
    let status = start
        .stdout(Stdio::null())
        .status()
        .expect("run switchyard daemon start");
    assert!(status.success(), "daemon start failed: {status}");
}

fn log_text(home: &Home) -> String {
    std::fs::read_to_string(home.path().join("logs/switchyard.log")).unwrap_or_default()
}

#[test]
fn slow_clients_beyond_the_descriptor_limit_do_not_shut_out_normal_requests() {
    // Our own end of 150 connections needs descriptors too.
    rlimit::increase_nofile_limit(4096).expect("raise the test's descriptor limit");
    let upstream = MockUpstream::start();
    let home = Home::new();
    start_with_fd_limit(&home, 128);
    let port = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    running_pid(&home, "claude", None, Duration::from_secs(10));

    // More clients than the worker has descriptors, each stalled half-way
    // through its request head: today they fill the worker's table for good.
    let head = format!("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    let slow: Vec<TcpStream> = (0..150)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect a slow client");
            s.write_all(head.as_bytes()).expect("half a head");
            s
        })
        .collect();

    for _ in 0..5 {
        let (status, body) = http(port, "POST", "/v1/messages", "{}")
            .expect("a normal request is answered during the flood");
        assert_eq!(status, 200, "{body}");
    }
    drop(slow);
    let log = log_text(&home);
    assert!(
        log.matches("accept failed").count() <= 1,
        "accept failures are logged once per episode:\n{log}"
    );
}

#[test]
fn another_users_connection_gets_403_and_never_reaches_the_upstream() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: connecting as another uid (nobody) needs root");
        return;
    }
    let upstream = MockUpstream::start();
    let home = Home::new().env("ABUSE_KEY_VAR", "sk-owner-only");
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
        "ABUSE_KEY_VAR",
        "--priority",
        "-5",
    ]);
    home.ok(&["enable", "claude"]);
    running_pid(&home, "claude", None, Duration::from_secs(10));

    let (status, body) = http(port, "POST", "/v1/messages", "{}").expect("the owner's request");
    assert_eq!(status, 200, "{body}");
    let hits = upstream.hits.load(std::sync::atomic::Ordering::Relaxed);

    // The same request from a process of uid 65534 (nobody): bash's /dev/tcp,
    // so nothing but the uid differs.
    let response = as_nobody(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port}; \
         printf 'POST /v1/messages HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{{}}' >&3; \
         cat <&3"
    ));
    assert!(
        response.starts_with("HTTP/1.1 403"),
        "another user's request is refused: {response:?}"
    );
    assert!(
        response.contains("uid 65534 may not use it"),
        "the refusal says why: {response:?}"
    );
    assert!(!response.contains("sk-owner-only"));
    assert_eq!(
        upstream.hits.load(std::sync::atomic::Ordering::Relaxed),
        hits,
        "nothing reached the upstream with the owner's key"
    );
    // The owner is still served.
    let (status, _) = http(port, "POST", "/v1/messages", "{}").expect("the owner again");
    assert_eq!(status, 200);
}

/// Runs `script` with bash as uid/gid 65534 and returns its stdout (10 s at most).
fn as_nobody(script: &str) -> String {
    let mut child = Command::new("bash")
        .args(["-c", script])
        .uid(65534)
        .gid(65534)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn bash as nobody");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the request as nobody did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read the response");
    out
}
