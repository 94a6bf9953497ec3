//! How Switchyard took Codex over before it used `openai_base_url` (see
//! `codex.rs` for why it moved): a provider entry of its own, selected.
//! Only the hand-back is still needed, for records of files taken over that
//! way; `plan` hands such a file back in memory and points it anew.
//!
//! ```toml
//! model_provider = "switchyard"
//!
//! [model_providers.switchyard]
//! name = "Switchyard proxy"
//! base_url = "http://127.0.0.1:15722"
//! wire_api = "responses"
//! requires_openai_auth = true
//! ```
//!
//! toml_edit keeps comments, order and formatting of everything else.

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, Table, Value};

use super::EditError;
#[cfg(test)]
use super::toml_layout::next_position;
use super::toml_layout::{comments, reattach, remove_root_value};

/// The provider id Switchyard adds under `[model_providers]`.
pub const PROVIDER: &str = "switchyard";
const SELECTOR: &str = "model_provider";
const PROVIDERS: &str = "model_providers";

/// What the owned keys were before the first takeover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// `model_provider`'s old value as TOML (`"openai"`); `None`: absent.
    pub model_provider: Option<String>,
    /// An old `model_providers.switchyard` entry, as a one-key TOML document.
    pub provider: Option<String>,
    /// Whether there was a `model_providers` table.
    pub providers: bool,
}

/// Points the configuration at `url` the old way (tests make old records with it).
#[cfg(test)]
pub fn point(text: &str, url: &str) -> Result<(String, Previous), EditError> {
    let mut doc = parse(text)?;
    let model_provider = match doc.get(SELECTOR) {
        None => None,
        Some(item) => Some(value_text(item).ok_or_else(|| shape(text, item, SELECTOR))?),
    };
    let had_providers = doc.contains_key(PROVIDERS);
    let position = next_position(doc.as_table());
    let providers = doc
        .entry(PROVIDERS)
        .or_insert_with(|| {
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        })
        .as_table_mut()
        .ok_or_else(|| {
            EditError::new(format!("`{PROVIDERS}` is not a table (`[{PROVIDERS}.…]`)"))
        })?;
    let previous = Previous {
        model_provider,
        provider: providers.get(PROVIDER).map(one_key_document),
        providers: had_providers,
    };
    match providers.get_mut(PROVIDER) {
        // Re-pointing (a new port) changes only the values, in place.
        Some(Item::Table(table)) => fill(table, url),
        _ => {
            let mut table = Table::new();
            table.decor_mut().set_prefix("\n");
            table.set_position(Some(position));
            fill(&mut table, url);
            providers.insert(PROVIDER, Item::Table(table));
        }
    }
    set_value(doc.as_table_mut(), SELECTOR, Value::from(PROVIDER));
    Ok((doc.to_string(), previous))
}

/// Puts the owned keys back as `previous` says; everything else stays.
pub fn restore(text: &str, previous: &Previous) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    // The table first: comments moved off the selector must not land on the
    // table about to go.
    let ours = doc
        .get_mut(PROVIDERS)
        .and_then(Item::as_table_mut)
        .and_then(|providers| providers.remove(PROVIDER));
    if let Some(Item::Table(table)) = &ours
        && let Some(kept) = comments(table.decor())
    {
        reattach(&mut doc, kept, None, table.position().unwrap_or(isize::MAX));
    }
    if let Some(old) = &previous.provider {
        let mut old = old
            .parse::<DocumentMut>()
            .map_err(|e| EditError::new(e.to_string()))?;
        let providers = doc.get_mut(PROVIDERS).and_then(Item::as_table_mut);
        if let (Some(providers), Some(item)) = (providers, old.remove(PROVIDER)) {
            providers.insert(PROVIDER, item);
        }
    }
    match &previous.model_provider {
        Some(old) if doc.contains_key(SELECTOR) => {
            let old = old
                .parse::<Value>()
                .map_err(|e| EditError::new(e.to_string()))?;
            set_value(doc.as_table_mut(), SELECTOR, old);
        }
        // The user removed the key meanwhile; that edit stands.
        Some(_) => {}
        None => remove_root_value(&mut doc, SELECTOR),
    }
    let empty = doc
        .get(PROVIDERS)
        .and_then(Item::as_table)
        .is_some_and(Table::is_empty);
    if !previous.providers && empty {
        doc.remove(PROVIDERS);
    }
    Ok(doc.to_string())
}

pub(super) fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().map_err(|err| {
        let at = err.span().map_or(0, |span| span.start).min(text.len());
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        EditError::at(line, column, format!("not valid TOML: {}", err.message()))
    })
}

pub(super) fn shape(text: &str, item: &Item, key: &str) -> EditError {
    match item.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            EditError::at(line, 0, format!("`{key}` is not a string"))
        }
        None => EditError::new(format!("`{key}` is not a string")),
    }
}

#[cfg(test)]
fn fill(table: &mut Table, url: &str) {
    set_value(table, "name", Value::from("Switchyard proxy"));
    set_value(table, "base_url", Value::from(url));
    set_value(table, "wire_api", Value::from("responses"));
    set_value(table, "requires_openai_auth", Value::from(true));
}

/// Sets `key` to `new`, keeping the old value's spacing and comment.
pub(super) fn set_value(table: &mut Table, key: &str, new: Value) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = new;
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, Item::Value(new));
        }
    }
}

/// A value's TOML text without its surrounding spacing or comment.
pub(super) fn value_text(item: &Item) -> Option<String> {
    let mut value = item.as_value()?.clone();
    value.decor_mut().clear();
    Some(value.to_string())
}

#[cfg(test)]
fn one_key_document(item: &Item) -> String {
    let mut doc = DocumentMut::new();
    doc.insert(PROVIDER, item.clone());
    doc.to_string()
}

#[cfg(test)]
#[path = "codex_legacy_tests.rs"]
mod tests;
