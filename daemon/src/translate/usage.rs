//! Token usage as the translator saw it, normalised across formats, and the one
//! rule for numbers an upstream reports: anything but a plain count is unknown.

use serde_json::Value;

/// The largest count we believe; JSON numbers above 2^53 are not exact anyway.
const MAX_COUNT: u64 = 1 << 53;

/// Tokens one request used. `None` means the upstream did not say (never 0 for
/// "unknown"). The counts are disjoint, Anthropic-style, so a price table can
/// apply one rate to each: `input_tokens` excludes tokens read from or written to
/// the prompt cache; `output_tokens` includes `reasoning_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// True when the upstream reported nothing at all.
    pub fn is_unknown(&self) -> bool {
        *self == Usage::default()
    }

    /// Everything the prompt cost, cached or not (OpenAI's `prompt_tokens`).
    pub(crate) fn prompt_total(&self) -> Option<u64> {
        let input = self.input_tokens?;
        Some(input + self.cache_read_tokens.unwrap_or(0) + self.cache_write_tokens.unwrap_or(0))
    }

    /// From an OpenAI Chat Completions `usage` object (whose `prompt_tokens`
    /// include cached ones). DeepSeek reports cache hits as `prompt_cache_hit_tokens`.
    pub(crate) fn from_chat(usage: &Value) -> Usage {
        let prompt = count(usage.get("prompt_tokens"));
        let cached = count(usage.pointer("/prompt_tokens_details/cached_tokens"))
            .or_else(|| count(usage.get("prompt_cache_hit_tokens")));
        let input = match (prompt, cached) {
            (Some(p), Some(c)) => p.checked_sub(c),
            (Some(p), None) => Some(p),
            (None, _) => None,
        };
        Usage {
            input_tokens: input,
            output_tokens: count(usage.get("completion_tokens")),
            // A cache hit count above the prompt is nonsense: say nothing about it.
            cache_read_tokens: if input.is_some() { cached } else { None },
            cache_write_tokens: None,
            reasoning_tokens: count(usage.pointer("/completion_tokens_details/reasoning_tokens")),
        }
    }
}

/// A token count: a non-negative integer no larger than 2^53, else unknown.
pub(crate) fn count(value: Option<&Value>) -> Option<u64> {
    let n = value?.as_number()?;
    let v = if let Some(v) = n.as_u64() {
        v
    } else {
        let f = n.as_f64()?;
        if !(0.0..=MAX_COUNT as f64).contains(&f) || f.fract() != 0.0 {
            return None;
        }
        f as u64
    };
    (v <= MAX_COUNT).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_usage_is_split_into_disjoint_counts() {
        let u = Usage::from_chat(&json!({
            "prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 10}
        }));
        assert_eq!(
            u,
            Usage {
                input_tokens: Some(40),
                output_tokens: Some(30),
                cache_read_tokens: Some(60),
                cache_write_tokens: None,
                reasoning_tokens: Some(10),
            }
        );
        assert_eq!(u.prompt_total(), Some(100));
        let deepseek = Usage::from_chat(&json!({
            "prompt_tokens": 50, "completion_tokens": 5,
            "prompt_cache_hit_tokens": 20, "prompt_cache_miss_tokens": 30
        }));
        assert_eq!(deepseek.input_tokens, Some(30));
        assert_eq!(deepseek.cache_read_tokens, Some(20));
    }

    #[test]
    fn absurd_numbers_are_unknown() {
        for bad in [
            json!(-1),
            json!(1.5),
            json!(9007199254740993u64),
            json!(1e300),
            json!("12"),
            json!(null),
        ] {
            assert_eq!(count(Some(&bad)), None, "{bad}");
        }
        assert_eq!(count(Some(&json!(12.0))), Some(12));
        assert_eq!(count(Some(&json!(9007199254740992u64))), Some(1 << 53));
        let u = Usage::from_chat(&json!({
            "prompt_tokens": 10, "completion_tokens": -3,
            "prompt_tokens_details": {"cached_tokens": 11}
        }));
        assert_eq!(u.input_tokens, None);
        assert_eq!(u.cache_read_tokens, None);
        assert_eq!(u.output_tokens, None);
        assert!(Usage::from_chat(&json!({"x": 1})).is_unknown());
    }
}
