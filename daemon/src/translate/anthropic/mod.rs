//! Anthropic Messages as the client's format (Claude Code): its requests read into
//! Chat Completions, Chat answers written back as Messages JSON and SSE.

mod request;
mod response;
mod stream;

pub(crate) use request::request;
pub(crate) use response::response;
pub(crate) use stream::StreamEncoder;

use super::chat::Finish;

/// Anthropic's `stop_reason` for a Chat `finish_reason`; a stop with tool calls is
/// a tool-use stop (some servers say `stop` there).
pub(crate) fn stop_reason(finish: Option<Finish>, had_tools: bool) -> &'static str {
    match finish {
        Some(Finish::Length) => "max_tokens",
        Some(Finish::ContentFilter) => "refusal",
        Some(Finish::ToolCalls) => "tool_use",
        Some(Finish::Stop) | None if had_tools => "tool_use",
        Some(Finish::Stop) | None => "end_turn",
    }
}

/// Anthropic's usage object. Counts the upstream did not report are 0 here (the
/// client needs numbers); the recorded [`Usage`](super::Usage) keeps them unknown.
pub(crate) fn usage_json(usage: &super::Usage) -> serde_json::Value {
    serde_json::json!({
        "input_tokens": usage.input_tokens.unwrap_or(0),
        "cache_creation_input_tokens": usage.cache_write_tokens.unwrap_or(0),
        "cache_read_input_tokens": usage.cache_read_tokens.unwrap_or(0),
        "output_tokens": usage.output_tokens.unwrap_or(0),
    })
}

/// An Anthropic-looking message id from the upstream's.
pub(crate) fn message_id(upstream: &str) -> String {
    let clean: String = upstream
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(64)
        .collect();
    if clean.is_empty() {
        super::fresh_id("msg_")
    } else {
        format!("msg_{clean}")
    }
}
