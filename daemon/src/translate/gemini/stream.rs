//! Writes a Chat Completions stream as Gemini SSE chunks (`alt=sse`): each text or
//! thought delta is a chunk as it arrives; a function call, which Gemini sends
//! whole, goes out once its arguments are complete; the last chunk carries the
//! finish reason and usage.

use bytes::BytesMut;
use serde_json::{Value, json};

use super::{finish_reason, function_args, usage_json};
use crate::translate::Usage;
use crate::translate::chat::Finish;
use crate::translate::error::ClientError;
use crate::translate::format::Format;
use crate::translate::sse::{json, json_str};
use crate::translate::stream::Encoder;

struct Call {
    slot: usize,
    id: String,
    name: String,
    arguments: String,
    sent: bool,
}

pub(crate) struct StreamEncoder {
    model: String,
    response_id: String,
    calls: Vec<Call>,
    finish: Option<Finish>,
}

impl StreamEncoder {
    pub(crate) fn new(model: String) -> Self {
        StreamEncoder {
            model,
            response_id: String::new(),
            calls: Vec::new(),
            finish: None,
        }
    }

    fn chunk(&self, out: &mut BytesMut, candidate: Value, usage: Option<Value>) {
        let mut body = json!({
            "candidates": [candidate],
            "modelVersion": self.model,
            "responseId": self.response_id,
        });
        if let Some(usage) = usage.filter(|u| !u.is_null()) {
            body["usageMetadata"] = usage;
        }
        out.extend_from_slice(b"data: ");
        json(out, &body);
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// One text part, written directly (the one chunk per token).
    fn text_chunk(&self, out: &mut BytesMut, text: &str, thought: bool) {
        out.extend_from_slice(
            b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":",
        );
        json_str(out, text);
        if thought {
            out.extend_from_slice(b",\"thought\":true");
        }
        out.extend_from_slice(b"}]},\"index\":0}],\"modelVersion\":");
        json_str(out, &self.model);
        out.extend_from_slice(b",\"responseId\":");
        json_str(out, &self.response_id);
        out.extend_from_slice(b"}\r\n\r\n");
    }

    fn flush_calls(&mut self, out: &mut BytesMut) {
        let mut parts = Vec::new();
        for call in self.calls.iter_mut().filter(|c| !c.sent) {
            call.sent = true;
            parts.push(json!({"functionCall": {
                "id": call.id,
                "name": call.name,
                "args": function_args(&call.arguments),
            }}));
        }
        if !parts.is_empty() {
            let candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
            self.chunk(out, candidate, None);
        }
    }
}

impl Encoder for StreamEncoder {
    fn start(&mut self, _out: &mut BytesMut, id: &str, _created: Option<u64>) {
        self.response_id = id.to_owned();
    }

    fn text(&mut self, out: &mut BytesMut, text: &str) {
        self.flush_calls(out);
        self.text_chunk(out, text, false);
    }

    fn reasoning(&mut self, out: &mut BytesMut, text: &str) {
        self.text_chunk(out, text, true);
    }

    fn tool_start(&mut self, out: &mut BytesMut, slot: usize, id: &str, name: &str) {
        // The previous call's arguments are complete once the next one starts.
        self.flush_calls(out);
        self.calls.push(Call {
            slot,
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: String::new(),
            sent: false,
        });
    }

    fn tool_args(&mut self, _out: &mut BytesMut, slot: usize, fragment: &str) {
        if let Some(call) = self.calls.iter_mut().find(|c| c.slot == slot) {
            call.arguments.push_str(fragment);
        }
    }

    fn finish(&mut self, out: &mut BytesMut, reason: Finish) {
        self.flush_calls(out);
        self.finish = Some(reason);
    }

    fn end(&mut self, out: &mut BytesMut, usage: &Usage) {
        self.flush_calls(out);
        let candidate = json!({
            "content": {"role": "model", "parts": []},
            "finishReason": finish_reason(self.finish),
            "index": 0,
        });
        self.chunk(out, candidate, Some(usage_json(usage)));
    }

    fn fail(&mut self, out: &mut BytesMut, error: &ClientError) {
        out.extend_from_slice(b"data: ");
        json(out, &error.value(Format::Gemini));
        out.extend_from_slice(b"\r\n\r\n");
    }
}
