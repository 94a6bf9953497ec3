//! Gemini CLI reads `GOOGLE_GEMINI_BASE_URL` from `~/.gemini/.env`. A `.env`
//! file is lines; Switchyard changes only the value after `=` on the line
//! that sets its key (the last one, since the last assignment wins), or
//! appends one line, and never touches any other byte.

use serde::{Deserialize, Serialize};

use super::EditError;

/// The variable Switchyard owns.
pub const KEY: &str = "GOOGLE_GEMINI_BASE_URL";

/// What the owned line held before the first takeover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// Everything after `=` on the line, exactly as written; `None`: no such line.
    pub value: Option<String>,
    /// Whether a newline had to be added to end the user's last line first.
    #[serde(default)]
    pub newline: bool,
}

/// Where the owned assignment is.
struct Assignment {
    line_start: usize,
    value_start: usize,
    /// Before the line's `\r\n` or `\n`.
    value_end: usize,
    /// After the line's newline.
    line_end: usize,
}

/// Points the file at `url`; returns the new text and what was there.
pub fn point(text: &str, url: &str) -> Result<(String, Previous), EditError> {
    Ok(match find(text) {
        Some(at) => {
            let old = text[at.value_start..at.value_end].to_owned();
            let new = splice(text, at.value_start, at.value_end, url);
            (
                new,
                Previous {
                    value: Some(old),
                    newline: false,
                },
            )
        }
        None => {
            let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let glue = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                nl
            };
            let previous = Previous {
                value: None,
                newline: !glue.is_empty(),
            };
            (format!("{text}{glue}{KEY}={url}{nl}"), previous)
        }
    })
}

/// Puts the owned line back as `previous` says; every other line stays.
pub fn restore(text: &str, previous: &Previous) -> Result<String, EditError> {
    Ok(match (find(text), &previous.value) {
        (Some(at), Some(old)) => splice(text, at.value_start, at.value_end, old),
        (Some(at), None) => {
            let mut start = at.line_start;
            // Take back the newline Switchyard added, if its line is still last.
            if previous.newline && at.line_end == text.len() {
                let before = &text[..start];
                if let Some(kept) = before.strip_suffix("\r\n").or(before.strip_suffix('\n')) {
                    start = kept.len();
                }
            }
            splice(text, start, at.line_end, "")
        }
        // The user removed the line meanwhile; that edit stands.
        (None, _) => text.to_owned(),
    })
}

/// The URL Gemini CLI is pointed at by this file, if any.
pub fn current_url(text: &str) -> Result<Option<String>, EditError> {
    Ok(find(text).map(|at| unquote(&text[at.value_start..at.value_end])))
}

/// Whether nothing but whitespace is left.
pub fn is_empty(text: &str) -> bool {
    text.trim().is_empty()
}

/// The last line that assigns `KEY` (`KEY=…`, `export KEY = …`).
fn find(text: &str) -> Option<Assignment> {
    let mut found = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let line_end = line_start + line.len();
        let body = line.strip_suffix('\n').unwrap_or(line);
        let body = body.strip_suffix('\r').unwrap_or(body);
        if let Some(offset) = value_offset(body) {
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

/// Where the value starts within `line`, if the line assigns `KEY`.
fn value_offset(line: &str) -> Option<usize> {
    let rest = line.trim_start_matches([' ', '\t']);
    let rest = match rest.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t']) => after.trim_start_matches([' ', '\t']),
        _ => rest,
    };
    let rest = rest.strip_prefix(KEY)?.trim_start_matches([' ', '\t']);
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
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:15723";

    fn round_trip(original: &str, expected: &str) {
        crate::takeover::assert_round_trip(crate::apps::App::Gemini, URL, original, expected);
    }

    #[test]
    fn appends_a_line_and_takes_it_away_again() {
        round_trip(
            "# keys\nGEMINI_API_KEY=abc\n",
            "# keys\nGEMINI_API_KEY=abc\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723\n",
        );
        round_trip(
            "A=1",
            "A=1\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723\n",
        );
        round_trip("", "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723\n");
        round_trip(
            "A=1\r\n",
            "A=1\r\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723\r\n",
        );
    }

    #[test]
    fn replaces_the_last_assignment_keeping_its_prefix() {
        round_trip(
            "GOOGLE_GEMINI_BASE_URL=one\nexport  GOOGLE_GEMINI_BASE_URL = \"https://x\" # mine\nB=2",
            "GOOGLE_GEMINI_BASE_URL=one\nexport  GOOGLE_GEMINI_BASE_URL = http://127.0.0.1:15723\nB=2",
        );
    }

    #[test]
    fn user_lines_added_meanwhile_stay() {
        let (pointed, previous) = point("A=1\n", URL).unwrap();
        let edited = format!("{pointed}B=2\n");
        assert_eq!(restore(&edited, &previous).unwrap(), "A=1\nB=2\n");
        assert!(is_empty(
            &restore(
                &point("", URL).unwrap().0,
                &Previous {
                    value: None,
                    newline: false
                }
            )
            .unwrap()
        ));
    }

    #[test]
    fn reads_values_as_dotenv_does() {
        assert_eq!(unquote(" \"http://a\" "), "http://a");
        assert_eq!(unquote("'http://b' # c"), "http://b");
        assert_eq!(unquote("http://c # note"), "http://c");
        assert_eq!(current_url("GOOGLE_GEMINI_BASE_URLX=1\n").unwrap(), None);
        assert_eq!(
            current_url("exportGOOGLE_GEMINI_BASE_URL=1\n").unwrap(),
            None
        );
    }
}
