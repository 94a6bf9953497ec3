//! Golden and property tests of the translations, on fixtures shaped like what the
//! real CLIs send (captured from Claude Code 2.1.332 and Codex 0.171 against a
//! local mock, trimmed) and what real Chat upstreams answer (OpenAI, DeepSeek,
//! OpenRouter). Set `UPDATE_GOLDEN=1` to rewrite the expected files after a
//! deliberate change, then read the diff.

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/translate/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares with (or, under `UPDATE_GOLDEN`, writes) an expected file. JSON is
/// compared as values, everything else byte for byte.
fn golden(name: &str, actual: &[u8]) {
    let path = format!("{FIXTURES}/{name}");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = if name.ends_with(".json") {
            let v: Value = serde_json::from_slice(actual).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s.into_bytes()
        } else {
            actual.to_vec()
        };
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        return;
    }
    let expected = fixture(name);
    if name.ends_with(".json") {
        let a: Value = serde_json::from_slice(actual).unwrap_or_else(|e| panic!("{name}: {e}"));
        let e: Value = serde_json::from_slice(&expected).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a, e, "{name} differs; UPDATE_GOLDEN=1 rewrites it");
    } else {
        assert_eq!(
            String::from_utf8_lossy(actual),
            String::from_utf8_lossy(&expected),
            "{name} differs; UPDATE_GOLDEN=1 rewrites it"
        );
    }
}

