//! Failover that understands streams and rate limits, key pools, loop refusal and
//! translation, against scripted upstreams on 127.0.0.1: a real `Proxy` in front
//! of raw TCP servers that answer exactly the bytes each test writes (headers a
//! vendor sends on a 429, an SSE `error` event, a stream cut mid-way). Every
//! wait has a deadline.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use support::{BoxError, SCENARIO, TestResult, config, provider, start, within};
use switchyard_daemon::apps::App;
use switchyard_daemon::proxy::{BreakerPolicy, BreakerState, Credential, ProviderConfig};
use switchyard_daemon::translate::{Format, ModelMap};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One request a scripted upstream received.
#[derive(Debug, Clone)]
struct Got {
    head: String,
    body: Bytes,
}

impl Got {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What a scripted upstream writes: the bytes, then whether to cut the
/// connection without finishing (a chunked body left open).
struct Answer {
    bytes: Vec<u8>,
}

fn whole(status: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    out.push_str(body);
    Answer {
        bytes: out.into_bytes(),
    }
}

/// A 200 event stream whose events are `events`, ended properly unless `cut`.
fn sse(events: &[&str], cut: bool) -> Answer {
    let mut out = String::from(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
    );
    for event in events {
        out.push_str(&format!("{:x}\r\n{event}\r\n", event.len()));
    }
    if !cut {
        out.push_str("0\r\n\r\n");
    }
    Answer {
        bytes: out.into_bytes(),
    }
}

struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    got: mpsc::UnboundedReceiver<Got>,
}

impl Upstream {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn next(&mut self) -> Result<Got, BoxError> {
        within(Duration::from_secs(5), self.got.recv())
            .await?
            .ok_or_else(|| "upstream closed".into())
    }
}

/// A raw upstream: each connection's one request is read whole, then answered
/// with `script(n, request)` (n counts requests from 0) and the connection closed.
async fn upstream<F>(script: F) -> Result<Upstream, BoxError>
where
    F: Fn(usize, &Got) -> Answer + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicUsize::new(0));
    let (tx, got) = mpsc::unbounded_channel();
    let script = Arc::new(script);
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (script, tx, counter) = (Arc::clone(&script), tx.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let answer = script(n, &request);
                let _ = tx.send(request);
                let _ = stream.write_all(&answer.bytes).await;
                let _ = stream.flush().await;
                // Dropping the stream closes it: a chunked body left open is cut.
            });
        }
    });
    Ok(Upstream { addr, hits, got })
}

async fn read_request(stream: &mut TcpStream) -> Option<Got> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Got {
        head,
        body: Bytes::copy_from_slice(&buf[head_end..head_end + length]),
    })
}

/// Posts `body` to the proxy as Claude Code would and reads the whole answer.
async fn post(
    addr: SocketAddr,
    path: &str,
    body: &Value,
) -> Result<(StatusCode, HeaderMap, Bytes), BoxError> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", format!("127.0.0.1:{}", addr.port()))
        .header("content-type", "application/json")
        .header("x-api-key", "sk-client-own")
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = within(Duration::from_secs(10), sender.send_request(request)).await??;
    let (parts, body) = response.into_parts();
    let body = within(Duration::from_secs(10), body.collect())
        .await??
        .to_bytes();
    conn.abort();
    Ok((parts.status, parts.headers, body))
}

fn claude_request(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello"}]
    })
}

const OK_BODY: &str = r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],"model":"m","stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;

fn ok() -> Answer {
    whole("200 OK", &[("content-type", "application/json")], OK_BODY)
}

