//! Claude Code reads `env.ANTHROPIC_BASE_URL` from `~/.claude/settings.json`.
//! Edits are textual: one member is inserted, replaced or removed in the
//! user's own text, written in the file's own style (indentation, spacing,
//! line endings), so every other byte — key order included — stays put.

use serde::{Deserialize, Serialize};

use super::json::{self, Object};
use super::json_edit::{Style, line_of, newline, quote, remove, slice, splice};
use super::{EditError, Restored};

/// The key Switchyard owns, inside the `env` object.
pub const KEY: &str = "ANTHROPIC_BASE_URL";
const ENV: &str = "env";

/// What the owned key was before the first takeover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// Whether the `env` object was there.
    pub env: bool,
    /// The old value's JSON text exactly as written; `None`: the key was absent.
    pub value: Option<String>,
}

/// Points the settings at `url`; returns the new text and what was there.
pub fn point(text: &str, url: &str) -> Result<(String, Previous), EditError> {
    let quoted = quote(url);
    if text.trim().is_empty() {
        // An empty file reads as an empty object.
        let nl = newline(text);
        let fresh = format!("{{{nl}  \"{ENV}\": {{{nl}    \"{KEY}\": {quoted}{nl}  }}{nl}}}{nl}");
        return Ok((
            fresh,
            Previous {
                env: false,
                value: None,
            },
        ));
    }
    let root = parse(text)?;
    let Some((_, env)) = root.member(ENV) else {
        let style = Style::of(text, &root);
        let value = style.nested(KEY, &quoted);
        let previous = Previous {
            env: false,
            value: None,
        };
        return Ok((style.insert(text, &root, ENV, &value), previous));
    };
    let env = env_object(text, env)?;
    Ok(match env.member(KEY) {
        Some((_, member)) => {
            let old = slice(text, member.value).to_owned();
            let previous = Previous {
                env: true,
                value: Some(old),
            };
            (splice(text, member.value, &quoted), previous)
        }
        None => {
            let text = Style::of(text, &env).insert(text, &env, KEY, &quoted);
            (
                text,
                Previous {
                    env: true,
                    value: None,
                },
            )
        }
    })
}

/// Puts the owned key back as `previous` says, leaving everything else —
/// including the user's own edits since the takeover — alone. A value other
/// than the one in `written` (what Switchyard wrote) is the user's and stays.
pub fn restore(text: &str, previous: &Previous, written: &str) -> Result<Restored, EditError> {
    if text.trim().is_empty() {
        return Ok(Restored::plain(text));
    }
    let root = parse(text)?;
    let Some((_, env)) = root.member(ENV) else {
        return Ok(Restored::plain(text));
    };
    let Some(env) = json::object_at(text, env.value.start) else {
        // The user made `env` something else meanwhile: nothing of ours is left.
        return Ok(Restored::plain(text));
    };
    let text = match (env.member(KEY), &previous.value) {
        (Some((_, member)), _) if current_url(text)? != current_url(written)? => {
            let kept = format!("{ENV}.{KEY} = {}", slice(text, member.value));
            return Ok(Restored::keeping(text, kept));
        }
        (Some((_, member)), Some(old)) => splice(text, member.value, old),
        (Some((index, _)), None) => remove(text, &env, index),
        // The user removed the key meanwhile; that edit stands.
        (None, _) => text.to_owned(),
    };
    if previous.env {
        return Ok(Restored::plain(&text));
    }
    // `env` was Switchyard's: it goes too if nothing else was put in it.
    let root = parse(&text)?;
    Ok(Restored::plain(&match root.member(ENV) {
        Some((index, env))
            if json::object_at(&text, env.value.start).is_some_and(|o| o.members.is_empty()) =>
        {
            remove(&text, &root, index)
        }
        _ => text,
    }))
}

/// The URL Claude Code is pointed at by this file, if any.
pub fn current_url(text: &str) -> Result<Option<String>, EditError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    Ok(value
        .get(ENV)
        .and_then(|env| env.get(KEY))
        .and_then(|url| url.as_str())
        .map(str::to_owned))
}

/// Whether nothing is left in the file (whitespace or an empty object).
pub fn is_empty(text: &str) -> bool {
    text.trim().is_empty()
        || serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

pub(super) fn parse(text: &str) -> Result<Object, EditError> {
    serde_json::from_str::<serde_json::Value>(text).map_err(invalid)?;
    json::root_object(text)
        .ok_or_else(|| EditError::new("the top level is not a JSON object (`{ … }`)"))
}

pub(super) fn invalid(err: serde_json::Error) -> EditError {
    let message = err.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    EditError::at(
        err.line(),
        err.column(),
        format!("not valid JSON: {message}"),
    )
}

fn env_object(text: &str, env: &json::Member) -> Result<Object, EditError> {
    json::object_at(text, env.value.start).ok_or_else(|| {
        let line = line_of(text, env.key_start);
        EditError::at(line, 0, format!("`{ENV}` is not an object"))
    })
}

#[cfg(test)]
#[path = "claude_tests.rs"]
mod tests;
