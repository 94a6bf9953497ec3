//! Reads an Anthropic Messages request (as Claude Code sends it: `system` blocks,
//! tools, `tool_use`/`tool_result`, images, thinking settings, mid-conversation
//! `system` messages) into a Chat Completions request.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use serde_json::value::RawValue;

use crate::translate::chat::{ChatRequest, ChatTool, Conversation, ImageUrl, Part};
use crate::translate::wire::{TextOr, data_url};
use crate::translate::{Built, Ctx, TranslateError};

#[derive(Deserialize)]
struct MessagesRequest {
    model: String,
    #[serde(default)]
    system: Option<TextOr<Block>>,
    messages: Vec<Message>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<IgnoredAny>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
    #[serde(default)]
    tool_choice: Option<ToolChoice>,
    #[serde(default)]
    thinking: Option<IgnoredAny>,
    #[serde(default)]
    output_config: Option<OutputConfig>,
    #[serde(default)]
    mcp_servers: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    container: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: TextOr<Block>,
}

/// Every content block type in one flat struct: cheap to read, and unknown types
/// keep their name for the error message.
#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Box<RawValue>>,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    content: Option<TextOr<Block>>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    tool_name: Option<String>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Box<RawValue>>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct ToolChoice {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
struct OutputConfig {
    #[serde(default)]
    effort: Option<IgnoredAny>,
    #[serde(default)]
    format: Option<OutputFormat>,
}

#[derive(Deserialize)]
struct OutputFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    schema: Option<Box<RawValue>>,
}

pub(crate) fn request(body: &[u8], ctx: &mut Ctx<'_>) -> Result<Built, TranslateError> {
    let req: MessagesRequest = serde_json::from_slice(body).map_err(|e| ctx.bad(e.to_string()))?;
    if req.mcp_servers.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(ctx.refuse("remote MCP servers (mcp_servers)"));
    }
    if req.container.is_some() {
        return Err(ctx.refuse("code-execution containers (container)"));
    }
    let stream = req.stream.unwrap_or(false);
    let upstream_model = ctx.model_map.map(&req.model).into_owned();
    let mut chat = ChatRequest::new(upstream_model, stream);
    let mut conv = Conversation::default();

    if let Some(system) = req.system {
        conv.system(system_text(system, ctx)?);
    }
    for message in req.messages {
        match message.role.as_str() {
            "user" => user_turn(message.content, &mut conv, ctx)?,
            "assistant" => assistant_turn(message.content, &mut conv, ctx)?,
            // Claude Code's per-turn instructions.
            "system" => conv.system(system_text(message.content, ctx)?),
            other => return Err(ctx.bad(format!("unknown message role {other:?}"))),
        }
    }
    chat.messages = conv.finish();

    let tools = req.tools.unwrap_or_default();
    let mut hosted = Vec::new();
    for tool in tools {
        match tool.kind.as_deref() {
            None | Some("custom") => chat.tools.push(ChatTool::function(
                tool.name,
                tool.description,
                tool.input_schema,
                tool.strict,
            )),
            Some(kind) => hosted.push((kind.to_owned(), tool.name)),
        }
    }
    let forced = req
        .tool_choice
        .as_ref()
        .and_then(|c| match c.kind.as_str() {
            "tool" => c.name.clone(),
            "any" if chat.tools.is_empty() && !hosted.is_empty() => Some(hosted[0].1.clone()),
            _ => None,
        });
    for (kind, name) in &hosted {
        // A request that only has server tools, or names one, cannot be answered
        // without it (Claude Code's WebSearch sends exactly such a request).
        if chat.tools.is_empty() || forced.as_deref() == Some(name) {
            return Err(ctx.refuse(format!(
                "the {kind} tool (Anthropic runs it on its own servers)"
            )));
        }
        ctx.note(format!(
            "dropped the server tool {kind} (the provider cannot run it)"
        ));
    }
    if let Some(choice) = req.tool_choice {
        chat.tool_choice = match choice.kind.as_str() {
            "auto" => Some(json!("auto")),
            "any" => Some(json!("required")),
            "none" => Some(json!("none")),
            "tool" => {
                let name = choice
                    .name
                    .ok_or_else(|| ctx.bad("tool_choice of type tool has no name"))?;
                Some(json!({"type": "function", "function": {"name": name}}))
            }
            other => return Err(ctx.bad(format!("unknown tool_choice type {other:?}"))),
        };
        if choice.disable_parallel_tool_use == Some(true) && !chat.tools.is_empty() {
            chat.parallel_tool_calls = Some(false);
        }
    }
    if chat.tools.is_empty() {
        chat.tool_choice = None;
    }

    chat.max_tokens = ctx.max_tokens(req.max_tokens);
    chat.temperature = req.temperature;
    chat.top_p = req.top_p;
    chat.stop = req.stop_sequences.unwrap_or_default();
    if req.top_k.is_some() {
        ctx.note("dropped top_k (Chat Completions has no such setting)");
    }
    if req.thinking.is_some() {
        ctx.note(
            "dropped the thinking settings (choose a reasoning model in the model map instead)",
        );
    }
    if let Some(config) = req.output_config {
        if config.effort.is_some() {
            ctx.note("dropped the effort setting (Chat providers each spell it differently)");
        }
        if let Some(format) = config.format {
            chat.response_format = match (format.kind.as_str(), format.schema) {
                ("json_schema", Some(schema)) => Some(json!({
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": schema, "strict": true},
                })),
                (other, _) => {
                    return Err(ctx.refuse(format!("the output format {other:?}")));
                }
            };
        }
    }
    Ok(Built {
        chat,
        client_model: req.model,
        custom_tools: Vec::new(),
    })
}

