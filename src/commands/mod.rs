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
        Command::Enable { apps, takeover } => {
            let env = CallerEnv::current();
            each_app(&paths, apps, |app| Request::Enable {
                app,
                takeover,
                env: env.clone(),
            })
            .await
        }
        Command::Disable { apps } => each_app(&paths, apps, |app| Request::Disable { app }).await,
        Command::Restart { apps } => each_app(&paths, apps, |app| Request::Restart { app }).await,
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
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut cmd = completable(&cmd);
            clap_complete::generate(shell, &mut cmd, "switchyard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { .. } => Err(eyre!("the worker is started by the daemon only")),
    }
}

/// `cmd` as a person completes it: without hidden arguments and commands
/// (`--detached`, `worker`) nor `--daemon`, which only service files run —
/// the generators would offer them all.
fn completable(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_owned());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if cmd.get_version().is_some() {
        out = out.version(env!("CARGO_PKG_VERSION"));
    }
    for arg in cmd.get_arguments() {
        if !arg.is_hide_set() && arg.get_id() != "daemon" {
            out = out.arg(arg.clone());
        }
    }
    for group in cmd.get_groups() {
        let kept = group.get_args().all(|id| {
            cmd.get_arguments()
                .any(|a| a.get_id() == id && !a.is_hide_set())
        });
        if kept {
            out = out.group(group.clone());
        }
    }
    for sub in cmd.get_subcommands() {
        if !sub.is_hide_set() {
            out = out.subcommand(completable(sub));
        }
    }
    out
}

/// Connects to a running daemon, with an error that says how to start one.
pub async fn connect(paths: &Paths) -> Result<Client> {
    Ok(Client::connect(paths, "switchyard-cli").await?)
}

/// One request per app, in the order given (an app named twice is done
/// once), each answer printed as it comes; exit 1 if any failed, after all
/// were tried.
async fn each_app(
    paths: &Paths,
    mut apps: Vec<switchyard_daemon::apps::App>,
    request: impl Fn(switchyard_daemon::apps::App) -> Request,
) -> Result<ExitCode> {
    let mut seen = Vec::new();
    apps.retain(|app| {
        let first = !seen.contains(app);
        seen.push(*app);
        first
    });
    let mut failed = false;
    for app in apps {
        failed |= request_done(paths, request(app)).await? != ExitCode::SUCCESS;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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
