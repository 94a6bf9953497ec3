//! The caller's environment, as far as takeover needs it: the variables that
//! move a CLI's files, and the ones Gemini CLI chooses its login by. A client
//! sends them with `enable` (`CallerEnv::current`), the daemon records them
//! with the takeover, so the file edited is the one the user's own shell
//! makes the CLI read — not the one the daemon's environment would name.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use super::TakeoverError;
use crate::apps::App;
pub use crate::protocol::CallerEnv;

/// Variables sent with their value: paths and flags.
const VALUES: &[&str] = &[
    "HOME",
    // Claude Code: the directory of settings.json.
    "CLAUDE_CONFIG_DIR",
    // Codex: the directory of config.toml.
    "CODEX_HOME",
    // Gemini CLI: stands in for the home directory (`$GEMINI_CLI_HOME/.gemini`).
    "GEMINI_CLI_HOME",
    // Gemini CLI's choice of login without `security.auth.selectedType`.
    "GOOGLE_GENAI_USE_GCA",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "CLOUD_SHELL",
    "GEMINI_CLI_USE_COMPUTE_ADC",
];

/// Variables sent only as "set": keys.
const PRESENCE: &[&str] = &["GEMINI_API_KEY"];

/// What `PRESENCE` variables are sent as.
const SET: &[u8] = b"1";

pub trait CallerEnvExt {
    /// This process's values of the variables takeover reads.
    fn current() -> CallerEnv;
    /// A variable's value; unset and empty are the same to every CLI here.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

impl CallerEnvExt for CallerEnv {
    fn current() -> CallerEnv {
        let value = |name: &&str| std::env::var_os(name).filter(|v| !v.is_empty());
        let mut vars: Vec<_> = VALUES
            .iter()
            .filter_map(|name| Some((name.to_string(), value(name)?.into_vec())))
            .collect();
        vars.extend(
            PRESENCE
                .iter()
                .filter(|name| value(name).is_some())
                .map(|name| (name.to_string(), SET.to_vec())),
        );
        CallerEnv { vars }
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_slice())
    }
}

fn path(env: &CallerEnv, name: &str) -> Option<PathBuf> {
    env.get(name)
        .map(|v| PathBuf::from(OsString::from_vec(v.to_vec())))
}

fn home(app: App, env: &CallerEnv) -> Result<PathBuf, TakeoverError> {
    path(env, "HOME").ok_or(TakeoverError::NoHome { app })
}

/// The directory `app`'s CLI keeps its settings in, for `env`.
pub fn config_dir(app: App, env: &CallerEnv) -> Result<PathBuf, TakeoverError> {
    Ok(match app {
        App::Claude => match path(env, "CLAUDE_CONFIG_DIR") {
            Some(dir) => dir,
            None => home(app, env)?.join(".claude"),
        },
        App::Codex => match path(env, "CODEX_HOME") {
            Some(dir) => dir,
            None => home(app, env)?.join(".codex"),
        },
        App::Gemini => match path(env, "GEMINI_CLI_HOME") {
            Some(dir) => dir.join(".gemini"),
            None => home(app, env)?.join(".gemini"),
        },
    })
}

/// Whether `name` is set to `true` in `env` or, failing that, in the
/// `.env` text (which gemini-cli loads without overriding the environment).
pub(super) fn flag(env: &CallerEnv, dotenv: &str, name: &str) -> bool {
    match env.get(name) {
        Some(value) => value == b"true",
        None => super::gemini::value_of(dotenv, name).is_some_and(|v| v == "true"),
    }
}

/// Whether `name` is set at all, in `env` or in the `.env` text.
pub(super) fn is_set(env: &CallerEnv, dotenv: &str, name: &str) -> bool {
    env.get(name).is_some() || super::gemini::value_of(dotenv, name).is_some_and(|v| !v.is_empty())
}

/// For messages: `env`'s value of `name`, lossily.
pub fn display(env: &CallerEnv, name: &str) -> Option<String> {
    env.get(name).map(|v| {
        std::ffi::OsStr::from_bytes(v)
            .to_string_lossy()
            .into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> CallerEnv {
        CallerEnv {
            vars: vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn each_cli_s_own_variable_moves_its_directory() {
        let plain = env(&[("HOME", "/h")]);
        assert_eq!(
            config_dir(App::Claude, &plain).unwrap(),
            PathBuf::from("/h/.claude")
        );
        assert_eq!(
            config_dir(App::Codex, &plain).unwrap(),
            PathBuf::from("/h/.codex")
        );
        assert_eq!(
            config_dir(App::Gemini, &plain).unwrap(),
            PathBuf::from("/h/.gemini")
        );
        let moved = env(&[
            ("HOME", "/h"),
            ("CLAUDE_CONFIG_DIR", "/c"),
            ("CODEX_HOME", "/x"),
            ("GEMINI_CLI_HOME", "/g"),
        ]);
        assert_eq!(
            config_dir(App::Claude, &moved).unwrap(),
            PathBuf::from("/c")
        );
        assert_eq!(config_dir(App::Codex, &moved).unwrap(), PathBuf::from("/x"));
        assert_eq!(
            config_dir(App::Gemini, &moved).unwrap(),
            PathBuf::from("/g/.gemini")
        );
        // Empty is unset.
        let empty = env(&[("HOME", "/h"), ("CODEX_HOME", "")]);
        assert_eq!(
            config_dir(App::Codex, &empty).unwrap(),
            PathBuf::from("/h/.codex")
        );
        assert!(config_dir(App::Claude, &env(&[])).is_err());
    }

    #[test]
    fn flags_come_from_the_environment_first_then_the_dotenv_file() {
        let dotenv = "GOOGLE_GENAI_USE_GCA=true\nGEMINI_API_KEY=\"k\"\n";
        assert!(flag(&env(&[]), dotenv, "GOOGLE_GENAI_USE_GCA"));
        assert!(!flag(
            &env(&[("GOOGLE_GENAI_USE_GCA", "false")]),
            dotenv,
            "GOOGLE_GENAI_USE_GCA"
        ));
        assert!(is_set(&env(&[]), dotenv, "GEMINI_API_KEY"));
        assert!(is_set(
            &env(&[("GEMINI_API_KEY", "1")]),
            "",
            "GEMINI_API_KEY"
        ));
        assert!(!is_set(&env(&[]), "", "GEMINI_API_KEY"));
    }

    #[test]
    fn a_key_is_only_ever_sent_as_set() {
        let current = CallerEnv::current();
        for (name, value) in &current.vars {
            if PRESENCE.contains(&name.as_str()) {
                assert_eq!(value, SET);
            }
        }
        assert!(!format!("{current:?}").contains('/'));
    }
}
