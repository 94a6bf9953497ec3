//! Reads an OpenAI Responses request (as Codex sends it: developer messages,
//! `function_call`/`function_call_output` and freeform `custom_tool_call` items,
//! reasoning items, function, custom and hosted tools) into a Chat request.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::translate::chat::{ChatRequest, ChatTool, Conversation, ImageUrl, Part, raw};
use crate::translate::wire::TextOr;
use crate::translate::{Built, Ctx, TranslateError};

/// What a freeform (grammar) tool becomes on a Chat provider: a function taking
/// the whole input as one string, as Codex itself does for `apply_patch`.
const FREEFORM_PARAMETERS: &str = r#"{"type":"object","properties":{"input":{"type":"string","description":"The entire input for this tool, in the format its description gives."}},"required":["input"],"additionalProperties":false}"#;

#[derive(Deserialize)]
struct ResponsesRequest {
    model: String,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    input: Option<TextOr<Item>>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    reasoning: Option<Reasoning>,
    #[serde(default)]
    text: Option<TextControls>,
    #[serde(default)]
    previous_response_id: Option<String>,
    #[serde(default)]
    conversation: Option<IgnoredAny>,
    #[serde(default)]
    background: Option<bool>,
    #[serde(default)]
    prompt: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<TextOr<ContentPart>>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
    #[serde(default)]
    output: Option<TextOr<ContentPart>>,
    #[serde(default)]
    input: Option<String>,
    /// An `additional_tools` item's tools (Codex's Responses "lite" requests
    /// carry the turn's tools here, in namespaces, instead of in `tools`).
    #[serde(default)]
    tools: Option<Vec<Tool>>,
}

#[derive(Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Box<RawValue>>,
    #[serde(default)]
    strict: Option<bool>,
    /// A `namespace` tool's members.
    #[serde(default)]
    tools: Option<Vec<Tool>>,
}

#[derive(Deserialize)]
struct Reasoning {
    #[serde(default)]
    effort: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct TextControls {
    #[serde(default)]
    format: Option<TextFormat>,
}

#[derive(Deserialize)]
struct TextFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Box<RawValue>>,
    #[serde(default)]
    strict: Option<bool>,
}

pub(crate) fn request(body: &[u8], ctx: &mut Ctx<'_>) -> Result<Built, TranslateError> {
    let req: ResponsesRequest = serde_json::from_slice(body).map_err(|e| ctx.bad(e.to_string()))?;
    if req.previous_response_id.is_some() || req.conversation.is_some() {
        return Err(ctx.refuse(
            "a conversation stored on OpenAI's servers (previous_response_id / conversation)",
        ));
    }
    if req.background == Some(true) {
        return Err(ctx.refuse("background responses"));
    }
    if req.prompt.is_some() {
        return Err(ctx.refuse("stored prompt templates (prompt)"));
    }
    let stream = req.stream.unwrap_or(false);
    let upstream_model = ctx.model_map.map(&req.model).into_owned();
    let mut chat = ChatRequest::new(upstream_model, stream);

    // Tools first: which ones are freeform decides how their calls read back.
    let mut custom_tools = Vec::new();
    let mut hosted = Vec::new();
    let mut tools = req.tools.unwrap_or_default();
    let mut input = req.input;
    if let Some(TextOr::Blocks(items)) = &mut input {
        for item in items.iter_mut() {
            if item.kind.as_deref() == Some("additional_tools") {
                tools.extend(item.tools.take().unwrap_or_default());
            }
        }
    }
    // A namespace's members are offered under their own names (the
    // `functions` namespace is the plain one; Codex's names are unique).
    let mut flat = Vec::with_capacity(tools.len());
    for tool in tools {
        if tool.kind == "namespace" {
            flat.extend(tool.tools.unwrap_or_default());
        } else {
            flat.push(tool);
        }
    }
    for tool in flat {
        match (tool.kind.as_str(), tool.name) {
            ("function", Some(name)) => chat.tools.push(ChatTool::function(
                name,
                tool.description,
                tool.parameters,
                tool.strict,
            )),
            ("custom", Some(name)) => {
                custom_tools.push(name.clone());
                chat.tools.push(ChatTool::function(
                    name,
                    tool.description,
                    Some(raw(FREEFORM_PARAMETERS)),
                    None,
                ));
            }
            (kind, _) => hosted.push(kind.to_owned()),
        }
    }
    chat.tool_choice = match req.tool_choice {
        None => None,
        Some(Value::String(s)) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Some(Value::String(s))
        }
        Some(Value::Object(choice)) => {
            let kind = choice
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = choice.get("name").and_then(Value::as_str);
            match (kind, name) {
                ("function" | "custom", Some(name)) => {
                    Some(json!({"type": "function", "function": {"name": name}}))
                }
                _ => return Err(ctx.refuse(format!("tool_choice {kind:?}"))),
            }
        }
        Some(other) => return Err(ctx.bad(format!("tool_choice {other} is not valid"))),
    };
    for kind in &hosted {
        // Codex offers web_search and tool_search on every turn; the model can do
        // without them. A request that has nothing else cannot.
        if chat.tools.is_empty() {
            return Err(ctx.refuse(format!(
                "the {kind} tool (OpenAI runs it on its own servers)"
            )));
        }
        ctx.note(format!(
            "dropped the hosted tool {kind} (the provider cannot run it)"
        ));
    }
    if chat.tools.is_empty() {
        chat.tool_choice = None;
    } else {
        chat.parallel_tool_calls = req.parallel_tool_calls;
    }

    let mut conv = Conversation::default();
    if let Some(instructions) = req.instructions {
        conv.system(instructions);
    }
    match input {
        None => {}
        Some(TextOr::Text(text)) => conv.user(vec![Part::Text { text }]),
        Some(TextOr::Blocks(items)) => {
            for item in items {
                input_item(item, &mut conv, ctx)?;
            }
        }
    }
    chat.messages = conv.finish();

    chat.max_tokens = ctx.max_tokens(req.max_output_tokens);
    chat.temperature = req.temperature;
    chat.top_p = req.top_p;
    if req.reasoning.is_some_and(|r| r.effort.is_some()) {
        ctx.note("dropped the reasoning effort (Chat providers each spell it differently)");
    }
    if let Some(format) = req.text.and_then(|t| t.format) {
        chat.response_format = match format.kind.as_str() {
            "text" => None,
            "json_object" => Some(json!({"type": "json_object"})),
            "json_schema" => Some(json!({"type": "json_schema", "json_schema": {
                "name": format.name.unwrap_or_else(|| "output".to_owned()),
                "schema": format.schema,
                "strict": format.strict.unwrap_or(false),
            }})),
            other => return Err(ctx.refuse(format!("the text format {other:?}"))),
        };
    }
    Ok(Built {
        chat,
        client_model: req.model,
        custom_tools,
    })
}

