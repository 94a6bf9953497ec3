//! OpenAI Responses as the client's format (Codex): its requests read into Chat
//! Completions, Chat answers written back as Responses JSON and SSE.

mod request;
mod response;
mod stream;

pub(crate) use request::request;
pub(crate) use response::response;
pub(crate) use stream::StreamEncoder;

use serde_json::{Value, json};

use super::Usage;

/// The Responses `usage` object, or null when the upstream did not report the
/// counts Codex requires (it rejects a usage without input, output and total).
pub(crate) fn usage_json(usage: &Usage) -> Value {
    match (usage.prompt_total(), usage.output_tokens) {
        (Some(input), Some(output)) => json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": usage.cache_read_tokens.unwrap_or(0)},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens.unwrap_or(0)},
            "total_tokens": input + output,
        }),
        _ => Value::Null,
    }
}

pub(crate) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([{"type": "output_text", "text": text, "annotations": []}])
    } else {
        json!([])
    };
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

pub(crate) fn reasoning_item(id: &str, text: &str, done: bool) -> Value {
    let summary = if done {
        json!([{"type": "summary_text", "text": text}])
    } else {
        json!([])
    };
    json!({"id": id, "type": "reasoning", "summary": summary})
}

/// A call item: `function_call`, or `custom_tool_call` for a freeform tool (whose
/// single string argument was sent to the Chat model as `{"input": …}`).
pub(crate) fn call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    custom: bool,
    status: &str,
) -> Value {
    if custom {
        json!({"id": id, "type": "custom_tool_call", "status": status, "call_id": call_id,
               "name": name, "input": custom_input(arguments)})
    } else {
        json!({"id": id, "type": "function_call", "status": status, "call_id": call_id,
               "name": name, "arguments": arguments})
    }
}

/// The `input` string of a freeform tool's call. Arguments that are not the
/// expected `{"input": "…"}` are passed as they are; the tool reports them.
pub(crate) fn custom_input(arguments: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Args {
        input: String,
    }
    serde_json::from_str::<Args>(arguments)
        .map(|a| a.input)
        .unwrap_or_else(|_| arguments.to_owned())
}

/// The `response` object shared by every lifecycle event and the JSON answer.
pub(crate) fn response_object(
    id: &str,
    created_at: u64,
    model: &str,
    status: &str,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    let incomplete = match status {
        "incomplete" => json!({"reason": "max_output_tokens"}),
        _ => Value::Null,
    };
    json!({
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        "usage": usage,
    })
}

/// A Responses id (`resp_…`) from the upstream's.
pub(crate) fn response_id(upstream: &str) -> String {
    let clean: String = upstream
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(64)
        .collect();
    if clean.is_empty() {
        super::fresh_id("resp_")
    } else {
        format!("resp_{clean}")
    }
}
