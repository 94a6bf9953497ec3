//! Each vendor's usage object, read from the bytes the scanner captured, and
//! converted to the one meaning of [`Tokens`] (see there for the arithmetic).
//!
//! Anything odd makes the answer unknown rather than wrong: a count that is not
//! a whole number from 0 to 2^53, a duplicated field, cached tokens exceeding
//! the input they are part of. Fields a vendor leaves out are 0 where leaving
//! them out means 0: Gemini's JSON is proto3, which omits zeros; Anthropic's
//! cache fields and OpenAI's `*_details` are absent when nothing was cached.

use serde::{Deserialize, Deserializer};

use crate::protocol::requests::Tokens;

/// Counts above this are not counts (JSON numbers beyond it lose precision).
pub(crate) const MAX_COUNT: u64 = 1 << 53;
/// Longer "model names" are not model names.
const MAX_MODEL: usize = 256;

/// A token count: an integer from 0 to [`MAX_COUNT`]; anything else fails the
/// whole object.
#[derive(Debug, Clone, Copy)]
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a token count from 0 to 2^53")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Count, E> {
                if v <= MAX_COUNT {
                    Ok(Count(v))
                } else {
                    Err(E::custom("token count above 2^53"))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("negative token count"))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        deserializer.deserialize_u64(Visitor)
    }
}

fn count(c: Option<Count>) -> Option<u64> {
    c.map(|Count(n)| n)
}

fn parse<'a, T: Deserialize<'a>>(raw: &'a [u8]) -> Option<T> {
    serde_json::from_slice(raw).ok()
}

