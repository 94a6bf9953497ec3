//! The daemon stays reachable for its owner: out of descriptors it backs off
//! and says so, stalled and idle connections meet deadlines and give way to
//! newcomers, reads never queue behind busy work, and what a client writes
//! never reaches the log or a terminal raw.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{BufRead, BufReader, Read, Write};
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

/// Open descriptors of `pid` and the lowest free descriptor number.
fn lowest_free_fd(pid: u32) -> u64 {
    let mut used: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    used.sort_unstable();
    let mut free = 0;
    for fd in used {
        if fd == free {
            free += 1;
        } else if fd > free {
            break;
        }
    }
    free
}

/// Sets the soft descriptor limit of `pid` (the hard one stays: raising it
/// back would need a privilege).
fn set_nofile(pid: u32, soft: u64, hard: u64) {
    let out = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={soft}:{hard}"))
        .output()
        .expect("prlimit");
    assert!(out.status.success(), "{out:?}");
}

/// The hard descriptor limit of `pid`, from `/proc/PID/limits`.
fn hard_nofile(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(4).unwrap().parse().unwrap()
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn out_of_descriptors_the_accept_loop_backs_off_and_says_so() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        println!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let home = Home::new();
    home.start();
    let pid = home.daemon_pid().unwrap();
    // A watcher attached before the limit bites sees the fact come and go.
    let mut events = home
        .command(&["events", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    lines.next().unwrap().unwrap(); // the snapshot
    let hard = hard_nofile(pid);
    set_nofile(pid, lowest_free_fd(pid), hard);
    // Clients wait in the backlog; the daemon must not spin on them.
    let waiting: Vec<_> = (0..3)
        .map(|_| UnixStream::connect(home.socket()).unwrap())
        .collect();
    let noted = wait_until_line(&mut lines, "accept_changed", Duration::from_secs(10));
    assert!(noted.contains("Too many open files"), "{noted}");
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let ticks = cpu_ticks(pid) - before;
    // 100 ticks a second: a spinning loop would burn ~200 here.
    assert!(
        ticks < 40,
        "the daemon used {ticks} ticks of CPU in 2 s while out of descriptors"
    );
    set_nofile(pid, hard, hard);
    let cleared = wait_until_line(&mut lines, "accept_changed", Duration::from_secs(10));
    assert!(cleared.contains("null"), "{cleared}");
    status_answers(&home, Duration::from_secs(5));
    drop(waiting);
    let _ = events.kill();
    let _ = events.wait();
    let log = std::fs::read_to_string(home.path().join("logs/switchyard.log")).unwrap();
    assert_eq!(
        log.matches("cannot accept connections").count(),
        1,
        "logged once per episode:\n{log}"
    );
}

fn wait_until_line(
    lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
    needle: &str,
    limit: Duration,
) -> String {
    let deadline = Instant::now() + limit;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains(needle) {
            return line;
        }
        assert!(Instant::now() < deadline, "no {needle} line in time");
    }
    panic!("the event stream ended before a {needle} line");
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
