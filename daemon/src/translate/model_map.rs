//! Per-provider model mapping: `claude-sonnet-*=deepseek-chat` rules, first match
//! wins, and the rewrite of a request's model for providers of the client's own
//! format (which are otherwise passed through untouched).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Longest model name or pattern we accept.
const MAX_NAME: usize = 256;

/// One `pattern=target` rule. `*` in the pattern matches any run of characters
/// (also none); a `*` in the target, allowed when the pattern has exactly one,
/// stands for what that star matched (`claude-*=anthropic/claude-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRule {
    pattern: String,
    target: String,
}

/// An ordered list of rules; the first whose pattern matches decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelMap {
    rules: Vec<ModelRule>,
}

/// A rule that does not parse; the message names the rule and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "model map rule {rule:?}: {reason} (write rules as PATTERN=MODEL, e.g. claude-sonnet-*=deepseek-chat)"
)]
pub struct ModelMapError {
    pub rule: String,
    pub reason: &'static str,
}

impl ModelRule {
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    fn parse(text: &str) -> Result<ModelRule, ModelMapError> {
        let err = |reason| ModelMapError {
            rule: text.to_owned(),
            reason,
        };
        let (pattern, target) = text.split_once('=').ok_or_else(|| err("it has no '='"))?;
        let (pattern, target) = (pattern.trim(), target.trim());
        for (part, what) in [(pattern, "pattern"), (target, "model")] {
            if part.is_empty() {
                return Err(err(if what == "pattern" {
                    "the pattern before '=' is empty"
                } else {
                    "the model after '=' is empty"
                }));
            }
            if part.len() > MAX_NAME {
                return Err(err("it is longer than 256 characters"));
            }
            if part
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '=' | ',' | '"'))
            {
                return Err(err(
                    "names cannot contain spaces, control characters, quotes, ',' or a second '='",
                ));
            }
        }
        if target.contains('*') && pattern.matches('*').count() != 1 {
            return Err(err(
                "a '*' in the model needs exactly one '*' in the pattern to stand for",
            ));
        }
        if target.matches('*').count() > 1 {
            return Err(err("the model can use '*' only once"));
        }
        Ok(ModelRule {
            pattern: pattern.to_owned(),
            target: target.to_owned(),
        })
    }

    /// The model this rule maps `model` to, if it matches.
    fn apply<'m>(&self, model: &'m str) -> Option<Cow<'m, str>> {
        let captured = glob_match(&self.pattern, model)?;
        Some(match self.target.split_once('*') {
            Some((before, after)) => Cow::Owned(format!("{before}{captured}{after}")),
            None => Cow::Owned(self.target.clone()),
        })
    }
}

/// Matches `text` against a pattern where `*` matches any run; returns what the
/// first star matched (empty without a star).
fn glob_match<'t>(pattern: &str, text: &'t str) -> Option<&'t str> {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let mut remaining = text.strip_prefix(first)?;
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty().then_some("");
    };
    let start = text.len() - remaining.len();
    let mut first_star_end = None;
    for part in middle {
        let at = remaining.find(part)?;
        first_star_end.get_or_insert(start + at);
        remaining = &remaining[at + part.len()..];
    }
    if remaining.len() < last.len() || !remaining.ends_with(last) {
        return None;
    }
    let end = first_star_end.unwrap_or(text.len() - last.len());
    Some(&text[start..end])
}

impl ModelMap {
    pub fn new(rules: Vec<ModelRule>) -> Self {
        ModelMap { rules }
    }

    pub fn rules(&self) -> &[ModelRule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The model to ask the upstream for: the first matching rule's, or `model`.
    pub fn map<'m>(&self, model: &'m str) -> Cow<'m, str> {
        self.rules
            .iter()
            .find_map(|r| r.apply(model))
            .unwrap_or(Cow::Borrowed(model))
    }

    /// Parses rules separated by commas, spaces or newlines.
    pub fn parse_all<'a>(rules: impl IntoIterator<Item = &'a str>) -> Result<Self, ModelMapError> {
        let mut out = Vec::new();
        for text in rules {
            for rule in text
                .split([',', ' ', '\n', '\t'])
                .filter(|r| !r.trim().is_empty())
            {
                out.push(ModelRule::parse(rule)?);
            }
        }
        Ok(ModelMap { rules: out })
    }
}

impl FromStr for ModelMap {
    type Err = ModelMapError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelMap::parse_all([s])
    }
}

impl fmt::Display for ModelRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.pattern, self.target)
    }
}

impl fmt::Display for ModelMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for ModelMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ModelMap {
    /// A string of rules, or a list of them (as presets write it).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        match Form::deserialize(d)? {
            Form::One(s) => ModelMap::parse_all([s.as_str()]),
            Form::Many(v) => ModelMap::parse_all(v.iter().map(String::as_str)),
        }
        .map_err(de::Error::custom)
    }
}

/// Why a body's model could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    #[error("the request body is not a JSON object")]
    NotAnObject,
    #[error("the request body has no \"model\" string")]
    NoModel,
}

