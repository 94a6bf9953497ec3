//! Daemon figures, printed as one markdown table (`cargo bench --bench daemon`):
//! cold `daemon start` until it answers, request round trips beside a raw
//! Unix-socket ping-pong measured in the same run (as the scheduler places the
//! processes, and pinned to one core and to two), event latency from emit to
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
    if let Ok(path) = std::env::var(ECHO_ENV) {
        return serve_echo(&path);
    }
    if let Ok(path) = std::env::var(ASYNC_ECHO_ENV) {
        return serve_echo_async(&path);
    }
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

    for (placement, rt) in runtime.block_on(interleaved_round_trips(&paths, pid)) {
        let where_ = placement.label();
        let floor = median(&rt.floor);
        let ratio = |series: &[Duration]| {
            format!("{}, {:.1}× the floor", fmt(series), median(series) / floor)
        };
        rows.push((
            format!(
                "raw Unix-socket ping-pong, blocking echo in another process (floor), {where_}"
            ),
            fmt(&rt.floor),
        ));
        for (what, series) in [
            (
                "raw Unix-socket ping-pong, echo on a tokio event loop",
                &rt.async_floor,
            ),
            ("`Ping` round trip, blocking raw-frame client", &rt.blocking),
            ("`Ping` round trip, async `Client`", &rt.ping),
            (
                "`Status` round trip (full snapshot), async `Client`",
                &rt.status,
            ),
        ] {
            rows.push((format!("{what}, {where_}"), ratio(series)));
        }
        if let Some(cores) = rt.cores {
            rows.push((format!("where the servers ran, {where_}"), cores));
        }
    }
    for subscribers in [1, 10, 100] {
        let lat = runtime.block_on(event_latency(&paths, subscribers));
        rows.push((
            format!("request sent → event received, {subscribers} subscribers (upper bound)"),
            fmt(&lat),
        ));
    }
    rows.extend(event_latency_rounds());
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

/// Round trips measured in interleaved batches, so that every series sees
/// the same machine (this VM's wake-up latency drifts by 10× within a minute).
struct RoundTrips {
    /// Placed by the scheduler: which core each server last ran on, beside the
    /// client's (the round trip depends on it more than on the server).
    cores: Option<String>,
    floor: Vec<Duration>,
    async_floor: Vec<Duration>,
    blocking: Vec<Duration>,
    ping: Vec<Duration>,
    status: Vec<Duration>,
}

const BATCHES: usize = 50;

/// Where the client and the servers run during a round-trip series.
///
/// On a small VM, a server process that last ran on the other (idle) vCPU is
/// woken there again, and every such wake-up costs an inter-processor
/// interrupt (tens of µs here), while a server that happens to sit beside the
/// client is woken on the spot. Which servers end up where depends on start
/// order, not on the server (measured: started as a child of the bench, the
/// daemon lands beside the client and the tokio echo does not). So the
/// comparison is made with the placement fixed, both ways, besides as it falls.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    AsScheduled,
    SameCore,
    AcrossCores,
}

impl Placement {
    fn label(self) -> &'static str {
        match self {
            Placement::AsScheduled => "placed by the scheduler",
            Placement::SameCore => "client and server pinned to one core",
            Placement::AcrossCores => "client and server pinned to different cores",
        }
    }

    /// Pins this thread (the client) and every thread of `servers`.
    fn apply(self, servers: &[u32]) {
        use nix::sched::{CpuSet, sched_setaffinity};
        use nix::unistd::Pid;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let set = |cpus: &mut dyn Iterator<Item = usize>| {
            let mut set = CpuSet::new();
            for cpu in cpus {
                set.set(cpu).expect("cpu index");
            }
            set
        };
        let (client, server) = match self {
            Placement::AsScheduled => (set(&mut (0..cores)), set(&mut (0..cores))),
            Placement::SameCore => (set(&mut (0..1)), set(&mut (0..1))),
            Placement::AcrossCores => (set(&mut (0..1)), set(&mut (1..2))),
        };
        sched_setaffinity(Pid::from_raw(0), &client).expect("pin the client");
        for pid in servers {
            for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
                let tid: i32 = task.unwrap().file_name().to_str().unwrap().parse().unwrap();
                sched_setaffinity(Pid::from_raw(tid), &server).expect("pin a server");
            }
        }
    }
}

