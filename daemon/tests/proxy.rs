//! End-to-end tests of the worker's reverse proxy: a real `Proxy` on 127.0.0.1 in
//! front of in-process mock upstreams (hyper servers, or raw TCP where a test needs
//! byte-level control: SSE timing, resets, disconnect detection). Every wait has a
//! deadline; traffic never leaves 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use switchyard_daemon::apps::App;
use switchyard_daemon::proxy::{
    BreakerPolicy, BreakerState, Credential, ProviderConfig, Proxy, ProxyConfig, ProxyReport,
    RequestSummary, Timeouts,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TestResult = Result<(), BoxError>;

/// Upper bound for any single test scenario.
const SCENARIO: Duration = Duration::from_secs(30);

async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, BoxError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("timed out after {limit:?}").into())
}

// ---------------------------------------------------------------- mock upstreams

/// What a mock upstream received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

struct Mock {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Mock {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    async fn next_seen(&mut self) -> Result<Seen, BoxError> {
        within(Duration::from_secs(5), self.seen.recv())
            .await?
            .ok_or_else(|| "mock upstream closed".into())
    }
}

/// A hyper upstream that reads each request fully, records it, and answers with `f`.
async fn mock<F, Fut>(f: F) -> Result<Mock, BoxError>
where
    F: Fn(Seen) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicUsize::new(0));
    let (tx, seen) = mpsc::unbounded_channel();
    let f = Arc::new(f);
    let counter = Arc::clone(&hits);
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (f, tx, hits) = (Arc::clone(&f), tx.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (f, tx, hits) = (Arc::clone(&f), tx.clone(), Arc::clone(&hits));
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let seen = Seen {
                            method: parts.method,
                            uri: parts.uri,
                            headers: parts.headers,
                            body,
                        };
                        hits.fetch_add(1, Ordering::SeqCst);
                        let _ = tx.send(seen.clone());
                        Ok::<_, Infallible>(f(seen).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Mock {
        addr,
        hits,
        connections,
        seen,
    })
}

fn respond(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
    r
}

async fn ok_mock(body: &'static str) -> Result<Mock, BoxError> {
    mock(move |_| async move { respond(200, body) }).await
}

async fn status_mock(status: u16) -> Result<Mock, BoxError> {
    mock(move |_| async move { respond(status, "{\"error\":\"upstream says no\"}") }).await
}

/// A raw TCP upstream for one connection: `script` gets the socket after the request
/// head has been read.
async fn raw_upstream<F, Fut>(script: F) -> Result<SocketAddr, BoxError>
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        if read_head(&mut stream).await {
            script(stream).await;
        }
    });
    Ok(addr)
}

/// Reads a request head (up to its blank line); false if the peer left first.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Waits (at most 10 s) until the peer closes: reads until EOF or an error, so
/// request body bytes still in flight are not mistaken for the close.
async fn wait_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// A port nobody listens on (bound, then closed).
async fn refused_url() -> Result<String, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

// ---------------------------------------------------------------- the proxy

struct Harness {
    addr: SocketAddr,
    proxy: Arc<Proxy>,
    reports: mpsc::Receiver<ProxyReport>,
    shutdown: CancellationToken,
    served: JoinHandle<std::io::Result<()>>,
}

impl Harness {
    async fn next_summary(&mut self) -> Result<RequestSummary, BoxError> {
        match within(Duration::from_secs(5), self.reports.recv()).await? {
            Some(ProxyReport::Finished(s)) => Ok(s),
            None => Err("report channel closed".into()),
        }
    }
}

fn provider(name: &str, url: &str) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        base_url: url.into(),
        credential: Credential::Passthrough,
        ..ProviderConfig::default()
    }
}

fn config(app: App, providers: Vec<ProviderConfig>) -> ProxyConfig {
    let mut c = ProxyConfig::new(app, providers);
    // Short enough that timeout scenarios finish quickly, long enough for a loaded CI box.
    c.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
    };
    c
}

async fn start(config: ProxyConfig) -> Result<Harness, BoxError> {
    start_with(config, Matcher::builder().build(), Duration::from_secs(5)).await
}

async fn start_with(
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

// ---------------------------------------------------------------- a raw client

/// A request to the proxy with a valid `Host`.
fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
) -> Result<Request<Full<Bytes>>, BoxError> {
    Ok(Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{}", addr.port()))
        .body(Full::new(body.into()))?)
}

/// Sends on a fresh connection; the handle owns the connection (abort it to hang up).
async fn send(
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<(Response<Incoming>, JoinHandle<()>), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let handle = tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = within(Duration::from_secs(10), sender.send_request(req)).await??;
    Ok((response, handle))
}

async fn body_of(response: Response<Incoming>) -> Result<Bytes, BoxError> {
    Ok(
        within(Duration::from_secs(10), response.into_body().collect())
            .await??
            .to_bytes(),
    )
}

async fn get(h: &Harness, path: &str) -> Result<(StatusCode, Bytes), BoxError> {
    get_at(h.addr, path).await
}

