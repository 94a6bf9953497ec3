//! A small harness shared by the route and WebSocket tests: an in-process
//! `Proxy` on 127.0.0.1, a raw HTTP/1.1 client, mock upstreams, and a CONNECT
//! proxy that logs each tunnel's target. Every wait has a deadline; traffic
//! never leaves 127.0.0.1.

#![allow(dead_code)] // each test file uses its own part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use switchyard_daemon::apps::App;
use switchyard_daemon::proxy::{
    Credential, ProviderConfig, Proxy, ProxyConfig, ProxyReport, RequestSummary, Timeouts,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type TestResult = Result<(), BoxError>;

/// Upper bound for any single test scenario.
pub const SCENARIO: Duration = Duration::from_secs(30);

pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, BoxError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("timed out after {limit:?}").into())
}

pub fn provider(name: &str, url: &str) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        base_url: url.into(),
        credential: Credential::Passthrough,
        ..ProviderConfig::default()
    }
}

/// The app's official provider as the store seeds it, at `url` (its own
/// official base URL, or a local mock standing in for it).
pub fn official(app: App, url: &str) -> ProviderConfig {
    ProviderConfig {
        official: true,
        ..provider(app.official_provider_name(), url)
    }
}

pub fn config(app: App, providers: Vec<ProviderConfig>) -> ProxyConfig {
    let mut c = ProxyConfig::new(app, providers);
    c.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
    };
    c
}

pub struct Harness {
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    pub reports: mpsc::Receiver<ProxyReport>,
    pub shutdown: CancellationToken,
    pub served: JoinHandle<std::io::Result<()>>,
}

impl Harness {
    pub async fn next_summary(&mut self) -> Result<RequestSummary, BoxError> {
        match within(Duration::from_secs(5), self.reports.recv()).await? {
            Some(ProxyReport::Finished(s)) => Ok(s),
            None => Err("report channel closed".into()),
        }
    }
}

pub async fn start(config: ProxyConfig) -> Result<Harness, BoxError> {
    start_with(config, Matcher::builder().build(), Duration::from_secs(5)).await
}

pub async fn start_with(
    config: ProxyConfig,
    matcher: Matcher,
    drain: Duration,
) -> Result<Harness, BoxError> {
    let proxy = Arc::new(Proxy::with_proxy_matcher(config, matcher)?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, reports) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let served = tokio::spawn({
        let (proxy, shutdown) = (Arc::clone(&proxy), shutdown.clone());
        async move { proxy.serve(listener, tx, shutdown, drain).await }
    });
    Ok(Harness {
        addr,
        proxy,
        reports,
        shutdown,
        served,
    })
}

/// A request to the proxy with a valid `Host` and the given headers.
pub fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Request<Full<Bytes>>, BoxError> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{}", addr.port()));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    Ok(builder.body(Full::new(Bytes::from_static(b"{}")))?)
}

/// Sends on a fresh connection and reads the whole response.
pub async fn send(
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, HeaderMap, Bytes), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = within(Duration::from_secs(10), sender.send_request(req)).await??;
    let (parts, body) = response.into_parts();
    let body = within(Duration::from_secs(10), body.collect())
        .await??
        .to_bytes();
    conn.abort();
    Ok((parts.status, parts.headers, body))
}

/// What a mock upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
}

/// A hyper upstream answering every request with `status` and `body`, and
/// reporting what it received.
pub async fn mock(
    status: u16,
    body: &'static str,
) -> Result<(SocketAddr, mpsc::UnboundedReceiver<Seen>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(serve_mock(stream, status, body, tx));
        }
    });
    Ok((addr, seen))
}

/// Serves the mock's answers on one connection (plain or TLS).
pub async fn serve_mock<S>(
    stream: S,
    status: u16,
    body: &'static str,
    tx: mpsc::UnboundedSender<Seen>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move {
            let (parts, body_in) = req.into_parts();
            let _ = body_in.collect().await;
            let _ = tx.send(Seen {
                method: parts.method,
                uri: parts.uri,
                headers: parts.headers,
            });
            let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            Ok::<_, Infallible>(r)
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

pub async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> Result<T, BoxError> {
    within(Duration::from_secs(5), rx.recv())
        .await?
        .ok_or_else(|| "channel closed".into())
}

/// An HTTP CONNECT proxy that reports each tunnel's target (`host:port`), then
/// hands the client's stream to `tunnel` (after answering 200), or refuses with
/// 403 when `tunnel` is `None`. Nothing is ever dialled out.
pub async fn connect_logger(
    tunnel: Option<mpsc::UnboundedSender<TcpStream>>,
) -> Result<(String, mpsc::UnboundedReceiver<String>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (tx, targets) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (tx, tunnel) = (tx.clone(), tunnel.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let line = head.lines().next().unwrap_or_default().to_owned();
                let target = line
                    .strip_prefix("CONNECT ")
                    .and_then(|rest| rest.split(' ').next())
                    .unwrap_or(&line)
                    .to_owned();
                let _ = tx.send(target);
                match tunnel {
                    Some(tunnel) => {
                        if stream
                            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                            .await
                            .is_ok()
                        {
                            let _ = tunnel.send(stream);
                        }
                    }
                    None => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    Ok((url, targets))
}

/// Reads a request head up to its blank line; `None` if the peer left first.
pub async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte: whatever follows the head (a TLS hello) stays unread.
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 16 * 1024 {
            return None;
        }
    }
    String::from_utf8(head).ok()
}
