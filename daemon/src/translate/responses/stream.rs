//! Writes a Chat Completions stream as Responses API events, the grammar Codex
//! reads: `response.created`, per output item `output_item.added` … deltas …
//! `output_item.done` (which carries the whole item: Codex builds its history from
//! these), and `response.completed` with usage — or `response.incomplete` /
//! `response.failed`.

use bytes::BytesMut;
use serde_json::{Value, json};

use super::{call_item, message_item, reasoning_item, response_id, response_object, usage_json};
use crate::translate::chat::Finish;
use crate::translate::error::ClientError;
use crate::translate::sse::{end_event, event_json, json_str, start_event, write_u64};
use crate::translate::stream::Encoder;
use crate::translate::{Usage, unix_now};

#[derive(Debug)]
enum Kind {
    Message,
    Reasoning,
    Call {
        call_id: String,
        name: String,
        custom: bool,
    },
}

#[derive(Debug)]
struct Item {
    id: String,
    output_index: usize,
    kind: Kind,
    /// The text or arguments so far: the `done` events repeat them whole.
    text: String,
    done: bool,
}

pub(crate) struct StreamEncoder {
    model: String,
    custom_tools: Vec<String>,
    id: String,
    created_at: u64,
    seq: u64,
    items: Vec<Item>,
    /// The message or reasoning item text goes to.
    open_text: Option<usize>,
    /// The item of each tool slot.
    tool_items: Vec<usize>,
    /// Finished items by output index, for `response.completed`.
    output: Vec<Value>,
    finish: Option<Finish>,
}

impl StreamEncoder {
    pub(crate) fn new(model: String, custom_tools: Vec<String>) -> Self {
        StreamEncoder {
            model,
            custom_tools,
            id: String::new(),
            created_at: 0,
            seq: 0,
            items: Vec::new(),
            open_text: None,
            tool_items: Vec::new(),
            output: Vec::new(),
            finish: None,
        }
    }

    fn event(&mut self, out: &mut BytesMut, name: &str, mut body: Value) {
        if let Value::Object(map) = &mut body {
            map.insert("type".to_owned(), Value::String(name.to_owned()));
            map.insert("sequence_number".to_owned(), json!(self.seq));
        }
        self.seq += 1;
        event_json(out, name, &body);
    }

    fn response(&self, status: &str, usage: Value) -> Value {
        response_object(
            &self.id,
            self.created_at,
            &self.model,
            status,
            self.output.clone(),
            usage,
        )
    }

    fn add_item(&mut self, out: &mut BytesMut, kind: Kind) -> usize {
        let output_index = self.items.len();
        let prefix = match &kind {
            Kind::Message => "msg",
            Kind::Reasoning => "rs",
            Kind::Call { custom: true, .. } => "ctc",
            Kind::Call { .. } => "fc",
        };
        let id = format!(
            "{prefix}_{}_{output_index}",
            self.id.trim_start_matches("resp_")
        );
        let item = match &kind {
            Kind::Message => message_item(&id, "", "in_progress"),
            Kind::Reasoning => reasoning_item(&id, "", false),
            Kind::Call {
                call_id,
                name,
                custom,
            } => call_item(&id, call_id, name, "", *custom, "in_progress"),
        };
        self.event(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
        );
        match kind {
            Kind::Message => self.event(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": output_index, "content_index": 0,
                       "part": {"type": "output_text", "text": "", "annotations": []}}),
            ),
            Kind::Reasoning => self.event(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
            ),
            Kind::Call { .. } => {}
        }
        self.items.push(Item {
            id,
            output_index,
            kind,
            text: String::new(),
            done: false,
        });
        output_index
    }

    /// Text or reasoning goes to an open item of its kind, else a new one.
    fn text_item(&mut self, out: &mut BytesMut, reasoning: bool) -> usize {
        if let Some(i) = self.open_text {
            if matches!(self.items[i].kind, Kind::Reasoning) == reasoning {
                return i;
            }
            self.close(out, i);
        }
        let i = self.add_item(
            out,
            if reasoning {
                Kind::Reasoning
            } else {
                Kind::Message
            },
        );
        self.open_text = Some(i);
        i
    }

    /// A delta event with the text written directly (the one event per token).
    fn delta(
        &mut self,
        out: &mut BytesMut,
        name: &str,
        item: usize,
        index_field: &str,
        text: &str,
    ) {
        let (id, output_index) = (&self.items[item].id, self.items[item].output_index);
        start_event(out, name);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        write_u64(out, self.seq);
        out.extend_from_slice(b",\"item_id\":");
        json_str(out, id);
        out.extend_from_slice(b",\"output_index\":");
        write_u64(out, output_index as u64);
        if !index_field.is_empty() {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(index_field.as_bytes());
            out.extend_from_slice(b"\":0");
        }
        out.extend_from_slice(b",\"delta\":");
        json_str(out, text);
        out.extend_from_slice(b"}");
        end_event(out);
        self.seq += 1;
    }

    fn close(&mut self, out: &mut BytesMut, i: usize) {
        if self.items[i].done {
            return;
        }
        self.items[i].done = true;
        if self.open_text == Some(i) {
            self.open_text = None;
        }
        let item = &self.items[i];
        let (id, output_index, text) = (item.id.clone(), item.output_index, item.text.clone());
        let done = match &item.kind {
            Kind::Message => {
                self.event(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0, "text": text}),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0,
                           "part": {"type": "output_text", "text": text, "annotations": []}}),
                );
                message_item(&id, &text, "completed")
            }
            Kind::Reasoning => {
                self.event(
                    out,
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0, "text": text}),
                );
                self.event(
                    out,
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                           "part": {"type": "summary_text", "text": text}}),
                );
                reasoning_item(&id, &text, true)
            }
            Kind::Call {
                call_id,
                name,
                custom,
            } => {
                let done = call_item(&id, call_id, name, &text, *custom, "completed");
                if *custom {
                    let input = done.get("input").cloned().unwrap_or_default();
                    self.event(
                        out,
                        "response.custom_tool_call_input.done",
                        json!({"item_id": id, "output_index": output_index, "input": input}),
                    );
                } else {
                    self.event(
                        out,
                        "response.function_call_arguments.done",
                        json!({"item_id": id, "output_index": output_index, "arguments": text}),
                    );
                }
                done
            }
        };
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": done}),
        );
        self.output.push(done);
    }

    fn close_all(&mut self, out: &mut BytesMut) {
        for i in 0..self.items.len() {
            self.close(out, i);
        }
    }
}

