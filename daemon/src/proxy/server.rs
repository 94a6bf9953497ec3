//! The client side: accept loop on the inherited listener, one HTTP/1.1 keep-alive
//! connection task per client, deadlines on heads and idle connections, a cap on
//! open connections, the owner check, and a graceful drain on shutdown (stop
//! accepting, let in-flight responses finish, cut whatever is left at the deadline).

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{HttpService, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::budget::BodyBudget;
use super::connections::Connections;
use super::forward;
use super::guard::Guard;
use super::limits::ClientLimits;
use super::peer::{self, Admission, PeerGate};
use super::provider::Active;
use super::report::{Activity, Sink};
use super::response::ClientBody;
use super::stats::Counters;
use super::summary::ProxyReport;
use crate::platform;

/// What every connection of one `serve` shares.
pub(crate) struct Shared {
    pub(crate) counters: Arc<Counters>,
    pub(crate) reports: mpsc::Sender<ProxyReport>,
    pub(crate) budget: Arc<BodyBudget>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) active: watch::Receiver<Arc<Active>>,
}

/// What every request handler of one connection needs.
pub(crate) struct Ctx {
    /// This connection's own: its activity is what the idle check reads.
    pub(crate) sink: Arc<Sink>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) active: watch::Receiver<Arc<Active>>,
    /// Where a WebSocket handshake's tunnel runs.
    pub(crate) tunnels: Arc<Tunnels>,
}

/// Where WebSocket tunnels run (`tunnel.rs`).
pub(crate) struct Tunnels {
    /// The connection tasks' tracker: a drain waits for tunnels too.
    pub(crate) tasks: TaskTracker,
    /// Cancelled at the drain deadline: whatever is still open is cut.
    pub(crate) hard_stop: CancellationToken,
}

impl Shared {
    fn connection(&self, tunnels: &Arc<Tunnels>) -> Arc<Ctx> {
        Arc::new(Ctx {
            sink: Arc::new(Sink {
                counters: Arc::clone(&self.counters),
                reports: self.reports.clone(),
                budget: Arc::clone(&self.budget),
                activity: Activity::default(),
            }),
            guard: Arc::clone(&self.guard),
            active: self.active.clone(),
            tunnels: Arc::clone(tunnels),
        })
    }
}

/// Pause after a failed `accept` that shedding could not help (e.g. out of
/// descriptors with every connection busy), so the loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// After the drain deadline, how long to wait for cut connections to unwind.
const ABORT_GRACE: Duration = Duration::from_secs(1);

