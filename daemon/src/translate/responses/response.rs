//! Writes a whole Chat Completions answer as a Responses API response object.

use serde_json::Value;

use super::{call_item, message_item, reasoning_item, response_id, response_object, usage_json};
use crate::translate::chat::{ChatResponse, Finish, arguments_text};
use crate::translate::{Usage, fresh_id, unix_now};

pub(crate) fn response(
    chat: &ChatResponse,
    client_model: &str,
    custom_tools: &[String],
    usage: &Usage,
) -> Vec<u8> {
    let id = response_id(chat.id.as_deref().unwrap_or_default());
    let choice = chat.choices.first();
    let mut output: Vec<Value> = Vec::new();
    // Item ids as the stream writer makes them: from the response id and position.
    let base = id.trim_start_matches("resp_").to_owned();
    let item_id = |prefix: &str, n: usize| format!("{prefix}_{base}_{n}");
    if let Some(m) = choice.and_then(|c| c.message.as_ref()) {
        if let Some(reasoning) = m.reasoning() {
            output.push(reasoning_item(
                &item_id("rs", output.len()),
                reasoning,
                true,
            ));
        }
        let text = m.text();
        if !text.is_empty() {
            output.push(message_item(
                &item_id("msg", output.len()),
                &text,
                "completed",
            ));
        }
        for call in m.tool_calls.iter().flatten() {
            let function = call.function.as_ref();
            let name = function.and_then(|f| f.name.as_deref()).unwrap_or_default();
            let arguments = arguments_text(function.and_then(|f| f.arguments.as_ref()));
            let call_id = call.id.clone().unwrap_or_else(|| fresh_id("call_"));
            let custom = custom_tools.iter().any(|t| t == name);
            output.push(call_item(
                &item_id(if custom { "ctc" } else { "fc" }, output.len()),
                &call_id,
                name,
                &arguments,
                custom,
                "completed",
            ));
        }
    }
    let status = match choice
        .and_then(|c| c.finish_reason.as_deref())
        .map(Finish::parse)
    {
        Some(Finish::Length) => "incomplete",
        _ => "completed",
    };
    let created = crate::translate::usage::count(chat.created.as_ref()).unwrap_or_else(unix_now);
    let body = response_object(
        &id,
        created,
        client_model,
        status,
        output,
        usage_json(usage),
    );
    serde_json::to_vec(&body).unwrap_or_default()
}
