//! Daemon figures, printed as one markdown table (`cargo bench --bench daemon`):
//! cold `daemon start` until it answers, request round trips beside a raw
//! Unix-socket ping-pong measured in the same run, event latency from emit to
//! subscriber, idle RSS, and CPU time over 10 idle seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_daemon::client::Client;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Request, ServerMessage};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const ROUND_TRIPS: usize = 5_000;

fn main() {
    let mut rows: Vec<(String, String)> = Vec::new();
    rows.push((
        "cold `daemon start` until it answers (10 runs)".into(),
        cold_start(),
    ));

    let home = tempfile::Builder::new()
        .prefix("sybench")
        .tempdir_in("/tmp")
        .expect("tmp");
    let paths = Paths::under(home.path().to_path_buf());
    run(home.path(), &["daemon", "start"]);
    let pid = daemon_pid(home.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");

    let floor = raw_ping_pong();
    rows.push((
        "raw Unix-socket ping-pong (same run, floor)".into(),
        fmt(&floor),
    ));
    let (ping, status) = runtime.block_on(round_trips(&paths));
    rows.push((
        "`Ping` round trip, blocking client (raw frames)".into(),
        fmt(&blocking_ping(&paths)),
    ));
    rows.push(("`Ping` round trip, async `Client`".into(), fmt(&ping)));
    rows.push((
        "`Status` request round trip (full snapshot)".into(),
        fmt(&status),
    ));
    for subscribers in [1, 10, 100] {
        let lat = runtime.block_on(event_latency(&paths, subscribers));
        rows.push((
            format!("event latency emit→receipt, {subscribers} subscribers"),
            fmt(&lat),
        ));
    }
    rows.push((
        "daemon RSS, idle, no apps enabled".into(),
        format!("{} KiB", rss_kib(pid)),
    ));
    let (cpu_ms, wall) = idle_cpu(pid, Duration::from_secs(10));
    rows.push((
        format!("daemon CPU over {}s idle", wall.as_secs()),
        format!("{cpu_ms} ms"),
    ));
    run(home.path(), &["daemon", "stop"]);

    println!("\n| figure | value |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}

fn run(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("SWITCHYARD_HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("run switchyard")
}

fn daemon_pid(home: &std::path::Path) -> u32 {
    std::fs::read_to_string(home.join("run/daemon.pid"))
        .expect("pid")
        .trim()
        .parse()
        .expect("pid")
}

fn cold_start() -> String {
    let mut times = Vec::new();
    for _ in 0..10 {
        let home = tempfile::Builder::new()
            .prefix("sybench")
            .tempdir_in("/tmp")
            .expect("tmp");
        let began = Instant::now();
        let out = run(home.path(), &["daemon", "start"]);
        times.push(began.elapsed());
        assert!(out.status.success());
        run(home.path(), &["daemon", "stop"]);
    }
    times.sort();
    format!("p50 {:.1} ms, max {:.1} ms", ms(times[5]), ms(times[9]))
}

fn raw_ping_pong() -> Vec<Duration> {
    let (mut a, mut b) = UnixStream::pair().expect("pair");
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        for _ in 0..ROUND_TRIPS {
            b.read_exact(&mut buf).expect("read");
            b.write_all(&buf).expect("write");
        }
    });
    let mut buf = [0u8; 16];
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        a.write_all(&buf.clone()).expect("write");
        a.read_exact(&mut buf).expect("read");
        out.push(t.elapsed());
    }
    echo.join().expect("echo");
    out
}

/// The daemon's side alone: a plain blocking client speaking raw frames.
fn blocking_ping(paths: &Paths) -> Vec<Duration> {
    use switchyard_daemon::protocol::{ClientMessage, PROTOCOL_VERSION};
    let mut stream = UnixStream::connect(paths.socket()).expect("connect");
    let send = |stream: &mut UnixStream, msg: &ClientMessage| {
        let payload = postcard::to_stdvec(msg).expect("encode");
        let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&payload);
        stream.write_all(&frame).expect("write");
    };
    let read = |stream: &mut UnixStream| {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("read");
        let mut payload = vec![0u8; u32::from_le_bytes(len) as usize];
        stream.read_exact(&mut payload).expect("read");
    };
    send(
        &mut stream,
        &ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: "bench".into(),
        },
    );
    read(&mut stream);
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for id in 0..ROUND_TRIPS as u64 {
        let t = Instant::now();
        send(
            &mut stream,
            &ClientMessage::Request {
                id,
                request: Request::Ping,
            },
        );
        read(&mut stream);
        out.push(t.elapsed());
    }
    out
}

async fn round_trips(paths: &Paths) -> (Vec<Duration>, Vec<Duration>) {
    let mut client = Client::connect(paths, "bench").await.expect("connect");
    let mut time = async |request: Request| {
        let mut out = Vec::with_capacity(ROUND_TRIPS);
        for _ in 0..ROUND_TRIPS {
            let t = Instant::now();
            client.request(request.clone()).await.expect("request");
            out.push(t.elapsed());
        }
        out
    };
    let ping = time(Request::Ping).await;
    let status = time(Request::Status).await;
    (ping, status)
}

/// Toggles a port setting (a real state change with an event) and measures
/// from the request being sent to each subscriber receiving the event; the
/// emit happens in between, so this bounds emit→receipt from above.
async fn event_latency(paths: &Paths, subscribers: usize) -> Vec<Duration> {
    let mut subs = Vec::new();
    for _ in 0..subscribers {
        let client = Client::connect(paths, "bench-sub").await.expect("connect");
        let mut sub = client.subscribe(None).await.expect("subscribe");
        let _snapshot = sub.next().await;
        subs.push(sub);
    }
    let mut control = Client::connect(paths, "bench").await.expect("connect");
    let mut out = Vec::new();
    for i in 0..200u16 {
        let port = 20_000 + i % 2;
        let t = Instant::now();
        control
            .request(Request::SetPort {
                app: switchyard_daemon::apps::App::Gemini,
                port,
            })
            .await
            .expect("set port");
        for sub in &mut subs {
            loop {
                match sub.next().await {
                    Some(Ok(ServerMessage::Event(_))) => break,
                    Some(Ok(_)) => continue,
                    other => panic!("subscription ended: {:?}", other.map(|r| r.is_ok())),
                }
            }
            out.push(t.elapsed());
        }
    }
    out
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect(")") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

fn idle_cpu(pid: u32, wall: Duration) -> (u64, Duration) {
    let before = cpu_ticks(pid);
    std::thread::sleep(wall);
    let ticks = cpu_ticks(pid) - before;
    // USER_HZ is 100 on Linux.
    (ticks * 10, wall)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt(samples: &[Duration]) -> String {
    let mut s = samples.to_vec();
    s.sort();
    let p = |q: usize| s[(s.len() * q / 100).min(s.len() - 1)];
    format!(
        "p50 {:.1} µs, p99 {:.1} µs",
        p(50).as_secs_f64() * 1e6,
        p(99).as_secs_f64() * 1e6
    )
}
