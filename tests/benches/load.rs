//! The daemon under load, printed as one markdown table (`cargo bench --bench load`):
//!
//! - `status` latency (connect, `Hello`, `Status`, as the CLI does) while ten
//!   clients toggle apps (each enable starts a real worker) and a fuzzer sends
//!   mutated frames on fresh connections: p50, p99 and the worst sample;
//! - journal throughput: events appended one at a time (as the core emits them)
//!   into a journal that already holds 50,000 rows, in events per second.
//!
//! `--only status|journal` runs one part; `--seconds N` sets the load phase
//! (default 20); `--togglers N` (default 10); `--fuzz-rate N` fuzzed
//! connections a second (default 1000; 0: none; `max`: as fast as one
//! thread can). The status part speaks raw frames, so it can also measure
//! another build: `SWITCHYARD_BIN=path/to/switchyard … --protocol N` (that
//! build's protocol version). Everything stays on this machine; the load
//! stops by itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failure report

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_daemon::apps::App;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::state::{Event, EventKind, Traffic};
use switchyard_daemon::protocol::{ClientMessage, PROTOCOL_VERSION, Request};
use switchyard_daemon::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const TOGGLERS: usize = 10;
const JOURNAL_ROWS: u64 = 50_000;
const APPENDS: u64 = 5_000;

fn main() {
    let mut only = None;
    let mut seconds = 20u64;
    let mut protocol = PROTOCOL_VERSION;
    let mut load = Load {
        togglers: TOGGLERS,
        fuzz_rate: Some(1000),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => only = args.next(),
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).expect("seconds"),
            "--protocol" => protocol = args.next().and_then(|s| s.parse().ok()).expect("protocol"),
            "--togglers" => {
                load.togglers = args.next().and_then(|s| s.parse().ok()).expect("togglers")
            }
            "--fuzz-rate" => {
                load.fuzz_rate = match args.next().as_deref() {
                    Some("max") => None,
                    other => Some(other.and_then(|s| s.parse().ok()).expect("fuzz rate")),
                }
            }
            _ => {} // cargo bench passes `--bench`
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let mut rows: Vec<(String, String)> = Vec::new();
    if only.as_deref().is_none_or(|o| o == "journal") {
        let rate = runtime.block_on(journal_rate());
        rows.push((
            format!("journal append, one event at a time, {JOURNAL_ROWS}-row journal"),
            format!("{rate:.0} events/s"),
        ));
    }
    if only.as_deref().is_none_or(|o| o == "status") {
        let (samples, failed, toggles, fuzzed) =
            status_under_load(Duration::from_secs(seconds), protocol, &load);
        rows.push((
            format!(
                "`status` (connect + Hello + Status) while {} clients toggle apps and a fuzzer opens {} connections/s, {seconds} s",
                load.togglers,
                load.fuzz_rate.map_or_else(|| "as many".to_owned(), |r| r.to_string())
            ),
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples, {failed} failed, {toggles} toggles, {fuzzed} fuzzed connections)",
                ms(quantile(&samples, 50)),
                ms(quantile(&samples, 99)),
                ms(*samples.iter().max().expect("samples")),
                samples.len()
            ),
        ));
    }
    println!("| measure | figure |\n|---|---|");
    for (what, figure) in rows {
        println!("| {what} | {figure} |");
    }
}

/// Appends [`APPENDS`] events one by one behind a [`JOURNAL_ROWS`]-row journal.
async fn journal_rate() -> f64 {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&dir.path().join("switchyard.db")).expect("store");
    let event = |seq: u64| Event {
        seq,
        at_ms: switchyard_daemon::store::now_ms(),
        kind: EventKind::Traffic {
            app: App::Claude,
            traffic: Traffic {
                requests: seq,
                ..Traffic::default()
            },
        },
    };
    for chunk in (1..=JOURNAL_ROWS).collect::<Vec<_>>().chunks(1000) {
        store.append_events(1, chunk.iter().map(|&s| event(s)).collect());
    }
    store.flush().await.expect("seeded");
    let began = Instant::now();
    for seq in JOURNAL_ROWS + 1..=JOURNAL_ROWS + APPENDS {
        store.append_events(1, vec![event(seq)]);
    }
    store.flush().await.expect("appended");
    APPENDS as f64 / began.elapsed().as_secs_f64()
}

/// Samples `status` latency while the daemon is kept busy; returns the
/// samples (a failed `status` counts with the time it took to fail), how many
/// failed, and how many toggles and fuzzed connections the load made.
/// The load beside the `status` samples.
struct Load {
    togglers: usize,
    /// Fuzzed connections a second; `None`: unpaced.
    fuzz_rate: Option<u32>,
}

