//! Every request on record, with its tokens: the real daemon and workers in
//! front of a canned upstream (`common/canned.rs`) that reports known usage in
//! every API format, plain and gzip. What `requests --json` shows must equal,
//! to the token, what the upstream reported; N requests make exactly N rows;
//! cut and aborted streams say so; bad usage leaves tokens unknown and the
//! client's bytes untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::canned::{self, ANTHROPIC, CHAT, Canned, Expected, GEMINI, RESPONSES, Vendor};
use common::{Home, wait_for};
use serde_json::Value;

/// Prices for the canned models, in the user's price file.
const PRICES: &str = r#"
[[model]]
match = ["claude-canned-1"]
input = 1
output = 2
cache_read = 0.5
cache_write = 4
"#;

const CLAUDE: &str = "/v1/messages";
const CODEX_RESPONSES: &str = "/v1/responses";
const CODEX_CHAT: &str = "/v1/chat/completions";
const GEMINI_JSON: &str = "/v1beta/models/gemini-canned:generateContent";
const GEMINI_STREAM: &str = "/v1beta/models/gemini-canned:streamGenerateContent";

struct World {
    home: Home,
    _upstream: Canned,
    claude: u16,
    codex: u16,
    gemini: u16,
}

/// A daemon with all three apps in front of one canned upstream.
fn world() -> World {
    let upstream = Canned::start();
    let home = Home::new();
    std::fs::write(home.path().join("prices.toml"), PRICES).unwrap();
    home.start();
    let claude = home.route("claude", upstream.port);
    let codex = home.route("codex", upstream.port);
    let gemini = home.route("gemini", upstream.port);
    for app in ["claude", "codex", "gemini"] {
        home.ok(&["enable", app]);
    }
    World {
        home,
        _upstream: upstream,
        claude,
        codex,
        gemini,
    }
}

impl World {
    /// The app's port and the path (with the query that picks the canned
    /// answer) for one vendor's endpoint.
    fn target(&self, vendor: Vendor, mode: &str) -> (u16, String) {
        let stream = mode.starts_with("sse") || matches!(mode, "cut" | "hang" | "malformed");
        let (port, path) = match vendor {
            Vendor::Anthropic => (self.claude, CLAUDE),
            Vendor::Responses => (self.codex, CODEX_RESPONSES),
            Vendor::Chat => (self.codex, CODEX_CHAT),
            Vendor::Gemini if stream => (self.gemini, GEMINI_STREAM),
            Vendor::Gemini => (self.gemini, GEMINI_JSON),
        };
        let sep = if vendor == Vendor::Gemini && stream {
            "?alt=sse&"
        } else {
            "?"
        };
        (port, format!("{path}{sep}mode={mode}"))
    }

    /// Sends one request; returns what the client received.
    fn send(&self, vendor: Vendor, mode: &str) -> (u16, Vec<u8>) {
        let (port, path) = self.target(vendor, mode);
        let body = match vendor {
            Vendor::Anthropic => r#"{"model":"claude-canned-1","max_tokens":5,"messages":[]}"#,
            Vendor::Gemini => r#"{"contents":[]}"#,
            _ => r#"{"model":"gpt-canned","input":"hi"}"#,
        };
        canned::request(port, &path, body).unwrap()
    }

