//! Gemini CLI reads `.env` in its directory (`~/.gemini`, or
//! `$GEMINI_CLI_HOME/.gemini`) into its environment, without overriding
//! variables already set. Switchyard owns one base URL per login mode there
//! (verified with gemini-cli 0.61.0, `packages/core/src/core/contentGenerator.ts`
//! and `code_assist/server.ts`):
//! - `GOOGLE_GEMINI_BASE_URL`: the Gemini API (`gemini-api-key`);
//! - `GOOGLE_VERTEX_BASE_URL`: Vertex AI (`vertex-ai`, also express mode);
//! - `CODE_ASSIST_ENDPOINT`: a Google login (`oauth-personal`, and
//!   `compute-default-credentials`), whose `/v1internal:…` methods go there.
//!
//! All three point at the proxy's root; each mode reads only its own. The
//! first has a side effect that `gemini_settings.rs` deals with.
//!
//! A `.env` file is lines; Switchyard changes only the value after `=` on the
//! line that sets a key (the last one, since the last assignment wins), or
//! appends one line, and never touches any other byte.

use serde::{Deserialize, Serialize};

use super::{EditError, Restored};

/// The variables Switchyard owns, in the order they are appended.
pub const KEYS: [&str; 3] = [
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "CODE_ASSIST_ENDPOINT",
];
/// The one every Gemini API key login reads: what `inspect` reports.
pub const KEY: &str = KEYS[0];

/// What the owned lines held before the first takeover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// Per owned key: everything after `=` on its line, exactly as written;
    /// `None`: no such line.
    pub values: Vec<(String, Option<String>)>,
    /// Whether a newline had to be added to end the user's last line first.
    pub newline: bool,
}

/// What takeover kept before it owned more than `GOOGLE_GEMINI_BASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyPrevious {
    pub value: Option<String>,
    #[serde(default)]
    pub newline: bool,
}

impl From<&LegacyPrevious> for Previous {
    fn from(old: &LegacyPrevious) -> Self {
        Previous {
            values: vec![(KEY.to_owned(), old.value.clone())],
            newline: old.newline,
        }
    }
}

/// Where an assignment is.
struct Assignment {
    line_start: usize,
    value_start: usize,
    /// Before the line's `\r\n` or `\n`.
    value_end: usize,
    /// After the line's newline.
    line_end: usize,
}

/// Points every owned key at `url`; returns the new text and what was there.
pub fn point(text: &str, url: &str) -> Result<(String, Previous), EditError> {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut text = text.to_owned();
    let mut previous = Previous {
        values: Vec::new(),
        newline: false,
    };
    for key in KEYS {
        let old = match find(&text, key) {
            Some(at) => {
                let old = text[at.value_start..at.value_end].to_owned();
                text = splice(&text, at.value_start, at.value_end, url);
                Some(old)
            }
            None => {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push_str(nl);
                    previous.newline = true;
                }
                text.push_str(&format!("{key}={url}{nl}"));
                None
            }
        };
        previous.values.push((key.to_owned(), old));
    }
    Ok((text, previous))
}

/// Puts the owned lines back as `previous` says; every other line stays. A
/// value other than the one in `written` (what Switchyard wrote) is the
/// user's and stays.
pub fn restore(text: &str, previous: &Previous, written: &str) -> Result<Restored, EditError> {
    let mut text = text.to_owned();
    let mut kept = Vec::new();
    // The line the added newline went with: the first one appended.
    let first_added = previous.values.iter().position(|(_, old)| old.is_none());
    for (index, (key, old)) in previous.values.iter().enumerate().rev() {
        // The user removed the line meanwhile; that edit stands.
        let Some(at) = find(&text, key) else { continue };
        let now = unquote(&text[at.value_start..at.value_end]);
        if Some(&now) != value_of(written, key).as_ref() {
            kept.push(format!("{key}={now}"));
            continue;
        }
        text = match old {
            Some(old) => splice(&text, at.value_start, at.value_end, old),
            None => {
                let mut start = at.line_start;
                // Take back the newline Switchyard added, if its line is still last.
                if previous.newline && Some(index) == first_added && at.line_end == text.len() {
                    let before = &text[..start];
                    if let Some(kept) = before.strip_suffix("\r\n").or(before.strip_suffix('\n')) {
                        start = kept.len();
                    }
                }
                splice(&text, start, at.line_end, "")
            }
        };
    }
    kept.reverse();
    Ok(Restored { text, kept })
}

/// The URL Gemini CLI's API key login is pointed at by this file, if any.
pub fn current_url(text: &str) -> Result<Option<String>, EditError> {
    Ok(value_of(text, KEY))
}

/// The value the file gives `key`, as dotenv reads it.
pub fn value_of(text: &str, key: &str) -> Option<String> {
    find(text, key).map(|at| unquote(&text[at.value_start..at.value_end]))
}

/// Whether nothing but whitespace is left.
pub fn is_empty(text: &str) -> bool {
    text.trim().is_empty()
}

/// The last line that assigns `key` (`KEY=…`, `export KEY = …`).
fn find(text: &str, key: &str) -> Option<Assignment> {
    let mut found = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let line_end = line_start + line.len();
        let body = line.strip_suffix('\n').unwrap_or(line);
        let body = body.strip_suffix('\r').unwrap_or(body);
        if let Some(offset) = value_offset(body, key) {
            found = Some(Assignment {
                line_start,
                value_start: line_start + offset,
                value_end: line_start + body.len(),
                line_end,
            });
        }
        line_start = line_end;
    }
    found
}

/// Where the value starts within `line`, if the line assigns `key`.
fn value_offset(line: &str, key: &str) -> Option<usize> {
    let rest = line.trim_start_matches([' ', '\t']);
    let rest = match rest.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t']) => after.trim_start_matches([' ', '\t']),
        _ => rest,
    };
    let rest = rest.strip_prefix(key)?.trim_start_matches([' ', '\t']);
    // Spacing after `=` is the user's; the value starts after it.
    let rest = rest.strip_prefix('=')?.trim_start_matches([' ', '\t']);
    Some(line.len() - rest.len())
}

/// A value as dotenv reads it: quotes removed, or an unquoted value up to a
/// ` #` comment.
fn unquote(raw: &str) -> String {
    let value = raw.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.split(quote).next())
        {
            return inner.to_owned();
        }
    }
    value
        .split(" #")
        .next()
        .unwrap_or(value)
        .trim_end()
        .to_owned()
}

fn splice(text: &str, start: usize, end: usize, with: &str) -> String {
    format!("{}{with}{}", &text[..start], &text[end..])
}

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;
