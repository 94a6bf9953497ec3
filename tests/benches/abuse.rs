//! The proxy port under abuse, against the real binary, printed as one markdown
//! table (`cargo bench --bench abuse`):
//! - normal-request latency (p50/p99, a new connection each) through a worker
//!   started with a 1,024-descriptor limit, alone and during a flood of 1,100
//!   slowloris connections (each sends half a request head, then nothing, and
//!   reconnects whenever the proxy closes it);
//! - the worker's RSS while 60 maximum-size uploads (32 MiB, the replay cap)
//!   stall one byte short of their declared length.
//!
//! `SWITCHYARD_BIN=path` measures another build (e.g. one from before the
//! limits: its flood rows then show timeouts, its RSS row the unbounded hold).
//! Everything stays on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failure report

#[allow(dead_code)] // the tests' mock upstream; its hit counter is not needed here
#[path = "../common/upstream.rs"]
mod upstream;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FLOOD: usize = 1_100;
const FD_LIMIT: u64 = 1_024;
const NORMAL_REQUESTS: usize = 1_000;
const UPLOADS: usize = 60;
const UPLOAD_BYTES: usize = 32 << 20;

fn bin() -> String {
    std::env::var("SWITCHYARD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchyard").into())
}

fn main() {
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the bench's descriptor limit");
    let upstream = upstream::MockUpstream::start();
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. Slowloris at a 1,024-descriptor limit.
    let home = Home::new(Some(FD_LIMIT));
    let port = home.serve_claude(upstream.port);
    let quiet = latencies(port, NORMAL_REQUESTS);
    rows.push((
        format!("normal requests, no flood ({FD_LIMIT}-descriptor limit)"),
        quiet.summary(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let connects = Arc::new(AtomicU64::new(0));
    let flood = std::thread::spawn({
        let (stop, connects) = (Arc::clone(&stop), Arc::clone(&connects));
        move || slowloris(port, FLOOD, stop, connects)
    });
    // Let every attacker connect once (or 10 s pass) before measuring.
    let deadline = Instant::now() + Duration::from_secs(10);
    while connects.load(Ordering::Relaxed) < FLOOD as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = connects.load(Ordering::Relaxed);
    let started = Instant::now();
    let flooded = latencies(port, NORMAL_REQUESTS);
    let reconnects = connects.load(Ordering::Relaxed) - before;
    rows.push((
        format!(
            "normal requests during a {FLOOD}-connection slowloris ({FD_LIMIT}-descriptor limit)"
        ),
        flooded.summary(),
    ));
    rows.push((
        "slowloris reconnects during that (the proxy shed them)".into(),
        format!("{reconnects} in {:.1} s", started.elapsed().as_secs_f64()),
    ));
    stop.store(true, Ordering::Relaxed);
    flood.join().expect("flood thread");
    let log = home.log();
    rows.push((
        "`accept failed` lines in the log".into(),
        log.matches("accept failed").count().to_string(),
    ));
    drop(home);

    // 2. RSS with stalled maximum-size uploads.
    let home = Home::new(None);
    let port = home.serve_claude(upstream.port);
    let pid = home.worker_pid();
    let idle = rss_kib(pid);
    let uploads = stalled_uploads(port, UPLOADS);
    let peak = settled_rss(pid);
    rows.push(("worker RSS, idle".into(), format!("{} MiB", idle / 1024)));
    rows.push((
        format!("worker RSS with {UPLOADS} uploads of 32 MiB stalled one byte short"),
        format!("{} MiB", peak / 1024),
    ));
    drop(uploads);
    drop(home);

    println!("## The proxy port under abuse\n");
    println!("| what | figure |\n|---|---|");
    for (what, figure) in rows {
        println!("| {what} | {figure} |");
    }
}

/// A daemon in a temp home; stopped on drop.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(fd_limit: Option<u64>) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("syabuse")
            .tempdir_in("/tmp")
            .expect("tmp");
        let home = Home { dir };
        let mut start = home.command(&["daemon", "start"]);
        if let Some(limit) = fd_limit {
            // SAFETY: setrlimit is async-signal-safe.
            unsafe {
                start.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit));
            }
        }
        assert!(start.status().expect("daemon start").success());
        home
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("SWITCHYARD_HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self
            .command(args)
            .stdout(Stdio::piped())
            .output()
            .expect("run switchyard");
        assert!(out.status.success(), "switchyard {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Claude's proxy on a free port, routed to `upstream`, serving.
    fn serve_claude(&self, upstream: u16) -> u16 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        self.ok(&["port", "claude", &port.to_string()]);
        let base = format!("http://127.0.0.1:{upstream}");
        self.ok(&[
            "provider",
            "add",
            "claude",
            "mock",
            "--base-url",
            &base,
            "--priority",
            "-10",
        ]);
        self.ok(&["enable", "claude"]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while request(port).is_err() {
            assert!(Instant::now() < deadline, "the worker did not serve");
            std::thread::sleep(Duration::from_millis(20));
        }
        port
    }

    fn worker_pid(&self) -> u32 {
        let status: serde_json::Value =
            serde_json::from_str(&self.ok(&["status", "--json"])).expect("status json");
        status["apps"]
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["app"] == "claude"))
            .and_then(|a| a["pid"].as_u64())
            .expect("claude's worker pid") as u32
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/switchyard.log")).unwrap_or_default()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.command(&["daemon", "stop"]).status();
    }
}

