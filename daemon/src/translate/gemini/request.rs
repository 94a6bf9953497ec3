//! Reads a Gemini `generateContent` request (as Gemini CLI sends it:
//! `systemInstruction`, `contents` with `functionCall`/`functionResponse` parts,
//! `functionDeclarations` with `parametersJsonSchema`, `thinkingConfig`) into a
//! Chat request. The model comes from the path.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::translate::chat::{ChatRequest, ChatTool, Conversation, ImageUrl, Part as ChatPart};
use crate::translate::wire::data_url;
use crate::translate::{Built, Ctx, TranslateError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest {
    #[serde(default)]
    contents: Vec<Content>,
    #[serde(default)]
    system_instruction: Option<Content>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
    #[serde(default)]
    tool_config: Option<ToolConfig>,
    #[serde(default)]
    generation_config: Option<GenerationConfig>,
    #[serde(default)]
    cached_content: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default)]
    inline_data: Option<Blob>,
    #[serde(default)]
    file_data: Option<FileData>,
    #[serde(default)]
    function_call: Option<FunctionCall>,
    #[serde(default)]
    function_response: Option<FunctionResponse>,
    #[serde(default)]
    executable_code: Option<IgnoredAny>,
    #[serde(default)]
    code_execution_result: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob {
    mime_type: String,
    data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileData {
    #[serde(default)]
    mime_type: Option<String>,
    file_uri: String,
}

#[derive(Deserialize)]
struct FunctionCall {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    args: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct FunctionResponse {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    response: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    #[serde(default)]
    function_declarations: Option<Vec<Declaration>>,
    #[serde(default)]
    google_search: Option<IgnoredAny>,
    #[serde(default)]
    google_search_retrieval: Option<IgnoredAny>,
    #[serde(default)]
    code_execution: Option<IgnoredAny>,
    #[serde(default)]
    url_context: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Declaration {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    parameters_json_schema: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig {
    #[serde(default)]
    function_calling_config: Option<FunctionCallingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    allowed_function_names: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<IgnoredAny>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    candidate_count: Option<u64>,
    #[serde(default)]
    response_mime_type: Option<String>,
    #[serde(default)]
    response_json_schema: Option<Box<RawValue>>,
    #[serde(default)]
    response_schema: Option<Value>,
    #[serde(default)]
    thinking_config: Option<IgnoredAny>,
}

pub(crate) fn request(
    body: &[u8],
    model: &str,
    stream: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Built, TranslateError> {
    let req: GenerateRequest = serde_json::from_slice(body).map_err(|e| ctx.bad(e.to_string()))?;
    if req.cached_content.is_some() {
        return Err(ctx.refuse("cached content stored on Google's servers (cachedContent)"));
    }
    let upstream_model = ctx.model_map.map(model).into_owned();
    let mut chat = ChatRequest::new(upstream_model, stream);

    let mut hosted = Vec::new();
    for tool in req.tools.unwrap_or_default() {
        for decl in tool.function_declarations.unwrap_or_default() {
            let parameters = match (decl.parameters_json_schema, decl.parameters) {
                (Some(schema), _) => Some(schema),
                // The OpenAPI subset Gemini takes spells types in capitals.
                (None, Some(mut schema)) => {
                    lowercase_types(&mut schema);
                    RawValue::from_string(schema.to_string()).ok()
                }
                (None, None) => None,
            };
            chat.tools.push(ChatTool::function(
                decl.name,
                decl.description,
                parameters,
                None,
            ));
        }
        for (present, name) in [
            (tool.google_search.is_some(), "googleSearch"),
            (
                tool.google_search_retrieval.is_some(),
                "googleSearchRetrieval",
            ),
            (tool.code_execution.is_some(), "codeExecution"),
            (tool.url_context.is_some(), "urlContext"),
        ] {
            if present {
                hosted.push(name);
            }
        }
    }
    for name in &hosted {
        if chat.tools.is_empty() {
            return Err(ctx.refuse(format!(
                "the {name} tool (Google runs it on its own servers)"
            )));
        }
        ctx.note(format!(
            "dropped the hosted tool {name} (the provider cannot run it)"
        ));
    }
    if let Some(config) = req.tool_config.and_then(|c| c.function_calling_config) {
        let allowed = config.allowed_function_names.unwrap_or_default();
        chat.tool_choice = match config.mode.as_deref().unwrap_or("AUTO") {
            "AUTO" | "MODE_UNSPECIFIED" => Some(json!("auto")),
            "NONE" => Some(json!("none")),
            "ANY" | "VALIDATED" if allowed.len() == 1 => {
                Some(json!({"type": "function", "function": {"name": allowed[0]}}))
            }
            "ANY" | "VALIDATED" => Some(json!("required")),
            other => return Err(ctx.bad(format!("unknown function calling mode {other:?}"))),
        };
    }
    if chat.tools.is_empty() {
        chat.tool_choice = None;
    }

    let mut conv = Conversation::default();
    if let Some(system) = req.system_instruction {
        let text: Vec<&str> = system
            .parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect();
        conv.system(text.join("\n"));
    }
    let mut ids = CallIds::default();
    for content in req.contents {
        match content.role.as_deref().unwrap_or("user") {
            "user" | "function" => user_turn(content.parts, &mut conv, &mut ids, ctx)?,
            "model" => model_turn(content.parts, &mut conv, &mut ids, ctx)?,
            other => return Err(ctx.bad(format!("unknown content role {other:?}"))),
        }
    }
    chat.messages = conv.finish();

    if let Some(config) = req.generation_config {
        if config.candidate_count.is_some_and(|n| n > 1) {
            return Err(ctx.refuse("more than one candidate (candidateCount)"));
        }
        chat.temperature = config.temperature;
        chat.top_p = config.top_p;
        chat.max_tokens = ctx.max_tokens(config.max_output_tokens);
        chat.stop = config.stop_sequences.unwrap_or_default();
        if config.top_k.is_some() {
            ctx.note("dropped topK (Chat Completions has no such setting)");
        }
        if config.thinking_config.is_some() {
            ctx.note(
                "dropped the thinking settings (choose a reasoning model in the model map instead)",
            );
        }
        if config.response_mime_type.as_deref() == Some("application/json") {
            let schema = match (config.response_json_schema, config.response_schema) {
                (Some(schema), _) => Some(schema),
                (None, Some(mut schema)) => {
                    lowercase_types(&mut schema);
                    RawValue::from_string(schema.to_string()).ok()
                }
                (None, None) => None,
            };
            chat.response_format = Some(match schema {
                Some(schema) => json!({"type": "json_schema",
                    "json_schema": {"name": "output", "schema": schema}}),
                None => json!({"type": "json_object"}),
            });
        }
    } else {
        chat.max_tokens = ctx.max_tokens(None);
    }
    Ok(Built {
        chat,
        client_model: model.to_owned(),
        custom_tools: Vec::new(),
    })
}

/// Pairs calls and responses that carry no id (older clients): each call gets
/// one, and a response takes the oldest unanswered call of its name.
#[derive(Default)]
struct CallIds {
    next: usize,
    open: HashMap<String, VecDeque<String>>,
}

impl CallIds {
    fn call(&mut self, name: &str, id: Option<String>) -> String {
        let id = id.unwrap_or_else(|| {
            self.next += 1;
            format!("call_{}_{}", name, self.next)
        });
        self.open
            .entry(name.to_owned())
            .or_default()
            .push_back(id.clone());
        id
    }

    fn response(&mut self, name: &str, id: Option<String>) -> String {
        let queue = self.open.entry(name.to_owned()).or_default();
        match id {
            Some(id) => {
                queue.retain(|open| *open != id);
                id
            }
            None => queue.pop_front().unwrap_or_else(|| {
                self.next += 1;
                format!("call_{}_{}", name, self.next)
            }),
        }
    }
}

fn user_turn(
    parts: Vec<Part>,
    conv: &mut Conversation,
    ids: &mut CallIds,
    ctx: &Ctx<'_>,
) -> Result<(), TranslateError> {
    let mut out = Vec::new();
    for part in parts {
        if let Some(response) = part.function_response {
            let id = ids.response(&response.name, response.id);
            let text = response
                .response
                .map(|r| r.get().to_owned())
                .unwrap_or_default();
            conv.tool_result(id, text, Vec::new());
        } else if let Some(p) = content_part(part, ctx)? {
            out.push(p);
        }
    }
    conv.user(out);
    Ok(())
}

fn model_turn(
    parts: Vec<Part>,
    conv: &mut Conversation,
    ids: &mut CallIds,
    ctx: &Ctx<'_>,
) -> Result<(), TranslateError> {
    for part in parts {
        if part.thought == Some(true) {
            continue;
        }
        if let Some(call) = part.function_call {
            let id = ids.call(&call.name, call.id);
            let args = call
                .args
                .map(|a| a.get().to_owned())
                .unwrap_or_else(|| "{}".to_owned());
            conv.tool_call(id, call.name, args);
        } else if let Some(text) = part.text {
            conv.assistant_text(text);
        } else if part.executable_code.is_some() || part.code_execution_result.is_some() {
            return Err(ctx.refuse("code execution parts in the conversation"));
        }
    }
    Ok(())
}

fn content_part(part: Part, ctx: &Ctx<'_>) -> Result<Option<ChatPart>, TranslateError> {
    if part.thought == Some(true) {
        return Ok(None);
    }
    if let Some(text) = part.text {
        return Ok(Some(ChatPart::Text { text }));
    }
    if let Some(blob) = part.inline_data {
        if !blob.mime_type.starts_with("image/") {
            return Err(ctx.refuse(format!("inline {} data", blob.mime_type)));
        }
        return Ok(Some(ChatPart::ImageUrl {
            image_url: ImageUrl {
                url: data_url(&blob.mime_type, &blob.data),
            },
        }));
    }
    if let Some(file) = part.file_data {
        let image = file
            .mime_type
            .as_deref()
            .is_none_or(|m| m.starts_with("image/"));
        if image && file.file_uri.starts_with("https://") {
            return Ok(Some(ChatPart::ImageUrl {
                image_url: ImageUrl { url: file.file_uri },
            }));
        }
        return Err(ctx.refuse("files uploaded to Google (fileData)"));
    }
    if part.executable_code.is_some() || part.code_execution_result.is_some() {
        return Err(ctx.refuse("code execution parts in the conversation"));
    }
    Ok(None)
}

/// Gemini's schema dialect spells types `OBJECT`, `STRING`…; JSON Schema wants
/// lower case.
fn lowercase_types(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "type" {
                    if let Value::String(t) = value {
                        *t = t.to_ascii_lowercase();
                    }
                } else {
                    lowercase_types(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(lowercase_types),
        _ => {}
    }
}
