//! The streaming response translator: Chat Completions SSE bytes in, split
//! anywhere, the client's own SSE events out as soon as each upstream event is
//! whole. Only the chunk JSON is parsed; nothing is held back but the tool-call
//! state the client format needs.

use bytes::BytesMut;

use super::chat::{ChatResponse, Chunk, Finish, arguments_text, parse_raw};
use super::error::ClientError;
use super::sse::{MAX_EVENT_BYTES, SseDecoder, TooLarge};
use super::usage::Usage;

/// What a client-format encoder does with the upstream's events. Calls arrive in
/// stream order; `start` comes first, exactly once, then one of `end` or `fail` last.
pub(crate) trait Encoder: Send {
    /// `id` is the upstream's response id (may be empty), `created` its Unix time.
    fn start(&mut self, out: &mut BytesMut, id: &str, created: Option<u64>);
    fn text(&mut self, out: &mut BytesMut, text: &str);
    fn reasoning(&mut self, out: &mut BytesMut, text: &str);
    /// A tool call begins; `slot` numbers tool calls in the order they began.
    fn tool_start(&mut self, out: &mut BytesMut, slot: usize, id: &str, name: &str);
    fn tool_args(&mut self, out: &mut BytesMut, slot: usize, fragment: &str);
    /// The upstream said why it stopped; usage may still follow.
    fn finish(&mut self, out: &mut BytesMut, reason: Finish);
    /// The response is complete.
    fn end(&mut self, out: &mut BytesMut, usage: &Usage);
    /// The stream broke; tell the client in its own error shape and end cleanly.
    fn fail(&mut self, out: &mut BytesMut, error: &ClientError);
}

/// How a translated stream ended, for the request record and the breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Still running.
    Open,
    /// The upstream finished the response.
    Completed,
    /// The upstream sent an error, garbage, or stopped early; the client was told.
    Failed(String),
}

/// Translates one streamed response. Feed it the upstream body as it arrives;
/// call [`StreamTranslator::finish`] when the body ends, however it ends.
pub struct StreamTranslator {
    sse: SseDecoder,
    state: State,
}

struct State {
    encoder: Box<dyn Encoder>,
    started: bool,
    tools: Vec<ToolSlot>,
    finished: Option<Finish>,
    usage: Usage,
    outcome: StreamOutcome,
}

/// A tool call the upstream has begun: held until its name is known.
#[derive(Debug)]
struct ToolSlot {
    upstream_index: Option<u64>,
    id: Option<String>,
    name: Option<String>,
    started: bool,
    pending: String,
}

impl StreamTranslator {
    pub(crate) fn new(encoder: Box<dyn Encoder>) -> Self {
        StreamTranslator {
            sse: SseDecoder::default(),
            state: State {
                encoder,
                started: false,
                tools: Vec::new(),
                finished: None,
                usage: Usage::default(),
                outcome: StreamOutcome::Open,
            },
        }
    }

