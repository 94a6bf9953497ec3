//! Running the daemon in the foreground: take the lock, open the store,
//! reconcile, bind the socket, serve until SIGTERM/SIGINT or a `Shutdown`
//! request, then stop every worker and clean up the socket and pid file.

use std::io;
use std::path::PathBuf;

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::lock::{DaemonLock, LockError};
use crate::paths::Paths;
use crate::protocol::state::DaemonInfo;
use crate::store::{Store, StoreError, now_ms};
use crate::supervisor::{Policy, kill_leftover_workers};
use crate::takeover::Takeovers;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}; fix or remove the entry, then start again")]
    Presets(#[from] crate::presets::PresetError),
    #[error("cannot {what} {}: {cause}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

/// Runs the daemon until it is told to stop. `log_to_stderr` is false for a
/// detached daemon, whose stderr nobody reads.
pub async fn run(paths: Paths, log_to_stderr: bool) -> Result<(), DaemonError> {
    paths.create_dirs().map_err(|cause| DaemonError::Io {
        what: "create the directory",
        path: paths.run_dir.clone(),
        cause,
    })?;
    let lock = DaemonLock::acquire(&paths)?;
    let _log_guard =
        crate::logging::init_daemon(&paths, log_to_stderr).map_err(|cause| DaemonError::Io {
            what: "open the log file",
            path: paths.log_file(),
            cause,
        })?;
    // Distributions ship a soft limit of 1,024 descriptors beside a far higher
    // hard one; workers inherit what is raised here.
    match crate::platform::raise_fd_limit() {
        Ok(limit) => tracing::debug!(limit, "descriptor limit"),
        Err(err) => tracing::warn!(%err, "cannot raise the descriptor limit"),
    }
    let socket = paths.socket();
    // We hold the lock, so any socket file left here belongs to a dead daemon.
    if socket.exists() {
        tracing::info!(socket = %socket.display(), "removing a stale socket");
        let _ = std::fs::remove_file(&socket);
    }
    let store = Store::open(&paths.database()).inspect_err(|err| tracing::error!(%err))?;
    let served = serve(&paths, &store, &socket).await;
    // We hold the lock: the socket is ours, whatever happened.
    let _ = std::fs::remove_file(&socket);
    // Whatever happened: what the store holds is written and checkpointed, so
    // a copy of the `.db` alone is whole.
    store.close().await;
    served?;
    drop(lock);
    tracing::info!("daemon stopped");
    Ok(())
}

/// Reconciles, binds the socket and serves until told to stop.
async fn serve(paths: &Paths, store: &Store, socket: &std::path::Path) -> Result<(), DaemonError> {
    // A presets file with an unknown field or a bad URL stops the start, entry named.
    let presets = crate::presets::Presets::load(&crate::presets::Presets::user_file(paths))
        .inspect_err(|err| tracing::error!(%err))?;
    let presets = std::sync::Arc::new(presets);
    kill_leftover_workers(store).await?;
    let listener = bind_socket(socket)?;
    let shutdown = CancellationToken::new();
    let info = DaemonInfo {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at_ms: now_ms(),
        socket: socket.display().to_string(),
    };
    let takeovers = Takeovers::start(paths.takeover_dir()).map_err(|cause| DaemonError::Io {
        what: "start the takeover thread for",
        path: paths.takeover_dir(),
        cause,
    })?;
    let (core, core_task) = Core::start(
        store.clone(),
        takeovers,
        info,
        Policy::default(),
        presets,
        crate::core::usage::UsageSettings::load(paths),
        shutdown.clone(),
    )
    .await?;
    let server = tokio::spawn(crate::server::run(listener, core, shutdown.clone()));
    tracing::info!(pid = std::process::id(), socket = %socket.display(), "daemon ready");
    wait_for_stop_signal(&shutdown).await;
    tracing::info!("daemon stopping");
    let _ = core_task.await;
    let _ = server.await;
    Ok(())
}

fn bind_socket(socket: &std::path::Path) -> Result<Listener, DaemonError> {
    let io_err = |cause| DaemonError::Io {
        what: "listen on",
        path: socket.to_owned(),
        cause,
    };
    let name = socket.to_fs_name::<GenericFilePath>().map_err(io_err)?;
    ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .create_tokio()
        .map_err(io_err)
}

async fn wait_for_stop_signal(shutdown: &CancellationToken) {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(
            "cannot install signal handlers; stop the daemon with `switchyard daemon stop`"
        );
        shutdown.cancelled().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
        () = shutdown.cancelled() => {}
    }
    shutdown.cancel();
    // A second signal while workers drain means "now": exit at once; the
    // workers follow (control-channel EOF, parent-death signal).
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second stop signal: exiting without waiting for workers to drain");
        std::process::exit(130);
    });
}
