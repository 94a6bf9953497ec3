//! WebSocket pass-through: a real WebSocket client (tokio-tungstenite) talks
//! through the in-process proxy to a local WebSocket mock upstream. The
//! handshake is guarded, routed and keyed like any request; frames then flow
//! both ways untouched until a side closes, the idle timeout, or a drain.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::{HeaderMap, StatusCode};
use hyper_util::client::proxy::matcher::Matcher;
use support::*;
use switchyard_daemon::apps::App;
use switchyard_daemon::proxy::{Credential, Timeouts};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A WebSocket upstream that reports each handshake and echoes text frames.
async fn ws_mock() -> Result<(SocketAddr, mpsc::UnboundedReceiver<Seen>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                // tungstenite's callback type fixes the error type.
                #[allow(clippy::result_large_err)]
                let callback = |req: &Request, mut resp: Response| {
                    let _ = tx.send(Seen {
                        method: req.method().clone(),
                        uri: req.uri().clone(),
                        headers: req.headers().clone(),
                    });
                    resp.headers_mut()
                        .insert("x-models-etag", http::HeaderValue::from_static("etag-1"));
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    let reply = match message {
                        Message::Text(text) => Message::text(format!("echo: {text}")),
                        Message::Binary(data) => Message::Binary(data),
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    if ws.send(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok((addr, seen))
}

/// Opens a WebSocket to the proxy at `path` with extra handshake headers.
async fn ws_connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &'static str)],
) -> Result<(WebSocketStream<TcpStream>, HeaderMap), WsError> {
    let mut req = format!("ws://127.0.0.1:{}{path}", addr.port()).into_client_request()?;
    for (k, v) in headers {
        req.headers_mut()
            .insert(*k, http::HeaderValue::from_static(v));
    }
    let stream = TcpStream::connect(addr).await?;
    let (ws, response) = tokio_tungstenite::client_async(req, stream).await?;
    Ok((ws, response.headers().clone()))
}

/// The next text frame's text.
async fn next_text(ws: &mut WebSocketStream<TcpStream>) -> Result<String, BoxError> {
    match within(Duration::from_secs(5), ws.next()).await? {
        Some(Ok(Message::Text(text))) => Ok(text.to_string()),
        other => Err(format!("expected a text frame, got {other:?}").into()),
    }
}

/// Waits for the stream to end (a close frame, EOF or a reset).
async fn closed(ws: &mut WebSocketStream<TcpStream>) -> Result<(), BoxError> {
    within(Duration::from_secs(10), async {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await
}

fn keyed(url: &str) -> switchyard_daemon::proxy::ProviderConfig {
    switchyard_daemon::proxy::ProviderConfig {
        credential: Credential::Key("sk-injected".into()),
        ..provider("keyed", url)
    }
}

#[tokio::test]
async fn a_websocket_round_trip_passes_through_with_the_key_injected() -> TestResult {
    within(SCENARIO, async {
        let (up, mut seen) = ws_mock().await?;
        let mut h = start(config(App::Codex, vec![keyed(&format!("http://{up}/v1"))])).await?;
        let sent = [
            ("authorization", "Bearer client-token"),
            ("chatgpt-account-id", "acc-1"),
            ("openai-beta", "responses_websockets=2026-02-06"),
        ];
        let (mut ws, headers) = ws_connect(h.addr, "/responses", &sent).await?;
        assert_eq!(
            headers.get("x-models-etag").map(|v| v.as_bytes()),
            Some(&b"etag-1"[..])
        );
        let handshake = next(&mut seen).await?;
        assert_eq!(handshake.uri.path(), "/v1/responses");
        let header = |k: &str| handshake.headers.get(k).and_then(|v| v.to_str().ok());
        assert_eq!(header("authorization"), Some("Bearer sk-injected"));
        assert_eq!(header("chatgpt-account-id"), Some("acc-1"));
        assert_eq!(
            header("openai-beta"),
            Some("responses_websockets=2026-02-06")
        );
        assert_eq!(header("host"), Some(up.to_string().as_str()));

        ws.send(Message::text("hello")).await?;
        assert_eq!(next_text(&mut ws).await?, "echo: hello");
        let big = "x".repeat(256 * 1024);
        ws.send(Message::text(big.clone())).await?;
        assert_eq!(next_text(&mut ws).await?.len(), big.len() + 6);
        ws.close(None).await?;
        closed(&mut ws).await?;
        // The tunnel ends when both sides have closed their connections.
        drop(ws);

        let summary = h.next_summary().await?;
        assert_eq!(
            (
                summary.method.as_str(),
                summary.path.as_str(),
                summary.status
            ),
            ("GET", "/responses", 101)
        );
        assert_eq!(summary.provider.as_deref(), Some("keyed"));
        assert!(
            summary.bytes_in > 256 * 1024 && summary.bytes_out > 256 * 1024,
            "{summary:?}"
        );
        assert_eq!(summary.error, None);
        let stats = h.proxy.stats().snapshot();
        assert_eq!((stats.requests, stats.in_flight, stats.errors), (1, 0, 0));
        assert!(stats.bytes_in >= summary.bytes_in && stats.bytes_out >= summary.bytes_out);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn browsers_are_refused_and_a_refusal_upstream_comes_back() -> TestResult {
    within(SCENARIO, async {
        let (up, mut seen) = ws_mock().await?;
        let mut h = start(config(App::Codex, vec![keyed(&format!("http://{up}"))])).await?;
        let browser = [("origin", "https://evil.example")];
        let Err(WsError::Http(refused)) = ws_connect(h.addr, "/responses", &browser).await else {
            return Err("a browser's upgrade went through".into());
        };
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let body: serde_json::Value =
            serde_json::from_slice(refused.body().as_deref().unwrap_or_default())?;
        assert_eq!(
            body["error"]["code"], "switchyard_forbidden",
            "OpenAI's shape for Codex"
        );
        assert_eq!(h.next_summary().await?.status, 403);
        assert!(seen.try_recv().is_err(), "the upstream never saw it");

        // An upstream that refuses the upgrade (401) is answered as it is: no
        // failover, the CLI falls back to HTTP on its own.
        let (no, mut no_seen) = mock(401, r#"{"error":{"message":"no"}}"#).await?;
        let (yes, mut yes_seen) = ws_mock().await?;
        let h = start(config(
            App::Codex,
            vec![
                provider("no", &format!("http://{no}")),
                provider("yes", &format!("http://{yes}")),
            ],
        ))
        .await?;
        let Err(WsError::Http(rejected)) = ws_connect(h.addr, "/responses", &[]).await else {
            return Err("a 401 upgrade went through".into());
        };
        assert_eq!(rejected.status(), StatusCode::UNAUTHORIZED);
        next(&mut no_seen).await?;
        assert!(yes_seen.try_recv().is_err());
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn an_upgrade_fails_over_until_an_upstream_accepts_it() -> TestResult {
    within(SCENARIO, async {
        let (busy, mut busy_seen) = mock(503, "busy").await?;
        let (up, mut seen) = ws_mock().await?;
        // The official provider routes the handshake like a request: an API key
        // goes to its base URL (a local mock here).
        let mut h = start(config(
            App::Codex,
            vec![
                provider("busy", &format!("http://{busy}")),
                official(App::Codex, &format!("http://{up}")),
            ],
        ))
        .await?;
        let (mut ws, _) =
            ws_connect(h.addr, "/responses", &[("authorization", "Bearer sk-1")]).await?;
        next(&mut busy_seen).await?;
        assert_eq!(next(&mut seen).await?.uri.path(), "/responses");
        ws.send(Message::text("hi")).await?;
        assert_eq!(next_text(&mut ws).await?, "echo: hi");
        ws.close(None).await?;
        closed(&mut ws).await?;
        // The tunnel ends when both sides have closed their connections.
        drop(ws);
        let summary = h.next_summary().await?;
        assert_eq!(
            (
                summary.provider.as_deref(),
                summary.route,
                summary.failovers.len()
            ),
            (Some("openai"), Some("api-key"), 1)
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_silent_tunnel_is_closed_at_the_idle_timeout() -> TestResult {
    within(SCENARIO, async {
        let (up, _seen) = ws_mock().await?;
        let mut c = config(App::Codex, vec![keyed(&format!("http://{up}"))]);
        c.timeouts = Timeouts {
            idle: Duration::from_millis(600),
            ..c.timeouts
        };
        let mut h = start(c).await?;
        let (mut ws, _) = ws_connect(h.addr, "/responses", &[]).await?;
        // Traffic keeps it open past the idle timeout...
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            ws.send(Message::text("tick")).await?;
            assert_eq!(next_text(&mut ws).await?, "echo: tick");
        }
        // ...silence closes it.
        closed(&mut ws).await?;
        let summary = h.next_summary().await?;
        let error = summary.error.unwrap_or_default();
        assert!(error.contains("idle timeout"), "{error}");
        assert_eq!(h.proxy.stats().snapshot().errors, 1);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_drain_lets_tunnels_run_to_its_deadline_then_closes_them() -> TestResult {
    within(SCENARIO, async {
        let (up, _seen) = ws_mock().await?;
        let c = config(App::Codex, vec![keyed(&format!("http://{up}"))]);
        let mut h = start_with(c, Matcher::builder().build(), Duration::from_millis(800)).await?;
        let (mut ws, _) = ws_connect(h.addr, "/responses", &[]).await?;
        h.shutdown.cancel();
        // Still served while the drain runs.
        ws.send(Message::text("during the drain")).await?;
        assert_eq!(next_text(&mut ws).await?, "echo: during the drain");
        assert!(!h.served.is_finished(), "the drain waits for the tunnel");
        closed(&mut ws).await?;
        within(Duration::from_secs(5), &mut h.served).await???;
        let summary = h.next_summary().await?;
        assert_eq!(
            summary.error.as_deref(),
            Some("WebSocket closed at the drain deadline")
        );
        Ok(())
    })
    .await?
}
