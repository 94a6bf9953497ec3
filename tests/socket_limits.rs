//! The daemon stays reachable for its owner: out of descriptors it backs off
//! and says so, stalled and idle connections meet deadlines and give way to
//! newcomers, reads never queue behind busy work, and what a client writes
//! never reaches the log or a terminal raw.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Home, wait_for};
use switchyard_daemon::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};

fn frame(msg: &ClientMessage) -> Vec<u8> {
    let payload = postcard::to_stdvec(msg).unwrap();
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

fn hello(name: &str) -> Vec<u8> {
    frame(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        client: name.into(),
    })
}

fn read(stream: &mut UnixStream) -> Option<ServerMessage> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut payload = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut payload).ok()?;
    postcard::from_bytes(&payload).ok()
}

/// Connects, says Hello and reads the Welcome.
fn attached(home: &Home) -> UnixStream {
    let mut stream = UnixStream::connect(home.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&hello("test")).unwrap();
    assert!(matches!(
        read(&mut stream),
        Some(ServerMessage::Welcome { .. })
    ));
    stream
}

/// `status` answers, and quickly.
fn status_answers(home: &Home, within: Duration) {
    let began = Instant::now();
    let out = home.run(&["status", "--json"]);
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        began.elapsed() < within,
        "status took {:?}",
        began.elapsed()
    );
}

#[test]
fn stalled_connections_never_keep_the_owner_out() {
    let home = Home::new();
    home.start();
    // More than the old 1,024-connection cap, each stalled mid-frame.
    let mut flood = Vec::new();
    for _ in 0..1030 {
        let mut stream = attached(&home);
        stream.write_all(&[7, 0]).unwrap();
        flood.push(stream);
    }
    status_answers(&home, Duration::from_secs(5));
    home.ok(&["daemon", "stop"]);
}

#[test]
fn a_frame_that_stalls_is_closed_after_its_deadline() {
    let home = Home::new();
    home.start();
    let mut stream = attached(&home);
    // Half a length prefix, then nothing.
    stream.write_all(&[9, 0]).unwrap();
    let began = Instant::now();
    match read(&mut stream) {
        Some(ServerMessage::Error(err)) => assert!(err.message.contains("not complete"), "{err:?}"),
        other => panic!("expected an error frame, got {other:?}"),
    }
    assert!(read(&mut stream).is_none(), "then closed");
    assert!(
        began.elapsed() < Duration::from_secs(9),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn status_never_waits_behind_a_stuck_request() {
    let home = Home::with_user_home();
    home.start();
    // A settings file that blocks whoever opens it (a FIFO with no writer):
    // the takeover's file work on it never finishes.
    let dir = home.user().join(".claude");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("settings.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut stuck = home
        .command(&["enable", "claude", "--takeover"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Give the request time to reach the core and get stuck there.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        status_answers(&home, Duration::from_secs(2));
        home.ok(&["provider", "list", "--json"]);
    }
    // Unblock it: a writer that closes at once gives the reader end of file
    // (non-blocking: if nobody reads, there is nothing to unblock).
    use std::os::unix::fs::OpenOptionsExt;
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&fifo),
    );
    let _ = stuck.kill();
    let _ = stuck.wait();
}

#[test]
fn client_text_reaches_neither_the_log_nor_the_terminal_raw() {
    let home = Home::new();
    home.start();
    let forged = "evil\n2030-01-01T00:00:00.000000Z  INFO forged line\u{1b}[2J";
    // A protocol mismatch is logged with the client's name.
    let mut stream = UnixStream::connect(home.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(&frame(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION + 100,
            client: forged.into(),
        }))
        .unwrap();
    assert!(matches!(read(&mut stream), Some(ServerMessage::Error(_))));
    // A key variable name is refused when it carries control characters.
    let out = home.run(&[
        "provider",
        "add",
        "claude",
        "x",
        "--base-url",
        "https://x.example",
        "--key-env",
        "K\u{1b}[2J",
    ]);
    assert!(!out.status.success());
    wait_for("the mismatch in the log", Duration::from_secs(5), || {
        std::fs::read_to_string(home.path().join("logs/switchyard.log"))
            .is_ok_and(|log| log.contains("protocol mismatch"))
    });
    let log = std::fs::read(home.path().join("logs/switchyard.log")).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(
        !text.lines().any(|l| l.starts_with("2030-01-01")),
        "a forged line reached the log:\n{text}"
    );
    let out = Command::new(BIN)
        .args(["logs"])
        .env("SWITCHYARD_HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b), "raw ESC on the terminal");
    assert!(String::from_utf8_lossy(&out.stdout).contains("protocol mismatch"));
}
