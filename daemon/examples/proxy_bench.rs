//! Throughput, latency and SSE-delay benchmark for the worker's reverse proxy.
//!
//! Starts an in-process mock upstream (a small JSON endpoint and an SSE endpoint)
//! and a `Proxy` in front of it (on a thread of its own with a single-threaded
//! runtime, as in the worker), then drives both with a bounded keep-alive HTTP/1.1
//! load generator and prints one markdown report. Everything runs on 127.0.0.1.
//! A bare hyper proxy (`support/bare_proxy.rs`) runs beside it as the floor for
//! anything built on hyper and tokio.
//!
//! ```text
//! cargo run --release -p switchyard-daemon --example proxy_bench -- \
//!     [--duration-ms 3000] [--upstream-port 0] [--nginx-port N]
//! ```
//!
//! `--upstream-port` pins the mock upstream's port so an external reverse proxy
//! (nginx) can be pointed at it; `--nginx-port` then measures that proxy too, with
//! the same paths (`/json`, `/sse`). `--worker-port` measures a real Switchyard
//! worker process (started by the daemon, routed to this upstream) the same way,
//! and `--hold N --worker-pid PID` opens N long-lived streams through the worker
//! and reports the growth of that process's RSS per open stream. With
//! `--worker-pid` and `--nginx-pids P,P` each cell also shows the CPU time the
//! proxy process(es) spent per request (from `/proc/PID/task/*/schedstat`).
//! `--only worker,nginx`, `--concurrency 1,64` and `--no-sse` narrow a run while tuning;
//! the SSE table also measures a translated stream: Claude Code's request to an
//! in-process proxy whose provider speaks Chat Completions (`/v1/chat/completions`
//! on the mock), each Chat event translated to Anthropic's as it arrives;
//! `--rounds N` repeats the table with the order rotated and prints medians;
//! `--placement same-core|across-cores` pins the bench and the proxies.
//! `tests/benches/proxy.sh` sets all of that up and prints the table;
//! `tests/benches/instructions.sh` runs this under callgrind.

#[path = "support/bare_proxy.rs"]
mod bare_proxy;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::worker::WorkerMessage;
use switchyard_daemon::proxy::{Credential, ProviderConfig, Proxy, ProxyConfig, ProxyReport};
use switchyard_daemon::translate::Format;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONCURRENCY: [usize; 3] = [1, 64, 256];
/// Hard cap on requests per cell, whatever the duration.
const MAX_REQUESTS_PER_CELL: usize = 2_000_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const SSE_STREAMS: usize = 16;
const SSE_EVENTS: usize = 200;
const SSE_GAP: Duration = Duration::from_millis(10);
const JSON_BODY: &str = r#"{"id":"msg_bench","type":"message","role":"assistant","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":3,"output_tokens":1}}"#;

/// The path the request load asks for (`--path`).
static LOAD_PATH: OnceLock<String> = OnceLock::new();
/// The path the SSE rounds ask for (`--sse-path`).
static SSE_PATH: OnceLock<String> = OnceLock::new();

/// Shared clock for SSE timestamps (upstream and client are in one process).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

struct Args {
    duration: Duration,
    upstream_port: u16,
    nginx_port: Option<u16>,
    worker_port: Option<u16>,
    hold: usize,
    worker_pid: Option<u32>,
    nginx_pids: Vec<u32>,
    /// Only these targets (by name prefix) and concurrencies; everything when empty.
    only: Vec<String>,
    /// Extra targets, `NAME=PORT[@PID,PID]` (A/B runs of two builds).
    extra: Vec<(String, u16, Vec<u32>)>,
    concurrency: Vec<usize>,
    sse: bool,
    /// Times the whole table is measured, cells interleaved (A/B on a noisy machine).
    rounds: usize,
    placement: Placement,
    /// The path (and query) the request load asks for: `/json` by default;
    /// `/v1/messages` makes the proxy read the answer's usage, and a query
    /// `events=N` makes the answer an Anthropic event stream of N events.
    path: String,
    /// The path the SSE rounds ask for: `/sse` by default; a path ending in
    /// `/messages` with the query `stamps` gets the same stream, which the
    /// proxy then reads for usage as an Anthropic stream.
    sse_path: String,
}