pub(crate) async fn serve(
    shared: Shared,
    listener: TcpListener,
    shutdown: CancellationToken,
    drain_deadline: Duration,
) -> io::Result<()> {
    // Every connection polls this token each time it wakes, and checking a token
    // takes its node's lock: a node of this `serve`'s own keeps that lock from
    // being shared with whoever else holds the caller's token (other threads,
    // when a program serves several listeners).
    let shutdown = shutdown.child_token();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Replaced by the per-connection check below (`Watch`).
        .header_read_timeout(None)
        .keep_alive(true);
    let mut refusing = builder.clone();
    refusing.keep_alive(false);
    // WebSocket tunnels outlive the connection they came from: they run with
    // the connection tasks, so the drain waits for them and cuts them too.
    let tunnels = Arc::new(Tunnels {
        tasks: TaskTracker::new(),
        hard_stop: CancellationToken::new(),
    });
    let connections = tunnels.tasks.clone();
    let hard_stop = tunnels.hard_stop.clone();
    let mut open = Connections::default();
    let mut gate = PeerGate::new();
    let mut errors = AcceptErrors::default();
    let fd_limit = platform::fd_limit().ok();

    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                errors.recovered();
                accepted
            }
            Err(e) => {
                // Out of descriptors: an idle connection's is the one to reuse.
                if out_of_descriptors(&e) && open.shed_oldest_idle() {
                    errors.failed(&e, "shedding idle connections");
                    tokio::task::yield_now().await;
                    continue;
                }
                errors.failed(&e, "retrying every 50 ms");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let limits = shared.active.borrow().limits;
        let cap = limits.connection_cap(fd_limit);
        if connections.len() >= cap && !open.shed_oldest_idle() {
            errors.full(cap);
            drop(stream);
            continue;
        }
        let admission = gate.admit(&stream, peer);
        if matches!(admission, Admission::Gone) {
            continue;
        }
        // Small SSE writes must leave at once, not wait on Nagle.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY failed on an accepted socket");
        }
        let ctx = shared.connection(&tunnels);
        let sink = Arc::clone(&ctx.sink);
        let (shutdown, hard_stop) = (shutdown.clone(), hard_stop.clone());
        let task = match admission {
            Admission::Stranger(uid) => {
                let owner = gate.uid();
                let service = service_fn(move |req| {
                    std::future::ready(Ok::<_, Infallible>(peer::refusal(&ctx, &req, owner, uid)))
                });
                let conn = refusing
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                connections.spawn(connection(conn, sink.clone(), limits, shutdown, hard_stop))
            }
            Admission::Owner | Admission::Gone => {
                let service = service_fn(move |req| forward::handle(Arc::clone(&ctx), req));
                let conn = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                connections.spawn(connection(conn, sink.clone(), limits, shutdown, hard_stop))
            }
        };
        open.add(sink, task.abort_handle(), cap);
    }

    // Our copy of the listener closes here; the daemon keeps its own, so new clients
    // wait in the backlog for the next worker instead of being refused.
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain_deadline, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "drain deadline passed; closing the remaining connections"
        );
        hard_stop.cancel();
        let _ = tokio::time::timeout(ABORT_GRACE, connections.wait()).await;
    }
    Ok(())
}

fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE)
    )
}

/// With upgrades: a WebSocket handshake hands its connection to a tunnel.
type Conn<S> = http1::UpgradeableConnection<TokioIo<TcpStream>, S>;

async fn connection<S>(
    conn: Conn<S>,
    sink: Arc<Sink>,
    limits: ClientLimits,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
) where
    S: HttpService<Incoming, ResBody = ClientBody>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    let mut watch = Watch::new(limits);
    let result = loop {
        tokio::select! {
            // The connection first, and no random branch order to draw on
            // every wake-up.
            biased;
            result = conn.as_mut() => break result,
            // One timer per connection per period, rather than hyper's header-read
            // timer, which is armed for every request and wakes the runtime's
            // driver each time.
            () = tokio::time::sleep(watch.period()) => match watch.tick(sink.activity.get()) {
                Verdict::Keep => {}
                // Finish what is in progress (if anything) and close.
                Verdict::Close => conn.as_mut().graceful_shutdown(),
                // Nothing is in flight: close the socket now.
                Verdict::Drop => return,
            },
            () = shutdown.cancelled() => {
                // Finish the response in progress (if any), then close; idle
                // keep-alive connections close at once.
                conn.as_mut().graceful_shutdown();
                tokio::select! {
                    result = conn.as_mut() => break result,
                    () = hard_stop.cancelled() => return,
                }
            }
        }
    };
    if let Err(e) = result {
        // Clients hanging up mid-response land here; that is routine.
        tracing::debug!(error = %e, "client connection ended with an error");
    }
}

/// The deadlines of one connection, checked once per period (the head timeout)
/// against its activity counters: no per-request timer.
#[derive(Debug)]
struct Watch {
    limits: ClientLimits,
    last: (u64, u64),
    idle: Duration,
    closing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    Close,
    Drop,
}

impl Watch {
    fn new(limits: ClientLimits) -> Self {
        Watch {
            limits,
            last: (0, 0),
            idle: Duration::ZERO,
            closing: false,
        }
    }

    fn period(&self) -> Duration {
        self.limits.head_timeout
    }

