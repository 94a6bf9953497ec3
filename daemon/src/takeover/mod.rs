//! Takeover: pointing each CLI's own configuration at its proxy, and
//! handing it back exactly as the user left it.
//!
//! Every byte the user wrote is theirs. Switchyard owns a few keys per app
//! and edits only those, in the file's own text (pure edits, text in, text
//! out), each chosen from the CLI's source so that every login mode the CLI
//! has keeps working and goes through the proxy:
//! - Claude Code (`claude.rs`): `env.ANTHROPIC_BASE_URL` in `settings.json`
//!   — an API key and a claude.ai login both follow it;
//! - Codex (`codex.rs`): `openai_base_url` in `config.toml`, the built-in
//!   OpenAI provider's base URL (files taken over the old way, with a
//!   provider of Switchyard's own, are moved over: `codex_legacy.rs`);
//! - Gemini CLI (`gemini.rs`): one base URL per login mode in `.env`, and,
//!   only where the base URL would change the login gemini-cli picks, the
//!   login itself in `settings.json` (`gemini_settings.rs`).
//!
//! `env` names the files from the caller's environment; `plan` decides what
//! to write against the record of the original; `apply` carries it out per
//! app, `record` keeps that record in a private file beside the database
//! (written before the CLI's file changes, so it survives the database), and
//! `actor` runs all of it on one thread off the daemon's core. `atomic`
//! writes so that a kill at any instant leaves the old file or the new one.

pub mod actor;
mod apply;
pub mod atomic;
mod claude;
mod codex;
mod codex_legacy;
pub mod env;
mod gemini;
mod gemini_settings;
mod json;
mod json_edit;
mod plan;
pub mod record;
mod toml_layout;

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apps::App;
use env::{CallerEnv, CallerEnvExt};

pub use actor::Takeovers;
pub use plan::{Action, PointPlan, ReleasePlan, commit, plan_point, plan_release};
pub use record::{AppRecord, FileRecord, Records};

/// Why a file cannot be edited: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    pub line: Option<usize>,
    /// 1-based; `None` when only the line is known.
    pub column: Option<usize>,
    pub message: String,
}

impl EditError {
    pub fn new(message: impl Into<String>) -> Self {
        EditError {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// `column` 0 means unknown.
    pub fn at(line: usize, column: usize, message: impl Into<String>) -> Self {
        EditError {
            line: Some(line),
            column: (column > 0).then_some(column),
            message: message.into(),
        }
    }

    fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!(", line {line}, column {column}"),
            (Some(line), None) => format!(", line {line}"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TakeoverError {
    #[error("{}{}: {}", path.display(), error.location(), error.message)]
    Invalid { path: PathBuf, error: EditError },
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot find {app}'s configuration file: HOME is not set")]
    NoHome { app: App },
    #[error("{} changed while Switchyard was editing it; try again", path.display())]
    Changed { path: PathBuf },
    #[error("the takeover record of {app} is unreadable ({message})")]
    Record { app: App, message: String },
}

/// One file Switchyard edits, and so the format of the edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    ClaudeSettings,
    CodexConfig,
    GeminiEnv,
    GeminiSettings,
}

impl Target {
    /// The file, in the CLI's directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Target::ClaudeSettings | Target::GeminiSettings => "settings.json",
            Target::CodexConfig => "config.toml",
            Target::GeminiEnv => ".env",
        }
    }

    /// The file that points `app` at its proxy (the one `doctor` reads).
    pub fn main(app: App) -> Target {
        match app {
            App::Claude => Target::ClaudeSettings,
            App::Codex => Target::CodexConfig,
            App::Gemini => Target::GeminiEnv,
        }
    }
}

/// The previous values of the owned keys, per file format; kept in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum Previous {
    Json(claude::Previous),
    /// Codex taken over with a provider of Switchyard's own (before 0.2).
    Toml(codex_legacy::Previous),
    /// Gemini taken over with `GOOGLE_GEMINI_BASE_URL` alone.
    Env(gemini::LegacyPrevious),
    Codex(codex::Previous),
    Dotenv(gemini::Previous),
    GeminiSettings(gemini_settings::Previous),
}

