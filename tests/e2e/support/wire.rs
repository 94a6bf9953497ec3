//! What the mock answers, in each API's real wire shape: Anthropic Messages
//! (`message_start … message_stop`), OpenAI Responses (`response.created …
//! response.completed`), OpenAI Chat Completions (`chat.completion.chunk` …
//! `[DONE]`, for providers of another format), Gemini
//! (`streamGenerateContent?alt=sse`) and its Code Assist envelope
//! (`/v1internal:*`), plus the calls each CLI makes around the model call. Every model call answers `text`; anything unknown gets a
//! 404 in the shape of the API its path belongs to.

use serde_json::{Value, json};

use super::mock::{Reply, Seen};

pub fn answer(seen: &Seen, text: &str) -> Reply {
    let path = seen.path.split('?').next().unwrap_or("");
    match seen.host.as_str() {
        "oauth2.googleapis.com" | "www.googleapis.com" => return google_auth(path),
        _ => {}
    }
    if path.starts_with("/v1/messages") {
        return anthropic(seen, path, text);
    }
    if path.ends_with("/responses") {
        return responses(seen, text);
    }
    if path.ends_with("/chat/completions") {
        return chat_completions(seen, text);
    }
    if path.ends_with("/models") && seen.method == "GET" {
        return models(seen);
    }
    if let Some(method) = path.strip_prefix("/v1internal:") {
        return code_assist(method, gemini_text(seen, text));
    }
    if let Some((_, method)) = path.rsplit_once(':') {
        return gemini(method, gemini_text(seen, text));
    }
    Reply::json(
        404,
        json!({"error": {"code": 404, "message": format!("the e2e mock has no {path}"), "status": "NOT_FOUND"}}),
    )
}

