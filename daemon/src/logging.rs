//! Tracing setup: a size-rotated log file (bounded: a few files of a few MiB)
//! and, for a foreground daemon, stderr as well.

use std::io;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::paths::Paths;

/// Rotate the log at this size…
pub const LOG_FILE_BYTES: usize = 8 << 20;
/// …and keep this many old files.
pub const LOG_FILES_KEPT: usize = 3;

/// Installs the global subscriber. Keep the guard alive: it flushes on drop.
pub fn init_daemon(paths: &Paths, to_stderr: bool) -> io::Result<WorkerGuard> {
    let file = FileRotate::new(
        paths.log_file(),
        AppendCount::new(LOG_FILES_KEPT),
        ContentLimit::BytesSurpassed(LOG_FILE_BYTES),
        Compression::None,
        Some(private_file()),
    );
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter =
        EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    let stderr_layer = to_stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_target(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .with(crate::log_tap::layer())
        .try_init()
        .map_err(io::Error::other)?;
    Ok(guard)
}

fn private_file() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.read(true).create(true).append(true).mode(0o600);
    options
}

/// Workers log to stderr only; the daemon captures it into its own log.
pub fn init_worker() {
    let filter =
        EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .try_init();
}
