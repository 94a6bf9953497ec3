//! When do request rows start to lag the traffic? (issue 15's figure.) Starts
//! a real daemon (`--bin`, default `target/release/switchyard`) in a fresh
//! home, one Claude worker in front of an in-process mock upstream that
//! answers with Anthropic usage, and drives it at each rate in turn for a few
//! seconds on 64 keep-alive connections. Meanwhile it counts the rows in the
//! database (read-only, every 50 ms): the backlog is requests answered minus
//! rows written. Then it says how long the rows took to catch up, and whether
//! every request is on record (rows = answered, `dropped_requests` = 0).
//!
//!   cargo build --release --bin switchyard --example requests_lag -p switchyard-daemon
//!   target/release/examples/requests_lag [--rates 500,1000,2000,4000] [--secs 10]
//!       [--bin target/release/switchyard]
//!
//! Everything stays on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONNECTIONS: usize = 64;
const BODY: &str = r#"{"id":"msg_lag","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":12,"cache_read_input_tokens":3,"output_tokens":4}}"#;

struct Args {
    rates: Vec<u64>,
    secs: u64,
    bin: PathBuf,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        rates: vec![500, 1000, 2000, 4000],
        secs: 10,
        bin: PathBuf::from("target/release/switchyard"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rates" => {
                args.rates = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--secs" => args.secs = value()?.parse()?,
            "--bin" => args.bin = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(args)
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

/// Runs `switchyard ARGS` in `home`; its stdout.
fn sy(bin: &Path, home: &Path, args: &[&str]) -> Result<String, BoxError> {
    let out = Command::new(bin)
        .args(args)
        .env("SWITCHYARD_HOME", home)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "switchyard {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn run(args: Args) -> Result<(), BoxError> {
    let upstream = start_upstream().await?;
    let dir = tempfile::Builder::new()
        .prefix("sylag")
        .tempdir_in("/tmp")?;
    let home = dir.path().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    sy(&args.bin, &home, &["daemon", "start"])?;
    let result = measure(&args, &home, upstream, port).await;
    let _ = sy(&args.bin, &home, &["daemon", "stop"]);
    result
}

async fn measure(
    args: &Args,
    home: &Path,
    upstream: SocketAddr,
    port: u16,
) -> Result<(), BoxError> {
    sy(&args.bin, home, &["port", "claude", &port.to_string()])?;
    let base = format!("http://{upstream}");
    sy(
        &args.bin,
        home,
        &[
            "provider",
            "add",
            "claude",
            "mock",
            "--base-url",
            &base,
            "--priority",
            "-10",
        ],
    )?;
    sy(&args.bin, home, &["enable", "claude"])?;
    let db = rusqlite::Connection::open_with_flags(
        home.join("switchyard.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let rows = || -> u64 {
        db.query_row("SELECT count(*) FROM requests", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .unwrap_or(0)
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let answered = Arc::new(AtomicU64::new(0));
    println!(
        "## Request rows against traffic\n\n{CONNECTIONS} keep-alive connections, POST /v1/messages (a JSON answer with usage), {} s per rate; backlog = answered − rows, sampled every 50 ms; caught up = time after the load stops until rows = answered.\n",
        args.secs
    );
    println!(
        "| target req/s | achieved req/s | answered | max backlog (rows) | backlog at end | caught up after (ms) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &rate in &args.rates {
        let before = answered.load(Ordering::Relaxed);
        let stop = Instant::now() + Duration::from_secs(args.secs);
        let mut tasks = Vec::new();
        for _ in 0..CONNECTIONS {
            let answered = Arc::clone(&answered);
            let period = Duration::from_secs_f64(CONNECTIONS as f64 / rate as f64);
            tasks.push(tokio::spawn(load(addr, period, stop, answered)));
        }
        let started = Instant::now();
        let mut max_backlog = 0;
        while Instant::now() < stop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let backlog = answered.load(Ordering::Relaxed).saturating_sub(rows());
            max_backlog = max_backlog.max(backlog);
        }
        for task in tasks {
            let _ = task.await;
        }
        let elapsed = started.elapsed();
        let sent = answered.load(Ordering::Relaxed);
        let at_end = sent.saturating_sub(rows());
        let waited = Instant::now();
        while rows() < sent && waited.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!(
            "| {rate} | {:.0} | {} | {max_backlog} | {at_end} | {} |",
            (sent - before) as f64 / elapsed.as_secs_f64(),
            sent - before,
            waited.elapsed().as_millis()
        );
    }
    let total = answered.load(Ordering::Relaxed);
    let status: serde_json::Value =
        serde_json::from_str(&sy(&args.bin, home, &["status", "--json"])?)?;
    let dropped = status["apps"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["app"] == "claude"))
        .map(|a| a["dropped_requests"].clone());
    println!(
        "\nAnswered {total}, rows {}, dropped_requests {}.",
        rows(),
        dropped.unwrap_or_default()
    );
    Ok(())
}

/// One keep-alive connection sending a request every `period` until `stop`.
async fn load(addr: SocketAddr, period: Duration, stop: Instant, answered: Arc<AtomicU64>) {
    let Ok(stream) = TcpStream::connect(addr).await else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
    else {
        return;
    };
    tokio::spawn(conn);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < stop {
        tick.tick().await;
        let Ok(req) = Request::post("/v1/messages")
            .header(header::HOST, addr.to_string())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Empty::<Bytes>::new())
        else {
            return;
        };
        if sender.ready().await.is_err() {
            return;
        }
        match sender.send_request(req).await {
            Ok(response) => {
                let ok = response.status().is_success();
                if response.into_body().collect().await.is_ok() && ok {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => return,
        }
    }
}

async fn start_upstream() -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<Incoming>| async move {
                    let mut r = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}