    /// Every recorded request, oldest first.
    fn records(&self) -> Vec<Value> {
        self.home
            .ok(&["requests", "--json", "--limit", "100000"])
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Waits until exactly `n` rows are on record (and no more).
    fn wait_for_rows(&self, n: usize) -> Vec<Value> {
        let mut rows = Vec::new();
        wait_for(&format!("{n} rows"), Duration::from_secs(20), || {
            rows = self.records();
            assert!(rows.len() <= n, "more rows than requests: {}", rows.len());
            rows.len() == n
        });
        rows
    }
}

fn vendor_of(path: &str) -> Vendor {
    match path {
        CLAUDE => Vendor::Anthropic,
        CODEX_RESPONSES => Vendor::Responses,
        CODEX_CHAT => Vendor::Chat,
        _ => Vendor::Gemini,
    }
}

fn expected(vendor: Vendor) -> Expected {
    match vendor {
        Vendor::Anthropic => ANTHROPIC,
        Vendor::Responses => RESPONSES,
        Vendor::Chat => CHAT,
        Vendor::Gemini => GEMINI,
    }
}

fn tokens(row: &Value) -> (Value, Value, Value, Value, Value) {
    (
        row["input_tokens"].clone(),
        row["output_tokens"].clone(),
        row["cache_read_tokens"].clone(),
        row["cache_write_tokens"].clone(),
        row["reasoning_tokens"].clone(),
    )
}

fn as_json(e: Expected) -> (Value, Value, Value, Value, Value) {
    (
        e.0.into(),
        e.1.into(),
        e.2.into(),
        e.3.into(),
        e.4.map_or(Value::Null, Value::from),
    )
}

const VENDORS: [Vendor; 4] = [
    Vendor::Anthropic,
    Vendor::Responses,
    Vendor::Chat,
    Vendor::Gemini,
];

#[test]
fn recorded_tokens_equal_what_the_upstream_reported_in_every_format() {
    let w = world();
    let modes = ["json", "sse", "json-gzip", "sse-gzip"];
    for vendor in VENDORS {
        for mode in modes {
            let (status, body) = w.send(vendor, mode);
            assert_eq!(status, 200, "{vendor:?} {mode}");
            // The client gets the upstream's bytes, untouched.
            let received = if mode.ends_with("gzip") {
                canned::gunzip(&body)
            } else {
                body
            };
            let sent = vendor.body(mode);
            assert_eq!(
                String::from_utf8_lossy(&received),
                String::from_utf8_lossy(&sent),
                "{vendor:?} {mode}"
            );
        }
    }
    let rows = w.wait_for_rows(VENDORS.len() * modes.len());
    for row in &rows {
        let vendor = vendor_of(row["path"].as_str().unwrap());
        assert_eq!(tokens(row), as_json(expected(vendor)), "{vendor:?}: {row}");
        assert_eq!(row["outcome"], "ok", "{row}");
        assert_eq!(row["status"], 200, "{row}");
        assert_eq!(row["provider"], "mock", "{row}");
        assert!(row["error"].is_null(), "{row}");
        assert!(row["bytes_out"].as_u64().unwrap() > 0, "{row}");
        assert!(
            row["latency_ms"].is_u64() && row["ttfb_ms"].is_u64(),
            "{row}"
        );
        // The model the request named, or else the one the response named.
        let model = match vendor {
            Vendor::Anthropic => "claude-canned-1",
            Vendor::Gemini => "gemini-canned",
            _ => "gpt-canned",
        };
        assert_eq!(row["model"], model, "{row}");
        // The contract's fields, unknown ones null rather than missing.
        for field in [
            "time_ms",
            "app",
            "provider",
            "route",
            "method",
            "path",
            "model",
            "status",
            "outcome",
            "latency_ms",
            "ttfb_ms",
            "bytes_out",
            "failovers",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "cost_usd",
        ] {
            assert!(row.get(field).is_some(), "{field} missing: {row}");
        }
        // Priced from the user's file to the nano-dollar; no price: null, never 0.
        match vendor {
            Vendor::Anthropic => {
                // (11 × 1 + 22 × 2 + 44 × 0.5 + 33 × 4) / 1e6 USD
                let cost = row["cost_usd"].as_f64().unwrap();
                assert!((cost - 0.000_209).abs() < 1e-12, "{row}");
            }
            _ => assert!(row["cost_usd"].is_null(), "{row}"),
        }
    }
}

#[test]
fn n_requests_make_exactly_n_rows_and_the_totals_add_up() {
    let w = world();
    let n = 240;
    for i in 0..n {
        let vendor = VENDORS[i % VENDORS.len()];
        let mode = if i % 2 == 0 { "json" } else { "sse" };
        assert_eq!(w.send(vendor, mode).0, 200);
    }
    let rows = w.wait_for_rows(n);
    assert!(rows.iter().all(|r| r["outcome"] == "ok"));

    // `usage --json`: the contract's shape, and sums equal to the rows'.
    let report: Value =
        serde_json::from_str(&w.home.ok(&["usage", "--by", "app", "--json"])).unwrap();
    assert_eq!(report["by"], "app");
    assert!(report.get("since_ms").is_some());
    let total = &report["total"];
    assert_eq!(total["requests"], n as u64);
    assert_eq!(total["errors"], 0);
    let sum = |field: &str| -> u64 { rows.iter().map(|r| r[field].as_u64().unwrap_or(0)).sum() };
    let per_vendor = (n / VENDORS.len()) as u64;
    let input: u64 = VENDORS.iter().map(|v| expected(*v).0).sum::<u64>() * per_vendor;
    assert_eq!(sum("input_tokens"), input);
    for field in [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    ] {
        assert_eq!(total[field], sum(field), "{field}: {report}");
    }
    let keys: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 3, "{report}");
    for row in report["rows"].as_array().unwrap() {
        for field in [
            "key",
            "requests",
            "errors",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "cost_usd",
        ] {
            assert!(row.get(field).is_some(), "{field} missing: {row}");
        }
    }