impl Encoder for StreamEncoder {
    fn start(&mut self, out: &mut BytesMut, id: &str, created: Option<u64>) {
        self.id = response_id(id);
        self.created_at = created.unwrap_or_else(unix_now);
        let response = self.response("in_progress", Value::Null);
        self.event(out, "response.created", json!({"response": response}));
        self.event(out, "response.in_progress", json!({"response": response}));
    }

    fn text(&mut self, out: &mut BytesMut, text: &str) {
        let i = self.text_item(out, false);
        self.items[i].text.push_str(text);
        self.delta(out, "response.output_text.delta", i, "content_index", text);
    }

    fn reasoning(&mut self, out: &mut BytesMut, text: &str) {
        let i = self.text_item(out, true);
        self.items[i].text.push_str(text);
        self.delta(
            out,
            "response.reasoning_summary_text.delta",
            i,
            "summary_index",
            text,
        );
    }

    fn tool_start(&mut self, out: &mut BytesMut, slot: usize, id: &str, name: &str) {
        if let Some(i) = self.open_text {
            self.close(out, i);
        }
        let custom = self.custom_tools.iter().any(|t| t == name);
        let i = self.add_item(
            out,
            Kind::Call {
                call_id: id.to_owned(),
                name: name.to_owned(),
                custom,
            },
        );
        if self.tool_items.len() <= slot {
            self.tool_items.resize(slot + 1, usize::MAX);
        }
        self.tool_items[slot] = i;
    }

    fn tool_args(&mut self, out: &mut BytesMut, slot: usize, fragment: &str) {
        let Some(&i) = self.tool_items.get(slot) else {
            return;
        };
        let Some(item) = self.items.get_mut(i) else {
            return;
        };
        item.text.push_str(fragment);
        // A freeform tool's input is only known once its JSON wrapper is whole.
        if matches!(item.kind, Kind::Call { custom: false, .. }) {
            self.delta(
                out,
                "response.function_call_arguments.delta",
                i,
                "",
                fragment,
            );
        }
    }

    fn finish(&mut self, out: &mut BytesMut, reason: Finish) {
        self.close_all(out);
        self.finish = Some(reason);
    }

    fn end(&mut self, out: &mut BytesMut, usage: &Usage) {
        self.close_all(out);
        let (name, status) = match self.finish {
            Some(Finish::Length) => ("response.incomplete", "incomplete"),
            _ => ("response.completed", "completed"),
        };
        let response = self.response(status, usage_json(usage));
        self.event(out, name, json!({"response": response}));
    }

    fn fail(&mut self, out: &mut BytesMut, error: &ClientError) {
        let value = error.value(crate::translate::Format::OpenaiResponses);
        let code = value
            .pointer("/error/code")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                match error.status {
                    429 => "rate_limit_exceeded",
                    _ => "server_error",
                }
                .to_owned()
            });
        let mut response = self.response("failed", Value::Null);
        response["error"] = json!({"code": code, "message": error.message});
        self.event(out, "response.failed", json!({"response": response}));
    }
}
