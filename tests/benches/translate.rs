//! Translation figures, printed as one markdown table (`cargo bench --bench
//! translate`): the cost per upstream event of turning a Chat Completions stream
//! into each CLI's events (text tokens, tool-argument fragments), with the bytes
//! it writes, and the cost of translating a large Claude Code and Codex request.
//! Single-threaded, in process, best of five rounds.
//!
//! Times move with the machine's load; instruction counts do not. For those, one
//! case runs alone: `translate --case anthropic-text --events N` feeds one stream
//! of N events once, so under callgrind the difference between two runs (N = 1000
//! and N = 11000) divided by 10000 is the instructions per event:
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/translate-* --case …`
//! (cases: anthropic|responses|gemini × text|tool).

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failure report

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use serde_json::json;
use switchyard_daemon::translate::{Format, ModelMap, RequestIn, Translated, translate_request};

const TOKENS: usize = 20_000;
const ROUNDS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(case) = arg("--case") {
        let events = arg("--events").map_or(1000, |n| n.parse().unwrap());
        return one_case(&case, events);
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    let map: ModelMap = "claude-*=m,gpt-*=m,gemini-*=m".parse().unwrap();
    let (text_stream, text_events) = text_stream(TOKENS);
    let (tool_stream, tool_events) = tool_stream(TOKENS);
    for (client, path, body) in [
        (Format::Anthropic, "/v1/messages", claude_request(2)),
        (Format::OpenaiResponses, "/responses", codex_request(2)),
        (
            Format::Gemini,
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            gemini_request(),
        ),
    ] {
        let t = translate(client, path, &body, &map);
        for (what, stream, events) in [
            ("text token", &text_stream, text_events),
            ("tool-argument fragment", &tool_stream, tool_events),
        ] {
            let mut written = 0;
            let time = best(|| {
                let mut tr = t.response.stream();
                let mut out = BytesMut::with_capacity(64 << 10);
                for event in stream {
                    tr.feed(event, &mut out);
                    written += out.len();
                    out.clear();
                }
                tr.finish(&mut out);
                black_box(&out);
            });
            rows.push((
                format!("{client}: one {what} event"),
                format!(
                    "{:.0} ns, {:.0} bytes out",
                    time.as_nanos() as f64 / events as f64,
                    written as f64 / (ROUNDS * events) as f64
                ),
            ));
        }
    }
    for (client, path, body) in [
        (Format::Anthropic, "/v1/messages", claude_request(400)),
        (Format::OpenaiResponses, "/responses", codex_request(400)),
    ] {
        let time = best(|| {
            black_box(translate(client, path, &body, &map));
        });
        rows.push((
            format!("{client}: request of {} KiB", body.len() >> 10),
            format!("{:.0} µs", time.as_secs_f64() * 1e6),
        ));
    }
    println!("| translation | figure |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}

/// One stream of `events` events through one client's encoder, once.
fn one_case(case: &str, events: usize) {
    let map: ModelMap = "claude-*=m,gpt-*=m,gemini-*=m".parse().unwrap();
    let (client, kind) = case.split_once('-').unwrap();
    let (format, path, body) = match client {
        "anthropic" => (Format::Anthropic, "/v1/messages", claude_request(2)),
        "responses" => (Format::OpenaiResponses, "/responses", codex_request(2)),
        _ => (
            Format::Gemini,
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            gemini_request(),
        ),
    };
    let t = translate(format, path, &body, &map);
    let (stream, _) = if kind == "text" {
        text_stream(events)
    } else {
        tool_stream(events)
    };
    let mut tr = t.response.stream();
    let mut out = BytesMut::with_capacity(64 << 10);
    for event in &stream {
        tr.feed(event, &mut out);
        out.clear();
    }
    tr.finish(&mut out);
    black_box(&out);
}

fn best(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn translate(client: Format, path: &str, body: &[u8], map: &ModelMap) -> Translated {
    translate_request(RequestIn {
        client,
        upstream: Format::OpenaiChat,
        path,
        body,
        model_map: map,
        max_output_tokens: None,
    })
    .unwrap()
}

fn chunk(delta: serde_json::Value) -> Vec<u8> {
    let c = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
        "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
    format!("data: {c}\n\n").into_bytes()
}

/// A streamed answer of `tokens` text deltas, one network chunk each.
fn text_stream(tokens: usize) -> (Vec<Vec<u8>>, usize) {
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}))];
    for i in 0..tokens {
        events.push(chunk(json!({"content": format!(" tok{}", i % 97)})));
    }
    events.push(b"data: [DONE]\n\n".to_vec());
    let n = events.len();
    (events, n)
}

/// A tool call whose arguments arrive in `tokens` fragments.
fn tool_stream(tokens: usize) -> (Vec<Vec<u8>>, usize) {
    let mut events = vec![chunk(json!({"tool_calls": [{"index": 0, "id": "call_1",
        "type": "function", "function": {"name": "Write", "arguments": "{\"content\": \""}}]}))];
    for i in 0..tokens {
        events.push(chunk(json!({"tool_calls": [{"index": 0,
            "function": {"arguments": format!("line {i}\\n")}}]})));
    }
    events.push(chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"}"}}]}),
    ));
    events.push(b"data: [DONE]\n\n".to_vec());
    let n = events.len();
    (events, n)
}

/// A Claude Code-like request with `turns` tool round trips of ~1 KiB results.
fn claude_request(turns: usize) -> Vec<u8> {
    let mut messages =
        vec![json!({"role": "user", "content": [{"type": "text", "text": "Fix the bug."}]})];
    for i in 0..turns {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Reading the file."},
            {"type": "tool_use", "id": format!("toolu_{i}"), "name": "Read", "input": {"file_path": format!("/src/f{i}.rs")}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_{i}"), "content": "fn main() {}\n".repeat(80)}]}));
    }
    let tools: Vec<_> = (0..20)
        .map(|i| json!({"name": format!("Tool{i}"), "description": "Does a thing. ".repeat(20),
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}))
        .collect();
    serde_json::to_vec(
        &json!({"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code. ".repeat(400)}],
        "tools": tools, "messages": messages}),
    )
    .unwrap()
}

/// A Codex-like request with `turns` function call round trips.
fn codex_request(turns: usize) -> Vec<u8> {
    let mut input = vec![json!({"type": "message", "role": "developer",
        "content": [{"type": "input_text", "text": "You are Codex. ".repeat(400)}]})];
    for i in 0..turns {
        input.push(
            json!({"type": "function_call", "call_id": format!("call_{i}"),
            "name": "exec_command", "arguments": "{\"cmd\":\"cat src/main.rs\"}"}),
        );
        input.push(
            json!({"type": "function_call_output", "call_id": format!("call_{i}"),
            "output": "fn main() {}\n".repeat(80)}),
        );
    }
    let tools: Vec<_> = (0..20)
        .map(|i| json!({"type": "function", "name": format!("tool{i}"), "description": "Does a thing. ".repeat(20),
            "strict": false, "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}))
        .collect();
    serde_json::to_vec(
        &json!({"model": "gpt-5-codex", "stream": true, "store": false,
        "tools": tools, "input": input, "tool_choice": "auto", "parallel_tool_calls": true}),
    )
    .unwrap()
}

fn gemini_request() -> Vec<u8> {
    serde_json::to_vec(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})).unwrap()
}