async fn get_at(addr: SocketAddr, path: &str) -> Result<(StatusCode, Bytes), BoxError> {
    let (response, _conn) = send(addr, request(addr, Method::GET, path, "")?).await?;
    let status = response.status();
    Ok((status, body_of(response).await?))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------- fidelity

#[tokio::test]
async fn forwards_status_headers_and_body_both_ways() -> TestResult {
    within(SCENARIO, async {
        let mut up = mock(|seen| async move {
            let mut r = respond(201, "");
            *r.body_mut() = Full::new(Bytes::from(format!(
                "echo:{}",
                String::from_utf8_lossy(&seen.body)
            )));
            let h = r.headers_mut();
            h.insert("x-upstream", HeaderValue::from_static("yes  (spaces kept)"));
            h.append("x-multi", HeaderValue::from_static("a"));
            h.append("x-multi", HeaderValue::from_static("b"));
            h.insert("connection", HeaderValue::from_static("x-resp-hop"));
            h.insert("x-resp-hop", HeaderValue::from_static("1"));
            h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
            r
        })
        .await?;
        let mut h = start(config(
            App::Codex,
            vec![provider("up", &format!("{}/base", up.url()))],
        ))
        .await?;

        let body = r#"{"model":"gpt-test","input":"hi"}"#;
        let mut req = request(h.addr, Method::POST, "/v1/responses?x=1&y=%20", body)?;
        let headers = req.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-custom", HeaderValue::from_static("Value With  Case"));
        headers.append("x-dup", HeaderValue::from_static("1"));
        headers.append("x-dup", HeaderValue::from_static("2"));
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer client-own"),
        );
        headers.insert("connection", HeaderValue::from_static("keep-alive, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            "proxy-authorization",
            HeaderValue::from_static("Basic Zm9vOmJhcg=="),
        );
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("trailer", HeaderValue::from_static("x-foo"));
        let (response, _conn) = send(h.addr, req).await?;

        assert_eq!(response.status(), StatusCode::CREATED);
        let rh = response.headers().clone();
        assert_eq!(header(&rh, "x-upstream"), Some("yes  (spaces kept)"));
        let multi: Vec<_> = rh
            .get_all("x-multi")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(multi, ["a", "b"]);
        assert!(
            rh.get("x-resp-hop").is_none(),
            "response hop-by-hop leaked: {rh:?}"
        );
        assert!(rh.get("keep-alive").is_none());
        assert_eq!(body_of(response).await?, format!("echo:{body}"));

        let seen = up.next_seen().await?;
        assert_eq!(seen.method, Method::POST);
        assert_eq!(seen.uri.to_string(), "/base/v1/responses?x=1&y=%20");
        assert_eq!(
            header(&seen.headers, "host"),
            Some(up.addr.to_string().as_str())
        );
        assert_eq!(header(&seen.headers, "x-custom"), Some("Value With  Case"));
        let dup: Vec<_> = seen
            .headers
            .get_all("x-dup")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(dup, ["1", "2"]);
        assert_eq!(
            header(&seen.headers, "authorization"),
            Some("Bearer client-own")
        );
        for hop in [
            "x-hop",
            "keep-alive",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
        ] {
            assert!(
                seen.headers.get(hop).is_none(),
                "{hop} reached the upstream"
            );
        }
        assert_eq!(seen.body, body);

        let s = h.next_summary().await?;
        assert_eq!(
            (s.method.as_str(), s.path.as_str(), s.status),
            ("POST", "/v1/responses", 201)
        );
        assert_eq!(s.model.as_deref(), Some("gpt-test"));
        assert_eq!(s.provider.as_deref(), Some("up"));
        assert_eq!(
            (s.bytes_in, s.bytes_out),
            (body.len() as u64, body.len() as u64 + 5)
        );
        assert_eq!((s.failovers.len(), s.error), (0, None));
        assert!(s.ttfb.is_some_and(|t| t <= s.latency));

        let stats = h.proxy.stats().snapshot();
        assert_eq!((stats.requests, stats.errors, stats.in_flight), (1, 0, 0));
        assert_eq!(stats.bytes_in, body.len() as u64);
        assert_eq!(stats.providers.len(), 1);
        assert_eq!(stats.providers[0].breaker, BreakerState::Closed);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn keep_alive_from_the_client_and_to_the_upstream() -> TestResult {
    within(SCENARIO, async {
        let up = ok_mock("pong").await?;
        let mut h = start(config(App::Claude, vec![provider("up", &up.url())])).await?;
        let stream = TcpStream::connect(h.addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        for _ in 0..5 {
            within(Duration::from_secs(5), sender.ready()).await??;
            let response = sender
                .send_request(request(h.addr, Method::GET, "/ping", "")?)
                .await?;
            assert_eq!(body_of(response).await?, "pong");
            h.next_summary().await?;
        }
        assert_eq!(up.hits(), 5);
        assert_eq!(up.connections(), 1, "one upstream connection, reused");
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn concurrent_requests_get_their_own_upstream_connections_then_reuse_them() -> TestResult {
    within(SCENARIO, async {
        // Each answer waits until all four requests have arrived, so the four
        // are in flight at once and need four upstream connections.
        let arrived = Arc::new(tokio::sync::Barrier::new(4));
        let up = mock(move |_| {
            let arrived = Arc::clone(&arrived);
            async move {
                arrived.wait().await;
                respond(200, "ok")
            }
        })
        .await?;
        let h = start(config(App::Claude, vec![provider("up", &up.url())])).await?;
        for round in 1..=3 {
            let mut requests = tokio::task::JoinSet::new();
            for _ in 0..4 {
                let addr = h.addr;
                requests.spawn(async move { get_at(addr, "/ping").await });
            }
            while let Some(done) = requests.join_next().await {
                assert_eq!(done??, (StatusCode::OK, Bytes::from("ok")));
            }
            assert_eq!(up.hits(), 4 * round);
        }
        // Later rounds found the first round's connections idle and reused
        // them (a connection may still be finishing its last response when the
        // next round starts, so allow one or two extra).
        assert!(
            (4..=6).contains(&up.connections()),
            "{} upstream connections for 3 rounds of 4",
            up.connections()
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced() -> TestResult {
    within(SCENARIO, async {
        // Each upstream connection answers one request with keep-alive, then
        // the server closes it, as providers do with idle connections, and
        // reports once the proxy has closed its end too.
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (closed_tx, mut closed) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    if !read_head(&mut stream).await {
                        return;
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    let _ = stream.shutdown().await;
                    wait_closed(&mut stream).await;
                    let _ = closed_tx.send(());
                });
            }
        });
        let h = start(config(App::Claude, vec![provider("up", &url)])).await?;
        for _ in 0..3 {
            assert_eq!(get(&h, "/ping").await?, (StatusCode::OK, Bytes::from("ok")));
            within(Duration::from_secs(5), closed.recv())
                .await?
                .ok_or("upstream gone")?;
        }
        Ok(())
    })
    .await?
}

// ---------------------------------------------------------------- streaming

/// An SSE upstream that sends one event and then nothing for 20 s.
async fn one_event_then_silence() -> Result<SocketAddr, BoxError> {
    raw_upstream(|mut s| async move {
        let _ = s.write_all(SSE_HEAD).await;
        let _ = chunk(&mut s, b"data: one\n\n").await;
        tokio::time::sleep(Duration::from_secs(20)).await;
    })
    .await
}

/// Writes one HTTP/1.1 chunk.
async fn chunk(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    stream
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    stream.write_all(data).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}

const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

#[tokio::test]
async fn sse_events_are_forwarded_as_they_arrive() -> TestResult {
    within(SCENARIO, async {
        let (sent_tx, sent_rx) = oneshot::channel::<Instant>();
        let up = raw_upstream(|mut s| async move {
            let _ = s.write_all(SSE_HEAD).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = chunk(&mut s, b"event: message_start\ndata: {\"canary\":1}\n\n").await;
            let _ = sent_tx.send(Instant::now());
            // The upstream "thinks" for 2 s: the first event must not wait for this.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = chunk(&mut s, b"data: second\n\n").await;
            let _ = s.write_all(b"0\r\n\r\n").await;
        })
        .await?;
        let h = start(config(
            App::Claude,
            vec![provider("up", &format!("http://{up}"))],
        ))
        .await?;
        let (mut response, _conn) =
            send(h.addr, request(h.addr, Method::POST, "/v1/messages", "{}")?).await?;
        assert_eq!(
            header(response.headers(), "content-type"),
            Some("text/event-stream")
        );

        let frame = within(Duration::from_secs(5), response.body_mut().frame()).await?;
        let received = Instant::now();
        let data = frame
            .ok_or("stream ended")??
            .into_data()
            .map_err(|_| "not data")?;
        let sent = within(Duration::from_secs(1), sent_rx).await??;
        let delay = received.saturating_duration_since(sent);
        assert_eq!(&data[..], b"event: message_start\ndata: {\"canary\":1}\n\n");
        assert!(
            delay < Duration::from_millis(50),
            "first SSE event took {delay:?}"
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn ten_megabytes_both_ways_buffered_and_streamed() -> TestResult {
    within(SCENARIO, async {
        let payload: Bytes = (0..10 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<u8>>()
            .into();
        let up = mock(|seen| async move { Response::new(Full::new(seen.body)) }).await?;

        // Default cap (32 MiB): the body is held for failover; then a 64 KiB cap:
        // the body streams through.
        for cap in [ProxyConfig::DEFAULT_MAX_BUFFERED_BODY, 64 * 1024] {
            let mut c = config(App::Claude, vec![provider("up", &up.url())]);
            c.max_buffered_body = cap;
            let mut h = start(c).await?;
            let (response, _conn) = send(
                h.addr,
                request(h.addr, Method::POST, "/upload", payload.clone())?,
            )
            .await?;
            assert_eq!(response.status(), StatusCode::OK);
            let echoed = body_of(response).await?;
            assert!(
                echoed == payload,
                "cap {cap}: body changed ({} bytes back)",
                echoed.len()
            );
            let s = h.next_summary().await?;
            assert_eq!(
                (s.bytes_in, s.bytes_out),
                (payload.len() as u64, payload.len() as u64),
                "cap {cap}"
            );
            let stats = h.proxy.stats().snapshot();
            assert_eq!(
                (stats.bytes_in, stats.bytes_out),
                (payload.len() as u64, payload.len() as u64)
            );
        }
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn client_hanging_up_mid_stream_cancels_the_upstream() -> TestResult {
    within(SCENARIO, async {
        let (closed_tx, closed_rx) = oneshot::channel::<Instant>();
        let up = raw_upstream(|mut s| async move {
            let _ = s.write_all(SSE_HEAD).await;
            let _ = chunk(&mut s, b"data: one\n\n").await;
            wait_closed(&mut s).await;
            let _ = closed_tx.send(Instant::now());
        })
        .await?;
        let mut h = start(config(
            App::Claude,
            vec![provider("up", &format!("http://{up}"))],
        ))
        .await?;
        let (mut response, conn) =
            send(h.addr, request(h.addr, Method::POST, "/v1/messages", "{}")?).await?;
        within(Duration::from_secs(5), response.body_mut().frame())
            .await?
            .ok_or("no first event")??;

        let hung_up = Instant::now();
        conn.abort();
        drop(response);
        let closed = within(Duration::from_secs(5), closed_rx).await??;
        let delay = closed.saturating_duration_since(hung_up);
        assert!(
            delay < Duration::from_secs(1),
            "upstream saw the close after {delay:?}"
        );

        let s = h.next_summary().await?;
        assert!(s.error.is_some_and(|e| e.contains("client disconnected")));
        assert_eq!(h.proxy.stats().snapshot().in_flight, 0);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn client_hanging_up_before_the_response_cancels_the_upstream() -> TestResult {
    within(SCENARIO, async {
        let (closed_tx, closed_rx) = oneshot::channel::<Instant>();
        let up = raw_upstream(|mut s| async move {
            // Never answer; just notice when the proxy gives up on us.
            wait_closed(&mut s).await;
            let _ = closed_tx.send(Instant::now());
        })
        .await?;
        let mut h = start(config(
            App::Claude,
            vec![provider("up", &format!("http://{up}"))],
        ))
        .await?;
        let stream = TcpStream::connect(h.addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let conn = tokio::spawn(conn);
        let pending =
            tokio::spawn(sender.send_request(request(h.addr, Method::POST, "/v1/messages", "{}")?));
        // Let the request reach the upstream before hanging up.
        within(Duration::from_secs(5), async {
            while h.proxy.stats().snapshot().in_flight == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let hung_up = Instant::now();
        pending.abort();
        conn.abort();
        let closed = within(Duration::from_secs(5), closed_rx).await??;
        let delay = closed.saturating_duration_since(hung_up);
        assert!(
            delay < Duration::from_secs(1),
            "upstream saw the close after {delay:?}"
        );
        let s = h.next_summary().await?;
        assert_eq!(s.status, 0);
        assert!(s.error.is_some_and(|e| e.contains("client disconnected")));
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn a_silent_upstream_stream_hits_the_idle_timeout() -> TestResult {
    within(SCENARIO, async {
        let up = one_event_then_silence().await?;
        let mut c = config(App::Claude, vec![provider("up", &format!("http://{up}"))]);
        c.timeouts.idle = Duration::from_millis(300);
        let mut h = start(c).await?;
        let started = Instant::now();
        let (response, _conn) =
            send(h.addr, request(h.addr, Method::POST, "/v1/messages", "{}")?).await?;
        let result = within(Duration::from_secs(5), response.into_body().collect()).await?;
        assert!(result.is_err(), "the stream should be cut");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let s = h.next_summary().await?;
        assert!(s.error.is_some_and(|e| e.contains("idle timeout")));
        assert_eq!(
            h.proxy.stats().snapshot().providers[0].consecutive_failures,
            1
        );
        Ok(())
    })
    .await?
}

// ---------------------------------------------------------------- failover

#[tokio::test]
async fn fails_over_on_refused_timeout_429_and_500() -> TestResult {
    within(SCENARIO, async {
        let silent = mock(|_| async {
            tokio::time::sleep(Duration::from_secs(20)).await;
            respond(200, "too late")
        })
        .await?;
        let r429 = status_mock(429).await?;
        let r500 = status_mock(500).await?;
        let good = ok_mock("from good").await?;

        let mut c = config(
            App::Claude,
            vec![
                provider("refused", &refused_url().await?),
                provider("silent", &silent.url()),
                provider("r429", &r429.url()),
                provider("r500", &r500.url()),
                provider("good", &good.url()),
            ],
        );
        c.timeouts.first_byte = Duration::from_millis(400);
        let mut h = start(c).await?;
        let (status, body) = get(&h, "/v1/models").await?;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"from good"[..]));
        assert_eq!(
            (silent.hits(), r429.hits(), r500.hits(), good.hits()),
            (1, 1, 1, 1)
        );

        let s = h.next_summary().await?;
        assert_eq!(
            (s.provider.as_deref(), s.failovers.len(), s.status),
            (Some("good"), 4, 200)
        );
        // Each provider given up on, with its reason, in order.
        let reasons: Vec<(&str, &str)> = s
            .failovers
            .iter()
            .map(|f| (f.provider.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(reasons[2], ("r429", "status 429"), "{reasons:?}");
        assert_eq!(reasons[3], ("r500", "status 500"), "{reasons:?}");
        let health = h.proxy.stats().snapshot().providers;
        let failures: Vec<u32> = health.iter().map(|p| p.consecutive_failures).collect();
        assert_eq!(failures, [1, 1, 1, 1, 0]);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn client_errors_are_returned_unchanged_without_failover() -> TestResult {
    within(SCENARIO, async {
        let bad = mock(|_| async {
            let mut r = respond(
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error"}}"#,
            );
            r.headers_mut()
                .insert("x-request-id", HeaderValue::from_static("req_123"));
            r
        })
        .await?;
        let good = ok_mock("never").await?;
        let h = start(config(
            App::Claude,
            vec![provider("bad", &bad.url()), provider("good", &good.url())],
        ))
        .await?;
        let (response, _conn) =
            send(h.addr, request(h.addr, Method::POST, "/v1/messages", "{}")?).await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(header(response.headers(), "x-request-id"), Some("req_123"));
        assert_eq!(
            body_of(response).await?,
            r#"{"type":"error","error":{"type":"invalid_request_error"}}"#
        );
        assert_eq!(good.hits(), 0);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn mid_stream_reset_is_an_error_without_failover() -> TestResult {
    within(SCENARIO, async {
        let up = raw_upstream(|mut s| async move {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial...")
                .await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Reset with data promised but unsent: the proxy's upstream body errors.
            // (Deprecated because a non-zero linger blocks on drop; zero does not.)
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
            drop(s);
        })
        .await?;
        let good = ok_mock("never").await?;
        let mut h = start(config(
            App::Claude,
            vec![
                provider("flaky", &format!("http://{up}")),
                provider("good", &good.url()),
            ],
        ))
        .await?;
        let (response, _conn) = send(h.addr, request(h.addr, Method::GET, "/stream", "")?).await?;
        assert_eq!(response.status(), StatusCode::OK);
        let result = within(Duration::from_secs(5), response.into_body().collect()).await?;
        assert!(result.is_err(), "client body should fail");
        assert_eq!(good.hits(), 0);

        let s = h.next_summary().await?;
        assert_eq!(s.provider.as_deref(), Some("flaky"));
        assert!(s.error.is_some(), "{s:?}");
        let stats = h.proxy.stats().snapshot();
        assert_eq!(stats.errors, 1);
        assert!(stats.last_error.is_some());
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn all_failing_returns_the_last_upstream_response_or_a_502() -> TestResult {
    within(SCENARIO, async {
        let r503 = mock(|_| async {
            let mut r = respond(503, "overloaded");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("7"));
            r
        })
        .await?;
        let h = start(config(
            App::Claude,
            vec![
                provider("a", &refused_url().await?),
                provider("b", &r503.url()),
            ],
        ))
        .await?;
        let (response, _conn) = send(h.addr, request(h.addr, Method::GET, "/x", "")?).await?;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(response.headers(), "retry-after"), Some("7"));
        assert_eq!(body_of(response).await?, "overloaded");

        let mut h = start(config(
            App::Claude,
            vec![
                provider("first", &refused_url().await?),
                provider("second", &refused_url().await?),
            ],
        ))
        .await?;
        let (response, _conn) = send(h.addr, request(h.addr, Method::GET, "/x", "")?).await?;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            header(response.headers(), "content-type"),
            Some("application/json")
        );
        let json: serde_json::Value = serde_json::from_slice(&body_of(response).await?)?;
        // Claude's own (Anthropic) error shape.
        assert_eq!(json["type"], "error");
        assert_eq!(json["error"]["type"], "api_error");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("first") && message.contains("second"),
            "{message}"
        );
        let s = h.next_summary().await?;
        // Every provider given up on is in the record, with its reason.
        let given_up: Vec<&str> = s.failovers.iter().map(|f| f.provider.as_str()).collect();
        assert_eq!((s.status, given_up), (502, vec!["first", "second"]));
        assert_eq!(
            s.outcome,
            switchyard_daemon::protocol::requests::Outcome::Failed
        );
        assert_eq!(h.proxy.stats().snapshot().errors, 1);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn oversized_bodies_stream_to_one_provider_only() -> TestResult {
    within(SCENARIO, async {
        let r500 = status_mock(500).await?;
        let good = ok_mock("never").await?;
        let mut c = config(
            App::Claude,
            vec![provider("a", &r500.url()), provider("b", &good.url())],
        );
        c.max_buffered_body = 1024;
        let h = start(c).await?;
        let (response, _conn) = send(
            h.addr,
            request(h.addr, Method::POST, "/big", vec![b'x'; 100_000])?,
        )
        .await?;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!((r500.hits(), good.hits()), (1, 0));
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn breaker_opens_skips_probes_and_closes() -> TestResult {
    within(SCENARIO, async {
        let healthy = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&healthy);
        let a = mock(move |_| {
            let ok = flag.load(Ordering::SeqCst);
            async move {
                if ok {
                    respond(200, "a")
                } else {
                    respond(500, "a down")
                }
            }
        })
        .await?;
        let b = ok_mock("b").await?;
        let mut c = config(
            App::Claude,
            vec![provider("a", &a.url()), provider("b", &b.url())],
        );
        c.breaker = BreakerPolicy {
            failures_to_open: 2,
            cool_down: Duration::from_millis(500),
        };
        let h = start(c).await?;
        let breaker_a = |h: &Harness| h.proxy.stats().snapshot().providers[0].breaker;

        for _ in 0..2 {
            assert_eq!(get(&h, "/").await?.1, "b");
        }
        assert_eq!(a.hits(), 2);
        assert_eq!(breaker_a(&h), BreakerState::Open);
        // Open: a is skipped.
        assert_eq!(get(&h, "/").await?.1, "b");
        assert_eq!(a.hits(), 2);

        // The scenario needs the cool-down to pass.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(breaker_a(&h), BreakerState::HalfOpen);
        healthy.store(true, Ordering::SeqCst);
        assert_eq!(get(&h, "/").await?.1, "a", "half-open probe goes to a");
        assert_eq!(breaker_a(&h), BreakerState::Closed);
        assert_eq!(get(&h, "/").await?.1, "a");
        assert_eq!(a.hits(), 4);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn when_every_breaker_is_open_providers_are_tried_anyway() -> TestResult {
    within(SCENARIO, async {
        let a = status_mock(502).await?;
        let mut c = config(App::Claude, vec![provider("a", &a.url())]);
        c.breaker = BreakerPolicy {
            failures_to_open: 1,
            cool_down: Duration::from_secs(60),
        };
        let h = start(c).await?;
        assert_eq!(get(&h, "/").await?.0, StatusCode::BAD_GATEWAY);
        assert_eq!(
            h.proxy.stats().snapshot().providers[0].breaker,
            BreakerState::Open
        );
        assert_eq!(get(&h, "/").await?.0, StatusCode::BAD_GATEWAY);
        assert_eq!(a.hits(), 2);
        Ok(())
    })
    .await?
}

// ---------------------------------------------------------------- security

#[tokio::test]
async fn browsers_and_foreign_hosts_get_403() -> TestResult {
    within(SCENARIO, async {
        let up = ok_mock("secret stuff").await?;
        let mut h = start(config(App::Claude, vec![provider("up", &up.url())])).await?;
        let port = h.addr.port();

        let mut with_origin = request(h.addr, Method::POST, "/v1/messages", "{}")?;
        with_origin
            .headers_mut()
            .insert("origin", HeaderValue::from_static("https://evil.example"));
        let mut foreign = request(h.addr, Method::POST, "/v1/messages", "{}")?;
        foreign.headers_mut().insert(
            "host",
            HeaderValue::from_str(&format!("evil.example:{port}"))?,
        );
        let mut wrong_port = request(h.addr, Method::GET, "/", "")?;
        wrong_port
            .headers_mut()
            .insert("host", HeaderValue::from_static("127.0.0.1:1"));

        for req in [with_origin, foreign, wrong_port] {
            let (response, _conn) = send(h.addr, req).await?;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let json: serde_json::Value = serde_json::from_slice(&body_of(response).await?)?;
            assert_eq!(json["error"]["type"], "permission_error");
            assert_eq!(h.next_summary().await?.status, 403);
        }
        for ok_host in [format!("localhost:{port}"), format!("[::1]:{port}")] {
            let mut req = request(h.addr, Method::GET, "/", "")?;
            req.headers_mut()
                .insert("host", HeaderValue::from_str(&ok_host)?);
            let (response, _conn) = send(h.addr, req).await?;
            assert_eq!(response.status(), StatusCode::OK, "{ok_host}");
        }
        assert_eq!(up.hits(), 2);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn credentials_pass_through_or_are_injected_per_app() -> TestResult {
    within(SCENARIO, async {
        let mut up = ok_mock("ok").await?;
        let client_auth = [
            ("authorization", "Bearer client-token"),
            ("x-api-key", "client-key"),
            ("x-goog-api-key", "client-goog"),
        ];
        let cases = [
            (App::Claude, "x-api-key", "sk-injected"),
            (App::Codex, "authorization", "Bearer sk-injected"),
            (App::Gemini, "x-goog-api-key", "sk-injected"),
        ];
        for (app, name, value) in cases {
            let mut keyed = provider("keyed", &up.url());
            keyed.credential = Credential::Key("sk-injected".into());
            let h = start(config(app, vec![keyed])).await?;
            let mut req = request(h.addr, Method::POST, "/v1/x", "{}")?;
            for (k, v) in client_auth {
                req.headers_mut().insert(k, HeaderValue::from_static(v));
            }
            let (response, _conn) = send(h.addr, req).await?;
            body_of(response).await?;
            let seen = up.next_seen().await?;
            let auth: Vec<_> = client_auth
                .iter()
                .filter_map(|(k, _)| {
                    seen.headers
                        .get(*k)
                        .map(|v| (*k, v.to_str().unwrap_or("?")))
                })
                .collect();
            assert_eq!(auth, [(name, value)], "{app}");
        }

        let h = start(config(App::Claude, vec![provider("pass", &up.url())])).await?;
        let mut req = request(h.addr, Method::POST, "/v1/x", "{}")?;
        for (k, v) in client_auth {
            req.headers_mut().insert(k, HeaderValue::from_static(v));
        }
        let (response, _conn) = send(h.addr, req).await?;
        body_of(response).await?;
        let seen = up.next_seen().await?;
        for (k, v) in client_auth {
            assert_eq!(header(&seen.headers, k), Some(v));
        }
        Ok(())
    })
    .await?
}

// ---------------------------------------------------------------- outbound proxy, config, drain

#[tokio::test]
async fn http_proxy_setting_is_honoured() -> TestResult {
    within(SCENARIO, async {
        // A tiny forward proxy: it records the absolute-form target and answers itself.
        let mut forward = ok_mock("via the proxy").await?;
        let matcher = Matcher::builder().http(forward.url()).build();
        let target = "http://127.0.0.1:9/v1"; // never contacted directly
        let h = start_with(
            config(App::Codex, vec![provider("up", target)]),
            matcher,
            Duration::from_secs(5),
        )
        .await?;
        let (status, body) = get(&h, "/models?a=b").await?;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"via the proxy"[..]));
        let seen = forward.next_seen().await?;
        assert_eq!(seen.uri.to_string(), "http://127.0.0.1:9/v1/models?a=b");
        assert_eq!(header(&seen.headers, "host"), Some("127.0.0.1:9"));
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn config_swaps_apply_to_new_requests_and_keep_breakers() -> TestResult {
    within(SCENARIO, async {
        let a = status_mock(500).await?;
        let b = ok_mock("b").await?;
        let mut c = config(
            App::Claude,
            vec![provider("a", &a.url()), provider("b", &b.url())],
        );
        c.breaker = BreakerPolicy {
            failures_to_open: 5,
            cool_down: Duration::from_secs(60),
        };
        let h = start(c.clone()).await?;
        assert_eq!(get(&h, "/").await?.1, "b");
        assert_eq!(
            h.proxy.stats().snapshot().providers[0].consecutive_failures,
            1
        );

        h.proxy.set_config(c.clone());
        assert_eq!(
            h.proxy.stats().snapshot().providers[0].consecutive_failures,
            1,
            "breaker carried over"
        );

        let mut only_b = c.clone();
        only_b.providers.remove(0);
        h.proxy.set_config(only_b);
        assert_eq!(get(&h, "/").await?.1, "b");
        assert_eq!(a.hits(), 1);

        let mut broken = c;
        broken.providers[0].base_url = "ftp://nope".into();
        assert!(h.proxy.try_set_config(broken.clone()).is_err());
        h.proxy.set_config(broken);
        let stats = h.proxy.stats().snapshot();
        assert_eq!(
            stats.providers.len(),
            1,
            "the refused config did not replace the current one"
        );
        assert!(
            stats
                .last_error
                .is_some_and(|e| e.contains("config refused"))
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn shutdown_drains_in_flight_streams_then_returns() -> TestResult {
    within(SCENARIO, async {
        let (finish_tx, finish_rx) = oneshot::channel::<()>();
        let up = raw_upstream(|mut s| async move {
            let _ = s.write_all(SSE_HEAD).await;
            let _ = chunk(&mut s, b"data: one\n\n").await;
            let _ = finish_rx.await;
            let _ = chunk(&mut s, b"data: two\n\n").await;
            let _ = s.write_all(b"0\r\n\r\n").await;
        })
        .await?;
        let h = start(config(
            App::Claude,
            vec![provider("up", &format!("http://{up}"))],
        ))
        .await?;
        let (mut response, _conn) =
            send(h.addr, request(h.addr, Method::POST, "/v1/messages", "{}")?).await?;
        within(Duration::from_secs(5), response.body_mut().frame())
            .await?
            .ok_or("no first event")??;

        h.shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !h.served.is_finished(),
            "serve returned with a stream in flight"
        );
        assert!(
            TcpStream::connect(h.addr).await.is_err(),
            "still accepting after shutdown"
        );

        let _ = finish_tx.send(());
        let rest = body_of(response).await?;
        assert_eq!(rest, "data: two\n\n");
        within(Duration::from_secs(5), h.served).await???;
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn drain_deadline_cuts_streams_that_do_not_finish() -> TestResult {
    within(SCENARIO, async {
        let up = one_event_then_silence().await?;
        let c = config(App::Claude, vec![provider("up", &format!("http://{up}"))]);
        let h = start_with(c, Matcher::builder().build(), Duration::from_millis(300)).await?;
        let (mut response, _conn) =
            send(h.addr, request(h.addr, Method::POST, "/v1/messages", "{}")?).await?;
        within(Duration::from_secs(5), response.body_mut().frame())
            .await?
            .ok_or("no first event")??;
        let cancelled = Instant::now();
        h.shutdown.cancel();
        within(Duration::from_secs(3), h.served).await???;
        assert!(cancelled.elapsed() >= Duration::from_millis(300));
        assert!(
            within(Duration::from_secs(3), response.into_body().collect())
                .await?
                .is_err()
        );
        Ok(())
    })
    .await?
}

// ---------------------------------------------------------------- abuse

/// Writes `raw` on a fresh connection and reads until the proxy closes it (the
/// request must say `Connection: close`); returns the status and the whole text.
async fn raw_exchange(addr: SocketAddr, raw: String) -> Result<(u16, String), BoxError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(raw.as_bytes()).await?;
    let mut response = Vec::new();
    within(Duration::from_secs(10), stream.read_to_end(&mut response)).await??;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    Ok((status, text))
}

/// Whether the proxy closes `stream` within `limit` (reads until EOF or error).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

fn limits(c: &mut ProxyConfig, head: Duration, keep_alive: Duration) {
    c.limits.head_timeout = head;
    c.limits.keep_alive = keep_alive;
}

#[tokio::test]
async fn browser_fetch_metadata_and_absolute_form_targets_get_403() -> TestResult {
    within(SCENARIO, async {
        let up = ok_mock("secret stuff").await?;
        let h = start(config(App::Claude, vec![provider("up", &up.url())])).await?;
        let port = h.addr.port();
        let head = |target: &str, extra: &str| {
            format!(
                "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
            )
        };
        // A page's <img src> or no-cors fetch: cross-site, and no Origin at all.
        let no_cors = head(
            "/v1/models",
            "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: image\r\n",
        );
        // Another local web app (any port of 127.0.0.1 is the same site).
        let same_site = head(
            "/v1/models",
            "Sec-Fetch-Site: same-site\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\n",
        );
        let navigation = head("/v1/models", "Sec-Fetch-Mode: navigate\r\n");
        // A good Host, and another host in the request target.
        let absolute = head(&format!("http://evil.example:{port}/v1/models"), "");
        for raw in [no_cors, same_site, navigation, absolute] {
            let (status, text) = raw_exchange(h.addr, raw.clone()).await?;
            assert_eq!(status, 403, "{raw:?} got {text}");
        }
        assert_eq!(up.hits(), 0, "no refused request reached the upstream");

        // What Node's own fetch sends (Gemini CLI): Sec-Fetch-Mode alone.
        let node = head("/v1/models", "Sec-Fetch-Mode: cors\r\n");
        let own = head(&format!("http://127.0.0.1:{port}/v1/models"), "");
        for raw in [node, own] {
            let (status, text) = raw_exchange(h.addr, raw.clone()).await?;
            assert_eq!(status, 200, "{raw:?} got {text}");
        }
        assert_eq!(up.hits(), 2);
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn stalled_heads_and_idle_connections_are_closed_on_their_deadlines() -> TestResult {
    within(SCENARIO, async {
        let up = ok_mock("ok").await?;
        let mut c = config(App::Claude, vec![provider("up", &up.url())]);
        limits(
            &mut c,
            Duration::from_millis(300),
            Duration::from_millis(900),
        );
        let h = start(c).await?;
        let port = h.addr.port();

        // Never a byte; half a head (the first request on a connection); and half
        // a head after a keep-alive request.
        let mut silent = TcpStream::connect(h.addr).await?;
        let mut half = TcpStream::connect(h.addr).await?;
        half.write_all(
            format!("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n").as_bytes(),
        )
        .await?;
        let mut kept = TcpStream::connect(h.addr).await?;
        kept.write_all(
            format!("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut buf = [0u8; 4096];
        let n = within(Duration::from_secs(5), kept.read(&mut buf)).await??;
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        kept.write_all(b"GET /v1/models HTTP/1.1\r\nHost: 127.0")
            .await?;

        for (name, stream) in [
            ("silent", &mut silent),
            ("half a head", &mut half),
            ("kept", &mut kept),
        ] {
            assert!(
                closed_within(stream, Duration::from_secs(10)).await,
                "the {name} connection is still open"
            );
        }
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn at_the_connection_cap_the_oldest_idle_connection_is_shed() -> TestResult {
    within(SCENARIO, async {
        let up = ok_mock("ok").await?;
        let mut c = config(App::Claude, vec![provider("up", &up.url())]);
        // Deadlines far away: only the cap can close anything here.
        limits(&mut c, Duration::from_secs(60), Duration::from_secs(60));
        c.limits.max_connections = Some(4);
        let h = start(c).await?;

        // A keep-alive connection that served a request, then three silent ones:
        // the cap is full.
        let mut kept = keep_alive_get(h.addr, "/a").await?;
        let mut silent = Vec::new();
        for _ in 0..3 {
            silent.push(TcpStream::connect(h.addr).await?);
        }
        // Each new client (kept open) sheds one: the silent ones first, oldest
        // first, so a client that has used its connection keeps it.
        let mut clients = Vec::new();
        for (i, silent) in silent.iter_mut().enumerate() {
            clients.push(keep_alive_get(h.addr, "/b").await?);
            assert!(
                closed_within(silent, Duration::from_secs(5)).await,
                "silent connection {i} was not shed"
            );
        }
        keep_alive_again(&mut kept, "/c").await?;
        Ok(())
    })
    .await?
}

/// A GET on a new keep-alive connection to an `ok_mock("ok")`, answered; the
/// connection stays open.
async fn keep_alive_get(addr: SocketAddr, path: &str) -> Result<TcpStream, BoxError> {
    let mut stream = TcpStream::connect(addr).await?;
    keep_alive_again(&mut stream, path).await?;
    Ok(stream)
}

/// Another GET on an open keep-alive connection to an `ok_mock("ok")`.
async fn keep_alive_again(stream: &mut TcpStream, path: &str) -> TestResult {
    let port = stream.peer_addr()?.port();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .await?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !(response.starts_with(b"HTTP/1.1 200") && response.ends_with(b"\r\n\r\nok")) {
        let n = within(Duration::from_secs(5), stream.read(&mut buf)).await??;
        if n == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&response)).into());
        }
        response.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

#[tokio::test]
async fn bodies_beyond_the_budget_stream_to_one_provider_and_the_budget_comes_back() -> TestResult {
    within(SCENARIO, async {
        let r500 = status_mock(500).await?;
        let good = ok_mock("ok").await?;
        let mut c = config(
            App::Claude,
            vec![provider("a", &r500.url()), provider("b", &good.url())],
        );
        c.limits.body_budget = 100_000;
        let h = start(c).await?;
        let port = h.addr.port();

        // An upload that stalls one byte short of its declared 80 kB: held.
        let mut stalled = TcpStream::connect(h.addr).await?;
        stalled
            .write_all(
                format!(
                    "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 80000\r\n\r\n"
                )
                .as_bytes(),
            )
            .await?;
        stalled.write_all(&[b'x'; 79_999]).await?;
        let stats = h.proxy.stats();
        within(Duration::from_secs(10), async {
            while stats.snapshot().bytes_in < 79_999 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await?;
        assert_eq!(r500.hits() + good.hits(), 0, "a held body reaches nobody yet");

        // 40 kB more do not fit: this one streams to the first provider only, so
        // its 500 comes back instead of a failover.
        let big = || request(h.addr, Method::POST, "/v1/messages", vec![b'y'; 40_000]);
        let (response, _conn) = send(h.addr, big()?).await?;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!((r500.hits(), good.hits()), (1, 0));

        // The stalled upload gives up: its bytes go back to the budget, and the
        // same request is held and fails over again.
        drop(stalled);
        within(Duration::from_secs(10), async {
            while stats.snapshot().in_flight > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await?;
        let (response, _conn) = send(h.addr, big()?).await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!((r500.hits(), good.hits()), (2, 1));
        Ok(())
    })
    .await?
}
