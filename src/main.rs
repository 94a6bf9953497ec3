//! `switchyard`: the one binary. Parses the command line and hands each mode to
//! its crate: the dashboard (`switchyard-ui`), the daemon and the worker
//! (`switchyard-daemon`), or a command in `commands/`.

/// The worker allocates on its hot path (hyper buffers, futures, headers);
/// mimalloc does that with less CPU than glibc malloc (measured with
/// `tests/benches/proxy.sh`: about 10% less CPU per proxied request).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};
use switchyard_daemon::paths::Paths;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .install();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("switchyard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> color_eyre::Result<ExitCode> {
    if let Some(Command::Worker { app }) = cli.command {
        // The worker serves its app on this one thread: no cross-thread
        // wake-ups on the data path, one upstream pool, one breaker per
        // provider (see `worker::serve`).
        switchyard_daemon::logging::init_worker();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let code = runtime.block_on(switchyard_daemon::worker::run(app));
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    let paths = Paths::from_env()?;
    if cli.daemon {
        // The daemon is a control plane: one thread serves every client with
        // no cross-thread wake-ups (the store has its own thread, and the data
        // path lives in the workers).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(switchyard_daemon::daemon::run(paths, !cli.detached))?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if cli.command.is_some() {
        // Commands write to pipes (`| head`): a closed pipe should end them
        // quietly, as it does any Unix tool, not with a panic. (The daemon and
        // workers keep Rust's default, where it is just an error.)
        // SAFETY: called before any other thread exists; SIG_DFL has no handler.
        let _ = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            )
        };
    }
    match cli.command {
        None => {
            runtime.block_on(switchyard_ui::run(paths))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(command) => runtime.block_on(commands::run(command, paths)),
    }
}
