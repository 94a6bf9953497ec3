//! The worker process (`switchyard worker --app APP`, started only by the
//! daemon): takes its listener from fd 3 and its control channel from fd 4,
//! waits for its `Config`, serves the proxy, reports `Ready`, heartbeats and
//! every finished request (in batches), and drains on `Drain`, SIGTERM or the
//! daemon's death.

use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures::{SinkExt, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::apps::App;
use crate::protocol::FrameCodec;
use crate::protocol::requests::RequestRecord;
use crate::protocol::state::{BreakerState, BreakerStatus, Traffic};
use crate::protocol::worker::{DaemonToWorker, HEARTBEAT_INTERVAL, WorkerConfig, WorkerMessage};
use crate::proxy::{self, Proxy, ProxyConfig, ProxyReport};
use crate::supervisor::{CONTROL_FD, DAEMON_PID_ENV, EXIT_CONFIG, LISTENER_FD};
use crate::translate::ModelMap;

/// Test-only: a worker started with this variable set exits at once with that
/// code, so crash loops can be provoked without breaking the binary.
pub const TEST_EXIT_ENV: &str = "SWITCHYARD_TEST_WORKER_EXIT";

/// Finished requests waiting for the daemon, at most: a minute of heavy
/// traffic while the daemon is slow. Beyond it records are dropped and
/// counted (`Traffic::dropped`), never silently.
const QUEUE: usize = 16_384;
/// Records per message to the daemon, at most (a batch of long records
/// still fits well inside a frame: see `RequestSummary::into_record`).
const BATCH: usize = 256;
/// Bytes of records per message, at most (estimated; half a frame).
const MESSAGE_BYTES: usize = crate::protocol::MAX_FRAME / 2;
/// A record waits at most this long for others to share its message.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// How long in-flight requests may run on after a drain starts (the daemon's
/// drain policy; it escalates to SIGTERM shortly after).
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Runs the worker; returns the process exit code.
pub async fn run(app: App) -> i32 {
    if let Err(err) = crate::platform::set_process_name(c"switchyard") {
        tracing::debug!(%err, "cannot name the worker process");
    }
    if let Some(code) = std::env::var(TEST_EXIT_ENV)
        .ok()
        .and_then(|c| c.parse().ok())
    {
        eprintln!("exiting with code {code} because {TEST_EXIT_ENV} is set");
        return code;
    }
    // The daemon raised it already when it could; a worker started under a
    // lowered limit (`prlimit`) tries again.
    if let Err(err) = crate::platform::raise_fd_limit() {
        tracing::debug!(%err, "cannot raise the descriptor limit");
    }
    if let Some(daemon) = std::env::var(DAEMON_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        && nix::unistd::getppid().as_raw() != daemon
    {
        // The daemon died between fork and the parent-death signal taking hold.
        eprintln!("the daemon (pid {daemon}) is gone; exiting");
        return 1;
    }
    match serve(app).await {
        Ok(()) => 0,
        Err(WorkerError::Config(message)) => {
            eprintln!("configuration error: {message}");
            EXIT_CONFIG
        }
        Err(WorkerError::Other(message)) => {
            eprintln!("worker failed: {message}");
            1
        }
    }
}

enum WorkerError {
    Config(String),
    Other(String),
}

fn other(err: impl std::fmt::Display) -> WorkerError {
    WorkerError::Other(err.to_string())
}

async fn serve(app: App) -> Result<(), WorkerError> {
    let (listener, control) = inherited().map_err(|err| {
        WorkerError::Config(format!(
            "no inherited listener and control channel ({err}); workers are started by the daemon, run `switchyard enable {app}`"
        ))
    })?;
    let mut control = Framed::new(control, FrameCodec::<DaemonToWorker, WorkerMessage>::new());
    let config = match tokio::time::timeout(Duration::from_secs(10), control.next()).await {
        Ok(Some(Ok(DaemonToWorker::Config(config)))) => config,
        Ok(Some(Ok(DaemonToWorker::Drain { .. }))) | Ok(None) => return Ok(()),
        Ok(Some(Err(err))) => return Err(other(err)),
        Err(_) => return Err(other("the daemon sent no configuration within 10 s")),
    };
    // One proxy on this one thread: one upstream pool, so every client
    // connection reuses the same warm (TLS) connections, and one breaker per
    // provider, as the breaker's rules are stated. A thread is far more than a
    // person's CLIs need (tens of thousands of small requests a second) and
    // leaves the other cores to the CLIs themselves.
    let proxy = Arc::new(
        Proxy::new(proxy_config(app, &config)).map_err(|e| WorkerError::Config(e.to_string()))?,
    );
    let stats = proxy.stats();
    // Every finished request is queued here; this task takes them in batches
    // (the first of a batch wakes it, the rest ride along for up to
    // FLUSH_AFTER). A full queue drops records and counts them.
    let (reports_tx, mut reports) = mpsc::channel(QUEUE);
    let mut batch: Vec<ProxyReport> = Vec::with_capacity(BATCH);
    let mut flush_at: Option<Instant> = None;
    let drain = CancellationToken::new();
    // A task of its own, so that a heartbeat waiting on a slow daemon below
    // never holds up accepting clients.
    let mut serving = tokio::spawn({
        let (proxy, drain) = (Arc::clone(&proxy), drain.clone());
        async move { proxy.serve(listener, reports_tx, drain, DRAIN_LIMIT).await }
    });
    control
        .send(WorkerMessage::Ready {
            pid: std::process::id(),
        })
        .await
        .map_err(other)?;
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut sigterm = signal(SignalKind::terminate()).map_err(other)?;
    let mut control_open = true;
    loop {
        let room = BATCH - batch.len();
        tokio::select! {
            result = &mut serving => {
                // Drained: every request is over; what they reported goes out
                // before the worker exits.
                while let Ok(report) = reports.try_recv() {
                    batch.push(report);
                    if batch.len() >= BATCH && control_open {
                        control_open = send_batch(&mut control, app, &mut batch).await.is_ok();
                    }
                }
                if control_open {
                    let _ = send_batch(&mut control, app, &mut batch).await;
                }
                return result.map_err(other)?.map_err(other);
            }
            received = reports.recv_many(&mut batch, room), if room > 0 => {
                if received > 0 && flush_at.is_none() {
                    flush_at = Some(Instant::now() + FLUSH_AFTER);
                }
                if batch.len() >= BATCH {
                    flush_at = None;
                    if control_open && send_batch(&mut control, app, &mut batch).await.is_err() {
                        control_open = false;
                        drain.cancel();
                    }
                    batch.clear();
                }
            }
            () = sleep_until(flush_at), if flush_at.is_some() => {
                flush_at = None;
                if control_open && send_batch(&mut control, app, &mut batch).await.is_err() {
                    control_open = false;
                    drain.cancel();
                }
                batch.clear();
            }
            _ = heartbeat.tick() => {
                let snap = stats.snapshot();
                let beat = WorkerMessage::Heartbeat {
                    traffic: Traffic {
                        requests: snap.requests,
                        errors: snap.errors,
                        in_flight: snap.in_flight,
                        bytes_in: snap.bytes_in,
                        bytes_out: snap.bytes_out,
                        dropped: snap.dropped,
                    },
                    breakers: snap.providers.iter().map(|p| BreakerStatus {
                        provider: p.name.clone(),
                        state: match p.breaker {
                            proxy::BreakerState::Closed => BreakerState::Closed,
                            proxy::BreakerState::Open => BreakerState::Open,
                            proxy::BreakerState::HalfOpen => BreakerState::HalfOpen,
                        },
                    }).collect(),
                    last_error: snap.last_error,
                };
                if control_open && control.send(beat).await.is_err() {
                    control_open = false;
                    drain.cancel();
                }
            }
            msg = control.next(), if control_open => match msg {
                Some(Ok(DaemonToWorker::Config(config))) => {
                    proxy.set_config(proxy_config(app, &config));
                }
                Some(Ok(DaemonToWorker::Drain { .. })) => drain.cancel(),
                // The daemon is gone (or speaks nonsense): stop taking requests.
                None | Some(Err(_)) => {
                    control_open = false;
                    drain.cancel();
                }
            },
            _ = sigterm.recv() => drain.cancel(),
        }
    }
}

/// Sleeps until `at` (the select branch is disabled while it is `None`).
async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// Sends `batch`, and empties it: one message, or more when the records'
/// headers (up to ~8 KiB each) would not leave room in a frame.
async fn send_batch(
    control: &mut Framed<tokio::net::UnixStream, FrameCodec<DaemonToWorker, WorkerMessage>>,
    app: App,
    batch: &mut Vec<ProxyReport>,
) -> Result<(), crate::protocol::FrameError> {
    let mut records: Vec<RequestRecord> = Vec::with_capacity(batch.len());
    let mut bytes = 0;
    for ProxyReport::Finished(summary) in batch.drain(..) {
        let record = summary.into_record(app);
        // A record without headers is well under 2 KiB (long texts are cut).
        let size = 2048
            + record
                .headers
                .as_ref()
                .map_or(0, |h| h.request.len() + h.response.len());
        if bytes + size > MESSAGE_BYTES && !records.is_empty() {
            control
                .send(WorkerMessage::Requests(std::mem::take(&mut records)))
                .await?;
            bytes = 0;
        }
        bytes += size;
        records.push(record);
    }
    if records.is_empty() {
        return Ok(());
    }
    control.send(WorkerMessage::Requests(records)).await
}

/// The listener on fd 3 and the control socket on fd 4, checked to be sockets.
fn inherited() -> std::io::Result<(tokio::net::TcpListener, tokio::net::UnixStream)> {
    for fd in [LISTENER_FD, CONTROL_FD] {
        // SAFETY: fstat only reads the descriptor's metadata.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let stat = nix::sys::stat::fstat(borrowed).map_err(std::io::Error::from)?;
        if stat.st_mode & nix::libc::S_IFMT != nix::libc::S_IFSOCK {
            return Err(std::io::Error::other(format!("fd {fd} is not a socket")));
        }
    }
    // SAFETY: both descriptors were handed to us by the daemon for us alone,
    // and were just checked to be open sockets.
    let (listener, control) = unsafe {
        (
            std::net::TcpListener::from_raw_fd(LISTENER_FD),
            std::os::unix::net::UnixStream::from_raw_fd(CONTROL_FD),
        )
    };
    listener.set_nonblocking(true)?;
    control.set_nonblocking(true)?;
    Ok((
        tokio::net::TcpListener::from_std(listener)?,
        tokio::net::UnixStream::from_std(control)?,
    ))
}

fn proxy_config(app: App, config: &WorkerConfig) -> ProxyConfig {
    ProxyConfig {
        app,
        providers: config
            .providers
            .iter()
            .map(|p| proxy::ProviderConfig {
                name: p.name.clone(),
                base_url: p.base_url.clone(),
                credential: match p.keys.as_slice() {
                    [] => proxy::Credential::Passthrough,
                    keys => proxy::Credential::Pool(
                        keys.iter()
                            .map(|k| (k.label.clone(), k.key.clone()))
                            .collect(),
                    ),
                },
                official: p.official,
                format: Some(p.format),
                auth_style: Some(p.auth_style),
                // The daemon checked the rules when the provider was added.
                model_map: ModelMap::parse_all(p.model_map.iter().map(String::as_str))
                    .unwrap_or_default(),
                max_output_tokens: p.max_output_tokens,
            })
            .collect(),
        timeouts: proxy::Timeouts {
            connect: Duration::from_millis(config.connect_timeout_ms),
            first_byte: Duration::from_millis(config.first_byte_timeout_ms),
            idle: Duration::from_millis(config.idle_timeout_ms),
        },
        max_buffered_body: config.max_buffered_body as usize,
        breaker: proxy::BreakerPolicy::default(),
        limits: proxy::ClientLimits {
            body_budget: config.body_budget as usize,
            ..proxy::ClientLimits::default()
        },
        own_ports: config.own_ports.clone(),
    }
}