/// A result is only kept if every count in it is in range.
fn checked(tokens: Tokens) -> Tokens {
    let ok = |n: Option<u64>| n.filter(|&n| n <= MAX_COUNT);
    Tokens {
        input: ok(tokens.input),
        output: ok(tokens.output),
        cache_read: ok(tokens.cache_read),
        cache_write: ok(tokens.cache_write),
        cache_write_1h: ok(tokens.cache_write_1h),
        reasoning: ok(tokens.reasoning),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Anthropic {
    input_tokens: Option<Count>,
    output_tokens: Option<Count>,
    cache_creation_input_tokens: Option<Count>,
    cache_read_input_tokens: Option<Count>,
    cache_creation: Option<AnthropicCacheCreation>,
}

#[derive(Debug, Default, Deserialize)]
struct AnthropicCacheCreation {
    ephemeral_1h_input_tokens: Option<Count>,
}

/// Anthropic: `start` is `message_start`'s `message.usage` (SSE only), `last`
/// the response's `usage` (JSON) or `message_delta`'s (SSE), whose fields win.
/// `message_start`'s `output_tokens` is a placeholder, so without a
/// `message_delta` (a cut stream) the output is unknown.
pub(crate) fn anthropic(start: Option<&[u8]>, last: Option<&[u8]>) -> Option<Tokens> {
    let start: Anthropic = match start {
        Some(raw) => parse(raw)?,
        None => Anthropic::default(),
    };
    let (last, output): (Anthropic, _) = match last {
        Some(raw) => {
            let last: Anthropic = parse(raw)?;
            let output = count(last.output_tokens);
            (last, output)
        }
        None => (Anthropic::default(), None),
    };
    let input = count(last.input_tokens.or(start.input_tokens));
    let cache_read = count(
        last.cache_read_input_tokens
            .or(start.cache_read_input_tokens),
    );
    let cache_write = count(
        last.cache_creation_input_tokens
            .or(start.cache_creation_input_tokens),
    );
    let hour = last
        .cache_creation
        .or(start.cache_creation)
        .and_then(|c| count(c.ephemeral_1h_input_tokens));
    let known = input.is_some();
    // Absent cache fields mean nothing was cached, once the input is known.
    let cache_read = cache_read.or(known.then_some(0));
    let cache_write = cache_write.or(known.then_some(0));
    let cache_write_1h = match (cache_write, hour) {
        (Some(all), Some(hour)) if hour > all => return None,
        (Some(_), hour) => Some(hour.unwrap_or(0)),
        (None, _) => None,
    };
    Some(checked(Tokens {
        input,
        output,
        cache_read,
        cache_write,
        cache_write_1h,
        reasoning: None,
    }))
}

#[derive(Debug, Deserialize)]
struct OpenAi {
    #[serde(alias = "prompt_tokens")]
    input_tokens: Option<Count>,
    #[serde(alias = "completion_tokens")]
    output_tokens: Option<Count>,
    #[serde(alias = "prompt_tokens_details")]
    input_tokens_details: Option<OpenAiInputDetails>,
    #[serde(alias = "completion_tokens_details")]
    output_tokens_details: Option<OpenAiOutputDetails>,
}

#[derive(Debug, Deserialize)]
struct OpenAiInputDetails {
    cached_tokens: Option<Count>,
}

#[derive(Debug, Deserialize)]
struct OpenAiOutputDetails {
    reasoning_tokens: Option<Count>,
}

/// OpenAI Responses (`input_tokens`, …) and Chat Completions (`prompt_tokens`,
/// …): the input includes the cached tokens and the output the reasoning ones.
pub(crate) fn openai(raw: &[u8]) -> Option<Tokens> {
    let usage: OpenAi = parse(raw)?;
    let total = count(usage.input_tokens);
    let cached = usage
        .input_tokens_details
        .map_or(Some(0), |d| count(d.cached_tokens).or(Some(0)));
    let input = match (total, cached) {
        (Some(total), Some(cached)) => Some(total.checked_sub(cached)?),
        _ => None,
    };
    let output = count(usage.output_tokens);
    let reasoning = usage
        .output_tokens_details
        .and_then(|d| count(d.reasoning_tokens));
    if let (Some(reasoning), Some(output)) = (reasoning, output)
        && reasoning > output
    {
        return None;
    }
    Some(checked(Tokens {
        input,
        output,
        cache_read: total.and(cached),
        cache_write: total.map(|_| 0),
        cache_write_1h: total.map(|_| 0),
        reasoning,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Gemini {
    prompt_token_count: Option<Count>,
    candidates_token_count: Option<Count>,
    cached_content_token_count: Option<Count>,
    thoughts_token_count: Option<Count>,
    tool_use_prompt_token_count: Option<Count>,
}

/// Gemini: `promptTokenCount` includes the cached tokens; tool-use prompts
/// (`toolUsePromptTokenCount`) are input billed on top; thoughts are output
/// billed on top of `candidatesTokenCount`. Absent counts are proto3 zeros.
pub(crate) fn gemini(raw: &[u8]) -> Option<Tokens> {
    let usage: Gemini = parse(raw)?;
    let n = |c: Option<Count>| count(c).unwrap_or(0);
    let cached = n(usage.cached_content_token_count);
    let thoughts = n(usage.thoughts_token_count);
    let input = n(usage.prompt_token_count)
        .checked_sub(cached)?
        .checked_add(n(usage.tool_use_prompt_token_count))?;
    let output = n(usage.candidates_token_count).checked_add(thoughts)?;
    let tokens = checked(Tokens {
        input: Some(input),
        output: Some(output),
        cache_read: Some(cached),
        cache_write: Some(0),
        cache_write_1h: Some(0),
        reasoning: Some(thoughts),
    });
    // A sum past the bound makes the whole answer doubtful.
    (tokens.input.is_some() && tokens.output.is_some()).then_some(tokens)
}

/// A model name from a captured JSON string.
pub(crate) fn model(raw: &[u8]) -> Option<String> {
    let name: String = parse(raw)?;
    let plausible = !name.is_empty()
        && name.len() <= MAX_MODEL
        && !name.chars().any(|c| c.is_control() || c.is_whitespace());
    plausible.then_some(name)
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
