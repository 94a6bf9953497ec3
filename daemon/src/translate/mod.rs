//! Translation between API formats, so a CLI can use a provider that speaks another
//! API than its own: Claude Code (Anthropic Messages), Codex (OpenAI Responses) and
//! Gemini CLI (Gemini `generateContent`, API-key mode) on any OpenAI Chat
//! Completions provider.
//!
//! Chat Completions is the pivot: each client format has a request reader that
//! builds a [`chat::ChatRequest`], and a response writer (whole JSON, and a
//! streaming [`Encoder`](stream::Encoder)) fed from what the Chat upstream answers.
//! A provider of the client's own format is not translated at all (the worker
//! passes bytes through); [`rewrite_body_model`] (or, for Gemini, whose model is
//! in the path, [`rewrite_path_model`]) applies its model map.
//!
//! How the worker uses it, without buffering responses:
//! 1. [`translate_request`] with the client's path and (already held) body →
//!    [`Translated`]: the path to append to the provider's base URL, the body, and
//!    the [`ResponseTranslator`] for what comes back — or a [`TranslateError`]
//!    whose [`client_body`](TranslateError::client_body) the client gets.
//! 2. Send with `content-type: application/json`, `accept-encoding: identity` (the
//!    response must be readable), `accept: text/event-stream` when
//!    [`Translated::stream`]; drop the client's format-specific headers
//!    ([`CLIENT_FORMAT_HEADERS`]) and `content-length`.
//! 3. A non-2xx answer: [`ResponseTranslator::error`]. A 2xx stream:
//!    [`ResponseTranslator::stream`] then `feed` each body chunk and `finish` (or
//!    `abort`) at its end; if a streamed request gets a JSON body instead,
//!    [`StreamTranslator::whole`]. A 2xx JSON body: [`ResponseTranslator::body`].
//!
//! # What is translated, dropped with a note, or refused
//!
//! The rule: a request is refused (400 in the client's own error shape, the
//! feature named) when the answer depends on something the Chat provider cannot
//! do; a setting the model can do without is dropped and named in
//! [`Translated::notes`] for the request record.
//!
//! | | Anthropic (Claude Code) | Responses (Codex) | Gemini (Gemini CLI) |
//! |---|---|---|---|
//! | system prompt | `system` blocks joined; mid-conversation `system` messages kept in place | `instructions`, `system`/`developer` messages | `systemInstruction` |
//! | turns, images | text, base64/URL images | `input_text`, `input_image` | `text`, `inlineData` images, https `fileData` |
//! | tools | custom tools → functions (`defer_loading` ignored: all are sent) | `function`; freeform `custom` tools → a function taking `{"input": string}`, read back as `custom_tool_call`; the tools of an `additional_tools` input item (Codex 0.171's "lite" requests), namespaces flattened to their members' names | `functionDeclarations` (`parametersJsonSchema`, or Gemini's capitalised schema lower-cased) |
//! | tool calls and results | `tool_use`/`tool_result` (errors prefixed `Error:`; images in results follow as a user message; `tool_reference` → a line of text) | `function_call(_output)`, `custom_tool_call(_output)` | `functionCall`/`functionResponse`, paired by id or, without ids, by name and order |
//! | tool choice | auto/any/tool/none, `disable_parallel_tool_use` | auto/none/required/function | AUTO/ANY/NONE, one allowed name |
//! | limits, sampling | `max_tokens` (capped by [`RequestIn::max_output_tokens`]), temperature, top_p, stop | `max_output_tokens`, temperature, top_p | `maxOutputTokens`, temperature, topP, stopSequences |
//! | structured output | `output_config.format` json_schema | `text.format` json_schema / json_object | `responseMimeType` + schema |
//! | dropped, noted | `thinking`, `output_config.effort`, `top_k`, server tools beside function tools | `reasoning.effort`, hosted tools (web_search, tool_search, …) beside function tools, earlier hosted-tool items | `thinkingConfig`, `topK`, googleSearch/codeExecution/urlContext beside functions |
//! | dropped silently | `cache_control`, `metadata`, `context_management`, thinking blocks in history | `store`, `include`, `prompt_cache_key`, `client_metadata`, `text.verbosity`, reasoning items in history | `safetySettings`, thoughts in history |
//! | refused | only server tools / a forced one, PDF documents, `mcp_servers`, `container`, server-tool blocks in history, `count_tokens` and other endpoints | only hosted tools / a forced one, `previous_response_id`/`conversation`, `background`, stored `prompt`, encrypted `compaction` items, `input_file`, unknown item types, `/responses/compact` | `cachedContent`, `candidateCount` > 1, non-image inline data, Google-stored files, code execution parts, `streamGenerateContent` without `alt=sse`, Code Assist paths |
//!
//! Answers go back with the model name the client asked for, reasoning as
//! thinking blocks / reasoning summaries / thought parts, stop reasons mapped
//! (length → `max_tokens` / `response.incomplete` / `MAX_TOKENS`), usage in each
//! client's shape, and errors in each client's error shape (a context-length
//! error reads "prompt is too long" for Claude Code and carries
//! `context_length_exceeded` for Codex). Tool-call arguments that are not JSON
//! reach the client as the text they are (Anthropic `input` as a string, Gemini
//! `args` as `{"_raw": …}`), so the client tells the model.