    /// Consumes upstream bytes, appending whatever client events they complete.
    pub fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if self.state.outcome != StreamOutcome::Open {
            return;
        }
        let state = &mut self.state;
        let result = self
            .sse
            .feed(chunk, &mut |_, data| state.on_event(data, out));
        if let Err(TooLarge) = result {
            self.state.fail(
                out,
                502,
                format!("the provider sent a stream event larger than {MAX_EVENT_BYTES} bytes"),
            );
        }
    }

    /// The upstream body ended (or broke off). A response that was not complete
    /// ends with an error event in the client's format.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.state.outcome != StreamOutcome::Open {
            return;
        }
        let state = &mut self.state;
        self.sse.finish(&mut |_, data| state.on_event(data, out));
        if self.state.outcome != StreamOutcome::Open {
            return;
        }
        if self.state.finished.is_some() {
            // Finished without `[DONE]`: plenty of servers just close.
            self.state.complete(out);
        } else {
            self.state.fail(
                out,
                502,
                "the provider's stream ended before the response was complete".to_owned(),
            );
        }
    }

    /// The upstream answered the streamed request with one whole JSON response
    /// (some servers ignore `stream`): it goes to the client as its stream.
    pub fn whole(&mut self, body: &[u8], out: &mut BytesMut) {
        if self.state.outcome != StreamOutcome::Open {
            return;
        }
        let response: ChatResponse = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("the provider's response is not valid JSON ({e})");
                return self.state.fail(out, 502, message);
            }
        };
        let Some(choice) = response.choices.first() else {
            let message = "the provider's response has no choices".to_owned();
            return self.state.fail(out, 502, message);
        };
        let state = &mut self.state;
        state.ensure_started(
            out,
            response.id.as_deref().unwrap_or_default(),
            response.created.as_ref(),
        );
        if let Some(usage) = response.usage.as_ref().filter(|u| u.is_object()) {
            state.usage = Usage::from_chat(usage);
        }
        if let Some(message) = &choice.message {
            if let Some(reasoning) = message.reasoning() {
                state.encoder.reasoning(out, reasoning);
            }
            let text = message.text();
            if !text.is_empty() {
                state.encoder.text(out, &text);
            }
            for (i, call) in message.tool_calls.iter().flatten().enumerate() {
                let function = call.function.as_ref();
                let name = function.and_then(|f| f.name.as_deref());
                let args = arguments_text(function.and_then(|f| f.arguments.as_ref()));
                if let Err(message) =
                    state.tool_delta(out, Some(i as u64), call.id.as_deref(), name, &args)
                {
                    return state.fail(out, 502, message);
                }
            }
        }
        state.start_pending_tools(out);
        let finish = Finish::parse(choice.finish_reason.as_deref().unwrap_or("stop"));
        state.finished = Some(finish);
        state.encoder.finish(out, finish);
        state.complete(out);
    }

    /// The upstream body failed (reset, timeout): end the client's stream with an
    /// error event naming `reason`.
    pub fn abort(&mut self, reason: &str, out: &mut BytesMut) {
        if self.state.outcome == StreamOutcome::Open {
            self.state.fail(
                out,
                502,
                format!("the provider's stream broke off: {reason}"),
            );
        }
    }

    /// Tokens the upstream reported so far.
    pub fn usage(&self) -> Usage {
        self.state.usage
    }

    pub fn outcome(&self) -> &StreamOutcome {
        &self.state.outcome
    }
}

