//! Edits of JSON text in the document's own style: a member is inserted the
//! way its siblings are written (indentation, spacing after the colon and the
//! comma, line endings), or removed together with the comma that went with it.
//! Positions come from the scanner in `json.rs`.

use super::json::{self, Object, Span};

/// How an object is laid out, so an inserted member looks like its siblings.
pub(super) struct Style {
    nl: &'static str,
    colon: String,
    multiline: bool,
    /// Indentation of the line the object opens on.
    indent: String,
    /// Indentation of the object's members.
    member_indent: String,
    /// One level of indentation.
    unit: String,
    /// What goes between the last member and a new one.
    separator: String,
}

impl Style {
    pub(super) fn of(text: &str, object: &Object) -> Style {
        let nl = newline(text);
        let root = json::root_object(text);
        let sample = object
            .members
            .first()
            .or_else(|| root.as_ref().and_then(|r| r.members.first()));
        let colon = sample
            .map_or(": ", |m| &text[m.key_end..m.value.start])
            .to_owned();
        let multiline = match object.members.first() {
            Some(first) => text[object.open..first.key_start].contains('\n'),
            None => {
                text.trim().contains('\n') || root.as_ref().is_none_or(|r| r.members.is_empty())
            }
        };
        let indent = line_indent(text, object.open);
        let unit = root
            .as_ref()
            .and_then(|r| r.members.first())
            .and_then(|m| indent_before(text, m.key_start))
            .filter(|unit| !unit.is_empty())
            .unwrap_or_else(|| "  ".to_owned());
        let member_indent = object
            .members
            .last()
            .and_then(|m| indent_before(text, m.key_start))
            .unwrap_or_else(|| format!("{indent}{unit}"));
        let separator = match object.members.as_slice() {
            [.., before, last] => text[before.value.end..last.key_start].to_owned(),
            _ if multiline => format!(",{nl}{member_indent}"),
            _ => ", ".to_owned(),
        };
        Style {
            nl,
            colon,
            multiline,
            indent,
            member_indent,
            unit,
            separator,
        }
    }

    /// `text` with `"key": value` added as `object`'s last member.
    pub(super) fn insert(&self, text: &str, object: &Object, key: &str, value: &str) -> String {
        let member = format!("{}{}{value}", quote(key), self.colon);
        match object.members.last() {
            Some(last) => {
                let at = Span {
                    start: last.value.end,
                    end: last.value.end,
                };
                splice(text, at, &format!("{}{member}", self.separator))
            }
            None => {
                let inside = Span {
                    start: object.open + 1,
                    end: object.close,
                };
                let body = if self.multiline {
                    format!(
                        "{nl}{}{member}{nl}{}",
                        self.member_indent,
                        self.indent,
                        nl = self.nl
                    )
                } else {
                    member
                };
                splice(text, inside, &body)
            }
        }
    }

    /// A one-member object, to be a member of the object this style is of.
    pub(super) fn nested(&self, key: &str, value: &str) -> String {
        let member = format!("{}{}{value}", quote(key), self.colon);
        if self.multiline {
            let (nl, outer) = (self.nl, &self.member_indent);
            format!("{{{nl}{outer}{}{member}{nl}{outer}}}", self.unit)
        } else {
            format!("{{{member}}}")
        }
    }
}

/// `text` without `object`'s member at `index` (and the comma that went with it).
pub(super) fn remove(text: &str, object: &Object, index: usize) -> String {
    let members = &object.members;
    let span = match (index, members.len()) {
        (_, 1) => Span {
            start: object.open + 1,
            end: object.close,
        },
        (0, _) => Span {
            start: members[0].key_start,
            end: members[1].key_start,
        },
        (i, _) => Span {
            start: members[i - 1].value.end,
            end: members[i].value.end,
        },
    };
    splice(text, span, "")
}

pub(super) fn splice(text: &str, span: Span, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..span.start]);
    out.push_str(with);
    out.push_str(&text[span.end..]);
    out
}

pub(super) fn slice(text: &str, span: Span) -> &str {
    &text[span.start..span.end]
}

pub(super) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

pub(super) fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

fn line_indent(text: &str, pos: usize) -> String {
    let start = line_start(text, pos);
    text[start..]
        .chars()
        .take_while(|c| matches!(c, ' ' | '\t'))
        .collect()
}

/// The whitespace between the start of `pos`'s line and `pos`, if only
/// whitespace is there.
fn indent_before(text: &str, pos: usize) -> Option<String> {
    let before = &text[line_start(text, pos)..pos];
    before
        .chars()
        .all(|c| matches!(c, ' ' | '\t'))
        .then(|| before.to_owned())
}

pub(super) fn line_of(text: &str, pos: usize) -> usize {
    text[..pos].matches('\n').count() + 1
}
