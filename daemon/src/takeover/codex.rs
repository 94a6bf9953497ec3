//! Codex reads `config.toml` in `$CODEX_HOME` (`~/.codex`). Switchyard owns
//! one top-level key there, `openai_base_url`: the base URL of Codex's
//! built-in `openai` provider (codex-rs `model-provider-info`,
//! `create_openai_provider`; verified with codex-cli 0.171.0).
//!
//! That provider is what every OpenAI login uses, and only the base URL
//! changes, so everything else it does is kept: an API key *and* a ChatGPT
//! login (its JWT bearer and `chatgpt-account-id` go to the base URL, where
//! the proxy routes them to `api.openai.com/v1` or
//! `chatgpt.com/backend-api/codex`), the `OpenAI-Organization` /
//! `OpenAI-Project` headers from `$OPENAI_ORGANIZATION` / `$OPENAI_PROJECT`,
//! the Responses WebSocket transport (`supports_websockets`), its retry and
//! idle-timeout defaults, and the features Codex keeps for the provider named
//! "OpenAI" (remote compaction). A provider entry of Switchyard's own — what
//! takeover wrote before, see `codex_legacy.rs` — lost the headers and the
//! WebSocket transport and overrode a user's own `model_provider`; a user who
//! chose another provider is now left alone.
//!
//! Codex appends `/responses`, `/models`, … to the base URL, so it is the
//! proxy's root with no `/v1`. toml_edit keeps comments, order and formatting
//! of everything else.

use serde::{Deserialize, Serialize};
use toml_edit::{Item, Value};

use super::codex_legacy::{parse, set_value, shape, value_text};
use super::toml_layout::remove_root_value;
use super::{EditError, Restored};

/// The key Switchyard owns.
pub const KEY: &str = "openai_base_url";
const SELECTOR: &str = "model_provider";

/// What the owned key was before the first takeover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// The old value as TOML text (`"https://…"`); `None`: the key was absent.
    pub value: Option<String>,
}

/// Points the configuration at `url`; returns the new text and what was there.
pub fn point(text: &str, url: &str) -> Result<(String, Previous), EditError> {
    let mut doc = parse(text)?;
    let value = match doc.get(KEY) {
        None => None,
        Some(item) => Some(value_text(item).ok_or_else(|| shape(text, item, KEY))?),
    };
    set_value(doc.as_table_mut(), KEY, Value::from(url));
    Ok((doc.to_string(), Previous { value }))
}

/// Puts the owned key back as `previous` says; everything else stays. A
/// value other than `ours` (what Switchyard wrote) is the user's and stays.
pub fn restore(text: &str, previous: &Previous, ours: Option<&str>) -> Result<Restored, EditError> {
    let mut doc = parse(text)?;
    let Some(now) = doc.get(KEY) else {
        // The user removed the key meanwhile; that edit stands.
        return Ok(Restored::plain(text));
    };
    if now.as_str() != ours {
        let kept = value_text(now).unwrap_or_default();
        return Ok(Restored::keeping(text, format!("{KEY} = {kept}")));
    }
    match &previous.value {
        Some(old) => {
            let old = old
                .parse::<Value>()
                .map_err(|e| EditError::new(e.to_string()))?;
            set_value(doc.as_table_mut(), KEY, old);
        }
        None => remove_root_value(&mut doc, KEY),
    }
    Ok(Restored::plain(&doc.to_string()))
}

/// The value of the owned key, if it is a string.
pub fn owned_value(text: &str) -> Option<String> {
    parse(text).ok()?.get(KEY)?.as_str().map(str::to_owned)
}

/// The base URL of the provider Codex will use, if the file sets one: the
/// built-in `openai` provider's `openai_base_url`, or the `base_url` of the
/// provider the file (or its active `profile`) selects.
pub fn current_url(text: &str) -> Result<Option<String>, EditError> {
    let doc = parse(text)?;
    let profile = doc
        .get("profile")
        .and_then(Item::as_str)
        .and_then(|name| doc.get("profiles")?.get(name)?.get(SELECTOR)?.as_str());
    let id = profile
        .or_else(|| doc.get(SELECTOR).and_then(Item::as_str))
        .unwrap_or("openai");
    let configured = doc
        .get("model_providers")
        .and_then(|p| p.get(id)?.get("base_url")?.as_str());
    Ok(match (id, configured) {
        (_, Some(url)) => Some(url.to_owned()),
        ("openai", None) => doc.get(KEY).and_then(Item::as_str).map(str::to_owned),
        _ => None,
    })
}

/// Whether nothing but whitespace is left.
pub fn is_empty(text: &str) -> bool {
    text.trim().is_empty()
}

#[cfg(test)]
#[path = "codex_tests.rs"]
mod tests;