    /// One period has passed; `now` is (requests begun, requests ended).
    fn tick(&mut self, now: (u64, u64)) -> Verdict {
        let (begun, ended) = now;
        if begun == 0 {
            // No complete head within the head timeout of accepting: a slow or
            // silent client. Nothing was ever in flight, so nothing is cut.
            return Verdict::Drop;
        }
        let moved = std::mem::replace(&mut self.last, now) != now;
        if begun != ended || moved {
            // In flight (body gaps have their own deadlines), or something began
            // or ended during the period.
            self.idle = Duration::ZERO;
            self.closing = false;
            return Verdict::Keep;
        }
        if self.closing {
            // Asked to close a period ago and still open: a client that does not
            // read the end of its response, or sits on half a head.
            return Verdict::Drop;
        }
        self.idle += self.period();
        if self.idle >= self.limits.keep_alive {
            self.closing = true;
            return Verdict::Close;
        }
        Verdict::Keep
    }
}

/// Accept failures, logged once per episode rather than once per attempt.
#[derive(Default)]
struct AcceptErrors {
    failures: u64,
    at_cap: bool,
}

impl AcceptErrors {
    fn failed(&mut self, e: &io::Error, action: &str) {
        self.failures += 1;
        if self.failures == 1 {
            tracing::warn!(error = %e, "accept failed; {action} (logged once until accepting works again)");
        }
    }

    fn full(&mut self, cap: usize) {
        if !std::mem::replace(&mut self.at_cap, true) {
            tracing::warn!(
                cap,
                "client connections at the cap and every one busy; new ones are closed until one ends"
            );
        }
    }

    fn recovered(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting connections again");
            self.failures = 0;
        }
        self.at_cap = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        Watch::new(ClientLimits {
            head_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(30),
            ..ClientLimits::default()
        })
    }

    #[test]
    fn a_connection_without_a_complete_head_is_dropped_at_the_first_tick() {
        assert_eq!(watch().tick((0, 0)), Verdict::Drop);
    }

    #[test]
    fn in_flight_requests_are_never_cut_and_idle_ones_close_after_keep_alive() {
        let mut w = watch();
        assert_eq!(w.tick((1, 0)), Verdict::Keep);
        // A long stream: nothing moves for many periods, but it is in flight.
        for _ in 0..10 {
            assert_eq!(w.tick((1, 0)), Verdict::Keep);
        }
        assert_eq!(w.tick((1, 1)), Verdict::Keep, "it just ended");
        assert_eq!(w.tick((1, 1)), Verdict::Keep, "idle 10 s");
        assert_eq!(w.tick((1, 1)), Verdict::Keep, "idle 20 s");
        assert_eq!(w.tick((1, 1)), Verdict::Close, "idle 30 s");
        assert_eq!(w.tick((1, 1)), Verdict::Drop, "still open a period later");
    }

    #[test]
    fn accept_failures_are_logged_once_per_episode() {
        #[derive(Clone, Default)]
        struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
        impl io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut errors = AcceptErrors::default();
            let emfile = io::Error::from_raw_os_error(nix::libc::EMFILE);
            // Two episodes of 200 failures each (10 s of 50 ms retries).
            for _ in 0..2 {
                for _ in 0..200 {
                    errors.failed(&emfile, "retrying every 50 ms");
                }
                errors.recovered();
            }
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("accept failed").count(), 2, "{text}");
        assert_eq!(
            text.matches("accepting connections again").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn activity_restarts_the_idle_clock() {
        let mut w = watch();
        assert_eq!(w.tick((1, 1)), Verdict::Keep);
        assert_eq!(w.tick((1, 1)), Verdict::Keep);
        assert_eq!(w.tick((2, 2)), Verdict::Keep);
        assert_eq!(w.tick((2, 2)), Verdict::Keep);
        assert_eq!(w.tick((2, 2)), Verdict::Keep);
        assert_eq!(w.tick((2, 2)), Verdict::Close);
        // A request that began after the close was asked for keeps it alive.
        assert_eq!(w.tick((3, 2)), Verdict::Keep);
    }
}
