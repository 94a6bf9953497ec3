//! Writes a whole Chat Completions answer as an Anthropic Messages response.

use serde_json::{Value, json};

use super::{message_id, stop_reason, usage_json};
use crate::translate::Usage;
use crate::translate::chat::{ChatResponse, Finish, arguments_text};

pub(crate) fn response(chat: &ChatResponse, client_model: &str, usage: &Usage) -> Vec<u8> {
    let choice = chat.choices.first();
    let message = choice.and_then(|c| c.message.as_ref());
    let mut content = Vec::new();
    let mut had_tools = false;
    if let Some(m) = message {
        if let Some(reasoning) = m.reasoning() {
            content.push(json!({"type": "thinking", "thinking": reasoning, "signature": ""}));
        }
        let text = m.text();
        if !text.is_empty() {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in m.tool_calls.iter().flatten() {
            had_tools = true;
            let function = call.function.as_ref();
            let arguments = arguments_text(function.and_then(|f| f.arguments.as_ref()));
            content.push(json!({
                "type": "tool_use",
                "id": call.id.clone().unwrap_or_else(|| crate::translate::fresh_id("toolu_")),
                "name": function.and_then(|f| f.name.as_deref()).unwrap_or_default(),
                "input": tool_input(&arguments),
            }));
        }
    }
    let finish = choice
        .and_then(|c| c.finish_reason.as_deref())
        .map(Finish::parse);
    let body = json!({
        "id": message_id(chat.id.as_deref().unwrap_or_default()),
        "type": "message",
        "role": "assistant",
        "model": client_model,
        "content": content,
        "stop_reason": stop_reason(finish, had_tools),
        "stop_sequence": null,
        "usage": usage_json(usage),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A tool call's `input` must be a JSON value. Empty arguments mean no arguments;
/// arguments that are not JSON are passed as the string they are, so the client
/// reports the bad input to the model instead of anything crashing.
fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}