/// Where the load generator (with the mock upstream) and the proxies run.
/// On a small VM a process woken on an idle vCPU pays an inter-processor
/// interrupt, one beside its waker does not, and which proxy lands where is
/// luck; pinning gives every proxy the same placement.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    AsScheduled,
    /// Everything on core 0.
    SameCore,
    /// The bench on core 0, every proxy on core 1.
    AcrossCores,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        duration: Duration::from_millis(3000),
        upstream_port: 0,
        nginx_port: None,
        worker_port: None,
        hold: 0,
        worker_pid: None,
        nginx_pids: Vec::new(),
        only: Vec::new(),
        extra: Vec::new(),
        concurrency: CONCURRENCY.to_vec(),
        sse: true,
        rounds: 1,
        placement: Placement::AsScheduled,
        path: "/json".into(),
        sse_path: "/sse".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--duration-ms" => args.duration = Duration::from_millis(value()?.parse()?),
            "--upstream-port" => args.upstream_port = value()?.parse()?,
            "--nginx-port" => args.nginx_port = Some(value()?.parse()?),
            "--worker-port" => args.worker_port = Some(value()?.parse()?),
            "--hold" => args.hold = value()?.parse()?,
            "--worker-pid" => args.worker_pid = Some(value()?.parse()?),
            "--nginx-pids" => {
                args.nginx_pids = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--only" => args.only = value()?.split(',').map(str::to_owned).collect(),
            "--concurrency" => {
                args.concurrency = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--no-sse" => args.sse = false,
            "--rounds" => args.rounds = value()?.parse()?,
            "--path" => args.path = value()?,
            "--sse-path" => args.sse_path = value()?,
            "--placement" => {
                args.placement = match value()?.as_str() {
                    "scheduler" => Placement::AsScheduled,
                    "same-core" => Placement::SameCore,
                    "across-cores" => Placement::AcrossCores,
                    other => return Err(format!("unknown placement {other}").into()),
                }
            }
            "--target" => {
                let spec = value()?;
                let (name, rest) = spec
                    .split_once('=')
                    .ok_or("--target takes NAME=PORT[@PIDS]")?;
                let (port, pids) = rest.split_once('@').unwrap_or((rest, ""));
                let pids = pids
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
                args.extra.push((name.to_owned(), port.parse()?, pids));
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(args)
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let _ = LOAD_PATH.set(args.path.clone());
    let _ = SSE_PATH.set(args.sse_path.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    epoch();
    let upstream = start_upstream(args.upstream_port).await?;
    let (proxy_addr, shutdown) = start_proxy(mock_provider(upstream)).await?;
    let translated = ProviderConfig {
        base_url: format!("http://{upstream}/v1"),
        format: Some(Format::OpenaiChat),
        ..mock_provider(upstream)
    };
    let (translated_addr, translated_shutdown) = start_proxy(translated).await?;
    let bare_addr = bare_proxy::start(upstream, shutdown.clone())?;

    let mut targets = vec![
        Target::new("direct", upstream, Vec::new()),
        Target::new("switchyard in-process", proxy_addr, Vec::new()),
        Target::new("bare hyper in-process", bare_addr, Vec::new()),
    ];
    if let Some(port) = args.worker_port {
        let pids = args.worker_pid.into_iter().collect();
        targets.push(Target::new("switchyard worker", local(port), pids));
    }
    if let Some(port) = args.nginx_port {
        targets.push(Target::new("nginx", local(port), args.nginx_pids.clone()));
    }
    for (name, port, pids) in &args.extra {
        targets.push(Target::new(name, local(*port), pids.clone()));
    }
    if !args.only.is_empty() {
        targets.retain(|t| args.only.iter().any(|o| t.name.contains(o.as_str())));
    }

    let proxies: Vec<u32> = targets.iter().flat_map(|t| t.pids.clone()).collect();
    pin(args.placement, &proxies)?;
    println!("## Switchyard proxy benchmark\n");
    println!(
        "{} CPU(s); {} per cell; {}; small JSON GET over keep-alive HTTP/1.1; all on 127.0.0.1, load generator in the same process. CPU µs/req: time the proxy's processes spent on a CPU per request (blank where not measured).\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        humantime(args.duration),
        match args.placement {
            Placement::AsScheduled => "processes placed by the scheduler",
            Placement::SameCore => "bench and proxies pinned to core 0",
            Placement::AcrossCores => "bench pinned to core 0, proxies to core 1",
        },
    );
    println!("| target | concurrency | requests | errors | req/s | p50 ms | p99 ms | CPU µs/req |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    // seen[target][concurrency]: every round's figures for that cell.
    let mut seen = vec![vec![Vec::<Figures>::new(); args.concurrency.len()]; targets.len()];
    for round in 0..args.rounds {
        for (c, &concurrency) in args.concurrency.iter().enumerate() {
            // Rotate the order each round: on this kind of machine the cell
            // measured right after another differs, whichever it is.
            for i in 0..targets.len() {
                let t = (i + round) % targets.len();
                seen[t][c].push(measure(&targets[t], concurrency, args.duration).await);
            }
        }
    }
    if args.rounds > 1 {
        println!("\nMedians over {} rounds:\n", args.rounds);
        println!("| target | concurrency | req/s | p50 ms | CPU µs/req |");
        println!("|---|---:|---:|---:|---:|");
        for (c, concurrency) in args.concurrency.iter().enumerate() {
            for (target, cells) in targets.iter().zip(&seen) {
                let median = |pick: fn(&Figures) -> f64| {
                    let mut v: Vec<f64> = cells[c].iter().map(pick).collect();
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                println!(
                    "| {} | {concurrency} | {:.0} | {:.3} | {} |",
                    target.name,
                    median(|f| f.rate),
                    median(|f| f.p50_us) / 1000.0,
                    cpu_cell(median(|f| f.cpu_us)),
                );
            }
        }
    }

    if !args.sse {
        shutdown.cancel();
        translated_shutdown.cancel();
        return Ok(());
    }
    // SSE only: a translated proxy answers message generation, not GET /json.
    let translated_target = Target {
        translated: true,
        ..Target::new(
            "switchyard translated (anthropic → chat)",
            translated_addr,
            Vec::new(),
        )
    };
    if args.only.is_empty()
        || args
            .only
            .iter()
            .any(|o| translated_target.name.contains(o.as_str()))
    {
        targets.push(translated_target);
    }
    println!(
        "\nSSE: {SSE_STREAMS} concurrent streams x {SSE_EVENTS} events, one every {} ms; TTFB = request sent to response head received (fresh connection); delay = upstream write to client receipt; p50 and p99 are medians over {} round(s); added = over the first row.\n",
        SSE_GAP.as_millis(),
        args.rounds
    );
    println!(
        "| target | events | TTFB p50 µs | TTFB p99 µs | added TTFB p50 µs | delay p50 µs | delay p99 µs | added p50 µs | added p99 µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Per target: every round's figures, measured in rotating order; the
    // first target (direct, unless filtered out) is the baseline for "added".
    let mut seen: Vec<Vec<SseCell>> = vec![Vec::new(); targets.len()];
    for round in 0..args.rounds {
        for i in 0..targets.len() {
            let index = (i + round) % targets.len();
            let measured = sse(targets[index].addr, targets[index].translated).await;
            seen[index].push(SseCell {
                ttfb_p50: percentile(&measured.ttfb, 50),
                ttfb_p99: percentile(&measured.ttfb, 99),
                p50: percentile(&measured.delays, 50),
                p99: percentile(&measured.delays, 99),
                events: measured.delays.len(),
            });
        }
    }
    let median = |cells: &[SseCell], pick: fn(&SseCell) -> u32| {
        let mut v: Vec<u32> = cells.iter().map(pick).collect();
        v.sort_unstable();
        i64::from(v[v.len() / 2])
    };
    let mut baseline = None;
    for (target, cells) in targets.iter().zip(&seen) {
        let ttfb = median(cells, |c| c.ttfb_p50);
        let (p50, p99) = (median(cells, |c| c.p50), median(cells, |c| c.p99));
        let events: usize = cells.iter().map(|c| c.events).sum();
        let (b_ttfb, b50, b99) = *baseline.get_or_insert((ttfb, p50, p99));
        println!(
            "| {} | {events} | {ttfb} | {} | {} | {p50} | {p99} | {} | {} |",
            target.name,
            median(cells, |c| c.ttfb_p99),
            ttfb - b_ttfb,
            p50 - b50,
            p99 - b99,
        );
    }
    if let (Some(port), Some(pid), true) = (args.worker_port, args.worker_pid, args.hold > 0) {
        hold_streams(local(port), pid, args.hold).await?;
    }
    shutdown.cancel();
    translated_shutdown.cancel();
    Ok(())
}

/// One SSE round's percentiles for one target, in µs.
#[derive(Clone, Copy)]
struct SseCell {
    ttfb_p50: u32,
    ttfb_p99: u32,
    p50: u32,
    p99: u32,
    events: usize,
}

/// One cell's figures; `cpu_us` is NaN when the target's CPU is not measured.
#[derive(Clone, Copy)]
struct Figures {
    rate: f64,
    p50_us: f64,
    cpu_us: f64,
}

/// CPU µs per request for a table cell: blank when not measured.
fn cpu_cell(cpu_us: f64) -> String {
    if cpu_us.is_nan() {
        String::new()
    } else {
        format!("{cpu_us:.1}")
    }
}

/// One cell: warm up, load, print a row.
async fn measure(target: &Target, concurrency: usize, duration: Duration) -> Figures {
    // Short warm-up so connection setup is not part of the measurement.
    load(target.addr, concurrency, Duration::from_millis(200)).await;
    let cpu_before = cpu_ns(&target.pids);
    let cell = load(target.addr, concurrency, duration).await;
    let done = cell.latencies_us.len();
    let cpu = match (cpu_before, cpu_ns(&target.pids)) {
        (Some(before), Some(after)) if done > 0 => {
            after.saturating_sub(before) as f64 / 1000.0 / done as f64
        }
        _ => f64::NAN,
    };
    let rate = done as f64 / cell.elapsed.as_secs_f64();
    let p50 = f64::from(percentile(&cell.latencies_us, 50));
    println!(
        "| {} | {concurrency} | {done} | {} | {rate:.0} | {:.3} | {:.3} | {} |",
        target.name,
        cell.errors,
        p50 / 1000.0,
        f64::from(percentile(&cell.latencies_us, 99)) / 1000.0,
        cpu_cell(cpu),
    );
    Figures {
        rate,
        p50_us: p50,
        cpu_us: cpu,
    }
}

struct Target {
    name: String,
    addr: SocketAddr,
    /// Processes whose CPU time is charged to this target (empty: not measured).
    pids: Vec<u32>,
    /// Streams are asked for as Claude Code asks (`POST /v1/messages`) and
    /// read as Anthropic events (SSE table only).
    translated: bool,
}

impl Target {
    fn new(name: &str, addr: SocketAddr, pids: Vec<u32>) -> Self {
        Target {
            name: name.to_owned(),
            addr,
            pids,
            translated: false,
        }
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Nanoseconds the processes' threads have spent on a CPU, or `None` if not measured.
fn cpu_ns(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    let mut total = 0;
    for pid in pids {
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// Pins every thread of this process and of `proxies` as `placement` says.
fn pin(placement: Placement, proxies: &[u32]) -> Result<(), BoxError> {
    use nix::sched::{CpuSet, sched_setaffinity};
    use nix::unistd::Pid;
    let one = |cpu: usize| -> Result<CpuSet, BoxError> {
        let mut set = CpuSet::new();
        set.set(cpu)?;
        Ok(set)
    };
    let (bench, proxy) = match placement {
        Placement::AsScheduled => return Ok(()),
        Placement::SameCore => (one(0)?, one(0)?),
        Placement::AcrossCores => (one(0)?, one(1)?),
    };
    let threads = |pid: u32| -> Result<Vec<i32>, BoxError> {
        let mut tids = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            tids.push(task?.file_name().to_string_lossy().parse()?);
        }
        Ok(tids)
    };
    for tid in threads(std::process::id())? {
        sched_setaffinity(Pid::from_raw(tid), &bench)?;
    }
    for &pid in proxies {
        for tid in threads(pid)? {
            sched_setaffinity(Pid::from_raw(tid), &proxy)?;
        }
    }
    Ok(())
}

fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or_else(|| "no VmRSS".into())
        .and_then(|v| Ok(v.parse()?))
}

/// Opens `n` streams to `/hold` through `addr` (each gets its first event, then
/// stays open) and reports how much process `pid`'s RSS grew per stream.
async fn hold_streams(addr: SocketAddr, pid: u32, n: usize) -> Result<(), BoxError> {
    let before = rss_kib(pid)?;
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut sender = connect(addr).await?;
        let req = Request::get("/hold")
            .header(header::HOST, format!("127.0.0.1:{}", addr.port()))
            .body(Empty::<Bytes>::new())?;
        let mut body = sender.send_request(req).await?.into_body();
        // The first event proves the stream is open end to end.
        body.frame().await.ok_or("stream closed early")??;
        held.push((sender, body));
    }
    let after = rss_kib(pid)?;
    let per_stream = (after.saturating_sub(before) as f64 * 1024.0) / n as f64;
    println!(
        "\nHeld {n} open streams through the worker (pid {pid}): RSS {before} KiB → {after} KiB, {:.1} KB per open stream.",
        per_stream / 1000.0
    );
    drop(held);
    Ok(())
}

fn humantime(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn percentile(sorted: &[u32], p: usize) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

// ---------------------------------------------------------------- mock upstream

async fn start_upstream(port: u16) -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(upstream_response(req.uri().path(), req.uri().query()))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn upstream_response(path: &str, query: Option<&str>) -> Response<BoxBody<Bytes, Infallible>> {
    if let Some(n) = query
        .and_then(|q| q.strip_prefix("events="))
        .and_then(|n| n.parse::<usize>().ok())
    {
        return anthropic_stream(n);
    }
    if path == "/hold" {
        // One event, then silence for a minute: a long-lived stream.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from_static(b"data: open\n\n")).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        return Response::new(ChannelBody(rx).boxed());
    }
    if path == "/v1/chat/completions" {
        // The same stream as `/sse`, as a Chat Completions provider sends it:
        // each stamp is one event's text.
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for _ in 0..SSE_EVENTS {
                tokio::time::sleep(SSE_GAP).await;
                let stamp = epoch().elapsed().as_nanos();
                let event = format!(
                    "data: {{\"id\":\"c1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{stamp}\"}}}}]}}\n\n"
                );
                if tx.send(Bytes::from(event)).await.is_err() {
                    return;
                }
            }
            let end = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
            let _ = tx.send(Bytes::from_static(end.as_bytes())).await;
        });
        let mut r = Response::new(ChannelBody(rx).boxed());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        return r;
    }
    if path == "/sse" || query == Some("stamps") {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for _ in 0..SSE_EVENTS {
                tokio::time::sleep(SSE_GAP).await;
                let stamp = epoch().elapsed().as_nanos();
                if tx
                    .send(Bytes::from(format!("data: {stamp}\n\n")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let mut r = Response::new(ChannelBody(rx).boxed());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        return r;
    }
    let mut r = Response::new(Full::new(Bytes::from_static(JSON_BODY.as_bytes())).boxed());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// An Anthropic Messages event stream of `n` events (at least 3), one every
/// millisecond so that each reaches the proxy as a read of its own: usage in
/// the first and the last but one, text deltas between.
fn anthropic_stream(n: usize) -> Response<BoxBody<Bytes, Infallible>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n";
        let delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there, \"}}\n\n";
        let end = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n";
        let stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let n = n.max(3);
        for i in 0..n {
            let event = match i {
                0 => start,
                _ if i == n - 2 => end,
                _ if i == n - 1 => stop,
                _ => delta,
            };
            if tx.send(Bytes::from_static(event.as_bytes())).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let mut r = Response::new(ChannelBody(rx).boxed());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    r
}

/// An SSE body fed by a channel: each message is one event, sent as one chunk.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|event| event.map(|data| Ok(Frame::data(data))))
    }
}

fn mock_provider(upstream: SocketAddr) -> ProviderConfig {
    ProviderConfig {
        name: "mock".into(),
        base_url: format!("http://{upstream}"),
        credential: Credential::Key("sk-bench".into()),
        ..ProviderConfig::default()
    }
}

async fn start_proxy(
    provider: ProviderConfig,
) -> Result<(SocketAddr, CancellationToken), BoxError> {
    let config = ProxyConfig::new(App::Claude, vec![provider]);
    let proxy = Proxy::new(config)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    // Every finished request is taken off the queue, batched and encoded on the
    // proxy's thread as the worker does (`worker.rs`: the first record of a
    // batch waits up to 100 ms for others, at most 256 a message), so its cost
    // is counted with the proxy's; only the write to the daemon is left out.
    let (reports, mut queue) = mpsc::channel::<ProxyReport>(16_384);
    let token = shutdown.clone();
    // Its own thread and single-threaded runtime, as in the worker: profiles of
    // this proxy then show the worker's costs, not a work-stealing scheduler's.
    std::thread::Builder::new()
        .name("proxy".into())
        .spawn(move || {
            let served = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    runtime.spawn(async move {
                        let mut batch = Vec::with_capacity(256);
                        while queue.recv_many(&mut batch, 256).await > 0 {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            let room = 256 - batch.len();
                            if room > 0 {
                                while let Ok(report) = queue.try_recv() {
                                    batch.push(report);
                                    if batch.len() == 256 {
                                        break;
                                    }
                                }
                            }
                            let records = batch
                                .drain(..)
                                .map(|ProxyReport::Finished(s)| s.into_record(App::Claude))
                                .collect();
                            let message = WorkerMessage::Requests(records);
                            std::hint::black_box(postcard::to_allocvec(&message).ok());
                        }
                    });
                    runtime.block_on(async {
                        let listener = TcpListener::from_std(listener)?;
                        proxy
                            .serve(listener, reports, token, Duration::from_secs(1))
                            .await
                    })
                });
            if let Err(e) = served {
                eprintln!("proxy stopped: {e}");
            }
        })?;
    Ok((addr, shutdown))
}

// ---------------------------------------------------------------- load generator

struct Cell {
    latencies_us: Vec<u32>,
    errors: usize,
    elapsed: Duration,
}

/// `concurrency` keep-alive connections, each sending GET /json back to back until
/// `duration` passes (or the request cap is reached).
async fn load(addr: SocketAddr, concurrency: usize, duration: Duration) -> Cell {
    let started = Instant::now();
    let deadline = started + duration;
    let per_connection = (MAX_REQUESTS_PER_CELL / concurrency).max(1);
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        tasks.spawn(connection_loop(addr, deadline, per_connection));
    }
    let mut cell = Cell {
        latencies_us: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        if let Ok((latencies, errors)) = joined {
            cell.latencies_us.extend(latencies);
            cell.errors += errors;
        } else {
            cell.errors += 1;
        }
    }
    cell.elapsed = started.elapsed();
    cell.latencies_us.sort_unstable();
    cell
}

async fn connection_loop(addr: SocketAddr, deadline: Instant, max: usize) -> (Vec<u32>, usize) {
    let mut latencies = Vec::with_capacity(max.min(100_000));
    let mut errors = 0;
    let host = format!("127.0.0.1:{}", addr.port());
    let mut sender = None;
    while Instant::now() < deadline && latencies.len() < max {
        if sender.is_none() {
            sender = connect(addr).await.ok();
            if sender.is_none() {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let started = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, async {
            s.ready().await?;
            let path = LOAD_PATH.get().map_or("/json", String::as_str);
            let req = Request::get(path)
                .header(header::HOST, host.as_str())
                .body(Empty::<Bytes>::new())?;
            let response = s.send_request(req).await?;
            let ok = response.status().is_success();
            response.into_body().collect().await?;
            Ok::<bool, BoxError>(ok)
        })
        .await;
        match outcome {
            Ok(Ok(true)) => latencies.push(micros(started.elapsed())),
            Ok(Ok(false)) => errors += 1,
            _ => {
                errors += 1;
                sender = None;
            }
        }
    }
    (latencies, errors)
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// What one SSE round measured, in µs: each stream's time to first byte and
/// every event's delay.
#[derive(Default)]
struct SseRound {
    ttfb: Vec<u32>,
    delays: Vec<u32>,
}

/// `SSE_STREAMS` concurrent streams, all opened at once.
async fn sse(addr: SocketAddr, translated: bool) -> SseRound {
    let mut tasks = JoinSet::new();
    for _ in 0..SSE_STREAMS {
        tasks.spawn(async move {
            let limit = SSE_GAP * (SSE_EVENTS as u32) + Duration::from_secs(10);
            tokio::time::timeout(limit, one_stream(addr, translated))
                .await
                .ok()
                .and_then(Result::ok)
        });
    }
    let mut round = SseRound::default();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Some((ttfb, delays))) = joined {
            round.ttfb.push(ttfb);
            round.delays.extend(delays);
        }
    }
    round.ttfb.sort_unstable();
    round.delays.sort_unstable();
    round
}

/// One stream on a fresh connection: the time from sending the request to the
/// response head (time to first byte), then each event's upstream-write-to-
/// receipt delay.
async fn one_stream(addr: SocketAddr, translated: bool) -> Result<(u32, Vec<u32>), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, BoxBody<Bytes, Infallible>>(TokioIo::new(
            stream,
        ))
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = format!("127.0.0.1:{}", addr.port());
    let req = if translated {
        let body = r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"go"}]}"#;
        Request::post("/v1/messages")
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())).boxed())?
    } else {
        Request::get(SSE_PATH.get().map_or("/sse", String::as_str))
            .header(header::HOST, host)
            .body(Empty::<Bytes>::new().boxed())?
    };
    let started = Instant::now();
    let response = sender.send_request(req).await?;
    let ttfb = micros(started.elapsed());
    let mut body = response.into_body();
    let mut delays = Vec::with_capacity(SSE_EVENTS);
    while let Some(frame) = body.frame().await {
        let now = epoch().elapsed().as_nanos();
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        for line in data.split(|&b| b == b'\n') {
            let Some(stamp) = line.strip_prefix(b"data: ") else {
                continue;
            };
            let sent: u128 = if translated {
                // Anthropic's `content_block_delta`: the stamp is its text.
                let event: serde_json::Value = serde_json::from_slice(stamp)?;
                match event["delta"]["text"].as_str() {
                    Some(text) => text.parse()?,
                    None => continue,
                }
            } else {
                std::str::from_utf8(stamp)?.parse()?
            };
            delays.push(u32::try_from(now.saturating_sub(sent) / 1000).unwrap_or(u32::MAX));
        }
    }
    Ok((ttfb, delays))
}
