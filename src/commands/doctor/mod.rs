//! `switchyard doctor`: is each app's proxy healthy, and does each CLI's own
//! configuration point at it? Exit 0 when all is well, 1 when something is
//! wrong, 3 when the daemon is not running.
//!
//! The apps' state comes from the daemon. The CLIs' configuration files are
//! read here, read-only, with the readers takeover uses: the question is what
//! *this* user's CLI will do, in this shell.

mod checks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, bail};
use switchyard_daemon::apps::App;
use switchyard_daemon::client::{Client, ClientError};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Reply, Request};
use switchyard_daemon::takeover;

use super::EXIT_NOT_RUNNING;
use checks::ConfigSeen;

/// How long a port may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn run(paths: &Paths) -> Result<ExitCode> {
    let mut client = match Client::connect(paths, "switchyard-doctor").await {
        Ok(client) => client,
        Err(err @ ClientError::NotRunning { .. }) => {
            eprintln!("switchyard: {err}");
            return Ok(ExitCode::from(EXIT_NOT_RUNNING));
        }
        Err(err) => return Err(err.into()),
    };
    let snapshot = match client.request(Request::Status).await? {
        Reply::Status(snapshot) => *snapshot,
        other => bail!("unexpected reply to status: {other:?}"),
    };
    let daemon = &snapshot.daemon;
    println!(
        "daemon: running (pid {}, version {})",
        daemon.pid, daemon.version
    );
    let mut problems = 0;
    for app in &snapshot.apps {
        let seen = observe(app.app);
        let reachable = app.enabled && reachable(app.port).await;
        let checks = checks::checks(app, &seen, reachable);
        let failed = checks.iter().filter(|c| !c.ok).count();
        problems += failed;
        let verdict = match (failed, app.enabled) {
            (0, true) => "ok",
            (0, false) => "disabled",
            _ => "PROBLEM",
        };
        println!("\n{:<8} {verdict}", app.app.name());
        for check in checks {
            let mark = if check.ok { "ok" } else { "FAIL" };
            println!("  {mark:<4}  {:<8}  {}", check.what, check.detail);
        }
    }
    println!();
    if problems == 0 {
        println!("everything looks fine");
        Ok(ExitCode::SUCCESS)
    } else {
        let s = if problems == 1 { "" } else { "s" };
        println!("{problems} problem{s} found");
        Ok(ExitCode::FAILURE)
    }
}

/// What `app`'s configuration file and this shell's environment say.
fn observe(app: App) -> ConfigSeen {
    let env = std::env::var(checks::env_var(app)).ok();
    match takeover::config_path(app) {
        Ok(path) => ConfigSeen {
            file: takeover::inspect(app, &path).map_err(|err| err.to_string()),
            path,
            env,
        },
        Err(err) => ConfigSeen {
            path: PathBuf::new(),
            file: Err(err.to_string()),
            env,
        },
    }
}

async fn reachable(port: u16) -> bool {
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, connect).await,
        Ok(Ok(_))
    )
}