#[tokio::test]
async fn retry_after_cools_a_provider_for_exactly_that_long() -> TestResult {
    within(SCENARIO, async {
        let limited = upstream(|n, _| {
            if n == 0 {
                whole("429 Too Many Requests", &[("retry-after", "1")], "{}")
            } else {
                ok()
            }
        })
        .await?;
        let backup = upstream(|_, _| ok()).await?;
        let mut h = start(config(
            App::Claude,
            vec![provider("a", &limited.url()), provider("b", &backup.url())],
        ))
        .await?;
        let began = Instant::now();
        let (status, _, _) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::OK);
        let summary = h.next_summary().await?;
        assert_eq!(
            (summary.provider.as_deref(), summary.failovers.len()),
            (Some("b"), 1)
        );
        // While it cools, `a` is not asked at all.
        let (status, _, _) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h.next_summary().await?.failovers.len(), 0);
        assert_eq!(limited.hits(), 1);
        // Once its second is over, it is asked again.
        while limited.hits() == 1 {
            assert!(began.elapsed() < Duration::from_secs(5), "never retried");
            tokio::time::sleep(Duration::from_millis(50)).await;
            post(h.addr, "/v1/messages", &claude_request(false)).await?;
        }
        let waited = began.elapsed();
        assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
        assert!(
            waited < Duration::from_millis(2500),
            "retried after {waited:?}"
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn every_provider_cooling_gets_429_with_the_soonest_retry_after() -> TestResult {
    within(SCENARIO, async {
        let a = upstream(|_, _| {
            whole(
                "429 Too Many Requests",
                &[("anthropic-ratelimit-requests-reset", "2099-01-01T00:00:00Z")],
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
            )
        })
        .await?;
        let b = upstream(|_, _| {
            whole(
                "503 Service Unavailable",
                &[("retry-after", "20")],
                r#"{"type":"error","error":{"type":"api_error","message":"busy"}}"#,
            )
        })
        .await?;
        let h = start(config(
            App::Claude,
            vec![provider("a", &a.url()), provider("b", &b.url())],
        ))
        .await?;
        // The first time both are asked; the last answer is handed back.
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
        // Then both cool down: nobody is asked, and the client is told when to
        // come back (b's 20 s, sooner than a's reset capped at an hour).
        let (status, headers, body) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!((19..=20).contains(&retry), "Retry-After {retry}");
        let body: Value = serde_json::from_slice(&body)?;
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("rate limited")),
            "{body}"
        );
        assert_eq!((a.hits(), b.hits()), (1, 1));
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn overloaded_529_fails_over_like_a_5xx() -> TestResult {
    within(SCENARIO, async {
        let overloaded = upstream(|_, _| {
            whole(
                "529 Overloaded",
                &[],
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
        })
        .await?;
        let backup = upstream(|_, _| ok()).await?;
        let mut h = start(config(
            App::Claude,
            vec![
                provider("a", &overloaded.url()),
                provider("b", &backup.url()),
            ],
        ))
        .await?;
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, OK_BODY.as_bytes());
        let s = h.next_summary().await?;
        assert_eq!(s.provider.as_deref(), Some("b"));
        // On record, with its reason (the daemon makes it a `Failover` event).
        let failed: Vec<(&str, &str)> = s
            .failovers
            .iter()
            .map(|f| (f.provider.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(failed, [("a", "status 529")]);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn errors_after_the_first_byte_count_toward_the_breaker() -> TestResult {
    within(SCENARIO, async {
        const EVENT_ERROR: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        const START: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n";
        // First an SSE error event, then a stream cut mid-way: both after a 200.
        let flaky = upstream(|n, _| {
            if n == 0 {
                sse(&[START, EVENT_ERROR], false)
            } else {
                sse(&[START], true)
            }
        })
        .await?;
        let backup = upstream(|_, _| ok()).await?;
        let mut c = config(
            App::Claude,
            vec![provider("a", &flaky.url()), provider("b", &backup.url())],
        );
        c.breaker = BreakerPolicy {
            failures_to_open: 2,
            cool_down: Duration::from_secs(60),
        };
        let mut h = start(c).await?;
        // The client gets the stream as it was sent, error event included.
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(true)).await?;
        assert_eq!(status, StatusCode::OK);
        assert!(body.ends_with(EVENT_ERROR.as_bytes()), "{body:?}");
        let s = h.next_summary().await?;
        assert!(
            s.error.as_deref().is_some_and(|e| e.contains("error event")),
            "{s:?}"
        );
        // The cut stream ends the client's body early.
        let _ = post(h.addr, "/v1/messages", &claude_request(true)).await;
        let _ = h.next_summary().await?;
        let health = &h.proxy.stats().snapshot().providers[0];
        assert_eq!(
            (health.breaker, health.consecutive_failures),
            (BreakerState::Open, 2)
        );
        // Open: the next request goes to b without asking a.
        let (status, _, _) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h.next_summary().await?.provider.as_deref(), Some("b"));
        assert_eq!(flaky.hits(), 2);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_rate_limited_key_rests_and_the_next_key_serves() -> TestResult {
    within(SCENARIO, async {
        let mut pooled = upstream(|_, got| {
            if got.header("x-api-key").as_deref() == Some("sk-first") {
                whole(
                    "429 Too Many Requests",
                    &[("retry-after", "60")],
                    r#"{"type":"error","error":{"type":"rate_limit_error","message":"quota"}}"#,
                )
            } else {
                ok()
            }
        })
        .await?;
        let mut p = provider("pool", &pooled.url());
        p.credential = Credential::Pool(vec![
            ("env:FIRST_KEY".into(), "sk-first".into()),
            ("stored-2".into(), "sk-second".into()),
        ]);
        let mut h = start(config(App::Claude, vec![p])).await?;
        let (status, _, _) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::OK);
        let keys: Vec<Option<String>> = vec![
            pooled.next().await?.header("x-api-key"),
            pooled.next().await?.header("x-api-key"),
        ];
        assert_eq!(
            keys,
            [Some("sk-first".to_owned()), Some("sk-second".to_owned())]
        );
        let s = h.next_summary().await?;
        assert_eq!(s.key.as_deref(), Some("stored-2"));
        // The resting key is not tried again; the label, never the key, is recorded.
        post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(
            pooled.next().await?.header("x-api-key").as_deref(),
            Some("sk-second")
        );
        let s = h.next_summary().await?;
        assert_eq!(s.key.as_deref(), Some("stored-2"));
        assert!(!format!("{s:?}").contains("sk-second"));
        assert_eq!(pooled.hits(), 3);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn an_error_event_split_across_chunks_still_counts() -> TestResult {
    within(SCENARIO, async {
        const START: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n";
        // `event: error` and its `data: {"type":"error"` both cut in two:
        // chunked-encoding chunks, which the proxy reads as separate frames.
        const HALF: &str = "event: er";
        const MID: &str = "ror\ndata: {\"type\":\"err";
        const REST: &str =
            "or\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let flaky = upstream(|_, _| sse(&[START, HALF, MID, REST], false)).await?;
        let mut c = config(App::Claude, vec![provider("a", &flaky.url())]);
        c.breaker = BreakerPolicy {
            failures_to_open: 1,
            cool_down: Duration::from_secs(60),
        };
        let mut h = start(c).await?;
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(true)).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("{START}{HALF}{MID}{REST}").as_bytes());
        let s = h.next_summary().await?;
        assert!(
            s.error
                .as_deref()
                .is_some_and(|e| e.contains("error event")),
            "{s:?}"
        );
        let health = &h.proxy.stats().snapshot().providers[0];
        assert_eq!(health.breaker, BreakerState::Open);
        Ok(())
    })
    .await?
}

/// A pool of keys named `label=key` pairs, all for the provider at `url`.
fn pool(url: &str, keys: &[(&str, &str)]) -> ProviderConfig {
    let mut p = provider("pool", url);
    p.credential = Credential::Pool(
        keys.iter()
            .map(|(l, k)| ((*l).to_owned(), (*k).to_owned()))
            .collect(),
    );
    p
}

#[tokio::test]
async fn keys_out_of_credit_or_revoked_rest_and_the_next_key_serves() -> TestResult {
    within(SCENARIO, async {
        let mut pooled = upstream(|_, got| match got.header("x-api-key").as_deref() {
            // OpenRouter / DeepSeek: Payment Required.
            Some("sk-broke") => whole(
                "402 Payment Required",
                &[("content-type", "application/json")],
                r#"{"error":{"message":"Insufficient credits","code":402}}"#,
            ),
            // Anthropic: a 400 whose message says the credit is gone.
            Some("sk-no-credit") => whole(
                "400 Bad Request",
                &[("content-type", "application/json")],
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}"#,
            ),
            Some("sk-revoked") => whole(
                "401 Unauthorized",
                &[("content-type", "application/json")],
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            ),
            _ => ok(),
        })
        .await?;
        let p = pool(
            &pooled.url(),
            &[
                ("broke", "sk-broke"),
                ("no-credit", "sk-no-credit"),
                ("revoked", "sk-revoked"),
                ("good", "sk-good"),
            ],
        );
        let mut h = start(config(App::Claude, vec![p])).await?;
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, OK_BODY.as_bytes());
        let mut keys = Vec::new();
        for _ in 0..4 {
            keys.push(pooled.next().await?.header("x-api-key").unwrap_or_default());
        }
        assert_eq!(keys, ["sk-broke", "sk-no-credit", "sk-revoked", "sk-good"]);
        let s = h.next_summary().await?;
        assert_eq!(s.key.as_deref(), Some("good"));
        let reasons: Vec<&str> = s.failovers.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "status 402 (key broke rests: quota or credit exhausted)",
                "status 400 (key no-credit rests: quota or credit exhausted)",
                "status 401 (key revoked rests: refused)",
            ]
        );
        // They rest long: the next request goes straight to the good key.
        post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(
            pooled.next().await?.header("x-api-key").as_deref(),
            Some("sk-good")
        );
        assert_eq!(h.next_summary().await?.failovers.len(), 0);
        assert_eq!(pooled.hits(), 5);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_quota_429_rests_the_key_long_whatever_retry_after_says() -> TestResult {
    within(SCENARIO, async {
        const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        let pooled = upstream(|_, _| {
            whole(
                "429 Too Many Requests",
                &[("retry-after", "1"), ("content-type", "application/json")],
                QUOTA,
            )
        })
        .await?;
        let p = pool(&pooled.url(), &[("one", "sk-1"), ("two", "sk-2")]);
        let mut h = start(config(App::Claude, vec![p])).await?;
        // Both keys tried; the last answer is handed back as it came.
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body, QUOTA.as_bytes());
        assert_eq!(pooled.hits(), 2);
        let _ = h.next_summary().await?;
        // Not one second but an hour: nobody is asked, the client is told when.
        let (status, headers, _) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!((3500..=3600).contains(&retry), "retry-after {retry}");
        assert_eq!(pooled.hits(), 2);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_pooled_keys_ordinary_bad_request_goes_back_untouched() -> TestResult {
    within(SCENARIO, async {
        const BAD: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 999999 > 8192"}}"#;
        let pooled = upstream(|_, _| {
            whole(
                "400 Bad Request",
                &[("content-type", "application/json"), ("x-vendor", "kept")],
                BAD,
            )
        })
        .await?;
        let p = pool(&pooled.url(), &[("one", "sk-1"), ("two", "sk-2")]);
        let mut h = start(config(App::Claude, vec![p])).await?;
        let (status, headers, body) =
            post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, BAD.as_bytes());
        assert_eq!(headers.get("x-vendor").map(|v| v.as_bytes()), Some(&b"kept"[..]));
        let s = h.next_summary().await?;
        assert_eq!((s.key.as_deref(), s.failovers.len()), (Some("one"), 0));
        // The key is not the trouble: it is used again.
        post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(h.next_summary().await?.key.as_deref(), Some("one"));
        assert_eq!(pooled.hits(), 2);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_provider_pointing_at_our_own_port_is_never_sent_a_request() -> TestResult {
    within(SCENARIO, async {
        // Stands in for one of Switchyard's own ports.
        let ours = upstream(|_, _| ok()).await?;
        let mut c = config(App::Claude, vec![provider("loop", &ours.url())]);
        c.own_ports = vec![ours.addr.port()];
        let mut h = start(c).await?;
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(false)).await?;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("points back at Switchyard's own port"),
            "{text}"
        );
        let s = h.next_summary().await?;
        assert!(s.error.is_some_and(|e| e.contains("loop")));
        assert_eq!(ours.hits(), 0);
        // It counts as the provider's failure.
        assert_eq!(
            h.proxy.stats().snapshot().providers[0].consecutive_failures,
            1
        );
        Ok(())
    })
    .await?
}

fn chat_provider(url: &str) -> Result<ProviderConfig, BoxError> {
    Ok(ProviderConfig {
        format: Some(Format::OpenaiChat),
        model_map: "claude-*=deepseek-chat".parse::<ModelMap>()?,
        credential: Credential::Key("sk-chat".into()),
        ..provider("chat", &format!("{url}/v1"))
    })
}

/// The SSE events of a body, as (event name, data JSON).
fn events(body: &[u8]) -> Vec<(String, Value)> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_default()
                .to_owned();
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null);
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn claude_code_streams_a_tool_call_from_a_chat_completions_provider() -> TestResult {
    within(SCENARIO, async {
        let chunks: Vec<String> = [
            json!({"id":"c1","created":1,"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me look."}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Read","arguments":""}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"file_"}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"path\":\"a.txt\"}"}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"id":"c1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}),
        ]
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .chain(["data: [DONE]\n\n".to_owned()])
        .collect();
        let mut chat = upstream(move |_, _| {
            let events: Vec<&str> = chunks.iter().map(String::as_str).collect();
            sse(&events, false)
        })
        .await?;
        let mut h = start(config(App::Claude, vec![chat_provider(&chat.url())?])).await?;
        let mut request = claude_request(true);
        request["tools"] = json!([{"name":"Read","description":"read a file","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}}}}]);
        let (status, headers, body) = post(h.addr, "/v1/messages?beta=true", &request).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        // What the provider got: Chat Completions, the mapped model, its own key only.
        let got = chat.next().await?;
        assert!(got.head.starts_with("POST /v1/chat/completions "), "{}", got.head);
        assert_eq!(got.json()["model"], "deepseek-chat");
        assert_eq!(got.json()["stream"], true);
        assert_eq!(got.json()["tools"][0]["function"]["name"], "Read");
        assert_eq!(got.header("authorization").as_deref(), Some("Bearer sk-chat"));
        assert_eq!(got.header("x-api-key"), None);
        assert_eq!(got.header("anthropic-version"), None);
        // What Claude Code got: Anthropic events, the tool's arguments streamed.
        let events = events(&body);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"message_start"));
        assert_eq!(names.last(), Some(&"message_stop"));
        assert_eq!(events[0].1["message"]["model"], "claude-sonnet-4-5");
        let tool = events
            .iter()
            .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
            .ok_or("no tool_use block")?;
        assert_eq!(tool.1["content_block"]["name"], "Read");
        assert_eq!(tool.1["content_block"]["id"], "call_1");
        let fragments: Vec<&str> = events
            .iter()
            .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
            .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
            .collect();
        assert_eq!(fragments, ["{\"file_", "path\":\"a.txt\"}"]);
        let delta = events
            .iter()
            .find(|(n, _)| n == "message_delta")
            .ok_or("no message_delta")?;
        assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta.1["usage"]["output_tokens"], 7);
        let s = h.next_summary().await?;
        assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(s.upstream_model.as_deref(), Some("deepseek-chat"));
        assert_eq!(s.error, None);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn malformed_upstream_events_end_the_stream_with_an_error_event() -> TestResult {
    within(SCENARIO, async {
        let first = json!({"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"}}]});
        let first = format!("data: {first}\n\n");
        let chat =
            upstream(move |_, _| sse(&[first.as_str(), "data: {not json\n\n"], false)).await?;
        let mut c = config(App::Claude, vec![chat_provider(&chat.url())?]);
        c.breaker.failures_to_open = 1;
        let mut h = start(c).await?;
        let (status, _, body) = post(h.addr, "/v1/messages", &claude_request(true)).await?;
        assert_eq!(status, StatusCode::OK);
        let events = events(&body);
        let (name, data) = events.last().ok_or("no events")?;
        assert_eq!(name, "error");
        assert_eq!(data["type"], "error");
        assert!(
            data["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("malformed")),
            "{data}"
        );
        assert!(h.next_summary().await?.error.is_some());
        // A failure of the provider: its breaker counts it.
        assert_eq!(
            h.proxy.stats().snapshot().providers[0].breaker,
            BreakerState::Open
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn what_cannot_be_translated_is_refused_by_name() -> TestResult {
    within(SCENARIO, async {
        let chat = upstream(|_, _| ok()).await?;
        let h = start(config(App::Claude, vec![chat_provider(&chat.url())?])).await?;
        let mut request = claude_request(false);
        request["mcp_servers"] = json!([{"type":"url","url":"https://example.com","name":"x"}]);
        let (status, _, body) = post(h.addr, "/v1/messages", &request).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let body: Value = serde_json::from_slice(&body)?;
        assert_eq!(body["type"], "error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("mcp_servers") && m.contains("openai-chat")),
            "{body}"
        );
        assert_eq!(chat.hits(), 0);
        Ok(())
    })
    .await?
}
