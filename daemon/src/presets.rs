//! Provider presets: the curated list in `assets/presets.toml` (compiled in) plus
//! an optional user file, `presets.toml` in Switchyard's data directory
//! (`$SWITCHYARD_HOME/presets.toml` when that is set), whose entries replace
//! built-in ones with the same id or add new ones. Both are read strictly: an
//! unknown field, a bad URL or an impossible combination is refused with the
//! file and the entry named.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use http::Uri;
use serde::Deserialize;

use crate::apps::App;
use crate::paths::Paths;
use crate::translate::{Format, ModelMap, can_serve};

const BUILTIN: &str = include_str!("../../assets/presets.toml");
const BUILTIN_NAME: &str = "assets/presets.toml (built in)";

/// How a provider takes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PresetAuth {
    /// `x-api-key: KEY`
    XApiKey,
    /// `Authorization: Bearer KEY`
    Bearer,
    /// `x-goog-api-key: KEY`
    GoogApiKey,
    /// No key (local servers).
    None,
}

/// One provider preset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub id: String,
    pub name: String,
    pub apps: Vec<App>,
    pub base_url: String,
    pub format: Format,
    pub auth: PresetAuth,
    #[serde(default)]
    pub key_env: Option<String>,
    #[serde(default)]
    pub model_map: ModelMap,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    pub docs: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// A presets file that cannot be used; the message names the file and the entry.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("cannot read the presets file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("presets file {file}: {message}")]
    Syntax { file: String, message: String },
    #[error("presets file {file}, preset {entry}: {reason}")]
    Invalid {
        file: String,
        entry: String,
        reason: String,
    },
}

/// The presets in effect: built-in ones, overridden or extended by the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presets {
    list: Vec<Preset>,
}

impl Presets {
    /// The built-in presets alone.
    pub fn builtin() -> Result<Self, PresetError> {
        Ok(Presets {
            list: parse(BUILTIN, BUILTIN_NAME)?,
        })
    }

    /// Built-in presets plus the user's file at `user_file`, if it exists.
    pub fn load(user_file: &Path) -> Result<Self, PresetError> {
        let mut presets = Self::builtin()?;
        let text = match std::fs::read_to_string(user_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(presets),
            Err(source) => {
                return Err(PresetError::Read {
                    file: user_file.display().to_string(),
                    source,
                });
            }
        };
        for preset in parse(&text, &user_file.display().to_string())? {
            match presets.list.iter_mut().find(|p| p.id == preset.id) {
                Some(existing) => *existing = preset,
                None => presets.list.push(preset),
            }
        }
        Ok(presets)
    }

    /// Where the user's presets file lives.
    pub fn user_file(paths: &Paths) -> PathBuf {
        paths.data_dir.join("presets.toml")
    }

    pub fn all(&self) -> &[Preset] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Preset> {
        self.list.iter().find(|p| p.id == id)
    }

    /// The presets that suit `app`, in file order.
    pub fn for_app(&self, app: App) -> impl Iterator<Item = &Preset> {
        self.list.iter().filter(move |p| p.apps.contains(&app))
    }
}

/// Parses and checks one file. Entries are read one by one so that an error
/// names the entry it is in.
fn parse(text: &str, file: &str) -> Result<Vec<Preset>, PresetError> {
    let syntax = |message: String| PresetError::Syntax {
        file: file.to_owned(),
        message,
    };
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
    if let Some(key) = doc.keys().find(|k| *k != "preset") {
        return Err(syntax(format!(
            "unknown table {key:?}; entries are [[preset]] tables"
        )));
    }
    let entries = match doc.remove("preset") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(entries)) => entries,
        Some(_) => {
            return Err(syntax(
                "\"preset\" must be a list of [[preset]] tables".to_owned(),
            ));
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (n, entry) in entries.into_iter().enumerate() {
        let name = match entry.get("id").and_then(toml::Value::as_str) {
            Some(id) => format!("{id:?}"),
            None => format!("#{}", n + 1),
        };
        let invalid = |reason: String| PresetError::Invalid {
            file: file.to_owned(),
            entry: name.clone(),
            reason,
        };
        let preset: Preset = entry
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().to_owned()))?;
        check(&preset).map_err(invalid)?;
        if !seen.insert(preset.id.clone()) {
            return Err(invalid(
                "another preset in this file has the same id".to_owned(),
            ));
        }
        out.push(preset);
    }
    Ok(out)
}

fn check(p: &Preset) -> Result<(), String> {
    if p.id.is_empty()
        || p.id.len() > 64
        || !p
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("id must be 1–64 lower-case letters, digits or '-'".to_owned());
    }
    if p.name.trim().is_empty() {
        return Err("name is empty".to_owned());
    }
    if p.apps.is_empty() {
        return Err("apps is empty; list the CLIs this preset suits".to_owned());
    }
    for app in &p.apps {
        if !can_serve(Format::of_app(*app), p.format) {
            return Err(format!(
                "{app} cannot use a {} provider (it speaks {}, and no translation exists)",
                p.format,
                Format::of_app(*app)
            ));
        }
    }
    check_url(&p.base_url, true).map_err(|e| format!("base_url {:?}: {e}", p.base_url))?;
    check_url(&p.docs, false).map_err(|e| format!("docs {:?}: {e}", p.docs))?;
    match (&p.key_env, p.auth) {
        (Some(_), PresetAuth::None) => {
            return Err("key_env is set but auth is \"none\"".to_owned());
        }
        (None, auth) if auth != PresetAuth::None => {
            return Err("key_env is missing (name the variable the key is usually in)".to_owned());
        }
        (Some(var), _)
            if var.is_empty()
                || var.starts_with(|c: char| c.is_ascii_digit())
                || !var
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
        {
            return Err(format!(
                "key_env {var:?} is not an environment variable name"
            ));
        }
        _ => {}
    }
    if p.max_output_tokens == Some(0) {
        return Err("max_output_tokens must be above 0".to_owned());
    }
    Ok(())
}

/// An absolute http(s) URL with a host, no credentials and no query; remote
/// hosts must use https. A base URL must point at a loopback address if plain http.
fn check_url(url: &str, base: bool) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let host = uri.host().ok_or("it has no host")?;
    if host.is_empty() {
        return Err("it has no host".to_owned());
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("credentials do not belong in a URL".to_owned());
    }
    if base && uri.query().is_some() {
        return Err("a base URL has no query string".to_owned());
    }
    let loopback = matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost");
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if base && loopback => Ok(()),
        Some("http") => Err("it must use https (plain http only for 127.0.0.1)".to_owned()),
        _ => Err("it must be an http(s) URL".to_owned()),
    }
}

#[cfg(test)]
#[path = "presets_tests.rs"]
mod tests;
