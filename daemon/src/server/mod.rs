//! The daemon's socket server: an accept loop with one task per connection.
//! Bad input on one connection costs that connection only.
//!
//! Request connections are capped; at the cap the one idle the longest is
//! shed for the newcomer, so the owner's `status` and `stop` always get in
//! (they are answered without queueing behind the core). Event subscribers
//! are long-lived and counted apart. Out of descriptors, the loop sheds an
//! idle connection and backs off instead of spinning, logs the episode once
//! and reports it in the snapshot.

mod connection;
mod deadline;
mod slots;
mod subscribe;

use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::core::CoreHandle;
use crate::protocol::state::EventKind;
use slots::Slots;

/// Request connections served at once; a newcomer past it sheds the one idle
/// the longest.
pub const MAX_CONNECTIONS: usize = 256;
/// Beyond the cap, when every connection is busy in a request: this many more
/// are let in, so a `status` or `stop` still gets an answer.
pub const RESERVED_CONNECTIONS: usize = 8;
/// Event streams served at once (dashboards, `switchyard events`).
pub const MAX_SUBSCRIBERS: usize = 128;
/// After a failed `accept` for lack of descriptors: wait this long, doubling…
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// …up to this.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Serves clients on `listener` until `shutdown` is cancelled.
pub async fn run(listener: Listener, core: CoreHandle, shutdown: CancellationToken) {
    let uid = nix::unistd::geteuid().as_raw();
    let subscribers = Arc::new(Semaphore::new(MAX_SUBSCRIBERS));
    let mut slots = Slots::new();
    let (closed_tx, mut closed) = mpsc::unbounded_channel::<u64>();
    // While out of descriptors: the pause before the next try.
    let mut backoff: Option<Duration> = None;
    let pause = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(pause);
    let mut paused = false;
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(id) = closed.recv() => {
                slots.remove(id);
                continue;
            }
            () = &mut pause, if paused => {
                paused = false;
                continue;
            }
            accepted = listener.accept(), if !paused => accepted,
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(err) if out_of_resources(&err) => {
                // An idle connection gives its descriptor back for the next try.
                slots.shed_oldest_idle();
                let delay = match backoff {
                    None => {
                        let error = format!(
                            "{err}: new clients wait until descriptors are free (raise the limit with `ulimit -n`, or close idle clients)"
                        );
                        tracing::warn!("daemon socket: cannot accept connections: {error}");
                        core.report(EventKind::AcceptChanged { error: Some(error) });
                        ACCEPT_BACKOFF_MIN
                    }
                    Some(delay) => (delay * 2).min(ACCEPT_BACKOFF_MAX),
                };
                backoff = Some(delay);
                pause.as_mut().reset(tokio::time::Instant::now() + delay);
                paused = true;
                continue;
            }
            Err(err) => {
                // One failed handshake in the kernel (a peer that left): the
                // next accept is unaffected.
                tracing::debug!(%err, "accept failed on the daemon socket");
                continue;
            }
        };
        if backoff.take().is_some() {
            tracing::info!("daemon socket: accepting connections again");
            core.report(EventKind::AcceptChanged { error: None });
        }
        let mut admitted = true;
        if slots.requests() >= MAX_CONNECTIONS && !slots.shed_oldest_idle() {
            admitted = slots.requests() < MAX_CONNECTIONS + RESERVED_CONNECTIONS;
        }
        let (id, slot) = slots.add(shutdown.child_token());
        let conn = connection::Conn {
            core: core.clone(),
            shutdown: shutdown.clone(),
            uid,
            slot,
            subscribers: Arc::clone(&subscribers),
        };
        let closed_tx = closed_tx.clone();
        tokio::spawn(async move {
            connection::serve(stream, conn, admitted).await;
            let _ = closed_tx.send(id);
        });
    }
}

/// Errors that say the process or system is out of something `accept` needs:
/// trying again at once would only fail again.
fn out_of_resources(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::ENOBUFS | nix::libc::ENOMEM)
    )
}
