//! The client side: accept loop on the inherited listener, one HTTP/1.1 keep-alive
//! connection task per client, idle connections closed, and a graceful drain on
//! shutdown (stop accepting, let in-flight responses finish, cut whatever is left at
//! the deadline).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::forward;
use super::guard::Guard;
use super::provider::Active;
use super::report::Sink;

/// What every request handler needs, shared by all connections of one `serve`.
pub(crate) struct Ctx {
    pub(crate) sink: Arc<Sink>,
    pub(crate) guard: Guard,
    pub(crate) active: watch::Receiver<Arc<Active>>,
}

/// A connection on which no request began for a whole period of this length is
/// closed (after the response in progress, if any): idle keep-alive connections
/// and clients that never finish a request head go away within two periods.
/// One timer per connection per period, rather than hyper's header-read timer,
/// which is armed for every request and wakes the runtime's driver each time.
const IDLE_PERIOD: Duration = Duration::from_secs(30);
/// Pause after a failed `accept` (e.g. out of descriptors) so the loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// After the drain deadline, how long to wait for cut connections to unwind.
const ABORT_GRACE: Duration = Duration::from_secs(1);

pub(crate) async fn serve(
    ctx: Arc<Ctx>,
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
        // Replaced by the per-connection idle check below.
        .header_read_timeout(None)
        .keep_alive(true);
    let connections = TaskTracker::new();
    let hard_stop = CancellationToken::new();

    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        // Small SSE writes must leave at once, not wait on Nagle.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY failed on an accepted socket");
        }
        connections.spawn(connection(
            Arc::clone(&ctx),
            builder.clone(),
            stream,
            shutdown.clone(),
            hard_stop.clone(),
        ));
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

async fn connection(
    ctx: Arc<Ctx>,
    builder: http1::Builder,
    stream: TcpStream,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
) {
    let started = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&started);
    let service = service_fn(move |req| {
        counted.fetch_add(1, Ordering::Relaxed);
        forward::handle(Arc::clone(&ctx), req)
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut seen = 0;
    let result = loop {
        tokio::select! {
            // The connection first, and no random branch order to draw on
            // every wake-up.
            biased;
            result = conn.as_mut() => break result,
            () = tokio::time::sleep(IDLE_PERIOD) => {
                let now = started.load(Ordering::Relaxed);
                if std::mem::replace(&mut seen, now) == now {
                    // Nothing began for a whole period: finish what is in
                    // progress and close.
                    conn.as_mut().graceful_shutdown();
                }
            }
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