async fn interleaved_round_trips(paths: &Paths, daemon_pid: u32) -> Vec<(Placement, RoundTrips)> {
    use switchyard_daemon::protocol::{ClientMessage, PROTOCOL_VERSION};
    // The floor: 16-byte ping-pong with an echo in another process, as the
    // daemon is; once blocking, once on a tokio event loop as the daemon is.
    let (mut echo, mut raw) = start_echo(ECHO_ENV, &paths.run_dir.join("echo.sock"));
    let (mut async_echo, mut async_raw) =
        start_echo(ASYNC_ECHO_ENV, &paths.run_dir.join("async-echo.sock"));
    let mut daemon = UnixStream::connect(paths.socket()).expect("connect");
    // Reads go through a buffer, so a reply (length, then payload) costs the
    // client one read, as the floor's echo does.
    let mut replies = std::io::BufReader::new(daemon.try_clone().expect("clone"));
    let frame = |msg: &ClientMessage| {
        let payload = postcard::to_stdvec(msg).expect("encode");
        let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&payload);
        frame
    };
    let read_frame = |stream: &mut std::io::BufReader<UnixStream>| {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("read");
        let mut payload = vec![0u8; u32::from_le_bytes(len) as usize];
        stream.read_exact(&mut payload).expect("read");
    };
    daemon
        .write_all(&frame(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: "bench".into(),
        }))
        .expect("hello");
    read_frame(&mut replies);
    let ping = frame(&ClientMessage::Request {
        id: 1,
        request: Request::Ping,
    });
    let mut client = Client::connect(paths, "bench").await.expect("connect");
    let servers = [echo.id(), async_echo.id(), daemon_pid];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut placements = vec![Placement::AsScheduled, Placement::SameCore];
    if cores > 1 {
        placements.push(Placement::AcrossCores);
    }
    let per = ROUND_TRIPS / BATCHES;
    let mut all = Vec::new();
    for placement in placements {
        placement.apply(&servers);
        let mut out = RoundTrips {
            cores: None,
            floor: Vec::new(),
            async_floor: Vec::new(),
            blocking: Vec::new(),
            ping: Vec::new(),
            status: Vec::new(),
        };
        let mut buf = [0u8; 16];
        for _ in 0..BATCHES {
            for _ in 0..per {
                let t = Instant::now();
                raw.write_all(&buf.clone()).expect("write");
                raw.read_exact(&mut buf).expect("read");
                out.floor.push(t.elapsed());
            }
            for _ in 0..per {
                let t = Instant::now();
                async_raw.write_all(&buf.clone()).expect("write");
                async_raw.read_exact(&mut buf).expect("read");
                out.async_floor.push(t.elapsed());
            }
            for _ in 0..per {
                let t = Instant::now();
                daemon.write_all(&ping).expect("write");
                read_frame(&mut replies);
                out.blocking.push(t.elapsed());
            }
            for (series, request) in [
                (&mut out.ping, Request::Ping),
                (&mut out.status, Request::Status),
            ] {
                for _ in 0..per {
                    let t = Instant::now();
                    client.request(request.clone()).await.expect("request");
                    series.push(t.elapsed());
                }
            }
        }
        if placement == Placement::AsScheduled {
            out.cores = Some(cores_seen(&servers));
        }
        all.push((placement, out));
    }
    Placement::AsScheduled.apply(&servers);
    drop((raw, async_raw));
    let _ = (echo.wait(), async_echo.wait());
    all
}

/// "client on core 0; blocking echo 0, tokio echo 0, daemon 1": the core each
/// server's main thread last ran on (field 39 of `/proc/PID/stat`).
fn cores_seen(servers: &[u32; 3]) -> String {
    let last_core = |pid: u32| -> Option<String> {
        Some(stat_after_name(pid)?.split_whitespace().nth(36)?.to_owned())
    };
    let client = nix::sched::sched_getcpu().map_or("?".to_owned(), |c| c.to_string());
    let [echo, async_echo, daemon] = servers.map(|pid| last_core(pid).unwrap_or("?".into()));
    format!(
        "client on core {client}; blocking echo {echo}, tokio echo {async_echo}, daemon {daemon}"
    )
}