/// Replaces the top-level `"model"` of a JSON object body with `model`, keeping every
/// other member byte for byte. Returns the new body and the model it replaced.
pub fn rewrite_body_model(body: &[u8], model: &str) -> Result<(Vec<u8>, String), RewriteError> {
    let members: Members<'_> =
        serde_json::from_slice(body).map_err(|_| RewriteError::NotAnObject)?;
    let mut old = None;
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.push(b'{');
    for (i, (key, value)) in members.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Keys and strings cannot fail to serialise into a Vec.
        let _ = serde_json::to_writer(&mut out, key.as_ref());
        out.push(b':');
        if key == "model" && old.is_none() {
            old = Some(
                serde_json::from_str::<String>(value.get()).map_err(|_| RewriteError::NoModel)?,
            );
            let _ = serde_json::to_writer(&mut out, model);
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    out.push(b'}');
    Ok((out, old.ok_or(RewriteError::NoModel)?))
}

/// Replaces the model in a Gemini path (`…/models/NAME:method?query`) with
/// `model`; `None` when the path names no model or `model` cannot sit in a path.
pub fn rewrite_path_model(path: &str, model: &str) -> Option<String> {
    if model.is_empty()
        || !model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    {
        return None;
    }
    let start = path.find("/models/")? + "/models/".len();
    let end = start + path[start..].find([':', '/', '?'])?;
    (end > start).then(|| format!("{}{model}{}", &path[..start], &path[end..]))
}

/// A JSON object's members in order, values left as raw text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    out.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(s: &str) -> ModelMap {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn first_matching_rule_wins() {
        let m = map("claude-sonnet-*=deepseek-chat, claude-*=deepseek-reasoner,exact=other");
        assert_eq!(m.map("claude-sonnet-4-5"), "deepseek-chat");
        assert_eq!(m.map("claude-opus-4-1"), "deepseek-reasoner");
        assert_eq!(m.map("exact"), "other");
        assert_eq!(m.map("exactly"), "exactly");
        assert_eq!(m.map("gpt-5"), "gpt-5");
        assert_eq!(ModelMap::default().map("x"), "x");
    }

    #[test]
    fn globs_match_anywhere_and_capture_the_star() {
        assert_eq!(glob_match("a*c", "abbc"), Some("bb"));
        assert_eq!(glob_match("a*c", "ac"), Some(""));
        assert_eq!(glob_match("a*c", "acb"), None);
        assert_eq!(glob_match("*", ""), Some(""));
        assert_eq!(glob_match("*-mini", "gpt-5-mini"), Some("gpt-5"));
        assert_eq!(glob_match("a*b*c", "axxbyyc"), Some("xx"));
        assert_eq!(glob_match("ab*ba", "aba"), None);
        assert_eq!(glob_match("x", "x"), Some(""));
        let m = map("claude-*=anthropic/claude-*");
        assert_eq!(m.map("claude-sonnet-4"), "anthropic/claude-sonnet-4");
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for (bad, why) in [
            ("claude", "no '='"),
            ("=x", "pattern before"),
            ("x=", "model after"),
            ("a=b=c", "second '='"),
            ("a*b*=c*", "exactly one"),
            ("a*=b**", "only once"),
        ] {
            let err = bad
                .parse::<ModelMap>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(why) && err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_forms() {
        let m: ModelMap = serde_json::from_str(r#"["a*=b", "c=d"]"#).unwrap_or_default();
        assert_eq!(m.to_string(), "a*=b,c=d");
        let m2: ModelMap = serde_json::from_str(r#""a*=b c=d""#).unwrap_or_default();
        assert_eq!(m, m2);
        assert_eq!(
            serde_json::to_string(&m).unwrap_or_default(),
            r#""a*=b,c=d""#
        );
        assert!(serde_json::from_str::<ModelMap>(r#""nope""#).is_err());
    }

    #[test]
    fn body_model_is_rewritten_in_place() {
        let body = br#"{"model" : "claude-sonnet-4","messages":[{"model":"keep"}],"x":"\u00e9"}"#;
        let (out, old) = rewrite_body_model(body, "deepseek-chat").unwrap_or_default();
        assert_eq!(old, "claude-sonnet-4");
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"model":"deepseek-chat","messages":[{"model":"keep"}],"x":"\u00e9"}"#
        );
        assert_eq!(
            rewrite_body_model(b"[1]", "m"),
            Err(RewriteError::NotAnObject)
        );
        assert_eq!(
            rewrite_body_model(b"{\"a\":1}", "m"),
            Err(RewriteError::NoModel)
        );
        assert_eq!(
            rewrite_body_model(b"{\"model\":1}", "m"),
            Err(RewriteError::NoModel)
        );
    }

    #[test]
    fn gemini_path_model_is_rewritten() {
        assert_eq!(
            rewrite_path_model(
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                "gemini-2.5-flash"
            )
            .as_deref(),
            Some("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        );
        assert_eq!(rewrite_path_model("/v1/messages", "m"), None);
        assert_eq!(
            rewrite_path_model("/v1beta/models/x:generateContent", "a/b"),
            None
        );
        assert_eq!(
            rewrite_path_model("/v1beta/models/x:generateContent", "a?b"),
            None
        );
    }

    proptest! {
        #[test]
        fn display_parses_back(rules in proptest::collection::vec(("[a-z0-9.*-]{1,12}", "[a-z0-9./-]{1,12}"), 0..5)) {
            let text: Vec<String> = rules.iter().map(|(p, t)| format!("{p}={t}")).collect();
            let m = ModelMap::parse_all(text.iter().map(String::as_str)).unwrap_or_default();
            let again: ModelMap = m.to_string().parse().unwrap_or_default();
            prop_assert_eq!(m, again);
        }

        #[test]
        fn a_star_free_pattern_matches_only_itself(p in "[a-z-]{1,10}", t in "[a-z-]{0,10}") {
            prop_assert_eq!(glob_match(&p, &t).is_some(), p == t);
        }

        #[test]
        fn prefix_star_matches_any_suffix(p in "[a-z-]{0,6}", s in "[a-z-]{0,6}") {
            let text = format!("{p}{s}");
            let pattern = format!("{p}*");
            prop_assert_eq!(glob_match(&pattern, &text), Some(s.as_str()));
        }
    }
}
