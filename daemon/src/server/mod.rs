//! The daemon's socket server: an accept loop with one task per connection.
//! Bad input on one connection costs that connection only.

mod connection;
mod subscribe;

use std::sync::Arc;

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::core::CoreHandle;

/// Connections served at once; more are told to retry and closed.
pub const MAX_CONNECTIONS: usize = 1024;

/// Serves clients on `listener` until `shutdown` is cancelled.
pub async fn run(listener: Listener, core: CoreHandle, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let uid = nix::unistd::geteuid().as_raw();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::warn!(%err, "accept failed on the daemon socket");
                    continue;
                }
            },
        };
        let permit = slots.clone().try_acquire_owned().ok();
        let core = core.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection::serve(stream, core, shutdown, uid, permit.is_some()).await;
            drop(permit);
        });
    }
}
