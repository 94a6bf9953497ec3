//! The real CLIs on a provider of another API format: a Chat Completions mock
//! added with `--format openai-chat` ahead of the official provider, so every
//! model call is translated by the worker — Claude Code (Anthropic Messages)
//! including a tool call it runs and answers, and Codex (Responses).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::mock::{Reply, Seen};
use crate::support::wire;
use crate::support::world::{Upstream, World};

/// What the file the model asks Claude Code to read holds.
const SECRET: &str = "switchyard-e2e-notes-7d1f";

/// Adds the mock's Chat Completions endpoint as `app`'s first provider, translated.
fn add_chat_provider(world: &World, model_map: &str) {
    world.home.ok(&[
        "provider",
        "add",
        world.app,
        "chat",
        "--base-url",
        &format!("http://127.0.0.1:{}/v1", world.mock.port),
        "--format",
        "openai-chat",
        "--model-map",
        model_map,
        "--priority",
        "-10",
    ]);
}

fn chat_calls(world: &World) -> Vec<Value> {
    world
        .mock
        .seen_at("/v1/chat/completions")
        .iter()
        .filter_map(Seen::json)
        .collect()
}

/// A streamed Chat answer that calls `name` with `arguments`, the arguments
/// split in two fragments as real servers stream them.
fn tool_call(name: &str, arguments: &str) -> Reply {
    let (a, b) = arguments.split_at(arguments.len() / 2);
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-tool", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "mock-chat-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut events = vec![
        chunk(
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_e2e_1", "type": "function",
                "function": {"name": name, "arguments": a}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
    ];
    events.push("data: [DONE]\n\n".to_owned());
    Reply::sse(events)
}

fn has_tool(body: &Value, name: &str) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == name))
}

/// The text of the `tool` messages in a Chat request.
fn tool_results(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].to_string())
        .collect()
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn claude_code_on_a_chat_completions_provider_runs_a_tool_and_sends_the_result_back() {
    let reply = "switchyard-e2e translated claude reply";
    let world = World::scripted(
        "claude",
        Upstream::Official,
        Arc::new(move |seen: &Seen| {
            let Some(body) = seen.json() else {
                return wire::answer(seen, reply);
            };
            if !seen.path.ends_with("/chat/completions") {
                return wire::answer(seen, reply);
            }
            let results = tool_results(&body);
            if results.contains(SECRET) {
                return wire::answer(seen, &format!("{reply}: the notes say {SECRET}"));
            }
            let asks_for_notes = body.to_string().contains("notes.txt");
            if asks_for_notes && has_tool(&body, "Read") && results.is_empty() {
                // The absolute path is in the prompt; take it from there.
                let file = body["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| {
                        m["content"].as_str().map(str::to_owned).or_else(|| {
                            m["content"].as_array().map(|parts| {
                                parts
                                    .iter()
                                    .filter_map(|p| p["text"].as_str())
                                    .collect::<String>()
                            })
                        })
                    })
                    .find_map(|text| {
                        text.split_whitespace()
                            .find(|w| w.ends_with("notes.txt"))
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                return tool_call("Read", &json!({"file_path": file}).to_string());
            }
            wire::answer(seen, reply)
        }),
    );
    let notes = world.user().join("work/notes.txt");
    world.write("work/notes.txt", &format!("{SECRET}\n"));
    add_chat_provider(&world, "claude-*=mock-chat-model");
    let shell = [("ANTHROPIC_API_KEY", "sk-ant-api03-e2e-key")];
    world.takeover(&shell);
    let mut cmd = world.cli("claude", &shell);
    cmd.args([
        "-p",
        &format!(
            "Read the file {} and tell me what it says.",
            notes.display()
        ),
        "--allowedTools",
        "Read",
    ]);
    world.run_ok(cmd, SECRET);

    let calls = chat_calls(&world);
    assert!(
        calls.iter().all(|c| c["model"] == "mock-chat-model"),
        "models not mapped: {:?}",
        calls.iter().map(|c| c["model"].clone()).collect::<Vec<_>>()
    );
    let asked = calls
        .iter()
        .position(|c| {
            has_tool(c, "Read") && tool_results(c).is_empty() && c.to_string().contains("notes.txt")
        })
        .unwrap_or_else(|| {
            panic!(
                "no request offered the Read tool; the mock saw:\n{}",
                world.mock.log()
            )
        });
    let answered = calls
        .iter()
        .position(|c| tool_results(c).contains(SECRET))
        .unwrap_or_else(|| {
            panic!(
                "the tool's result never came back; the mock saw:\n{}",
                world.mock.log()
            )
        });
    assert!(asked < answered, "the result came back before the call");
    let result_request = &calls[answered];
    let call_id_sent = result_request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_e2e_1");
    assert!(
        call_id_sent,
        "the result is not paired with the call: {result_request}"
    );
    // The client's Anthropic key never reaches the Chat provider.
    for seen in world.mock.seen_at("/v1/chat/completions") {
        assert_eq!(seen.header("x-api-key"), None, "{}", seen.line());
        assert_eq!(seen.header("authorization"), None, "{}", seen.line());
        assert_eq!(seen.header("anthropic-version"), None, "{}", seen.line());
    }
    assert!(
        world.mock.seen_at("/v1/messages").is_empty(),
        "a model call bypassed the translating provider:\n{}",
        world.mock.log()
    );
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn codex_on_a_chat_completions_provider() {
    let reply = "switchyard-e2e translated codex reply";
    let world = World::scripted(
        "codex",
        Upstream::Official,
        Arc::new(move |seen: &Seen| wire::answer(seen, reply)),
    );
    world.write(
        ".codex/auth.json",
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-e2e-key"}"#,
    );
    add_chat_provider(&world, "gpt-*=mock-chat-model");
    world.takeover(&[]);
    let mut cmd = world.cli("codex", &[]);
    cmd.args(["exec", "--skip-git-repo-check", "Say hello"]);
    world.run_ok(cmd, reply);

    let calls = chat_calls(&world);
    assert!(
        !calls.is_empty(),
        "no Chat call; the mock saw:\n{}\n{}",
        world.mock.log(),
        world
            .mock
            .seen_at("/responses")
            .iter()
            .map(|s| format!("{:?} {}", s.headers, s.text()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let call = calls.last().expect("a call");
    assert_eq!(call["model"], "mock-chat-model");
    assert_eq!(call["stream"], true);
    assert!(call["messages"].to_string().contains("Say hello"), "{call}");
    assert!(
        world.mock.seen_at("/responses").is_empty(),
        "a model call bypassed the translating provider:\n{}",
        world.mock.log()
    );
}