fn status_under_load(
    duration: Duration,
    protocol: u32,
    load: &Load,
) -> (Vec<Duration>, u64, u64, u64) {
    let home = tempfile::Builder::new()
        .prefix("syload")
        .tempdir_in("/tmp")
        .expect("tmp");
    let bin = std::env::var("SWITCHYARD_BIN").unwrap_or_else(|_| BIN.to_owned());
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .env("SWITCHYARD_HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .expect("run switchyard");
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    run(&["daemon", "start"]);
    for app in App::ALL {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        run(&["port", app.name(), &port.to_string()]);
    }
    let socket = Paths::under(home.path().to_path_buf()).socket();
    let stop_at = Instant::now() + duration;
    let togglers: Vec<_> = (0..load.togglers)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || toggle(&socket, protocol, i, stop_at))
        })
        .collect();
    let fuzzer = {
        let socket = socket.clone();
        let rate = load.fuzz_rate;
        std::thread::spawn(move || fuzz(&socket, protocol, rate, stop_at))
    };
    let mut samples = Vec::new();
    let mut failed = 0;
    while Instant::now() < stop_at {
        let began = Instant::now();
        let answered = Conn::open(&socket, protocol, "load-status")
            .and_then(|mut c| c.ask(&Request::Status, protocol))
            .is_ok();
        samples.push(began.elapsed());
        failed += u64::from(!answered);
        std::thread::sleep(Duration::from_millis(20));
    }
    let toggles = togglers
        .into_iter()
        .map(|t| t.join().expect("toggler"))
        .sum();
    let fuzzed = fuzzer.join().expect("fuzzer");
    run(&["daemon", "stop"]);
    (samples, failed, toggles, fuzzed)
}

/// A raw-frame client: `Hello`, then requests whose replies are read as
/// frames, not decoded (so builds with other snapshot shapes can be measured).
struct Conn(UnixStream, u64);

impl Conn {
    fn open(socket: &std::path::Path, protocol: u32, name: &str) -> std::io::Result<Conn> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let hello = ClientMessage::Hello {
            protocol,
            client: name.into(),
        };
        stream.write_all(&frame(&postcard::to_stdvec(&hello).expect("hello")))?;
        let welcome = read_frame(&mut stream)?;
        // Variant 0 is `Welcome`, 1 an error.
        if welcome.first() != Some(&0) {
            return Err(std::io::Error::other("refused"));
        }
        Ok(Conn(stream, 0))
    }

    /// Sends `request`; Ok once a reply frame arrives that is no error.
    fn ask(&mut self, request: &Request, protocol: u32) -> std::io::Result<()> {
        self.1 += 1;
        let msg = ClientMessage::Request {
            id: self.1,
            request: request.clone(),
        };
        let mut payload = postcard::to_stdvec(&msg).expect("request");
        // Before protocol 2, `Enable` had no caller environment: its empty
        // list is the last byte.
        if protocol < 2 && matches!(request, Request::Enable { .. }) {
            payload.pop();
        }
        self.0.write_all(&frame(&payload))?;
        let reply = read_frame(&mut self.0)?;
        // `Response` is variant 2; its id, then `Ok` (0) or `Err` (1).
        match reply.first() {
            Some(2) => Ok(()),
            _ => Err(std::io::Error::other("error frame")),
        }
    }
}

fn read_frame(stream: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let mut payload = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

/// Enables and disables one app after another until `stop_at`.
fn toggle(socket: &std::path::Path, protocol: u32, index: usize, stop_at: Instant) -> u64 {
    let mut conn = None;
    let mut n = 0u64;
    while Instant::now() < stop_at {
        let Some(open) = conn.as_mut() else {
            conn = Conn::open(socket, protocol, "load-toggle").ok();
            if conn.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        };
        let app = App::ALL[(index + n as usize) % App::ALL.len()];
        let request = if n.is_multiple_of(2) {
            Request::Enable {
                app,
                takeover: false,
                env: Default::default(),
            }
        } else {
            Request::Disable { app }
        };
        // Refusals (a port moving, an app stopping) are part of the load; a
        // lost connection is made again.
        if let Err(err) = open.ask(&request, protocol)
            && err.kind() != std::io::ErrorKind::Other
        {
            conn = None;
        }
        n += 1;
    }
    n
}

/// Fresh connections with mutated frames: a good `Hello` then garbage, a bad
/// length, a truncated frame, a wrong first frame. Returns how many.
fn fuzz(socket: &std::path::Path, protocol: u32, rate: Option<u32>, stop_at: Instant) -> u64 {
    if rate == Some(0) {
        return 0;
    }
    let began = Instant::now();
    let hello = frame(
        &postcard::to_stdvec(&ClientMessage::Hello {
            protocol,
            client: "fuzz".into(),
        })
        .expect("hello"),
    );
    let status = frame(
        &postcard::to_stdvec(&ClientMessage::Request {
            id: 1,
            request: Request::Status,
        })
        .expect("status"),
    );
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut n = 0u64;
    while Instant::now() < stop_at {
        if let Some(rate) = rate {
            let due = began + Duration::from_secs_f64(n as f64 / f64::from(rate));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let Ok(mut stream) = UnixStream::connect(socket) else {
            continue;
        };
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let mut bytes = if n.is_multiple_of(4) {
            Vec::new()
        } else {
            hello.clone()
        };
        let mut body = status.clone();
        for _ in 0..(next(&mut seed) % 4) {
            let at = (next(&mut seed) as usize) % body.len();
            body[at] = next(&mut seed) as u8;
        }
        if n.is_multiple_of(3) {
            body.truncate((next(&mut seed) as usize) % body.len());
        }
        bytes.extend_from_slice(&body);
        let _ = stream.write_all(&bytes);
        drop(stream);
        n += 1;
    }
    n
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q`th percentile of unsorted samples.
fn quantile(samples: &[Duration], q: usize) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[(s.len() * q / 100).min(s.len() - 1)]
}