/// Spawns this bench again as an echo server (`mode` picks which) and connects.
fn start_echo(mode: &str, path: &std::path::Path) -> (std::process::Child, UnixStream) {
    let child = Command::new(std::env::current_exe().expect("exe"))
        .env(mode, path)
        .spawn()
        .expect("spawn echo");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => return (child, stream),
            Err(e) if Instant::now() > deadline => panic!("echo never listened: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Set for the child that serves as the echo end of the floor measurement.
const ECHO_ENV: &str = "SWITCHYARD_BENCH_ECHO";

/// Set for the child that echoes from a single-threaded tokio runtime, the way
/// the daemon serves: the floor for any epoll-based server.
const ASYNC_ECHO_ENV: &str = "SWITCHYARD_BENCH_ASYNC_ECHO";

fn serve_echo_async(path: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let Ok(listener) = tokio::net::UnixListener::bind(path) else {
            return;
        };
        if let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 16];
            while stream.read_exact(&mut buf).await.is_ok() && stream.write_all(&buf).await.is_ok()
            {
            }
        }
    });
}

fn serve_echo(path: &str) {
    let Ok(listener) = std::os::unix::net::UnixListener::bind(path) else {
        return;
    };
    if let Ok((mut stream, _)) = listener.accept() {
        let mut buf = [0u8; 16];
        while stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {}
    }
}

/// Toggles a port setting (a real state change with an event) and measures
/// from the request being sent to each subscriber receiving the event, all
/// read in turn by this one task; the emit happens in between, so this
/// bounds emit→receipt from above.
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

/// Rounds of the emit→receipt series. One round's tail is at the mercy of
/// whatever else the machine did in that second, so the series run in rotating
/// order and the table gives the median of the rounds' p50 and p99, with every
/// round's p99 beside it.
const EVENT_ROUNDS: usize = 3;
/// Events per round. Every subscriber gets each event, so one event is
/// 1/EVENTS_PER_ROUND of the samples whatever the subscriber count: with too
/// few, the p99 is just the second-worst event, i.e. the one hiccup of the
/// machine that round.
const EVENTS_PER_ROUND: u16 = 1000;

