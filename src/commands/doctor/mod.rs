//! `switchyard doctor`: is each app's proxy healthy, and does each CLI's own
//! configuration point at it? Exit 0 when all is well, 1 when something is
//! wrong, 3 when the daemon is not running.
//!
//! The apps' state comes from the daemon. The CLIs' files are read here,
//! read-only (`observe`): the question is what *this* user's CLI will do, in
//! this shell and this folder — which login it signs in with and whether
//! that login's requests reach the proxy (`login`).

mod checks;
mod login;
mod observe;

use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, bail};
use switchyard_daemon::client::{Client, ClientError};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Reply, Request};

use super::EXIT_NOT_RUNNING;
use login::Env;

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
    let env = Env::current();
    for app in &snapshot.apps {
        let login = observe::files(app.app).and_then(|files| login::login(&files, &env));
        let reachable = app.enabled && reachable(app.port).await;
        let checks = checks::checks(app, &login, reachable);
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

async fn reachable(port: u16) -> bool {
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, connect).await,
        Ok(Ok(_))
    )
}