fn input_item(
    item: Item,
    conv: &mut Conversation,
    ctx: &mut Ctx<'_>,
) -> Result<(), TranslateError> {
    let kind = item.kind.as_deref().unwrap_or("message");
    match kind {
        "message" => {
            let role = item.role.as_deref().unwrap_or("user");
            let parts = content_parts(item.content, ctx)?;
            match role {
                "system" | "developer" => conv.system(join_text(parts)),
                "user" => conv.user(parts),
                "assistant" => conv.assistant_text(join_text(parts)),
                other => return Err(ctx.bad(format!("unknown message role {other:?}"))),
            }
        }
        "function_call" | "custom_tool_call" => {
            let call_id = item
                .call_id
                .ok_or_else(|| ctx.bad(format!("a {kind} item has no call_id")))?;
            let name = item
                .name
                .ok_or_else(|| ctx.bad(format!("a {kind} item has no name")))?;
            let arguments = if kind == "custom_tool_call" {
                json!({"input": item.input.unwrap_or_default()}).to_string()
            } else {
                item.arguments.unwrap_or_default()
            };
            conv.tool_call(call_id, name, arguments);
        }
        "function_call_output" | "custom_tool_call_output" => {
            let call_id = item
                .call_id
                .ok_or_else(|| ctx.bad(format!("a {kind} item has no call_id")))?;
            let parts = content_parts(item.output, ctx)?;
            let mut text = String::new();
            let mut images = Vec::new();
            for part in parts {
                match part {
                    Part::Text { text: t } => {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&t);
                    }
                    image @ Part::ImageUrl { .. } => images.push(image),
                }
            }
            conv.tool_result(call_id, text, images);
        }
        // The model's earlier reasoning: encrypted for OpenAI, or of no use to
        // another model.
        "reasoning" => {}
        // Its tools were read with the request's.
        "additional_tools" => {}
        "web_search_call"
        | "tool_search_call"
        | "tool_search_output"
        | "image_generation_call"
        | "file_search_call" => {
            ctx.note(format!(
                "dropped earlier {kind} items (hosted tools the provider cannot run)"
            ));
        }
        "compaction" | "compaction_summary" => {
            return Err(ctx.refuse(
                "an encrypted compaction item (OpenAI's servers summarised this conversation; start a new session)",
            ));
        }
        other => return Err(ctx.refuse(format!("{other} items"))),
    }
    Ok(())
}

fn content_parts(
    content: Option<TextOr<ContentPart>>,
    ctx: &Ctx<'_>,
) -> Result<Vec<Part>, TranslateError> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(TextOr::Text(text)) => return Ok(vec![Part::Text { text }]),
        Some(TextOr::Blocks(parts)) => parts,
    };
    parts
        .into_iter()
        .map(|p| match p.kind.as_str() {
            "input_text" | "output_text" | "text" | "refusal" | "summary_text" => Ok(Part::Text {
                text: p.text.or(p.refusal).unwrap_or_default(),
            }),
            "input_image" => match p.image_url {
                Some(url) => Ok(Part::ImageUrl {
                    image_url: ImageUrl { url },
                }),
                None => Err(ctx.refuse("images given by file id")),
            },
            "input_file" => Err(ctx.refuse("file inputs (input_file)")),
            other => Err(ctx.refuse(format!("{other} content"))),
        })
        .collect()
}

fn join_text(parts: Vec<Part>) -> String {
    let mut text = String::new();
    for part in parts {
        if let Part::Text { text: t } = part {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&t);
        }
    }
    text
}