/// System text: a string, or text blocks joined by blank lines (their
/// `cache_control` marks mean nothing to a Chat provider).
fn system_text(system: TextOr<Block>, ctx: &Ctx<'_>) -> Result<String, TranslateError> {
    match system {
        TextOr::Text(t) => Ok(t),
        TextOr::Blocks(blocks) => {
            let mut text = String::new();
            for b in blocks {
                if b.kind != "text" {
                    return Err(ctx.refuse(format!("{} blocks in a system prompt", b.kind)));
                }
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(b.text.as_deref().unwrap_or_default());
            }
            Ok(text)
        }
    }
}

fn user_turn(
    content: TextOr<Block>,
    conv: &mut Conversation,
    ctx: &mut Ctx<'_>,
) -> Result<(), TranslateError> {
    let blocks = match content {
        TextOr::Text(t) => {
            conv.user(vec![Part::Text { text: t }]);
            return Ok(());
        }
        TextOr::Blocks(b) => b,
    };
    let mut parts = Vec::new();
    for block in blocks {
        match block.kind.as_str() {
            "tool_result" => {
                let call_id = block
                    .tool_use_id
                    .ok_or_else(|| ctx.bad("a tool_result block has no tool_use_id"))?;
                let (mut text, images) = tool_result_content(block.content, ctx)?;
                if block.is_error == Some(true) {
                    text.insert_str(0, "Error: ");
                }
                conv.tool_result(call_id, text, images);
            }
            _ => parts.push(content_part(block, ctx)?),
        }
    }
    conv.user(parts);
    Ok(())
}

fn assistant_turn(
    content: TextOr<Block>,
    conv: &mut Conversation,
    ctx: &mut Ctx<'_>,
) -> Result<(), TranslateError> {
    let blocks = match content {
        TextOr::Text(t) => {
            conv.assistant_text(t);
            return Ok(());
        }
        TextOr::Blocks(b) => b,
    };
    for block in blocks {
        match block.kind.as_str() {
            "text" => conv.assistant_text(block.text.unwrap_or_default()),
            "tool_use" => {
                let id = block
                    .id
                    .ok_or_else(|| ctx.bad("a tool_use block has no id"))?;
                let name = block
                    .name
                    .ok_or_else(|| ctx.bad("a tool_use block has no name"))?;
                let arguments = block
                    .input
                    .map(|raw| raw.get().to_owned())
                    .unwrap_or_else(|| "{}".to_owned());
                conv.tool_call(id, name, arguments);
            }
            // Reasoning is the model's own and signed for Anthropic only.
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(ctx.refuse(format!("{other} blocks in the conversation")));
            }
        }
    }
    Ok(())
}

/// A user-side block other than a tool result.
fn content_part(block: Block, ctx: &Ctx<'_>) -> Result<Part, TranslateError> {
    match block.kind.as_str() {
        "text" => Ok(Part::Text {
            text: block.text.unwrap_or_default(),
        }),
        "image" => Ok(Part::ImageUrl {
            image_url: ImageUrl {
                url: image_url(block.source, ctx)?,
            },
        }),
        "document" => match block.source {
            Some(Source {
                kind,
                data: Some(data),
                ..
            }) if kind == "text" => Ok(Part::Text { text: data }),
            _ => Err(ctx.refuse("PDF and file documents")),
        },
        other => Err(ctx.refuse(format!("{other} content blocks"))),
    }
}

fn image_url(source: Option<Source>, ctx: &Ctx<'_>) -> Result<String, TranslateError> {
    let source = source.ok_or_else(|| ctx.bad("an image block has no source"))?;
    match (source.kind.as_str(), source.data, source.url) {
        ("base64", Some(data), _) => Ok(data_url(
            source.media_type.as_deref().unwrap_or("image/png"),
            &data,
        )),
        ("url", _, Some(url)) => Ok(url),
        (kind, _, _) => Err(ctx.refuse(format!("images given by {kind} source"))),
    }
}

/// A tool result's text and images. `tool_reference` blocks (tools loaded by
/// Claude Code's tool search) become a line of text: every tool is already sent.
fn tool_result_content(
    content: Option<TextOr<Block>>,
    ctx: &Ctx<'_>,
) -> Result<(String, Vec<Part>), TranslateError> {
    let blocks = match content {
        None => return Ok((String::new(), Vec::new())),
        Some(TextOr::Text(t)) => return Ok((t, Vec::new())),
        Some(TextOr::Blocks(b)) => b,
    };
    let mut text = String::new();
    let mut images = Vec::new();
    let line = |text: &mut String, s: &str| {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(s);
    };
    for block in blocks {
        match block.kind.as_str() {
            "text" => line(&mut text, block.text.as_deref().unwrap_or_default()),
            "image" => images.push(Part::ImageUrl {
                image_url: ImageUrl {
                    url: image_url(block.source, ctx)?,
                },
            }),
            "tool_reference" => line(
                &mut text,
                &format!(
                    "Tool {} is available.",
                    block.tool_name.as_deref().unwrap_or("(unnamed)")
                ),
            ),
            "document" => match content_part(block, ctx)? {
                Part::Text { text: t } => line(&mut text, &t),
                Part::ImageUrl { .. } => {}
            },
            other => return Err(ctx.refuse(format!("{other} blocks in a tool result"))),
        }
    }
    Ok((text, images))
}