/// One request on a new connection; its latency.
fn request(port: u16) -> std::io::Result<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other("not a 200"));
    }
    Ok(started.elapsed())
}

struct Latencies {
    ok: Vec<Duration>,
    failed: usize,
}

impl Latencies {
    fn summary(&self) -> String {
        let mut sorted = self.ok.clone();
        sorted.sort();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3))
        };
        format!(
            "p50 {}, p99 {}, {} of {} failed or timed out (10 s)",
            at(0.5),
            at(0.99),
            self.failed,
            self.ok.len() + self.failed
        )
    }
}

fn latencies(port: u16, n: usize) -> Latencies {
    let mut out = Latencies {
        ok: Vec::with_capacity(n),
        failed: 0,
    };
    for _ in 0..n {
        match request(port) {
            Ok(latency) => out.ok.push(latency),
            Err(_) => out.failed += 1,
        }
    }
    out
}

/// `n` clients that each send half a request head and wait; whenever the proxy
/// closes one, it connects again. Until `stop`.
fn slowloris(port: u16, n: usize, stop: Arc<AtomicBool>, connects: Arc<AtomicU64>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let head = format!("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (stop, connects, head) = (Arc::clone(&stop), Arc::clone(&connects), head.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    connects.fetch_add(1, Ordering::Relaxed);
                    if s.write_all(head.as_bytes()).await.is_err() {
                        continue;
                    }
                    // Hold it until the proxy closes it, checking `stop` now and then.
                    let mut buf = [0u8; 64];
                    loop {
                        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf))
                            .await
                        {
                            Ok(Ok(0) | Err(_)) => break,
                            Ok(Ok(_)) => {}
                            Err(_) if stop.load(Ordering::Relaxed) => return,
                            Err(_) => {}
                        }
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
}

/// `n` uploads that declare 32 MiB and send all but the last byte, held open.
fn stalled_uploads(port: u16, n: usize) -> Vec<TcpStream> {
    let chunk = vec![b'x'; 1 << 20];
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                write!(
                    s,
                    "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {UPLOAD_BYTES}\r\n\r\n"
                )
                .expect("head");
                let mut left = UPLOAD_BYTES - 1;
                while left > 0 {
                    let n = left.min(chunk.len());
                    s.write_all(&chunk[..n]).expect("upload");
                    left -= n;
                }
                s
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("upload thread"))
        .collect()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The worker's RSS once it has stopped growing for a second (20 s at most).
fn settled_rss(pid: u32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut peak, mut since) = (rss_kib(pid), Instant::now());
    while Instant::now() < deadline && since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(100));
        let now = rss_kib(pid);
        if now > peak {
            (peak, since) = (now, Instant::now());
        }
    }
    peak
}
