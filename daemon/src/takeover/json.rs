//! A small JSON scanner that says *where* an object's members are, so that an
//! edit can change a few bytes and leave the rest of the user's file — order,
//! indentation, spacing — exactly as it was. serde_json would re-serialize the
//! whole file. The text is validated by serde_json first; the scanner only
//! finds positions in text it knows to be valid, and gives up (`None`) rather
//! than guess on anything else.

/// A byte range of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One `"key": value` member of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The decoded key.
    pub key: String,
    /// Where the key's opening quote is.
    pub key_start: usize,
    /// Just after the key's closing quote.
    pub key_end: usize,
    pub value: Span,
}

/// An object: its braces and its members in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The `{`.
    pub open: usize,
    /// The `}`.
    pub close: usize,
    pub members: Vec<Member>,
}

impl Object {
    /// The member named `key` and its index. With duplicate keys the last one
    /// wins, as it does for the JSON parsers that read these files.
    pub fn member(&self, key: &str) -> Option<(usize, &Member)> {
        self.members
            .iter()
            .enumerate()
            .rev()
            .find(|(_, m)| m.key == key)
    }
}

/// The object that the whole document is, if it is one.
pub fn root_object(text: &str) -> Option<Object> {
    object_at(text, skip_ws(text.as_bytes(), 0))
}

/// The object whose `{` is at `at`; `None` if there is no object there.
pub fn object_at(text: &str, at: usize) -> Option<Object> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut members = Vec::new();
    let mut i = skip_ws(bytes, at + 1);
    if bytes.get(i) == Some(&b'}') {
        return Some(Object {
            open: at,
            close: i,
            members,
        });
    }
    loop {
        let key_start = i;
        let key_end = skip_string(bytes, key_start)?;
        let key = serde_json::from_str::<String>(text.get(key_start..key_end)?).ok()?;
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, i + 1);
        let end = skip_value(bytes, start)?;
        members.push(Member {
            key,
            key_start,
            key_end,
            value: Span { start, end },
        });
        i = skip_ws(bytes, end);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            b'}' => {
                return Some(Object {
                    open: at,
                    close: i,
                    members,
                });
            }
            _ => return None,
        }
    }
}

pub fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end of the value starting at `i`.
fn skip_value(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i)? {
        b'"' => skip_string(bytes, i),
        b'{' | b'[' => skip_nested(bytes, i),
        _ => {
            // A number or a literal: runs until a delimiter.
            let mut j = i;
            while bytes
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The end (just after the closing quote) of the string starting at `i`.
fn skip_string(bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match bytes.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The end of the object or array starting at `i`, skipping strings so that
/// brackets inside them do not count.
fn skip_nested(bytes: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        match bytes.get(j)? {
            b'"' => {
                j = skip_string(bytes, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_members_and_their_values_exactly() {
        let text = r#" { "a" : 1, "b\u0022": {"x": "}]"}, "c": [1, {"d": null}], "a": true }"#;
        let root = root_object(text).unwrap();
        let keys: Vec<_> = root.members.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a", "b\"", "c", "a"]);
        let value = |m: &Member| &text[m.value.start..m.value.end];
        assert_eq!(value(&root.members[1]), r#"{"x": "}]"}"#);
        assert_eq!(value(&root.members[2]), r#"[1, {"d": null}]"#);
        // The last duplicate wins.
        let (index, a) = root.member("a").unwrap();
        assert_eq!((index, value(a)), (3, "true"));
        assert_eq!(&text[root.close..], "}");
        let nested = object_at(text, root.members[1].value.start).unwrap();
        assert_eq!(nested.members[0].key, "x");
    }

    #[test]
    fn an_empty_object_and_a_non_object() {
        let root = root_object("{ \n }").unwrap();
        assert!(root.members.is_empty());
        assert_eq!((root.open, root.close), (0, 4));
        assert_eq!(root_object("[1]"), None);
        assert_eq!(root_object("\"x\""), None);
    }
}
