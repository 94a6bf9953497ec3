//! Out of descriptors, the daemon's accept loop backs off, says so once per
//! episode and recovers. Linux only: the test lowers a running daemon's limit
//! with `prlimit(1)` and reads its descriptors and CPU time from `/proc`, which
//! only Linux offers for another process (the behaviour itself is portable code).

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Home;

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
    // A soft limit of 0: no new descriptor at all, even if the daemon closes
    // one meanwhile (a limit at the lowest free number would let a transient
    // descriptor's slot be reused, ending the episode early under load).
    set_nofile(pid, 0, hard);
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
    let status = home.run(&["status", "--json"]);
    assert!(status.status.success(), "{status:?}");
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
