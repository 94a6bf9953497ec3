//! One module per group of commands. Every command talks to the daemon through
//! `switchyard_daemon::client`; none touches the database or a worker. Two
//! touch files of their own: `doctor` reads the CLIs' configuration files,
//! and `service` writes the login service's unit file.

mod daemon;
mod doctor;
mod events;
mod logs;
mod provider;
mod requests;
mod service;
mod status;
mod usage;

use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};
use switchyard_daemon::client::{Client, ClientError};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{CallerEnv, Reply, Request};
use switchyard_daemon::takeover::env::CallerEnvExt;

use crate::cli::{Command, DaemonCommand};

/// Exit code for "the daemon is not running" (as `systemctl status` uses).
pub const EXIT_NOT_RUNNING: u8 = 3;

pub async fn run(command: Command, paths: Paths) -> Result<ExitCode> {
    match command {
        Command::Daemon(DaemonCommand::Start) => daemon::start(&paths).await,
        Command::Daemon(DaemonCommand::Stop) => daemon::stop(&paths).await,
        Command::Daemon(DaemonCommand::Restart) => daemon::restart(&paths).await,
        Command::Daemon(DaemonCommand::Status(flag)) => daemon::status(&paths, flag.json).await,
        Command::Status(flag) => status::run(&paths, flag.json).await,
        Command::Enable { app, takeover } => {
            let env = CallerEnv::current();
            request_done(&paths, Request::Enable { app, takeover, env }).await
        }
        Command::Disable { app } => request_done(&paths, Request::Disable { app }).await,
        Command::Restart { app } => request_done(&paths, Request::Restart { app }).await,
        Command::Port { app, port } => request_done(&paths, Request::SetPort { app, port }).await,
        Command::Provider(command) => provider::run(&paths, command).await,
        Command::Events { json, since } => events::run(&paths, json, since).await,
        Command::Requests {
            app,
            since,
            status,
            limit,
            follow,
            json,
        } => {
            let query = switchyard_daemon::protocol::requests::RequestsQuery {
                app,
                since_ms: since,
                status,
                limit,
                before_id: None,
            };
            requests::run(&paths, query, follow, json).await
        }
        Command::Usage { since, by, json } => usage::run(&paths, since, by, json).await,
        Command::Logs { follow, app } => logs::run(&paths, follow, app).await,
        Command::Doctor => doctor::run(&paths).await,
        Command::Service(command) => service::run(command),
        Command::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "switchyard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { .. } => Err(eyre!("the worker is started by the daemon only")),
    }
}

/// Connects to a running daemon, with an error that says how to start one.
pub async fn connect(paths: &Paths) -> Result<Client> {
    Ok(Client::connect(paths, "switchyard-cli").await?)
}

/// Sends one request (`enable`, `disable`, …), printing a `Done` reply's text.
/// The daemon answers once the change has happened.
pub async fn request_done(paths: &Paths, request: Request) -> Result<ExitCode> {
    let mut client = connect(paths).await?;
    match client.request(request).await {
        Ok(Reply::Done(text)) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(other) => Err(eyre!("unexpected reply from the daemon: {other:?}")),
        Err(ClientError::Daemon(err)) => {
            eprintln!("switchyard: {err}");
            Ok(ExitCode::FAILURE)
        }
        Err(err) => Err(err.into()),
    }
}
