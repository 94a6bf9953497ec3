//! Takeover: pointing each CLI's own configuration file at its proxy, and
//! handing the file back exactly as the user left it.
//!
//! Every byte the user wrote is theirs. Switchyard owns one setting per app —
//! `env.ANTHROPIC_BASE_URL` in Claude Code's `settings.json`, its own
//! `model_providers.switchyard` entry plus `model_provider` in Codex's
//! `config.toml`, `GOOGLE_GEMINI_BASE_URL` in Gemini CLI's `.env` — and edits
//! only that, in the file's own text (`claude`, `codex`, `gemini`: pure edits,
//! text in, text out). `plan` reads files and decides what to write against the
//! store's record of the original; `atomic` writes so that a kill at any
//! instant leaves the old file or the new one, never a mix.

pub mod atomic;
mod claude;
mod codex;
mod gemini;
mod json;
mod json_edit;
mod plan;
mod toml_layout;

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apps::App;

pub use plan::{Action, PointPlan, ReleasePlan, commit, inspect, plan_point, plan_release};

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

/// The previous values of the owned keys, per file format; kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum Previous {
    Json(claude::Previous),
    Toml(codex::Previous),
    Env(gemini::Previous),
}

/// The file `app`'s CLI reads its settings from. `$CLAUDE_CONFIG_DIR` and
/// `$CODEX_HOME` move those CLIs' directories, so they move ours too.
pub fn config_path(app: App) -> Result<PathBuf, TakeoverError> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or(TakeoverError::NoHome { app })
    };
    let dir = |var: &str, default: &str| match std::env::var_os(var).filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(home()?.join(default)),
    };
    Ok(match app {
        App::Claude => dir("CLAUDE_CONFIG_DIR", ".claude")?.join("settings.json"),
        App::Codex => dir("CODEX_HOME", ".codex")?.join("config.toml"),
        App::Gemini => home()?.join(".gemini").join(".env"),
    })
}

/// The URL a CLI reaches `port`'s proxy at.
pub fn proxy_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The setting Switchyard owns in `app`'s file, for messages.
pub fn owned_setting(app: App) -> &'static str {
    match app {
        App::Claude => "env.ANTHROPIC_BASE_URL",
        App::Codex => "model_provider = \"switchyard\"",
        App::Gemini => "GOOGLE_GEMINI_BASE_URL",
    }
}

/// Whether `url` reaches the proxy on `port` (a trailing slash or `localhost`
/// written by hand counts).
pub fn points_at(url: &str, port: u16) -> bool {
    let url = url.trim_end_matches('/');
    url == proxy_url(port) || url == format!("http://localhost:{port}")
}

fn point(app: App, text: &str, url: &str) -> Result<(String, Previous), EditError> {
    Ok(match app {
        App::Claude => claude::point(text, url).map(|(t, p)| (t, Previous::Json(p)))?,
        App::Codex => codex::point(text, url).map(|(t, p)| (t, Previous::Toml(p)))?,
        App::Gemini => gemini::point(text, url).map(|(t, p)| (t, Previous::Env(p)))?,
    })
}

fn restore(app: App, text: &str, previous: &Previous) -> Result<String, EditError> {
    match (app, previous) {
        (App::Claude, Previous::Json(p)) => claude::restore(text, p),
        (App::Codex, Previous::Toml(p)) => codex::restore(text, p),
        (App::Gemini, Previous::Env(p)) => gemini::restore(text, p),
        _ => Err(EditError::new(format!(
            "the takeover record does not match {app}'s file format"
        ))),
    }
}

fn current_url(app: App, text: &str) -> Result<Option<String>, EditError> {
    match app {
        App::Claude => claude::current_url(text),
        App::Codex => codex::current_url(text),
        App::Gemini => gemini::current_url(text),
    }
}

fn is_empty(app: App, text: &str) -> bool {
    match app {
        App::Claude => claude::is_empty(text),
        App::Codex => codex::is_empty(text),
        App::Gemini => gemini::is_empty(text),
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
    let (pointed, previous) = point(app, original, url).unwrap();
    assert_eq!(pointed, expected);
    assert_eq!(current_url(app, &pointed).unwrap().as_deref(), Some(url));
    assert_eq!(restore(app, &pointed, &previous).unwrap(), original);
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
    fn previous_values_survive_the_store_as_json() {
        let previous = Previous::Json(claude::Previous {
            env: true,
            value: Some("\"https://x\"".into()),
        });
        let json = serde_json::to_string(&previous).unwrap();
        assert_eq!(serde_json::from_str::<Previous>(&json).unwrap(), previous);
        assert!(restore(App::Codex, "", &previous).is_err());
    }

    #[test]
    fn hand_written_urls_count_as_pointing() {
        assert!(points_at("http://127.0.0.1:15721", 15721));
        assert!(points_at("http://localhost:15721/", 15721));
        assert!(!points_at("http://127.0.0.1:15722", 15721));
        assert!(!points_at("https://api.anthropic.com", 15721));
    }
}
