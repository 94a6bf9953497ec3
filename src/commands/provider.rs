//! `switchyard provider list|add|remove|use`. Keys given with `--key-stdin`
//! travel to the daemon once and are never printed.

use std::io::Read;
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr, eyre};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{AuthSpec, ProviderSpec, Reply, Request};

use crate::cli::ProviderCommand;

pub async fn run(paths: &Paths, command: ProviderCommand) -> Result<ExitCode> {
    match command {
        ProviderCommand::List { app, json } => list(paths, app, json).await,
        ProviderCommand::Add {
            app,
            name,
            base_url,
            key_env,
            key_stdin,
            passthrough: _,
            priority,
            replace,
        } => {
            let auth = if let Some(var) = key_env {
                AuthSpec::KeyEnv(var)
            } else if key_stdin {
                let mut key = String::new();
                std::io::stdin()
                    .read_to_string(&mut key)
                    .wrap_err("cannot read the key from standard input")?;
                AuthSpec::StoredKey(key)
            } else {
                AuthSpec::Passthrough
            };
            let spec = ProviderSpec {
                app,
                name,
                base_url,
                auth,
                priority,
                replace,
            };
            super::request_done(paths, Request::ProviderAdd(spec)).await
        }
        ProviderCommand::Remove { app, name } => {
            super::request_done(paths, Request::ProviderRemove { app, name }).await
        }
        ProviderCommand::Use { app, name } => {
            super::request_done(paths, Request::ProviderUse { app, name }).await
        }
    }
}

async fn list(
    paths: &Paths,
    app: Option<switchyard_daemon::apps::App>,
    json: bool,
) -> Result<ExitCode> {
    let mut client = super::connect(paths).await?;
    let providers = match client.request(Request::ProviderList { app }).await? {
        Reply::Providers(providers) => providers,
        other => return Err(eyre!("unexpected reply from the daemon: {other:?}")),
    };
    if json {
        let rows: Vec<_> = providers
            .iter()
            .map(|p| {
                serde_json::json!({"app": p.app, "name": p.name, "base_url": p.base_url,
                    "auth": p.auth, "priority": p.priority, "enabled": p.enabled, "active": p.active})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:<16} {:<9} {:<14} BASE URL",
        "APP", "NAME", "PRIORITY", "AUTH"
    );
    let listed = providers.len();
    for p in providers {
        let marker = if p.active { "*" } else { " " };
        println!(
            "{:<8} {marker}{:<15} {:<9} {:<14} {}",
            p.app.name(),
            p.name,
            p.priority,
            p.auth,
            p.base_url
        );
    }
    if listed == 0 {
        println!("(none: add one with `switchyard provider add APP NAME --base-url URL`)");
    } else {
        println!(
            "\n* tried first. Requests try providers by priority (lowest first, ties by name), skipping open breakers and missing keys."
        );
    }
    Ok(ExitCode::SUCCESS)
}
