//! Writes a Chat Completions stream as Anthropic's event grammar: `message_start`,
//! one `content_block_start`/`delta`/`stop` run per text, thinking or tool-use
//! block, `message_delta` with the stop reason and usage, `message_stop` — or an
//! `error` event when the upstream fails.

use bytes::BytesMut;
use serde_json::json;

use super::{message_id, stop_reason, usage_json};
use crate::translate::Usage;
use crate::translate::chat::Finish;
use crate::translate::error::ClientError;
use crate::translate::format::Format;
use crate::translate::sse::{end_event, event_json, json_str, start_event, write_u64};
use crate::translate::stream::Encoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Nothing,
    Text,
    Thinking,
    /// A tool call, by its slot.
    Tool(usize),
}

pub(crate) struct StreamEncoder {
    model: String,
    open: Open,
    /// The index the next content block gets.
    next_index: u32,
    /// Block index of each tool slot, once started.
    tool_blocks: Vec<u32>,
    finish: Option<Finish>,
}

impl StreamEncoder {
    pub(crate) fn new(model: String) -> Self {
        StreamEncoder {
            model,
            open: Open::Nothing,
            next_index: 0,
            tool_blocks: Vec::new(),
            finish: None,
        }
    }

    fn index(&self) -> u32 {
        self.next_index.saturating_sub(1)
    }

    fn close(&mut self, out: &mut BytesMut) {
        if self.open != Open::Nothing {
            event_json(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index()}),
            );
            self.open = Open::Nothing;
        }
    }

    /// Opens a block of kind `open` unless one is open already.
    fn open(&mut self, out: &mut BytesMut, open: Open, block: serde_json::Value) {
        if self.open == open {
            return;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        event_json(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        self.open = open;
    }

    /// `{"type":"content_block_delta","index":N,"delta":{"type":KIND,"FIELD":TEXT}}`,
    /// written directly: this is the one event per token.
    fn delta(out: &mut BytesMut, index: u32, kind: &str, field: &str, text: &str) {
        start_event(out, "content_block_delta");
        out.extend_from_slice(b"{\"type\":\"content_block_delta\",\"index\":");
        write_u64(out, u64::from(index));
        out.extend_from_slice(b",\"delta\":{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"");
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(b"\":");
        json_str(out, text);
        out.extend_from_slice(b"}}");
        end_event(out);
    }
}

impl Encoder for StreamEncoder {
    fn start(&mut self, out: &mut BytesMut, id: &str, _created: Option<u64>) {
        event_json(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": message_id(id),
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }}),
        );
    }

    fn text(&mut self, out: &mut BytesMut, text: &str) {
        self.open(out, Open::Text, json!({"type": "text", "text": ""}));
        Self::delta(out, self.index(), "text_delta", "text", text);
    }

    fn reasoning(&mut self, out: &mut BytesMut, text: &str) {
        self.open(
            out,
            Open::Thinking,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        );
        Self::delta(out, self.index(), "thinking_delta", "thinking", text);
    }

    fn tool_start(&mut self, out: &mut BytesMut, slot: usize, id: &str, name: &str) {
        self.open(
            out,
            Open::Tool(slot),
            json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
        );
        if self.tool_blocks.len() <= slot {
            self.tool_blocks.resize(slot + 1, 0);
        }
        self.tool_blocks[slot] = self.index();
    }

    fn tool_args(&mut self, out: &mut BytesMut, slot: usize, fragment: &str) {
        // Providers stream one call after another; a late fragment for an earlier
        // call still goes to that call's block index.
        let index = match self.open {
            Open::Tool(s) if s == slot => self.index(),
            _ => self.tool_blocks.get(slot).copied().unwrap_or(self.index()),
        };
        Self::delta(out, index, "input_json_delta", "partial_json", fragment);
    }

    fn finish(&mut self, out: &mut BytesMut, reason: Finish) {
        self.close(out);
        self.finish = Some(reason);
    }

    fn end(&mut self, out: &mut BytesMut, usage: &Usage) {
        self.close(out);
        let stop = stop_reason(self.finish, !self.tool_blocks.is_empty());
        event_json(
            out,
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": usage_json(usage)}),
        );
        event_json(out, "message_stop", &json!({"type": "message_stop"}));
    }

    fn fail(&mut self, out: &mut BytesMut, error: &ClientError) {
        // No `content_block_stop`: a block cut short must not look finished (a
        // half-streamed tool input would be run). The API itself ends this way.
        event_json(out, "error", &error.value(Format::Anthropic));
    }
}