impl Previous {
    /// Whether this is the key set takeover writes today; an older one is
    /// handed back (in memory) before the file is pointed again.
    pub fn is_current(&self) -> bool {
        !matches!(self, Previous::Toml(_) | Previous::Env(_))
    }
}

/// A file's text after a hand-back, and the owned keys left as the user set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub text: String,
    /// `key = value` of each owned key whose value the user changed: theirs now.
    pub kept: Vec<String>,
}

impl Restored {
    fn plain(text: &str) -> Self {
        Restored {
            text: text.to_owned(),
            kept: Vec::new(),
        }
    }

    fn keeping(text: &str, what: String) -> Self {
        Restored {
            text: text.to_owned(),
            kept: vec![what],
        }
    }
}

/// The file `app`'s CLI reads its proxy setting from, for this process's
/// environment (`doctor` runs in the user's shell). `$CLAUDE_CONFIG_DIR`,
/// `$CODEX_HOME` and `$GEMINI_CLI_HOME` move those CLIs' files.
pub fn config_path(app: App) -> Result<PathBuf, TakeoverError> {
    config_path_in(app, &CallerEnv::current())
}

/// The file `app`'s CLI reads its proxy setting from, for `env`.
pub fn config_path_in(app: App, env: &CallerEnv) -> Result<PathBuf, TakeoverError> {
    Ok(env::config_dir(app, env)?.join(Target::main(app).file_name()))
}

/// The URL a CLI reaches `port`'s proxy at.
pub fn proxy_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The setting Switchyard owns in `app`'s file, for messages.
pub fn owned_setting(app: App) -> &'static str {
    match app {
        App::Claude => "env.ANTHROPIC_BASE_URL",
        App::Codex => "openai_base_url",
        App::Gemini => "GOOGLE_GEMINI_BASE_URL",
    }
}

/// Whether `url` reaches the proxy on `port` (a trailing slash or `localhost`
/// written by hand counts).
pub fn points_at(url: &str, port: u16) -> bool {
    let url = url.trim_end_matches('/');
    url == proxy_url(port) || url == format!("http://localhost:{port}")
}

/// The URL `app`'s file at `path` points its CLI at, if any (read-only).
pub fn inspect(app: App, path: &Path) -> Result<Option<String>, TakeoverError> {
    let seen = plan::read(path)?;
    let text = text_of(path, seen.as_deref())?;
    current_url(Target::main(app), text).map_err(|error| TakeoverError::Invalid {
        path: path.to_owned(),
        error,
    })
}

/// `value` is the proxy's URL, or for Gemini's settings the login to select.
fn point(target: Target, text: &str, value: &str) -> Result<(String, Previous), EditError> {
    Ok(match target {
        Target::ClaudeSettings => {
            claude::point(text, value).map(|(t, p)| (t, Previous::Json(p)))?
        }
        Target::CodexConfig => codex::point(text, value).map(|(t, p)| (t, Previous::Codex(p)))?,
        Target::GeminiEnv => gemini::point(text, value).map(|(t, p)| (t, Previous::Dotenv(p)))?,
        Target::GeminiSettings => {
            gemini_settings::point(text, value).map(|(t, p)| (t, Previous::GeminiSettings(p)))?
        }
    })
}

/// Hands the owned keys back; `written` is what Switchyard last wrote.
fn restore(previous: &Previous, text: &str, written: &str) -> Result<Restored, EditError> {
    match previous {
        Previous::Json(p) => claude::restore(text, p, written),
        Previous::Toml(p) => codex_legacy::restore(text, p).map(|t| Restored::plain(&t)),
        Previous::Env(p) => gemini::restore(text, &p.into(), written),
        Previous::Codex(p) => codex::restore(text, p, codex::owned_value(written).as_deref()),
        Previous::Dotenv(p) => gemini::restore(text, p, written),
        Previous::GeminiSettings(p) => gemini_settings::restore(text, p, written),
    }
}