mod anthropic;
mod chat;
mod error;
mod format;
mod gemini;
mod model_map;
mod responses;
mod sse;
mod stream;
mod usage;
mod wire;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

pub use error::TranslateError;
pub use format::{Format, UnknownFormat};
pub use model_map::{
    ModelMap, ModelMapError, ModelRule, RewriteError, rewrite_body_model, rewrite_path_model,
};
pub use stream::{StreamOutcome, StreamTranslator};
pub use usage::Usage;

use chat::ChatRequest;
use error::ClientError;
use format::Endpoint;

/// Request headers that belong to the client's API and must not reach a provider
/// of another format (lower case).
pub const CLIENT_FORMAT_HEADERS: &[&str] = &[
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "openai-beta",
    "x-goog-api-client",
    "content-length",
    "accept-encoding",
];

/// A note about something the translation left out because the upstream cannot
/// carry it and the request does not depend on it (see the module docs).
pub type Note = Cow<'static, str>;

/// One request to translate.
#[derive(Debug, Clone, Copy)]
pub struct RequestIn<'a> {
    /// What the client speaks (its app's format).
    pub client: Format,
    /// What the provider speaks.
    pub upstream: Format,
    /// The client's request path with its query, as received.
    pub path: &'a str,
    pub body: &'a [u8],
    pub model_map: &'a ModelMap,
    /// The provider's output limit, if it has one below what clients ask for
    /// (Claude Code asks for up to 128,000 tokens; many models allow 8,192).
    pub max_output_tokens: Option<u64>,
}

/// A translated request, ready to send.
#[derive(Debug)]
pub struct Translated {
    /// Appended to the provider's base URL (`/chat/completions`).
    pub path: String,
    pub body: Vec<u8>,
    /// The client asked for a stream (and so does the upstream request).
    pub stream: bool,
    /// The model the client asked for.
    pub client_model: String,
    /// The model the upstream is asked for, after the provider's model map.
    pub upstream_model: String,
    /// What was left out, for the request record and the log.
    pub notes: Vec<Note>,
    pub response: ResponseTranslator,
}

/// True when a provider of `upstream` format needs translation for a client of
/// `client` format (else the request passes through untouched).
pub fn needs_translation(client: Format, upstream: Format) -> bool {
    client != upstream
}

/// True when a client of format `client` can use a provider of format `upstream`:
/// the same format (passed through) or a pair [`translate_request`] translates.
pub fn can_serve(client: Format, upstream: Format) -> bool {
    client == upstream
        || (upstream == Format::OpenaiChat
            && matches!(
                client,
                Format::Anthropic | Format::OpenaiResponses | Format::Gemini
            ))
}

/// Translates a client's request for a provider of another format.
pub fn translate_request(req: RequestIn<'_>) -> Result<Translated, TranslateError> {
    if req.client == req.upstream || !can_serve(req.client, req.upstream) {
        return Err(TranslateError::UnsupportedPair {
            client: req.client,
            upstream: req.upstream,
        });
    }
    let Endpoint::Generate {
        path_model,
        path_stream,
    } = format::endpoint(req.client, req.path)
    else {
        return Err(TranslateError::UnsupportedEndpoint {
            upstream: req.upstream,
            path: req.path.split('?').next().unwrap_or_default().to_owned(),
        });
    };
    let mut ctx = Ctx {
        client: req.client,
        upstream: req.upstream,
        model_map: req.model_map,
        max_output_tokens: req.max_output_tokens,
        notes: Vec::new(),
    };
    let built = match req.client {
        Format::Anthropic => anthropic::request(req.body, &mut ctx)?,
        Format::OpenaiResponses => responses::request(req.body, &mut ctx)?,
        Format::Gemini => {
            let model = path_model.unwrap_or_default();
            if path_stream && format::query_param(req.path, "alt") != Some("sse") {
                return Err(ctx.refuse(
                    "streamGenerateContent without alt=sse (only event streams are translated)",
                ));
            }
            gemini::request(req.body, &model, path_stream, &mut ctx)?
        }
        Format::OpenaiChat => {
            return Err(TranslateError::UnsupportedPair {
                client: req.client,
                upstream: req.upstream,
            });
        }
    };
    let body = serde_json::to_vec(&built.chat).map_err(|e| TranslateError::BadRequest {
        client: req.client,
        reason: e.to_string(),
    })?;
    let stream = built.chat.stream;
    Ok(Translated {
        path: format::upstream_path(req.upstream, &built.chat.model, stream),
        body,
        stream,
        upstream_model: built.chat.model,
        notes: ctx.notes,
        response: ResponseTranslator {
            client: req.client,
            stream,
            client_model: built.client_model.clone(),
            custom_tools: built.custom_tools,
        },
        client_model: built.client_model,
    })
}

