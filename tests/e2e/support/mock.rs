//! The mock upstream: one recording HTTP/1.1 server on 127.0.0.1, plain on one
//! port and TLS (the test CA's leaf certificate) on another. It keeps every
//! request it saw and answers through a [`Script`], by default the wire shapes
//! of [`super::wire`]. The CONNECT proxy tunnels the official hosts to the TLS
//! port, so the daemon's official providers land here as they would upstream.
//!
//! A WebSocket upgrade is accepted too (Codex streams Responses over one):
//! each text frame the client sends is recorded as a request of method `WS`
//! (with the upgrade's headers) and answered with the script's server-sent
//! events' `data:` payloads, one text frame each.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::wire;

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Whether it came over TLS (through the CONNECT proxy's tunnel).
    pub tls: bool,
    /// The `Host` header without its port.
    pub host: String,
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for assertions and failure messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The request body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `METHOD host/path`, for messages.
    pub fn line(&self) -> String {
        format!("{} {}{}", self.method, self.host, self.path)
    }
}

/// An answer: status, content type and the body's chunks, sent one frame each.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub chunks: Vec<String>,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            chunks: vec![value.to_string()],
        }
    }

    pub fn sse(chunks: Vec<String>) -> Reply {
        Reply {
            status: 200,
            content_type: "text/event-stream",
            chunks,
        }
    }
}

/// How the mock answers a request.
pub type Script = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// The running mock. Dropping it stops its runtime and so its listeners.
pub struct Mock {
    /// Plain HTTP, for a provider added with `--base-url http://127.0.0.1:PORT`.
    pub port: u16,
    /// TLS, where the CONNECT proxy tunnels the official hosts.
    pub tls_port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Mock {
    /// A mock that answers every model call with `text`, in each API's shape.
    pub fn answering(text: &str, tls: Arc<ServerConfig>) -> Mock {
        let text = text.to_owned();
        Mock::start(Arc::new(move |seen| wire::answer(seen, &text)), tls)
    }

    pub fn start(script: Script, tls: Arc<ServerConfig>) -> Mock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("mock runtime");
        let bind = || {
            runtime
                .block_on(TcpListener::bind("127.0.0.1:0"))
                .expect("bind mock")
        };
        let (plain, secure) = (bind(), bind());
        let port = plain.local_addr().expect("addr").port();
        let tls_port = secure.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            script,
            seen: Arc::clone(&seen),
        });
        runtime.spawn(accept(plain, None, Arc::clone(&state)));
        runtime.spawn(accept(secure, Some(TlsAcceptor::from(tls)), state));
        Mock {
            port,
            tls_port,
            seen,
            _runtime: runtime,
        }
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The requests whose path contains `fragment`.
    pub fn seen_at(&self, fragment: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.contains(fragment))
            .collect()
    }

    /// Every request, one line each, for failure messages.
    pub fn log(&self) -> String {
        self.seen()
            .iter()
            .map(|s| format!("  {}\n", s.line()))
            .collect()
    }
}

struct State {
    script: Script,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn accept(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        serve(TokioIo::new(stream), true, state).await;
                    }
                }
                None => serve(TokioIo::new(stream), false, state).await,
            }
        });
    }
}

async fn serve<I>(io: I, tls: bool, state: Arc<State>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let state = Arc::clone(&state);
        async move {
            let reply = match websocket_key(&req) {
                Some(key) => upgrade(req, &key, tls, state),
                None => handle(req, tls, &state).await,
            };
            Ok::<_, Infallible>(reply)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades()
        .await;
}

type Body = BoxBody<Bytes, Infallible>;

/// A request as [`Seen`], with `body`.
fn seen_of(parts: &hyper::http::request::Parts, tls: bool, body: Bytes) -> Seen {
    Seen {
        tls,
        host: host_of(&parts.headers),
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    }
}

impl State {
    /// Asks the script, then records the request.
    fn answer(&self, seen: Seen) -> Reply {
        let reply = (self.script)(&seen);
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(seen);
        reply
    }
}

async fn handle(req: Request<Incoming>, tls: bool, state: &State) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = state.answer(seen_of(&parts, tls, body));
    let frames = futures::stream::iter(
        reply
            .chunks
            .into_iter()
            .map(|chunk| Ok::<_, Infallible>(Frame::data(Bytes::from(chunk)))),
    );
    Response::builder()
        .status(reply.status)
        .header(hyper::header::CONTENT_TYPE, reply.content_type)
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("mock response")
}

/// `Sec-WebSocket-Key` of a WebSocket upgrade request.
fn websocket_key(req: &Request<Incoming>) -> Option<String> {
    let upgrade = req.headers().get(hyper::header::UPGRADE)?.to_str().ok()?;
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return None;
    }
    let key = req.headers().get(hyper::header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

/// Accepts the upgrade (no extensions) and serves the WebSocket in a task.
fn upgrade(
    mut req: Request<Incoming>,
    accept: &str,
    tls: bool,
    state: Arc<State>,
) -> Response<Body> {
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, _) = req.into_parts();
    let handshake = seen_of(&parts, tls, Bytes::new());
    state
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(handshake.clone());
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(message)) = ws.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let mut seen = handshake.clone();
            seen.method = "WS".into();
            seen.body = Bytes::copy_from_slice(text.as_bytes());
            for chunk in state.answer(seen).chunks {
                let Some(data) = sse_data(&chunk) else {
                    continue;
                };
                if ws.send(Message::text(data)).await.is_err() {
                    return;
                }
            }
        }
    });
    Response::builder()
        .status(hyper::StatusCode::SWITCHING_PROTOCOLS)
        .header(hyper::header::CONNECTION, "upgrade")
        .header(hyper::header::UPGRADE, "websocket")
        .header(hyper::header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(http_body_util::Empty::new().boxed())
        .expect("upgrade response")
}

/// The `data:` payload of one server-sent event.
fn sse_data(event: &str) -> Option<String> {
    event
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .map(str::to_owned)
}

/// The `Host` header without its port.
fn host_of(headers: &hyper::HeaderMap) -> String {
    let raw = headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    match raw.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
        _ => raw.to_owned(),
    }
}
