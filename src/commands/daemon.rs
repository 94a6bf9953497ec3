//! `daemon start|stop|restart|status`: idempotent, as DESIGN.md promises.

use std::process::ExitCode;

use color_eyre::eyre::Result;
use switchyard_daemon::lifecycle::{self, Probe, Started, Stopped};
use switchyard_daemon::paths::Paths;

use super::EXIT_NOT_RUNNING;

pub async fn start(paths: &Paths) -> Result<ExitCode> {
    match lifecycle::start_detached(paths).await? {
        Started::AlreadyRunning { pid } => println!("daemon already running (pid {pid})"),
        Started::Started { pid, elapsed } => {
            println!("daemon started (pid {pid}) in {} ms", elapsed.as_millis());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stop(paths: &Paths) -> Result<ExitCode> {
    match lifecycle::stop(paths).await? {
        Stopped::NotRunning {
            cleaned_stale: false,
        } => println!("daemon not running"),
        Stopped::NotRunning {
            cleaned_stale: true,
        } => {
            println!("daemon not running (removed a stale socket and pid file)");
        }
        Stopped::Stopped { pid } => println!("daemon stopped (pid {pid})"),
        Stopped::Killed { pid } => println!("daemon did not stop in time: killed (pid {pid})"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restart(paths: &Paths) -> Result<ExitCode> {
    stop(paths).await?;
    start(paths).await
}

pub async fn status(paths: &Paths, json: bool) -> Result<ExitCode> {
    let probe = lifecycle::probe(paths).await?;
    let running = matches!(probe, Probe::Running(_) | Probe::Busy { .. });
    let daemon = super::status::daemon_view(paths, probe).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&daemon.json)?);
    } else {
        println!("{}", daemon.line);
    }
    Ok(if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_RUNNING)
    })
}