/// What a client-format reader hands back.
pub(crate) struct Built {
    pub chat: ChatRequest,
    pub client_model: String,
    /// Codex freeform tools sent as one-string-argument functions; their calls go
    /// back as `custom_tool_call` items.
    pub custom_tools: Vec<String>,
}

/// Shared by the request readers.
pub(crate) struct Ctx<'a> {
    pub client: Format,
    pub upstream: Format,
    pub model_map: &'a ModelMap,
    pub max_output_tokens: Option<u64>,
    pub notes: Vec<Note>,
}

impl Ctx<'_> {
    pub(crate) fn bad(&self, reason: impl Into<String>) -> TranslateError {
        TranslateError::BadRequest {
            client: self.client,
            reason: reason.into(),
        }
    }

    pub(crate) fn refuse(&self, feature: impl Into<String>) -> TranslateError {
        TranslateError::unsupported(self.upstream, feature)
    }

    pub(crate) fn note(&mut self, note: impl Into<Note>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    pub(crate) fn max_tokens(&self, asked: Option<u64>) -> Option<u64> {
        match (asked, self.max_output_tokens) {
            (Some(a), Some(cap)) => Some(a.min(cap)),
            (a, _) => a,
        }
    }
}

/// Turns the upstream's answer to one translated request into the client's.
#[derive(Debug, Clone)]
pub struct ResponseTranslator {
    client: Format,
    stream: bool,
    client_model: String,
    custom_tools: Vec<String>,
}

/// A whole translated response body.
#[derive(Debug)]
pub struct TranslatedBody {
    /// 200, or 502 when the upstream's body could not be read (the body then says so).
    pub status: u16,
    pub body: Vec<u8>,
    pub usage: Usage,
}

impl ResponseTranslator {
    /// The client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// The content type of a successful response to the client.
    pub fn content_type(&self) -> &'static str {
        if self.stream {
            "text/event-stream"
        } else {
            "application/json"
        }
    }

    /// A streaming translator for a 2xx event-stream answer.
    pub fn stream(&self) -> StreamTranslator {
        let encoder: Box<dyn stream::Encoder> = match self.client {
            Format::Anthropic => Box::new(anthropic::StreamEncoder::new(self.client_model.clone())),
            Format::Gemini => Box::new(gemini::StreamEncoder::new(self.client_model.clone())),
            _ => Box::new(responses::StreamEncoder::new(
                self.client_model.clone(),
                self.custom_tools.clone(),
            )),
        };
        StreamTranslator::new(encoder)
    }

    /// Translates a whole 2xx JSON answer.
    pub fn body(&self, upstream: &[u8]) -> TranslatedBody {
        let parsed: Result<chat::ChatResponse, _> = serde_json::from_slice(upstream);
        let response = match parsed {
            Ok(r) if !r.choices.is_empty() => r,
            other => {
                let why = match other {
                    Err(e) => format!("the provider's response is not valid JSON ({e})"),
                    Ok(_) => "the provider's response has no choices".to_owned(),
                };
                return TranslatedBody {
                    status: 502,
                    body: ClientError::new(502, why, None).body(self.client),
                    usage: Usage::default(),
                };
            }
        };
        let usage = response
            .usage
            .as_ref()
            .map(usage::Usage::from_chat)
            .unwrap_or_default();
        let body = match self.client {
            Format::Anthropic => anthropic::response(&response, &self.client_model, &usage),
            Format::Gemini => gemini::response(&response, &self.client_model, &usage),
            _ => responses::response(&response, &self.client_model, &self.custom_tools, &usage),
        };
        TranslatedBody {
            status: 200,
            body,
            usage,
        }
    }

    /// The client-shaped body for an upstream error answer (keep the status).
    pub fn error(&self, status: u16, upstream: &[u8]) -> Vec<u8> {
        ClientError::from_upstream(status, upstream).body(self.client)
    }
}

/// A fresh id with `prefix`, unique within this process (time plus a counter).
pub(crate) fn fresh_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    format!("{prefix}{t:x}{n:04x}")
}

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
