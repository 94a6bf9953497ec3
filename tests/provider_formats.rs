//! Providers of any API format through the real binary: presets, the refusal of
//! a URL that points back at Switchyard, a presets file with a bad entry, and
//! Claude Code's stream translated from a Chat Completions provider event by
//! event by a real worker.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use common::{Home, free_port};
use serde_json::{Value, json};

fn providers(home: &Home, app: &str) -> Vec<Value> {
    let out = home.ok(&["provider", "list", app, "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn presets_are_listed_and_a_provider_starts_from_one() {
    let home = Home::new();
    home.start();
    let presets: Value =
        serde_json::from_str(&home.ok(&["provider", "presets", "claude", "--json"])).unwrap();
    let ids: Vec<&str> = presets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for id in ["anthropic", "deepseek-anthropic", "openrouter", "ollama"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(
        !ids.contains(&"openai"),
        "a Responses preset is not for Claude Code"
    );
    let table = home.ok(&["provider", "presets", "codex"]);
    assert!(
        table.contains("openai-responses") && table.contains("--preset ID"),
        "{table}"
    );

    let added = home.ok(&[
        "provider",
        "add",
        "claude",
        "ds",
        "--preset",
        "deepseek",
        "--model-map",
        "claude-*=deepseek-chat",
        "--key-env",
        "DS_KEY_ONE",
        "--key-env",
        "DS_KEY_TWO",
    ]);
    assert!(
        added.contains("openai-chat, translated from anthropic"),
        "{added}"
    );
    let ds = providers(&home, "claude")
        .into_iter()
        .find(|p| p["name"] == "ds")
        .unwrap();
    assert_eq!(ds["format"], "openai-chat");
    assert_eq!(ds["preset"], "deepseek");
    assert_eq!(ds["base_url"], "https://api.deepseek.com");
    assert_eq!(ds["model_map"], json!(["claude-*=deepseek-chat"]));
    assert_eq!(ds["keys"], json!(["env:DS_KEY_ONE", "env:DS_KEY_TWO"]));
    let listing = home.ok(&["provider", "list", "claude"]);
    assert!(
        listing.contains("keys: env:DS_KEY_ONE, env:DS_KEY_TWO"),
        "{listing}"
    );
    assert!(
        listing.contains("model map: claude-*=deepseek-chat"),
        "{listing}"
    );

    // A preset's own key variable is used when none is given.
    home.ok(&[
        "provider",
        "add",
        "claude",
        "router",
        "--preset",
        "openrouter",
    ]);
    let router = providers(&home, "claude")
        .into_iter()
        .find(|p| p["name"] == "router")
        .unwrap();
    assert_eq!(router["keys"], json!(["env:OPENROUTER_API_KEY"]));

    for (args, needle) in [
        (
            vec!["provider", "add", "claude", "x", "--preset", "nope"],
            "no preset \"nope\"",
        ),
        (
            vec!["provider", "add", "claude", "x", "--preset", "openai"],
            "is not for claude",
        ),
        (
            vec![
                "provider",
                "add",
                "codex",
                "x",
                "--base-url",
                "https://h",
                "--format",
                "anthropic",
            ],
            "cannot use a anthropic provider",
        ),
        (
            vec![
                "provider",
                "add",
                "claude",
                "x",
                "--base-url",
                "https://h",
                "--model-map",
                "nonsense",
            ],
            "model map rule",
        ),
    ] {
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_url_pointing_back_at_a_switchyard_port_is_refused() {
    let home = Home::new();
    home.start();
    let claude = free_port();
    let codex = free_port();
    home.ok(&["port", "claude", &claude.to_string()]);
    home.ok(&["port", "codex", &codex.to_string()]);
    for url in [
        format!("http://127.0.0.1:{claude}"),
        format!("http://localhost:{codex}/v1"),
        format!("http://[::1]:{claude}"),
    ] {
        let out = home.run(&["provider", "add", "claude", "self", "--base-url", &url]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("points back at Switchyard's own proxy port"),
            "{err}"
        );
    }
    assert!(
        providers(&home, "claude")
            .iter()
            .all(|p| p["name"] != "self")
    );

    // A port that becomes Switchyard's later: the worker refuses to send there.
    let later = free_port();
    home.ok(&[
        "provider",
        "add",
        "claude",
        "later",
        "--base-url",
        &format!("http://127.0.0.1:{later}"),
    ]);
    home.ok(&["provider", "remove", "claude", "anthropic"]);
    home.ok(&["enable", "claude"]);
    home.ok(&["port", "codex", &later.to_string()]);
    common::wait_for(
        "claude's worker to refuse the provider now on codex's port",
        Duration::from_secs(10),
        || {
            let (status, body) = common::http(claude, "POST", "/v1/messages", "{}").unwrap();
            status == 502 && body.contains("points back at Switchyard's own port")
        },
    );
}

#[test]
fn a_presets_file_with_a_bad_entry_stops_the_start_with_the_entry_named() {
    let home = Home::new();
    std::fs::write(
        home.path().join("presets.toml"),
        "[[preset]]\nid = \"mine\"\nname = \"Mine\"\napps = [\"claude\"]\nbase_url = \"http://example.com/v1\"\nformat = \"openai-chat\"\nauth = \"none\"\ndocs = \"https://example.com\"\n",
    )
    .unwrap();
    let out = home.run(&["daemon", "start"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("preset \"mine\"") && err.contains("https"),
        "{err}"
    );

    std::fs::write(
        home.path().join("presets.toml"),
        "[[preset]]\nid = \"mine\"\nname = \"Mine\"\napps = [\"claude\"]\nbase_url = \"http://127.0.0.1:8080/v1\"\nformat = \"openai-chat\"\nauth = \"none\"\ndocs = \"https://example.com\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let out = home.run(&["daemon", "start"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("preset \"mine\"") && err.contains("colour"),
        "{err}"
    );

    // Fixed, it starts and offers the user's preset.
    std::fs::write(
        home.path().join("presets.toml"),
        "[[preset]]\nid = \"mine\"\nname = \"Mine\"\napps = [\"claude\"]\nbase_url = \"http://127.0.0.1:8080/v1\"\nformat = \"openai-chat\"\nauth = \"none\"\ndocs = \"https://example.com\"\n",
    )
    .unwrap();
    home.start();
    assert!(home.ok(&["provider", "presets", "claude"]).contains("mine"));
}

/// One Chat Completions chunk as an SSE event.
fn chunk(value: Value) -> String {
    format!("data: {value}\n\n")
}

#[test]
fn claude_code_streams_through_a_real_worker_from_a_chat_completions_provider() {
    // The provider: writes its first event, then waits until the client has
    // seen that event translated before writing the rest — a proxy that held
    // the stream back would never get the rest.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap().port();
    let (go_on, wait) = mpsc::channel::<()>();
    let (seen_tx, seen) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        seen_tx
            .send(format!("{head}\n{}", String::from_utf8_lossy(&body)))
            .unwrap();
        let write = |stream: &mut TcpStream, event: &str| {
            write!(stream, "{:x}\r\n{event}\r\n", event.len()).unwrap();
            stream.flush().unwrap();
        };
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            .unwrap();
        write(
            &mut stream,
            &chunk(
                json!({"id":"c1","created":1,"choices":[{"index":0,"delta":{"role":"assistant","content":"Reading"}}]}),
            ),
        );
        wait.recv_timeout(Duration::from_secs(10)).unwrap();
        for event in [
            chunk(
                json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_7","type":"function","function":{"name":"Read","arguments":"{\"file_path\":"}}]}}]}),
            ),
            chunk(
                json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"notes.md\"}"}}]}}]}),
            ),
            chunk(
                json!({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":9}}),
            ),
            "data: [DONE]\n\n".to_owned(),
        ] {
            write(&mut stream, &event);
        }
        stream.write_all(b"0\r\n\r\n").unwrap();
    });

    let home = Home::new().env("CHAT_KEY", "sk-chat-key");
    home.start();
    let port = free_port();
    home.ok(&["port", "claude", &port.to_string()]);
    home.ok(&[
        "provider",
        "add",
        "claude",
        "chat",
        "--base-url",
        &format!("http://127.0.0.1:{upstream}/v1"),
        "--format",
        "openai-chat",
        "--model-map",
        "claude-*=local-model",
        "--key-env",
        "CHAT_KEY",
        "--priority",
        "-10",
    ]);
    home.ok(&["enable", "claude"]);

    let request = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "stream": true,
        "system": [{"type": "text", "text": "You are terse."}],
        "tools": [{"name": "Read", "description": "read a file", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "what is in notes.md?"}]
    })
    .to_string();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        client,
        "POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nx-api-key: sk-ant-client\r\nanthropic-version: 2023-06-01\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{request}",
        request.len()
    )
    .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    // The first text arrives translated while the provider still holds the rest.
    while !String::from_utf8_lossy(&received).contains("\"text_delta\"") {
        let n = client
            .read(&mut buf)
            .expect("the first event, translated, before the rest");
        assert!(
            n > 0,
            "closed early: {}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buf[..n]);
    }
    go_on.send(()).unwrap();
    client.read_to_end(&mut received).unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    for needle in [
        "event: message_start",
        "\"model\":\"claude-sonnet-4-5\"",
        "\"type\":\"tool_use\"",
        "\"name\":\"Read\"",
        "\"partial_json\":\"{\\\"file_path\\\":\"",
        "\"stop_reason\":\"tool_use\"",
        "event: message_stop",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }

    let got = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(got.starts_with("POST /v1/chat/completions "), "{got}");
    let lower = got.to_ascii_lowercase();
    assert!(lower.contains("authorization: bearer sk-chat-key"), "{got}");
    assert!(
        !lower.contains("sk-ant-client"),
        "the client's key stays home: {got}"
    );
    let body: Value = serde_json::from_str(got.split_once("\n\n").unwrap().1.trim()).unwrap();
    assert_eq!(body["model"], "local-model");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["tools"][0]["function"]["name"], "Read");

    // The record names the model asked for, the one sent, and the key's label.
    let mut record = Value::Null;
    common::wait_for("the request on record", Duration::from_secs(10), || {
        let out = home.ok(&["requests", "--app", "claude", "--json"]);
        record = out
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|r| r["path"] == "/v1/messages")
            .unwrap_or(Value::Null);
        !record.is_null()
    });
    assert_eq!(record["model"], "claude-sonnet-4-5", "{record}");
    assert_eq!(record["mapped_model"], "local-model", "{record}");
    assert_eq!(record["key"], "env:CHAT_KEY", "{record}");
    assert_eq!(record["provider"], "chat", "{record}");
    // Priced as the model that ran (no price for local-model: unknown), never
    // at the Claude price of the model the client named.
    assert!(record["output_tokens"].is_u64(), "{record}");
    assert!(record["cost_usd"].is_null(), "{record}");
    assert!(!record.to_string().contains("sk-chat-key"));
}