fn map(rules: &str) -> ModelMap {
    rules.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn translate(
    client: Format,
    path: &str,
    body: &[u8],
    rules: &str,
) -> Result<Translated, TranslateError> {
    let map = map(rules);
    translate_request(RequestIn {
        client,
        upstream: Format::OpenaiChat,
        path,
        body,
        model_map: &map,
        max_output_tokens: None,
    })
}

fn claude_code() -> Translated {
    translate(
        Format::Anthropic,
        "/v1/messages?beta=true",
        &fixture("claude_code.request.json"),
        "claude-haiku-*=deepseek-chat,claude-*=deepseek-reasoner",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn codex() -> Translated {
    translate(
        Format::OpenaiResponses,
        "/responses",
        &fixture("codex.request.json"),
        "gpt-5*=deepseek-chat",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn gemini_cli() -> Translated {
    translate(
        Format::Gemini,
        "/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse",
        &fixture("gemini_cli.request.json"),
        "gemini-*=qwen3-coder",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The three clients' response translators, with the names of their goldens.
fn clients() -> [(&'static str, ResponseTranslator); 3] {
    [
        ("anthropic", claude_code().response),
        ("responses", codex().response),
        ("gemini", gemini_cli().response),
    ]
}

/// Feeds a whole upstream stream in the given pieces; returns the client's bytes.
fn run_stream(plan: &ResponseTranslator, pieces: &[&[u8]]) -> (Vec<u8>, StreamTranslator) {
    let mut t = plan.stream();
    let mut out = BytesMut::new();
    for p in pieces {
        t.feed(p, &mut out);
    }
    t.finish(&mut out);
    (out.to_vec(), t)
}

#[test]
fn claude_code_request_becomes_chat() {
    let t = claude_code();
    assert_eq!(t.path, "/chat/completions");
    assert!(t.stream);
    assert_eq!(t.client_model, "claude-opus-5-5");
    assert_eq!(t.upstream_model, "deepseek-reasoner");
    assert_eq!(
        t.notes,
        vec![
            "dropped the thinking settings (choose a reasoning model in the model map instead)",
            "dropped the effort setting (Chat providers each spell it differently)",
        ]
    );
    golden("claude_code.chat.json", &t.body);
}

#[test]
fn gemini_cli_request_becomes_chat() {
    let t = gemini_cli();
    assert_eq!(t.path, "/chat/completions");
    assert!(t.stream);
    assert_eq!(t.client_model, "gemini-3.1-pro-preview");
    assert_eq!(t.upstream_model, "qwen3-coder");
    assert_eq!(
        t.notes,
        vec![
            "dropped topK (Chat Completions has no such setting)",
            "dropped the thinking settings (choose a reasoning model in the model map instead)",
        ]
    );
    golden("gemini_cli.chat.json", &t.body);
    // Non-streaming generateContent, and streaming without alt=sse.
    let body = fixture("gemini_cli.request.json");
    let t = translate(
        Format::Gemini,
        "/v1beta/models/m:generateContent",
        &body,
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!t.stream);
    let e = translate(
        Format::Gemini,
        "/v1beta/models/m:streamGenerateContent",
        &body,
        "",
    );
    assert!(e.err().is_some_and(|e| e.to_string().contains("alt=sse")));
}

#[test]
fn codex_request_becomes_chat() {
    let t = codex();
    assert_eq!(t.path, "/chat/completions");
    assert!(t.stream);
    assert_eq!(t.upstream_model, "deepseek-chat");
    assert_eq!(
        t.notes,
        vec![
            "dropped the hosted tool tool_search (the provider cannot run it)",
            "dropped the hosted tool web_search (the provider cannot run it)",
            "dropped earlier web_search_call items (hosted tools the provider cannot run)",
            "dropped the reasoning effort (Chat providers each spell it differently)",
        ]
    );
    golden("codex.chat.json", &t.body);
}

const STREAMS: [&str; 5] = [
    "chat_tools",
    "chat_reasoning",
    "chat_cut",
    "chat_malformed",
    "chat_error_event",
];

#[test]
fn streams_translate_to_each_client() {
    for (client, plan) in clients() {
        for name in STREAMS {
            let input = fixture(&format!("{name}.sse"));
            let (out, _) = run_stream(&plan, &[&input]);
            golden(&format!("{name}.{client}.sse"), &out);
        }
    }
}

#[test]
fn stream_outcomes_and_usage_are_reported() {
    let plan = claude_code().response;
    let (_, t) = run_stream(&plan, &[&fixture("chat_tools.sse")]);
    assert_eq!(t.outcome(), &StreamOutcome::Completed);
    assert_eq!(
        t.usage(),
        Usage {
            input_tokens: Some(176),
            output_tokens: Some(57),
            cache_read_tokens: Some(1024),
            cache_write_tokens: None,
            reasoning_tokens: Some(0),
        }
    );
    let (_, t) = run_stream(&plan, &[&fixture("chat_reasoning.sse")]);
    assert_eq!(t.outcome(), &StreamOutcome::Completed);
    assert_eq!(t.usage().reasoning_tokens, Some(9));
    for name in ["chat_cut", "chat_malformed", "chat_error_event"] {
        let (_, t) = run_stream(&plan, &[&fixture(&format!("{name}.sse"))]);
        assert!(matches!(t.outcome(), StreamOutcome::Failed(_)), "{name}");
    }
    let (_, t) = run_stream(&plan, &[&fixture("chat_error_event.sse")]);
    assert_eq!(
        t.outcome(),
        &StreamOutcome::Failed("Upstream provider returned error: overloaded".to_owned())
    );
}

#[test]
fn whole_responses_translate_to_each_client() {
    let input = fixture("chat_response.json");
    for (client, plan) in clients() {
        let out = plan.body(&input);
        assert_eq!(out.status, 200);
        assert_eq!(out.usage.input_tokens, Some(388));
        assert_eq!(out.usage.cache_read_tokens, Some(512));
        golden(&format!("chat_response.{client}.json"), &out.body);
    }
    // A tool call whose arguments are not JSON reaches Claude Code as the string.
    let out = claude_code().response.body(&input);
    let v: Value = serde_json::from_slice(&out.body).unwrap_or_default();
    assert_eq!(v["content"][3]["input"], json!("{\"command\": \"ls"));
}

#[test]
fn a_whole_answer_to_a_streamed_request_is_streamed_to_the_client() {
    let input = fixture("chat_response.json");
    for (client, plan) in clients() {
        let mut t = plan.stream();
        let mut out = BytesMut::new();
        t.whole(&input, &mut out);
        assert_eq!(t.outcome(), &StreamOutcome::Completed, "{client}");
        assert_eq!(t.usage().cache_read_tokens, Some(512));
        golden(&format!("chat_response.{client}.sse"), &out);
    }
    let mut t = claude_code().response.stream();
    let mut out = BytesMut::new();
    t.whole(b"<html>", &mut out);
    assert!(matches!(t.outcome(), StreamOutcome::Failed(_)));
    assert!(String::from_utf8_lossy(&out).contains("event: error"));
}

#[test]
fn broken_whole_responses_become_client_errors() {
    for (_, plan) in clients() {
        let path = "/error/message";
        for bad in [&b"not json"[..], b"{\"choices\":[]}", b"[]"] {
            let out = plan.body(bad);
            assert_eq!(out.status, 502);
            let v: Value = serde_json::from_slice(&out.body).unwrap_or_default();
            assert!(v.pointer(path).and_then(Value::as_str).is_some(), "{v}");
            assert!(out.usage.is_unknown());
        }
    }
    let e = claude_code().response.error(
        429,
        br#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
    );
    let v: Value = serde_json::from_slice(&e).unwrap_or_default();
    assert_eq!(
        v,
        json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})
    );
}

#[test]
fn refusals_name_the_feature() {
    let anthropic = |body: Value| {
        translate(
            Format::Anthropic,
            "/v1/messages",
            body.to_string().as_bytes(),
            "",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let msg = json!([{"role": "user", "content": "hi"}]);
    // Claude Code's WebSearch: a request whose only tool is Anthropic's server tool.
    let web = anthropic(json!({"model": "m", "max_tokens": 5, "messages": msg,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}]}));
    assert_eq!(
        web,
        "this provider speaks openai-chat, which cannot carry the web_search_20250305 tool (Anthropic runs it on its own servers)"
    );
    let pdf = anthropic(
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}]}]}),
    );
    assert!(pdf.contains("PDF"), "{pdf}");
    let mcp = anthropic(
        json!({"model": "m", "max_tokens": 5, "messages": msg, "mcp_servers": [{"type": "url"}]}),
    );
    assert!(mcp.contains("mcp_servers"), "{mcp}");

    let responses = |body: Value| {
        translate(
            Format::OpenaiResponses,
            "/responses",
            body.to_string().as_bytes(),
            "",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let prev = responses(json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}));
    assert!(prev.contains("previous_response_id"), "{prev}");
    let compaction = responses(
        json!({"model": "m", "input": [{"type": "compaction", "encrypted_content": "x"}]}),
    );
    assert!(compaction.contains("compaction"), "{compaction}");
    let only_hosted =
        responses(json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]}));
    assert!(only_hosted.contains("web_search tool"), "{only_hosted}");
    let forced = responses(json!({"model": "m", "input": "hi",
        "tools": [{"type": "web_search"}, {"type": "function", "name": "f", "parameters": {}}],
        "tool_choice": {"type": "web_search"}}));
    assert!(forced.contains("tool_choice \"web_search\""), "{forced}");

    // Endpoints other than generation, and pairs with no translation.
    let e = translate(
        Format::Anthropic,
        "/v1/messages/count_tokens?beta=true",
        b"{}",
        "",
    )
    .err();
    assert_eq!(e.as_ref().map(|e| e.status().as_u16()), Some(404));
    assert!(e.is_some_and(|e| {
        e.to_string()
            .starts_with("/v1/messages/count_tokens cannot")
    }));
    let pair = translate_request(RequestIn {
        client: Format::Anthropic,
        upstream: Format::Gemini,
        path: "/v1/messages",
        body: b"{}",
        model_map: &ModelMap::default(),
        max_output_tokens: None,
    });
    assert!(matches!(pair, Err(TranslateError::UnsupportedPair { .. })));
    // Bodies that are not the client's format.
    let bad = translate(Format::Anthropic, "/v1/messages", b"{\"model\":1}", "").err();
    assert!(matches!(bad, Some(TranslateError::BadRequest { .. })));
    let body: Value = serde_json::from_slice(
        &bad.map(|e| e.client_body(Format::Anthropic))
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[test]
fn output_limit_caps_what_the_client_asks_for() {
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 128000,
        "messages": [{"role": "user", "content": "hi"}]});
    let map = ModelMap::default();
    let t = translate_request(RequestIn {
        client: Format::Anthropic,
        upstream: Format::OpenaiChat,
        path: "/v1/messages",
        body: body.to_string().as_bytes(),
        model_map: &map,
        max_output_tokens: Some(8192),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let chat: Value = serde_json::from_slice(&t.body).unwrap_or_default();
    assert_eq!(chat["max_tokens"], 8192);
    assert_eq!(chat["stream"], false);
    assert!(chat.get("stream_options").is_none());
    assert_eq!(t.response.content_type(), "application/json");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the upstream's bytes are split, the client gets the same events.
    #[test]
    fn split_streams_translate_like_whole_ones(
        which in 0..STREAMS.len(),
        client in 0..3usize,
        cuts in proptest::collection::vec(0.0..1.0f64, 0..12),
    ) {
        let (_, plan) = clients()[client].clone();
        let input = fixture(&format!("{}.sse", STREAMS[which]));
        let (whole, _) = run_stream(&plan, &[&input]);
        let mut points: Vec<usize> = cuts.iter().map(|c| (c * input.len() as f64) as usize).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut last = 0;
        for p in points {
            pieces.push(&input[last..p]);
            last = p;
        }
        pieces.push(&input[last..]);
        let (split, _) = run_stream(&plan, &pieces);
        prop_assert_eq!(String::from_utf8_lossy(&split), String::from_utf8_lossy(&whole));
    }

    /// Arbitrary bytes from an upstream never panic and always end the client's
    /// stream with a terminal event of its format.
    #[test]
    fn garbage_streams_end_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..400), client in 0..3usize) {
        let (_, plan) = clients()[client].clone();
        let (out, t) = run_stream(&plan, &[&bytes]);
        let text = String::from_utf8_lossy(&out);
        let last = text.trim_end().rsplit("\n\n").next().unwrap_or_default().to_owned();
        let terminal = match client {
            0 => last.starts_with("event: error") || last.starts_with("event: message_stop"),
            1 => last.starts_with("event: response.failed") || last.starts_with("event: response.completed"),
            _ => last.starts_with("data: {\"error\"") || last.contains("\"finishReason\""),
        };
        prop_assert!(terminal, "{}", text);
        prop_assert!(t.outcome() != &StreamOutcome::Open);
    }
}

#[test]
fn codex_lite_requests_offer_the_tools_of_their_additional_tools_item() {
    let body = json!({
        "model": "gpt-5-codex",
        "stream": true,
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": [
                {"type": "namespace", "name": "functions", "description": "", "tools": [
                    {"type": "custom", "name": "exec", "description": "run code"},
                    {"type": "function", "name": "wait", "description": "wait", "parameters": {"type": "object"}}
                ]},
                {"type": "namespace", "name": "clock", "tools": [
                    {"type": "function", "name": "sleep", "parameters": {"type": "object"}}
                ]}
            ]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}
        ]
    })
    .to_string();
    let t = translate(
        Format::OpenaiResponses,
        "/v1/responses",
        body.as_bytes(),
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let chat: Value = serde_json::from_slice(&t.body).unwrap_or(Value::Null);
    let names: Vec<&str> = chat["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(names, ["exec", "wait", "sleep"]);
    assert_eq!(chat["messages"].as_array().map(Vec::len), Some(1), "{chat}");
}