impl State {
    /// Handles one upstream event; false stops decoding (the stream is over).
    fn on_event(&mut self, data: &[u8], out: &mut BytesMut) -> bool {
        if data.trim_ascii() == b"[DONE]" {
            self.complete(out);
            return false;
        }
        let chunk: Chunk<'_> = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(e) => {
                self.fail(
                    out,
                    502,
                    format!("the provider sent a malformed stream event ({e})"),
                );
                return false;
            }
        };
        if let Some(error) = parse_raw(chunk.error) {
            let body = serde_json::json!({ "error": error }).to_string();
            let status = error
                .get("code")
                .and_then(serde_json::Value::as_u64)
                .filter(|c| (400..600).contains(c))
                .unwrap_or(502) as u16;
            let e = ClientError::from_upstream(status, body.as_bytes());
            self.fail_with(out, e);
            return false;
        }
        if !self.started {
            let created = parse_raw(chunk.created);
            self.ensure_started(
                out,
                chunk.id.as_deref().unwrap_or_default(),
                created.as_ref(),
            );
        }
        if let Some(usage) = parse_raw(chunk.usage).filter(|u| u.is_object()) {
            self.usage = Usage::from_chat(&usage);
        }
        for choice in chunk.choices.iter().flatten() {
            if choice.index.is_some_and(|i| i != 0) {
                continue;
            }
            if let Some(delta) = &choice.delta {
                let reasoning = delta
                    .reasoning_content
                    .as_deref()
                    .or(delta.reasoning.as_deref());
                if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                    self.encoder.reasoning(out, r);
                }
                for text in [&delta.content, &delta.refusal].into_iter().flatten() {
                    if !text.is_empty() {
                        self.encoder.text(out, text);
                    }
                }
                for call in delta.tool_calls.iter().flatten() {
                    let name = call.function.as_ref().and_then(|f| f.name.as_deref());
                    let args = call
                        .function
                        .as_ref()
                        .map(|f| f.arguments_text())
                        .unwrap_or_default();
                    if let Err(message) =
                        self.tool_delta(out, call.index, call.id.as_deref(), name, &args)
                    {
                        self.fail(out, 502, message);
                        return false;
                    }
                }
            }
            if let Some(reason) = choice.finish_reason.as_deref() {
                self.start_pending_tools(out);
                let finish = Finish::parse(reason);
                self.finished = Some(finish);
                self.encoder.finish(out, finish);
            }
        }
        true
    }

    fn ensure_started(
        &mut self,
        out: &mut BytesMut,
        id: &str,
        created: Option<&serde_json::Value>,
    ) {
        if !self.started {
            self.started = true;
            let created = super::usage::count(created);
            self.encoder.start(out, id, created);
        }
    }

    fn tool_delta(
        &mut self,
        out: &mut BytesMut,
        index: Option<u64>,
        id: Option<&str>,
        name: Option<&str>,
        args: &str,
    ) -> Result<(), String> {
        let slot = match index {
            Some(i) => self.tools.iter().position(|t| t.upstream_index == Some(i)),
            // Servers that omit the index send each call whole: a new id is a new call.
            None => match id {
                Some(id) => self.tools.iter().position(|t| t.id.as_deref() == Some(id)),
                None => self.tools.len().checked_sub(1),
            },
        };
        let slot = match slot {
            Some(s) => s,
            None => {
                self.tools.push(ToolSlot {
                    upstream_index: index,
                    id: None,
                    name: None,
                    started: false,
                    pending: String::new(),
                });
                self.tools.len() - 1
            }
        };
        let tool = &mut self.tools[slot];
        if let Some(id) = id.filter(|i| !i.is_empty()) {
            tool.id.get_or_insert_with(|| id.to_owned());
        }
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            tool.name.get_or_insert_with(|| name.to_owned());
        }
        if tool.started {
            if !args.is_empty() {
                self.encoder.tool_args(out, slot, args);
            }
            return Ok(());
        }
        if tool.pending.len() + args.len() > MAX_EVENT_BYTES {
            return Err("the provider streamed tool-call arguments before naming the tool".into());
        }
        tool.pending.push_str(args);
        if tool.name.is_some() {
            self.start_tool(out, slot);
        }
        Ok(())
    }

    fn start_tool(&mut self, out: &mut BytesMut, slot: usize) {
        let tool = &mut self.tools[slot];
        tool.started = true;
        let id = tool
            .id
            .get_or_insert_with(|| super::fresh_id("call_"))
            .clone();
        let name = tool.name.clone().unwrap_or_default();
        let pending = std::mem::take(&mut tool.pending);
        self.encoder.tool_start(out, slot, &id, &name);
        if !pending.is_empty() {
            self.encoder.tool_args(out, slot, &pending);
        }
    }

    /// Tool calls that never got a name are started nameless at the finish rather
    /// than dropped: the client reports the unknown tool to the model.
    fn start_pending_tools(&mut self, out: &mut BytesMut) {
        for slot in 0..self.tools.len() {
            if !self.tools[slot].started {
                self.start_tool(out, slot);
            }
        }
    }

    fn complete(&mut self, out: &mut BytesMut) {
        self.ensure_started(out, "", None);
        self.start_pending_tools(out);
        self.encoder.end(out, &self.usage);
        self.outcome = StreamOutcome::Completed;
    }

    fn fail(&mut self, out: &mut BytesMut, status: u16, message: String) {
        self.fail_with(out, ClientError::new(status, message, None));
    }

    fn fail_with(&mut self, out: &mut BytesMut, error: ClientError) {
        self.ensure_started(out, "", None);
        self.encoder.fail(out, &error);
        self.outcome = StreamOutcome::Failed(error.message);
    }
}