#[test]
fn a_failover_is_an_event() {
    use std::process::Stdio;

    let backup = common::upstream::MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", backup.port);
    // Nothing listens there: the attempt is refused, then b serves.
    let dead = free_port();
    home.ok(&[
        "provider",
        "add",
        "claude",
        "dead",
        "--base-url",
        &format!("http://127.0.0.1:{dead}"),
        "--priority",
        "-20",
    ]);
    home.ok(&["enable", "claude"]);
    let mut events = home
        .command(&["events", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = events.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The snapshot first, then the events from then on.
    lines.recv_timeout(Duration::from_secs(10)).unwrap();
    let (status, _) = common::http(port, "POST", "/v1/messages", "{}").unwrap();
    assert_eq!(status, 200, "failed over to the mock");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let failover = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines.recv_timeout(left).expect("a failover event");
        let event: Value = serde_json::from_str(&line).unwrap();
        if !event["kind"]["failover"].is_null() {
            break event["kind"]["failover"].clone();
        }
    };
    let _ = events.kill();
    let _ = events.wait();
    assert_eq!(failover["app"], "claude");
    assert_eq!(failover["provider"], "dead");
    assert!(
        failover["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{failover}"
    );
}

#[test]
fn keys_on_stdin_one_a_line_make_a_pool_shown_by_label_only() {
    use std::process::Stdio;

    let home = Home::new();
    home.start();
    let mut add = home
        .command(&[
            "provider",
            "add",
            "codex",
            "pool",
            "--base-url",
            "https://pool.example/v1",
            "--key-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"sk-pool-first\n\nsk-pool-second\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let pool = providers(&home, "codex")
        .into_iter()
        .find(|p| p["name"] == "pool")
        .unwrap();
    assert_eq!(pool["keys"], json!(["stored", "stored-2"]));
    assert_eq!(pool["auth"], "pool of 2");
    let shown = home.ok(&["provider", "list", "--json"]) + &home.ok(&["status", "--json"]);
    assert!(!shown.contains("sk-pool"), "a key leaked: {shown}");
}
