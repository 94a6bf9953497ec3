//! The command line, as DESIGN.md fixes it (a contract: scripts and tests rely
//! on it). Parsing only; `commands/` carries each command out.

use clap::{Args, Parser, Subcommand};
use switchyard_daemon::apps::App;
use switchyard_daemon::translate::Format;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    args_conflicts_with_subcommands = true,
    about = "Keeps local proxies for Claude Code, Codex and Gemini CLI alive and visible.",
    long_about = "Keeps local proxies for Claude Code, Codex and Gemini CLI alive and visible.\n\nWith no command, opens the dashboard (starting the daemon if none answers).\nSWITCHYARD_HOME=<dir> keeps every file (database, logs, socket) under one directory."
)]
pub struct Cli {
    /// Run the daemon headless, in the foreground.
    #[arg(long)]
    pub daemon: bool,

    /// Set by `daemon start` for the daemon it detaches, and by the launchd
    /// agent: the daemon logs to its log file only, not to stderr as well.
    #[arg(long, hide = true, requires = "daemon")]
    pub detached: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop or inspect the daemon.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// The daemon and every app (exit 3 when the daemon is not running).
    Status(JsonFlag),
    /// Start the apps' proxies (`enable claude codex`).
    Enable {
        /// Which apps' proxies.
        #[arg(value_parser = app_parser(), required = true, num_args = 1..)]
        apps: Vec<App>,
        /// Also point the CLI's own configuration file at the proxy (without
        /// it, a file Switchyard took over is handed back).
        #[arg(long)]
        takeover: bool,
    },
    /// Stop the apps' proxies and release their ports.
    Disable {
        /// Which apps' proxies.
        #[arg(value_parser = app_parser(), required = true, num_args = 1..)]
        apps: Vec<App>,
    },
    /// Restart the apps' proxies (also un-parks them).
    Restart {
        /// Which apps' proxies.
        #[arg(value_parser = app_parser(), required = true, num_args = 1..)]
        apps: Vec<App>,
    },
    /// Move APP to another port (the new port is bound before the old is released).
    Port {
        /// Which app's proxy.
        #[arg(value_parser = app_parser())]
        app: App,
        /// The new port on 127.0.0.1 (1–65535).
        #[arg(value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
    },
    /// Manage the upstream providers of an app.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Print the snapshot, then live events (NDJSON with --json).
    Events {
        /// NDJSON: the snapshot on the first line, then one event per line.
        #[arg(long)]
        json: bool,
        /// Replay journal events after this seq instead of starting with a snapshot.
        #[arg(long, value_name = "SEQ")]
        since: Option<u64>,
    },
    /// The request history, newest last (--json: one object a line).
    Requests {
        /// Only this app's requests.
        #[arg(long, value_parser = app_parser())]
        app: Option<App>,
        /// Only requests since then: 15m, 24h, 7d, a date, or a time.
        #[arg(long, value_name = "DURATION|TIME", value_parser = since_parser)]
        since: Option<u64>,
        /// Only requests that got this status.
        #[arg(long, value_name = "CODE")]
        status: Option<u16>,
        /// At most this many (the newest).
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
        /// Keep printing requests as they finish.
        #[arg(short, long)]
        follow: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Tokens and cost per day, app, provider or model, and overall.
    Usage {
        /// Only requests since then: 15m, 24h, 7d, a date, or a time.
        #[arg(long, value_name = "DURATION|TIME", value_parser = since_parser)]
        since: Option<u64>,
        /// How to group the rows.
        #[arg(long, value_enum, default_value_t = UsageBy::Day)]
        by: UsageBy,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the daemon's log.
    Logs {
        /// Keep printing: the daemon's live log stream when one runs, else the
        /// file as it grows (said on stderr).
        #[arg(short, long)]
        follow: bool,
        /// Only lines about this app.
        #[arg(long, value_parser = app_parser())]
        app: Option<App>,
    },
    /// Check that each CLI points at its proxy and everything is healthy
    /// (exit 1 when something is wrong, 3 when the daemon is not running).
    Doctor,
    /// Install or remove a login service that runs the daemon.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// The proxy worker process (started by the daemon only).
    #[command(hide = true)]
    Worker {
        #[arg(long, value_parser = app_parser())]
        app: App,
    },
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start a detached daemon; returns once it answers.
    Start,
    /// Stop the daemon gracefully (SIGKILL after a grace period).
    Stop,
    /// Stop, then start.
    Restart,
    /// Is the daemon running? (exit 3 when not)
    Status(JsonFlag),
}

/// Accepts exactly the app names, so help and completions can list them.
fn app_parser() -> impl clap::builder::TypedValueParser<Value = App> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(App::ALL.map(App::name))
        .try_map(|name| name.parse::<App>())
}

/// `--since`: a start time in unix ms, read relative to now.
fn since_parser(text: &str) -> Result<u64, String> {
    switchyard_daemon::usage::since::parse_since(text, switchyard_daemon::store::now_ms())
}

/// `usage --by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UsageBy {
    Day,
    App,
    Provider,
    Model,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// List providers, in the order requests try them.
    List {
        /// Only this app; default: every app.
        #[arg(value_parser = app_parser())]
        app: Option<App>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a provider: from a preset, or a base URL and format (--replace:
    /// change one in place).
    #[command(group = clap::ArgGroup::new("source").required(true).multiple(true).args(["base_url", "preset"]))]
    Add {
        /// Which app's proxy.
        #[arg(value_parser = app_parser())]
        app: App,
        /// A name for it: letters, digits, '-', '_' or '.'.
        name: String,
        /// Start from this preset (`switchyard provider presets APP`).
        #[arg(long, value_name = "ID")]
        preset: Option<String>,
        /// Where requests go, e.g. https://api.example.com/v1 (the request
        /// path is appended); with --preset, replaces the preset's.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// The API the provider speaks: anthropic, openai-chat,
        /// openai-responses or gemini. Default: the preset's, else the app's
        /// own. Another format than the app's is translated.
        #[arg(long, value_name = "FORMAT")]
        format: Option<Format>,
        /// Model mapping, PATTERN=MODEL ('claude-sonnet-*=deepseek-chat');
        /// repeat it or separate rules by commas, first match wins.
        #[arg(long, value_name = "RULES")]
        model_map: Vec<String>,
        /// Read a key from this environment variable of the daemon; repeat it
        /// for a key pool (a key answered 429, out of quota or refused rests,
        /// the next one serves).
        #[arg(long, value_name = "VAR")]
        key_env: Vec<String>,
        /// Read keys from standard input, one per line, and keep them in the store.
        #[arg(long, conflicts_with = "passthrough")]
        key_stdin: bool,
        /// Forward the client's own key (the default without a key).
        #[arg(long, conflicts_with = "key_env")]
        passthrough: bool,
        /// Lower goes first; default: after the existing ones (with
        /// --replace: where it was).
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i64>,
        /// Replace the provider of that name in place, keeping its place in
        /// the order (without it, an existing name is refused).
        #[arg(long)]
        replace: bool,
    },
    /// The curated provider presets (all, or those for APP).
    Presets {
        /// Only presets this app can use.
        #[arg(value_parser = app_parser())]
        app: Option<App>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a provider.
    Remove {
        /// Which app's proxy.
        #[arg(value_parser = app_parser())]
        app: App,
        /// The provider's name, as `provider list` shows it.
        name: String,
    },
    /// Send requests to this provider first.
    Use {
        /// Which app's proxy.
        #[arg(value_parser = app_parser())]
        app: App,
        /// The provider's name, as `provider list` shows it.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write a systemd user unit (Linux) or launchd agent (macOS) that runs
    /// `switchyard --daemon` and restarts it on failure.
    Install,
    /// Remove it.
    Uninstall,
}
