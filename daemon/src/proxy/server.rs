//! The client side: accept loop on the inherited listener, one HTTP/1.1 keep-alive
//! connection task per client, and a graceful drain on shutdown (stop accepting, let
//! in-flight responses finish, cut whatever is left at the deadline).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::forward;
use super::guard::Guard;
use super::provider::Active;
use super::report::ProxyReport;
use super::stats::Counters;

/// What every request handler needs, shared by all connections of one `serve`.
pub(crate) struct Ctx {
    pub(crate) counters: Arc<Counters>,
    pub(crate) reports: mpsc::Sender<ProxyReport>,
    pub(crate) guard: Guard,
    pub(crate) active: watch::Receiver<Arc<Active>>,
}

/// A client that opens a connection must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
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
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
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
    let service = service_fn(move |req| forward::handle(Arc::clone(&ctx), req));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            // Finish the response in progress (if any), then close; idle keep-alive
            // connections close at once.
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                () = hard_stop.cancelled() => return,
            }
        }
    };
    if let Err(e) = result {
        // Clients hanging up mid-response land here; that is routine.
        tracing::debug!(error = %e, "client connection ended with an error");
    }
}