/// Emit→receipt rows: 1, 10 and 100 subscribers, and for 100 how far apart the
/// first and the last subscriber get each event.
fn event_latency_rounds() -> Vec<(String, String)> {
    let counts = [1, 10, 100];
    let mut rounds: Vec<Vec<Receipts>> = counts.iter().map(|_| Vec::new()).collect();
    for round in 0..EVENT_ROUNDS {
        for i in 0..counts.len() {
            let index = (i + round) % counts.len();
            rounds[index].push(emit_to_receipt(counts[index]));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut rows = Vec::new();
    for (subscribers, rounds) in counts.iter().zip(&rounds) {
        let p50 = median(rounds.iter().map(|r| us(quantile(&r.all, 50))).collect());
        let p99s: Vec<f64> = rounds.iter().map(|r| us(quantile(&r.all, 99))).collect();
        let each = p99s
            .iter()
            .map(|p| format!("{p:.0}"))
            .collect::<Vec<_>>()
            .join(" / ");
        rows.push((
            format!(
                "event latency emit→receipt, {subscribers} subscribers (median of {EVENT_ROUNDS} rounds)"
            ),
            format!("p50 {p50:.1} µs, p99 {:.1} µs (rounds' p99: {each} µs)", median(p99s.clone())),
        ));
    }
    if let Some(rounds) = rounds.last() {
        let first = median(rounds.iter().map(|r| us(quantile(&r.first, 50))).collect());
        let last = median(rounds.iter().map(|r| us(quantile(&r.last, 50))).collect());
        rows.push((
            "fan-out to 100 subscribers: the first and the last to get each event".into(),
            format!("p50 {first:.1} µs and {last:.1} µs after the emit"),
        ));
    }
    rows
}

/// One emit→receipt series: every receipt, and per event the earliest and the
/// latest subscriber's.
struct Receipts {
    all: Vec<Duration>,
    first: Vec<Duration>,
    last: Vec<Duration>,
}

/// Emit→receipt, measured with the one clock both processes share: a daemon
/// with `SWITCHYARD_LOG=debug` logs each event (µs wall-clock timestamp) as it
/// emits it; each subscriber, on its own task, stamps the wall clock on
/// receipt. The two are matched by seq after the daemon stops. The subscribers
/// share one current-thread runtime, the way `Client` runs in the dashboard
/// and the CLI (a multi-threaded one would also take the daemon's core).
fn emit_to_receipt(subscribers: usize) -> Receipts {
    use std::time::{SystemTime, UNIX_EPOCH};
    let home = tempfile::Builder::new()
        .prefix("sybench")
        .tempdir_in("/tmp")
        .expect("tmp");
    let paths = Paths::under(home.path().to_path_buf());
    let out = Command::new(BIN)
        .args(["daemon", "start"])
        .env("SWITCHYARD_HOME", home.path())
        .env("SWITCHYARD_LOG", "debug")
        .output()
        .expect("start");
    assert!(out.status.success());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let receipts = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, SystemTime)>();
        for _ in 0..subscribers {
            let client = Client::connect(&paths, "bench-sub").await.expect("connect");
            let mut sub = client.subscribe(None).await.expect("subscribe");
            let _snapshot = sub.next().await;
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = sub.next().await {
                    let at = SystemTime::now();
                    if let ServerMessage::Event(event) = msg {
                        let _ = tx.send((event.seq, at));
                    }
                }
            });
        }
        let mut control = Client::connect(&paths, "bench").await.expect("connect");
        let mut receipts = Vec::new();
        for i in 0..EVENTS_PER_ROUND {
            let request = Request::SetPort {
                app: switchyard_daemon::apps::App::Gemini,
                port: 20_000 + i % 2,
            };
            control.request(request).await.expect("set port");
            for _ in 0..subscribers {
                receipts.push(rx.recv().await.expect("receipt"));
            }
        }
        receipts
    });
    drop(runtime);
    run(home.path(), &["daemon", "stop"]);
    // "2026-11-29T14:21:05.123456Z DEBUG event seq=5 kind=…"
    let log = std::fs::read_to_string(home.path().join("logs/switchyard.log")).expect("log");
    let day_secs = |hms: &str| -> Option<f64> {
        let mut parts = hms.split(':');
        let h: f64 = parts.next()?.parse().ok()?;
        let m: f64 = parts.next()?.parse().ok()?;
        let s: f64 = parts.next()?.trim_end_matches('Z').parse().ok()?;
        Some(h * 3600.0 + m * 60.0 + s)
    };
    let mut emitted = std::collections::HashMap::new();
    for line in log.lines().filter(|l| l.contains(" event ")) {
        let (Some(stamp), Some(seq)) = (
            line.split_whitespace()
                .next()
                .and_then(|t| t.split_once('T'))
                .and_then(|(_, hms)| day_secs(hms)),
            line.split("seq=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok()),
        ) else {
            continue;
        };
        emitted.insert(seq, stamp);
    }
    let matched: Vec<(u64, Duration)> = receipts
        .into_iter()
        .filter_map(|(seq, at)| {
            let since = at.duration_since(UNIX_EPOCH).ok()?;
            let received =
                (since.as_secs() % 86_400) as f64 + f64::from(since.subsec_nanos()) / 1e9;
            let emitted = emitted.get(&seq)?;
            Some((seq, Duration::from_secs_f64((received - emitted).max(0.0))))
        })
        .collect();
    let mut per_event: std::collections::BTreeMap<u64, (Duration, Duration)> =
        std::collections::BTreeMap::new();
    for &(seq, d) in &matched {
        let span = per_event.entry(seq).or_insert((d, d));
        *span = (span.0.min(d), span.1.max(d));
    }
    Receipts {
        all: matched.into_iter().map(|(_, d)| d).collect(),
        first: per_event.values().map(|span| span.0).collect(),
        last: per_event.values().map(|span| span.1).collect(),
    }
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

/// `/proc/PID/stat` from the field after the command name on (the name may
/// hold spaces and parentheses, so it ends at the last ')'): field 3 (state)
/// first, so field N is at index N − 3 of its whitespace-separated words.
/// (This benchmark reads Linux's scheduler figures; it is Linux-only.)
fn stat_after_name(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.get(stat.rfind(')')? + 2..)?.to_owned())
}

/// utime + stime (fields 14 and 15 of `/proc/PID/stat`), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = stat_after_name(pid).expect("stat");
    let f: Vec<&str> = stat.split_whitespace().collect();
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

/// The median in µs.
fn median(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2].as_secs_f64() * 1e6
}

fn fmt(samples: &[Duration]) -> String {
    format!(
        "p50 {:.1} µs, p99 {:.1} µs",
        quantile(samples, 50).as_secs_f64() * 1e6,
        quantile(samples, 99).as_secs_f64() * 1e6
    )
}

/// The `q`th percentile of unsorted samples.
fn quantile(samples: &[Duration], q: usize) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[(s.len() * q / 100).min(s.len() - 1)]
}
