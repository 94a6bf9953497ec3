//! Finds which model a request is for, for the request summary, without parsing the
//! whole body: a single-pass scanner stops at the top-level `"model"` key (Claude Code
//! and Codex put it near the start), and Gemini names the model in the path.

use bytes::Bytes;
use http::HeaderValue;

/// Bodies are scanned at most this far; a model named later is not worth the CPU.
const SCAN_LIMIT: usize = 1 << 20;
/// Longer values are not model names; bounds the scratch buffer.
const MAX_NAME: usize = 256;

/// The top-level `"model"` string of a JSON body, if the content type says JSON.
pub(crate) fn from_json_body(
    content_type: Option<&HeaderValue>,
    chunks: &[Bytes],
) -> Option<String> {
    let is_json = content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !is_json {
        return None;
    }
    let mut scanner = Scanner::default();
    let mut budget = SCAN_LIMIT;
    for chunk in chunks {
        let take = chunk.len().min(budget);
        if let Some(found) = scanner.feed(&chunk[..take]) {
            return found;
        }
        budget -= take;
        if budget == 0 {
            break;
        }
    }
    None
}

/// The `NAME` in `…/models/NAME:method` or `…/models/NAME/…` (Gemini's URL scheme).
pub(crate) fn from_path(path: &str) -> Option<String> {
    let (_, rest) = path.split_once("/models/")?;
    let name = rest.split([':', '/']).next()?;
    (!name.is_empty() && name.len() <= MAX_NAME).then(|| name.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Nothing interesting at this position.
    #[default]
    Other,
    /// Inside the top-level object, where the next string is a key.
    ExpectKey,
    InKey,
    AfterKey {
        model: bool,
    },
    ExpectValue {
        model: bool,
    },
    InModel,
}

/// Tracks just enough JSON structure (depth, strings, escapes) to tell a top-level
/// key from the same text nested in a message or inside a string.
#[derive(Debug, Default)]
struct Scanner {
    depth: u32,
    in_string: bool,
    escaped: bool,
    state: State,
    buf: Vec<u8>,
}

impl Scanner {
    /// Feeds more bytes; `Some(answer)` once the answer is known.
    fn feed(&mut self, bytes: &[u8]) -> Option<Option<String>> {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                    // An escaped model name is implausible; don't try to decode it.
                    if self.state == State::InModel {
                        return Some(None);
                    }
                } else if b == b'"' {
                    self.in_string = false;
                    match self.state {
                        State::InKey => {
                            self.state = State::AfterKey {
                                model: self.buf == b"model",
                            };
                        }
                        State::InModel => {
                            return Some(String::from_utf8(std::mem::take(&mut self.buf)).ok());
                        }
                        _ => {}
                    }
                } else if matches!(self.state, State::InKey | State::InModel) {
                    if self.buf.len() < MAX_NAME {
                        self.buf.push(b);
                    } else if self.state == State::InModel {
                        return Some(None);
                    } else {
                        // A key this long is not "model"; stop collecting it.
                        self.state = State::Other;
                    }
                }
                continue;
            }
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'"' => {
                    self.in_string = true;
                    self.state = match self.state {
                        State::ExpectKey if self.depth == 1 => State::InKey,
                        State::ExpectValue { model: true } => State::InModel,
                        _ => State::Other,
                    };
                    self.buf.clear();
                }
                b'{' | b'[' => {
                    if self.state == (State::ExpectValue { model: true }) {
                        return Some(None);
                    }
                    self.depth += 1;
                    self.state = if self.depth == 1 && b == b'{' {
                        State::ExpectKey
                    } else {
                        State::Other
                    };
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(None);
                    }
                    self.state = State::Other;
                }
                b':' => {
                    if let State::AfterKey { model } = self.state {
                        self.state = State::ExpectValue { model };
                    }
                }
                b',' if self.depth == 1 => self.state = State::ExpectKey,
                _ => {
                    if self.state == (State::ExpectValue { model: true }) || self.depth == 0 {
                        return Some(None);
                    }
                    self.state = State::Other;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(parts: &[&str]) -> Option<String> {
        let chunks: Vec<Bytes> = parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect();
        from_json_body(Some(&HeaderValue::from_static("application/json")), &chunks)
    }

    #[test]
    fn finds_the_top_level_model_only() {
        assert_eq!(
            sniff(&[r#"{"model":"claude-sonnet-4","max_tokens":5}"#]).as_deref(),
            Some("claude-sonnet-4")
        );
        let nested = r#"{"messages":[{"model":"nested","x":{"model":"deeper"}}],"a":"\"model\":\"str\"","model" : "gpt-5"}"#;
        assert_eq!(sniff(&[nested]).as_deref(), Some("gpt-5"));
        // Split at awkward places: inside the key, the escape and the value.
        assert_eq!(
            sniff(&[r#"{"a":"x\"#, r#""","mo"#, r#"del":"o"#, r#"4"}"#]).as_deref(),
            Some("o4")
        );
    }

    #[test]
    fn gives_up_cleanly() {
        assert_eq!(sniff(&[r#"{"model":null}"#]), None);
        assert_eq!(sniff(&[r#"{"model":{"name":"x"}}"#]), None);
        assert_eq!(sniff(&[r#"{"other":1}"#]), None);
        assert_eq!(sniff(&[r#"["model","x"]"#]), None);
        assert_eq!(sniff(&["not json"]), None);
        let text = [Bytes::from_static(br#"{"model":"m"}"#)];
        assert_eq!(
            from_json_body(Some(&HeaderValue::from_static("text/plain")), &text),
            None
        );
        assert_eq!(from_json_body(None, &text), None);
    }

    #[test]
    fn model_from_gemini_paths() {
        assert_eq!(
            from_path("/v1beta/models/gemini-2.5-pro:streamGenerateContent").as_deref(),
            Some("gemini-2.5-pro")
        );
        assert_eq!(
            from_path("/v1/models/text-embedding/x").as_deref(),
            Some("text-embedding")
        );
        assert_eq!(from_path("/v1/messages"), None);
        assert_eq!(from_path("/v1/models/"), None);
    }
}
