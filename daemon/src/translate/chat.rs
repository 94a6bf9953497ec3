//! OpenAI Chat Completions on the wire: the request we build (every client format
//! is translated into it), the response and stream chunks we read back, and the
//! ordering rules a conversation must follow there.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// A Chat Completions request body.
#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ChatTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

impl ChatRequest {
    pub(crate) fn new(model: String, stream: bool) -> Self {
        ChatRequest {
            model,
            messages: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            max_tokens: None,
            temperature: None,
            top_p: None,
            stop: Vec::new(),
            response_format: None,
            stream,
            // Without it OpenAI sends no usage on a stream.
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatMessage {
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// Message content: plain text where possible (every server takes it), parts when
/// there is an image.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Serialize)]
pub(crate) struct ImageUrl {
    pub url: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall,
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatTool {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionDef,
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionDef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl ChatTool {
    pub(crate) fn function(
        name: String,
        description: Option<String>,
        parameters: Option<Box<RawValue>>,
        strict: Option<bool>,
    ) -> Self {
        ChatTool {
            kind: "function",
            function: FunctionDef {
                name,
                description,
                parameters: parameters.unwrap_or_else(empty_object_schema),
                strict: strict.filter(|s| *s),
            },
        }
    }
}

pub(crate) fn empty_object_schema() -> Box<RawValue> {
    raw(r#"{"type":"object","properties":{}}"#)
}

/// A RawValue from JSON text we wrote ourselves.
pub(crate) fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned())
        .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).unwrap_or_default())
}

/// Builds `messages` while keeping the rules Chat Completions servers enforce: the
/// tool calls of one assistant turn sit in one message, and its tool results follow
/// it directly. Images returned by tools (which a `tool` message cannot carry) go
/// in a user message right after the results.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    pub messages: Vec<ChatMessage>,
    tool_images: Vec<Part>,
}

impl Conversation {
    /// System text. Leading system text becomes one system message; system text
    /// later in the conversation (Claude Code's per-turn instructions, Codex's
    /// permission updates) joins the user's turn in `<system-reminder>` tags, as
    /// many chat templates of local servers refuse a system message anywhere
    /// but first.
    pub(crate) fn system(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        match self.messages.last_mut() {
            None => self
                .messages
                .push(message(Role::System, Some(Content::Text(text)))),
            Some(ChatMessage {
                role: Role::System,
                content: Some(Content::Text(t)),
                ..
            }) => {
                t.push_str("\n\n");
                t.push_str(&text);
            }
            Some(_) => self.user(vec![Part::Text {
                text: format!("<system-reminder>\n{text}\n</system-reminder>"),
            }]),
        }
    }

    /// A user turn; text-only parts collapse into one string.
    pub(crate) fn user(&mut self, mut parts: Vec<Part>) {
        if !self.tool_images.is_empty() {
            // The tools' images open the user's next turn.
            let mut all = self.take_tool_images();
            all.append(&mut parts);
            parts = all;
        }
        if parts.is_empty() {
            return;
        }
        // Consecutive user text (a turn and the instructions that follow it) is
        // one message: some chat templates insist that roles alternate.
        if let Some(ChatMessage {
            role: Role::User,
            content: Some(last),
            ..
        }) = self.messages.last_mut()
        {
            let mut merged = match std::mem::replace(last, Content::Text(String::new())) {
                Content::Text(t) => vec![Part::Text { text: t }],
                Content::Parts(p) => p,
            };
            merged.append(&mut parts);
            *last = content(merged);
            return;
        }
        self.messages
            .push(message(Role::User, Some(content(parts))));
    }

    /// Assistant text; text and tool calls of one turn share one message.
    pub(crate) fn assistant_text(&mut self, text: String) {
        self.flush_tool_images();
        if text.is_empty() {
            return;
        }
        match self.open_assistant() {
            Some(last) => match &mut last.content {
                Some(Content::Text(t)) => t.push_str(&text),
                _ => last.content = Some(Content::Text(text)),
            },
            None => self
                .messages
                .push(message(Role::Assistant, Some(Content::Text(text)))),
        }
    }

    pub(crate) fn tool_call(&mut self, id: String, name: String, arguments: String) {
        self.flush_tool_images();
        let call = ToolCall {
            id,
            kind: "function",
            function: FunctionCall { name, arguments },
        };
        match self.open_assistant() {
            Some(last) => last.tool_calls.push(call),
            None => {
                let mut m = message(Role::Assistant, None);
                m.tool_calls.push(call);
                self.messages.push(m);
            }
        }
    }

    pub(crate) fn tool_result(&mut self, call_id: String, mut text: String, images: Vec<Part>) {
        if text.is_empty() && !images.is_empty() {
            text.push_str("(the tool returned images; they follow in the next message)");
        }
        self.tool_images.extend(images);
        let mut m = message(Role::Tool, Some(Content::Text(text)));
        m.tool_call_id = Some(call_id);
        self.messages.push(m);
    }

    pub(crate) fn finish(mut self) -> Vec<ChatMessage> {
        self.flush_tool_images();
        self.messages
    }

    /// The last message if it is an assistant turn nothing has answered yet.
    fn open_assistant(&mut self) -> Option<&mut ChatMessage> {
        self.messages
            .last_mut()
            .filter(|m| m.role == Role::Assistant)
    }

    fn flush_tool_images(&mut self) {
        if !self.tool_images.is_empty() {
            let parts = self.take_tool_images();
            self.messages
                .push(message(Role::User, Some(Content::Parts(parts))));
        }
    }

    fn take_tool_images(&mut self) -> Vec<Part> {
        let mut parts = vec![Part::Text {
            text: "(images returned by the tool calls above)".to_owned(),
        }];
        parts.append(&mut self.tool_images);
        parts
    }
}

fn message(role: Role, content: Option<Content>) -> ChatMessage {
    ChatMessage {
        role,
        content,
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

fn content(parts: Vec<Part>) -> Content {
    if parts.iter().all(|p| matches!(p, Part::Text { .. })) {
        let mut text = String::new();
        for p in parts {
            if let Part::Text { text: t } = p {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&t);
            }
        }
        Content::Text(text)
    } else {
        Content::Parts(parts)
    }
}

/// A whole (non-streamed) Chat Completions response.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatResponse {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created: Option<Value>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub message: Option<ResponseMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResponseMessage {
    /// A string, or (some servers) a list of text parts.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ResponseToolCall>>,
}

impl ResponseMessage {
    pub(crate) fn text(&self) -> String {
        let mut text = match &self.content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
            _ => String::new(),
        };
        if let Some(r) = &self.refusal {
            text.push_str(r);
        }
        text
    }

    pub(crate) fn reasoning(&self) -> Option<&str> {
        self.reasoning_content
            .as_deref()
            .or(self.reasoning.as_deref())
            .filter(|r| !r.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResponseToolCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<ResponseFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResponseFunction {
    #[serde(default)]
    pub name: Option<String>,
    /// A JSON string as OpenAI sends it; some servers send the object itself.
    #[serde(default)]
    pub arguments: Option<Value>,
}

/// Arguments as the JSON text Chat Completions promises, whatever the server sent.
pub(crate) fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Why generation stopped, in Chat Completions terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl Finish {
    pub(crate) fn parse(reason: &str) -> Finish {
        match reason {
            "length" | "max_tokens" => Finish::Length,
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "content_filter" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }
}

/// One streamed chunk, borrowing its strings from the event where it can. The
/// fields read only now and then (`created` on the first chunk, `usage` on the
/// last, `error`) stay raw text until needed: this parse runs once per token.
#[derive(Debug, Deserialize)]
pub(crate) struct Chunk<'a> {
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub created: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default, borrow)]
    pub usage: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
}

/// A raw field parsed now that it is needed; JSON `null` is `None`.
pub(crate) fn parse_raw(raw: Option<&RawValue>) -> Option<Value> {
    serde_json::from_str::<Value>(raw?.get())
        .ok()
        .filter(|v| !v.is_null())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChunkChoice<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Delta<'a> {
    #[serde(default, borrow)]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCallDelta<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub function: Option<FunctionDelta<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    /// A string fragment as OpenAI sends it; some servers send the whole object.
    #[serde(default, borrow)]
    pub arguments: Option<&'a RawValue>,
}

impl FunctionDelta<'_> {
    /// The arguments fragment as text.
    pub(crate) fn arguments_text(&self) -> Cow<'_, str> {
        let Some(raw) = self.arguments else {
            return Cow::Borrowed("");
        };
        let text = raw.get();
        if text.starts_with('"') {
            serde_json::from_str::<Cow<'_, str>>(text).unwrap_or(Cow::Borrowed(""))
        } else if text == "null" {
            Cow::Borrowed("")
        } else {
            Cow::Borrowed(text)
        }
    }
}