fn current_url(target: Target, text: &str) -> Result<Option<String>, EditError> {
    match target {
        Target::ClaudeSettings => claude::current_url(text),
        Target::CodexConfig => codex::current_url(text),
        Target::GeminiEnv => gemini::current_url(text),
        Target::GeminiSettings => Ok(None),
    }
}

fn is_empty(target: Target, text: &str) -> bool {
    match target {
        Target::ClaudeSettings => claude::is_empty(text),
        Target::CodexConfig => codex::is_empty(text),
        Target::GeminiEnv => gemini::is_empty(text),
        Target::GeminiSettings => gemini_settings::is_empty(text),
    }
}

/// The file's text; one that is not UTF-8 is refused at the line of the first
/// bad byte, since none of the three formats allows it.
fn text_of<'a>(path: &Path, bytes: Option<&'a [u8]>) -> Result<&'a str, TakeoverError> {
    std::str::from_utf8(bytes.unwrap_or_default()).map_err(|err| {
        let valid = &bytes.unwrap_or_default()[..err.valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        TakeoverError::Invalid {
            path: path.to_owned(),
            error: EditError::at(line, 0, "not UTF-8 text"),
        }
    })
}

/// Test support for the per-format edit tests: points `original` at `url`
/// (through the same dispatch the daemon uses), checks the result and the URL
/// read back, then restores and checks the original came back byte for byte.
#[cfg(test)]
fn assert_round_trip(app: App, url: &str, original: &str, expected: &str) {
    let target = Target::main(app);
    let (pointed, previous) = point(target, original, url).unwrap();
    assert_eq!(pointed, expected);
    assert_eq!(current_url(target, &pointed).unwrap().as_deref(), Some(url));
    let restored = restore(&previous, &pointed, &pointed).unwrap();
    assert_eq!(restored.text, original);
    assert!(restored.kept.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_line() {
        let err = TakeoverError::Invalid {
            path: PathBuf::from("/h/.claude/settings.json"),
            error: EditError::at(3, 7, "not valid JSON: expected `:`"),
        };
        assert_eq!(
            err.to_string(),
            "/h/.claude/settings.json, line 3, column 7: not valid JSON: expected `:`"
        );
        let bad = b"A=1\n\xff\n";
        let err = text_of(Path::new("/h/.env"), Some(bad)).unwrap_err();
        assert_eq!(err.to_string(), "/h/.env, line 2: not UTF-8 text");
    }

    #[test]
    fn previous_values_of_every_version_survive_as_json() {
        let previous = Previous::Json(claude::Previous {
            env: true,
            value: Some("\"https://x\"".into()),
        });
        let json = serde_json::to_string(&previous).unwrap();
        assert_eq!(serde_json::from_str::<Previous>(&json).unwrap(), previous);
        // As the store kept them before: still readable, and due an upgrade.
        let old: Previous = serde_json::from_str(
            r#"{"format":"toml","model_provider":null,"provider":null,"providers":false}"#,
        )
        .unwrap();
        assert!(!old.is_current());
        let old: Previous =
            serde_json::from_str(r#"{"format":"env","value":null,"newline":true}"#).unwrap();
        assert!(!old.is_current());
        assert!(previous.is_current());
    }

    #[test]
    fn hand_written_urls_count_as_pointing() {
        assert!(points_at("http://127.0.0.1:15721", 15721));
        assert!(points_at("http://localhost:15721/", 15721));
        assert!(!points_at("http://127.0.0.1:15722", 15721));
        assert!(!points_at("https://api.anthropic.com", 15721));
    }
}
