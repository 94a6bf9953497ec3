//! Gemini `generateContent` as the client's format (Gemini CLI with an API key):
//! its requests read into Chat Completions, Chat answers written back as Gemini
//! JSON and SSE chunks.

mod request;
mod response;
mod stream;

pub(crate) use request::request;
pub(crate) use response::response;
pub(crate) use stream::StreamEncoder;

use serde_json::{Value, json};

use super::Usage;
use super::chat::Finish;

/// Gemini's `finishReason` (a function call ends with `STOP` there).
pub(crate) fn finish_reason(finish: Option<Finish>) -> &'static str {
    match finish {
        Some(Finish::Length) => "MAX_TOKENS",
        Some(Finish::ContentFilter) => "SAFETY",
        _ => "STOP",
    }
}

/// `usageMetadata`, or null when the counts are unknown. Gemini counts thoughts
/// apart from the candidates; Chat's completion tokens include them.
pub(crate) fn usage_json(usage: &Usage) -> Value {
    let (Some(prompt), Some(output)) = (usage.prompt_total(), usage.output_tokens) else {
        return Value::Null;
    };
    let thoughts = usage.reasoning_tokens.unwrap_or(0).min(output);
    let mut meta = json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": output - thoughts,
        "totalTokenCount": prompt + output,
    });
    if let Some(cached) = usage.cache_read_tokens.filter(|c| *c > 0) {
        meta["cachedContentTokenCount"] = json!(cached);
    }
    if thoughts > 0 {
        meta["thoughtsTokenCount"] = json!(thoughts);
    }
    meta
}

/// A function call's `args` must be an object. Empty arguments are `{}`;
/// anything else that is not a JSON object is kept, as text, under `_raw`, so
/// the client reports the bad call to the model rather than losing it.
pub(crate) fn function_args(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "_raw": arguments }),
    }
}