/// Server-sent events: `event: NAME` (when named) and one JSON `data:` line.
fn event(name: Option<&str>, data: &Value) -> String {
    match name {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

fn streams(seen: &Seen) -> bool {
    seen.json()
        .and_then(|b| b.get("stream").and_then(Value::as_bool))
        .unwrap_or(false)
}

fn model(seen: &Seen, default: &str) -> String {
    seen.json()
        .and_then(|b| b.get("model").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| default.to_owned())
}

// ---- Anthropic Messages ----

fn anthropic(seen: &Seen, path: &str, text: &str) -> Reply {
    if path.ends_with("/count_tokens") {
        return Reply::json(200, json!({"input_tokens": 12}));
    }
    let model = model(seen, "claude-sonnet-4-5");
    let usage = json!({"input_tokens": 12, "output_tokens": 6, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
    if !streams(seen) {
        return Reply::json(
            200,
            json!({
                "id": "msg_e2e", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": null, "usage": usage,
            }),
        );
    }
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {
            "id": "msg_e2e", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 6}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    Reply::sse(events.iter().map(|(n, d)| event(Some(n), d)).collect())
}

// ---- OpenAI Responses ----

fn responses(seen: &Seen, text: &str) -> Reply {
    let model = model(seen, "gpt-5");
    let message = json!({"id": "msg_e2e", "type": "message", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let response = |status: &str, output: Value| {
        json!({"id": "resp_e2e", "object": "response", "created_at": 1_700_000_000, "status": status,
            "model": model, "output": output,
            "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 6, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 18}})
    };
    let events = [
        (
            "response.created",
            json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress", json!([]))}),
        ),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
            "item": {"id": "msg_e2e", "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
        ),
        (
            "response.content_part.added",
            json!({"type": "response.content_part.added", "sequence_number": 2, "item_id": "msg_e2e",
            "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
        (
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 3, "item_id": "msg_e2e",
            "output_index": 0, "content_index": 0, "delta": text}),
        ),
        (
            "response.output_text.done",
            json!({"type": "response.output_text.done", "sequence_number": 4, "item_id": "msg_e2e",
            "output_index": 0, "content_index": 0, "text": text}),
        ),
        (
            "response.content_part.done",
            json!({"type": "response.content_part.done", "sequence_number": 5, "item_id": "msg_e2e",
            "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}),
        ),
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "sequence_number": 6, "output_index": 0, "item": message}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed", "sequence_number": 7, "response": response("completed", json!([message]))}),
        ),
    ];
    Reply::sse(events.iter().map(|(n, d)| event(Some(n), d)).collect())
}

// ---- OpenAI Chat Completions ----

fn chat_completions(seen: &Seen, text: &str) -> Reply {
    let model = model(seen, "gpt-4o");
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18});
    if !streams(seen) {
        return Reply::json(
            200,
            json!({"id": "chatcmpl-e2e", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage}),
        );
    }
    let chunk = |delta: Value, finish: Value, usage: Value| {
        json!({"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": usage})
    };
    let mut events: Vec<String> = [
        chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
            Value::Null,
        ),
        chunk(json!({"content": text}), Value::Null, Value::Null),
        chunk(json!({}), json!("stop"), usage),
    ]
    .iter()
    .map(|c| event(None, c))
    .collect();
    events.push("data: [DONE]\n\n".to_owned());
    Reply::sse(events)
}

/// `GET …/models`: an empty list in both shapes a client may read (OpenAI's
/// `data`, Codex's `models`), so the CLI keeps its built-in model list.
fn models(_seen: &Seen) -> Reply {
    Reply::json(200, json!({"object": "list", "data": [], "models": []}))
}

// ---- Gemini (API key, Vertex) and Code Assist ----

/// Gemini CLI asks its utility models for JSON (the model router's
/// classifiers, the next-speaker check) and retries with backoff until the
/// answer parses: such calls get one object that satisfies each of them.
const UTILITY_JSON: &str = r#"{"reasoning":"e2e","model_choice":"flash","complexity_reasoning":"e2e","complexity_score":10,"next_speaker":"user"}"#;

fn gemini_text<'a>(seen: &Seen, text: &'a str) -> &'a str {
    let body = seen.json().unwrap_or_default();
    let config = body
        .get("generationConfig")
        .or_else(|| body.get("request").and_then(|r| r.get("generationConfig")));
    let wants_json = config
        .and_then(|c| c.get("responseMimeType"))
        .and_then(Value::as_str)
        == Some("application/json");
    if wants_json { UTILITY_JSON } else { text }
}

fn candidate(text: &str, finish: bool) -> Value {
    let mut c = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
    if finish {
        c["finishReason"] = json!("STOP");
    }
    c
}

fn gemini_response(text: &str, finish: bool) -> Value {
    let mut r = json!({"candidates": [candidate(text, finish)], "modelVersion": "gemini-2.5-pro", "responseId": "e2e"});
    if finish {
        r["usageMetadata"] =
            json!({"promptTokenCount": 12, "candidatesTokenCount": 6, "totalTokenCount": 18});
    }
    r
}

fn gemini(method: &str, text: &str) -> Reply {
    match method {
        "streamGenerateContent" => Reply::sse(vec![
            event(None, &gemini_response(text, false)),
            event(None, &gemini_response("", true)),
        ]),
        "generateContent" => Reply::json(200, gemini_response(text, true)),
        "countTokens" => Reply::json(200, json!({"totalTokens": 12})),
        "embedContent" => Reply::json(200, json!({"embedding": {"values": [0.0]}})),
        _ => Reply::json(
            404,
            json!({"error": {"code": 404, "message": format!("the e2e mock has no :{method}"), "status": "NOT_FOUND"}}),
        ),
    }
}

/// Code Assist wraps Gemini's responses in `{"response": …}` and adds the
/// calls a Google login makes first (`loadCodeAssist`, `onboardUser`).
fn code_assist(method: &str, text: &str) -> Reply {
    let wrap = |r: Value| json!({"response": r, "traceId": "e2e"});
    match method {
        "loadCodeAssist" => Reply::json(
            200,
            json!({
                "currentTier": {"id": "free-tier", "name": "Gemini Code Assist for individuals", "userDefinedCloudaicompanionProject": false},
                "allowedTiers": [{"id": "free-tier", "name": "Gemini Code Assist for individuals", "isDefault": true, "userDefinedCloudaicompanionProject": false}],
                "cloudaicompanionProject": "e2e-project",
            }),
        ),
        "onboardUser" => Reply::json(
            200,
            json!({"name": "operations/e2e", "done": true,
            "response": {"cloudaicompanionProject": {"id": "e2e-project", "name": "e2e"}}}),
        ),
        "streamGenerateContent" => Reply::sse(vec![
            event(None, &wrap(gemini_response(text, false))),
            event(None, &wrap(gemini_response("", true))),
        ]),
        "generateContent" => Reply::json(200, wrap(gemini_response(text, true))),
        "countTokens" => Reply::json(200, json!({"totalTokens": 12})),
        "listExperiments" => Reply::json(200, json!({"experimentIds": [], "flags": []})),
        "retrieveUserQuota" => Reply::json(200, json!({"buckets": []})),
        _ => Reply::json(200, json!({})),
    }
}

// ---- Google's OAuth endpoints (the CLI's own side traffic) ----

/// What google-auth-library asks of Google before Gemini CLI's first model
/// call: token info for cached credentials, a token for a refresh token
/// (Application Default Credentials), the account's e-mail.
fn google_auth(path: &str) -> Reply {
    const SCOPES: &str = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid";
    match path {
        "/tokeninfo" => Reply::json(
            200,
            json!({
                "aud": "e2e.apps.googleusercontent.com", "azp": "e2e.apps.googleusercontent.com",
                "scope": SCOPES, "exp": "4102444800", "expires_in": "3599",
                "email": "e2e@example.com", "email_verified": "true", "access_type": "offline",
            }),
        ),
        "/token" => Reply::json(
            200,
            json!({
                "access_token": "ya29.e2e-from-refresh", "expires_in": 3599, "token_type": "Bearer", "scope": SCOPES,
            }),
        ),
        "/oauth2/v2/userinfo" => Reply::json(
            200,
            json!({"id": "1", "email": "e2e@example.com", "verified_email": true}),
        ),
        _ => Reply::json(404, json!({"error": "not_found"})),
    }
}