    // Today's totals per app in `status`, folded from the live events.
    let status = w.home.status();
    let mut today = 0;
    for app in status["apps"].as_array().unwrap() {
        let usage = &app["usage_today"];
        today += usage["requests"].as_u64().unwrap();
        assert_eq!(app["dropped_requests"], 0, "{app}");
        let recorded = rows.iter().filter(|r| r["app"] == app["app"]).count() as u64;
        assert_eq!(usage["requests"], recorded, "{app}");
        let input: u64 = rows
            .iter()
            .filter(|r| r["app"] == app["app"])
            .map(|r| r["input_tokens"].as_u64().unwrap())
            .sum();
        assert_eq!(usage["input_tokens"], input, "{app}");
    }
    assert_eq!(today, n as u64);

    // A restarted daemon reads today's totals back from the database.
    w.home.ok(&["daemon", "stop"]);
    w.home.start();
    let claude = w.home.app("claude");
    assert_eq!(
        claude["usage_today"]["requests"],
        rows.iter().filter(|r| r["app"] == "claude").count() as u64
    );
    assert_eq!(w.records().len(), n, "no row lost or added by the restart");
}

#[test]
fn aborted_and_cut_streams_are_recorded_with_their_outcome_and_usage_so_far() {
    let w = world();
    // The upstream breaks the connection after its first event.
    let (status, body) = w.send(Vendor::Anthropic, "cut");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&body).contains("message_start"),
        "the first event reached the client"
    );
    // The client leaves after the first event of a stream that goes silent.
    let (port, path) = w.target(Vendor::Anthropic, "hang");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = r#"{"model":"claude-canned-1","messages":[]}"#;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains("message_start") {
        assert!(Instant::now() < deadline, "no first event");
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    drop(stream);

    let rows = w.wait_for_rows(2);
    let cut = &rows
        .iter()
        .find(|r| r["outcome"] == "cut")
        .expect("a cut row");
    let aborted = &rows
        .iter()
        .find(|r| r["outcome"] == "aborted")
        .expect("an aborted row");
    for row in [cut, aborted] {
        assert_eq!(row["status"], 200, "{row}");
        // What `message_start` said before the end; the output never came.
        assert_eq!(row["input_tokens"], ANTHROPIC.0, "{row}");
        assert_eq!(row["cache_read_tokens"], ANTHROPIC.2, "{row}");
        assert!(row["output_tokens"].is_null(), "{row}");
        assert!(row["error"].is_string(), "{row}");
    }
    // `usage` counts them as errors.
    let report: Value = serde_json::from_str(&w.home.ok(&["usage", "--json"])).unwrap();
    assert_eq!(report["total"]["errors"], 2, "{report}");
}

#[test]
fn bad_usage_leaves_tokens_unknown_and_the_client_stream_untouched() {
    let w = world();
    let mut sent = 0;
    for vendor in VENDORS {
        for mode in ["malformed", "absurd", "nonjson"] {
            let (status, body) = w.send(vendor, mode);
            assert_eq!(status, 200, "{vendor:?} {mode}");
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&vendor.body(mode)),
                "{vendor:?} {mode}: the client gets the upstream's bytes"
            );
            sent += 1;
        }
    }
    let rows = w.wait_for_rows(sent);
    for row in &rows {
        assert_eq!(row["outcome"], "ok", "{row}");
        for field in [
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "cost_usd",
        ] {
            assert!(row[field].is_null(), "{field} should be unknown: {row}");
        }
    }
    // The worker is still the same, still serving.
    assert_eq!(w.send(Vendor::Anthropic, "json").0, 200);
    assert_eq!(w.home.app("claude")["restarts"], 0);
}

#[test]
fn requests_follow_prints_each_request_with_its_tokens_as_it_finishes() {
    let w = world();
    assert_eq!(w.send(Vendor::Responses, "json").0, 200);
    w.wait_for_rows(1);
    let mut follow = w
        .home
        .command(&["requests", "-f", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from requests -f");
        serde_json::from_str(&line).unwrap()
    };
    // The history first, then the live request, once each.
    assert_eq!(next()["path"], CODEX_RESPONSES);
    assert_eq!(w.send(Vendor::Gemini, "sse").0, 200);
    let live = next();
    assert_eq!(live["path"], GEMINI_STREAM, "{live}");
    assert_eq!(tokens(&live), as_json(GEMINI), "{live}");
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "printed once"
    );
    let _ = follow.kill();
    let _ = follow.wait();
}
