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
            preset,
            base_url,
            format,
            model_map,
            key_env,
            key_stdin,
            passthrough: _,
            priority,
            replace,
        } => {
            let mut keys: Vec<AuthSpec> = key_env.into_iter().map(AuthSpec::KeyEnv).collect();
            if key_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .wrap_err("cannot read the key from standard input")?;
                let given: Vec<AuthSpec> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| AuthSpec::StoredKey(l.to_owned()))
                    .collect();
                if given.is_empty() {
                    // The daemon says what is wrong with an empty key.
                    keys.push(AuthSpec::StoredKey(String::new()));
                }
                keys.extend(given);
            }
            let mut keys = keys.into_iter();
            let spec = ProviderSpec {
                app,
                name,
                base_url,
                preset,
                format,
                model_map,
                auth: keys.next().unwrap_or(AuthSpec::Passthrough),
                extra_keys: keys.collect(),
                priority,
                replace,
            };
            super::request_done(paths, Request::ProviderAdd(spec)).await
        }
        ProviderCommand::Presets { app, json } => presets(paths, app, json).await,
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
                    "auth": p.auth, "priority": p.priority, "enabled": p.enabled, "active": p.active,
                    "format": p.format, "model_map": p.model_map, "keys": p.keys, "preset": p.preset})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:<16} {:<9} {:<16} {:<14} BASE URL",
        "APP", "NAME", "PRIORITY", "FORMAT", "AUTH"
    );
    let listed = providers.len();
    for p in providers {
        let marker = if p.active { "*" } else { " " };
        println!(
            "{:<8} {marker}{:<15} {:<9} {:<16} {:<14} {}",
            p.app.name(),
            p.name,
            p.priority,
            p.format.name(),
            p.auth,
            p.base_url
        );
        if p.keys.len() > 1 {
            println!("{:<10}keys: {}", "", p.keys.join(", "));
        }
        if !p.model_map.is_empty() {
            println!("{:<10}model map: {}", "", p.model_map.join(", "));
        }
        if let Some(preset) = &p.preset {
            println!("{:<10}preset: {preset}", "");
        }
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

async fn presets(
    paths: &Paths,
    app: Option<switchyard_daemon::apps::App>,
    json: bool,
) -> Result<ExitCode> {
    let mut client = super::connect(paths).await?;
    let presets = match client.request(Request::ProviderPresets { app }).await? {
        Reply::Presets(presets) => presets,
        other => return Err(eyre!("unexpected reply from the daemon: {other:?}")),
    };
    if json {
        let rows: Vec<_> = presets
            .iter()
            .map(|p| {
                serde_json::json!({"id": p.id, "name": p.name, "apps": p.apps,
                    "base_url": p.base_url, "format": p.format, "auth": p.auth,
                    "key_env": p.key_env, "model_map": p.model_map, "docs": p.docs,
                    "note": p.note})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:<16} {:<20} {:<18} BASE URL",
        "ID", "FORMAT", "APPS", "KEY"
    );
    for p in &presets {
        let apps: Vec<&str> = p.apps.iter().map(|a| a.name()).collect();
        println!(
            "{:<22} {:<16} {:<20} {:<18} {}",
            p.id,
            p.format.name(),
            apps.join(","),
            p.key_env.as_deref().unwrap_or("(none)"),
            p.base_url
        );
        println!("{:<23}{} — {}", "", p.name, p.docs);
        if !p.model_map.is_empty() {
            println!("{:<23}model map: {}", "", p.model_map.join(", "));
        }
        if let Some(note) = &p.note {
            println!("{:<23}{note}", "");
        }
    }
    let app_arg = app.map_or("APP".to_owned(), |a| a.name().to_owned());
    println!(
        "\nAdd one with `switchyard provider add {app_arg} NAME --preset ID [--key-env VAR | --key-stdin]`."
    );
    Ok(ExitCode::SUCCESS)
}
