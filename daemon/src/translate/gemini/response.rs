//! Writes a whole Chat Completions answer as a Gemini `GenerateContentResponse`.

use serde_json::json;

use super::{finish_reason, function_args, usage_json};
use crate::translate::Usage;
use crate::translate::chat::{ChatResponse, Finish, arguments_text};

pub(crate) fn response(chat: &ChatResponse, client_model: &str, usage: &Usage) -> Vec<u8> {
    let choice = chat.choices.first();
    let mut parts = Vec::new();
    if let Some(m) = choice.and_then(|c| c.message.as_ref()) {
        if let Some(reasoning) = m.reasoning() {
            parts.push(json!({"text": reasoning, "thought": true}));
        }
        let text = m.text();
        if !text.is_empty() {
            parts.push(json!({"text": text}));
        }
        for call in m.tool_calls.iter().flatten() {
            let function = call.function.as_ref();
            let mut fc = json!({
                "name": function.and_then(|f| f.name.as_deref()).unwrap_or_default(),
                "args": function_args(&arguments_text(function.and_then(|f| f.arguments.as_ref()))),
            });
            if let Some(id) = &call.id {
                fc["id"] = json!(id);
            }
            parts.push(json!({ "functionCall": fc }));
        }
    }
    let finish = choice
        .and_then(|c| c.finish_reason.as_deref())
        .map(Finish::parse);
    let mut body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": finish_reason(finish),
            "index": 0,
        }],
        "modelVersion": client_model,
    });
    let meta = usage_json(usage);
    if !meta.is_null() {
        body["usageMetadata"] = meta;
    }
    if let Some(id) = &chat.id {
        body["responseId"] = json!(id);
    }
    serde_json::to_vec(&body).unwrap_or_default()
}
