//! The upstream side: pooled keep-alive HTTP/1.1 clients with rustls, `TCP_NODELAY`,
//! a connect timeout, and the outbound proxy the environment asks for
//! (`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`, decided per provider).
//!
//! TLS trusts the platform's roots (or, when `SSL_CERT_FILE`/`SSL_CERT_DIR` are
//! set, those instead, as OpenSSL-based tools do) plus webpki's: a corporate
//! proxy that re-signs TLS works once its CA is installed or named, and a test
//! can stand in for an official host. The roots are loaded once per process.
//!
//! Each provider gets a [`Route`] once per config. Routes share clients (and so
//! connection pools) whenever they go the same way. Direct routes (the common
//! case) use the lean pool in `pool.rs`; routes through an outbound proxy use
//! hyper-util's client, which knows proxies.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::PROXY_AUTHORIZATION;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::error::chain;
use super::pool::DirectPool;
use super::request::UpstreamBody;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ForwardClient = Client<ForwardConnector, UpstreamBody>;
type TunnelClient = Client<HttpsConnector<Tunnel<HttpsConnector<HttpConnector>>>, UpstreamBody>;
type SocksClient = Client<HttpsConnector<SocksV5<HttpConnector>>, UpstreamBody>;

/// How requests to one provider leave the machine.
#[derive(Clone)]
pub(crate) enum Route {
    Direct(Arc<DirectPool>),
    /// Plain-HTTP provider through an HTTP proxy: absolute-form requests to the proxy.
    Forward {
        client: ForwardClient,
        auth: Option<HeaderValue>,
    },
    /// HTTPS provider through an HTTP(S) proxy: a CONNECT tunnel, then TLS inside it.
    Tunnel(TunnelClient),
    Socks(SocksClient),
    /// The environment names a proxy we cannot speak; every attempt fails with this
    /// reason rather than silently bypassing the user's proxy.
    Unsupported(Arc<str>),
}

impl Route {
    /// Sends one attempt; the error is rendered with its causes for summaries.
    /// A WebSocket handshake (`upgrade`) goes on a connection of its own on a
    /// direct route (hyper-util's client already hands upgraded connections
    /// over instead of pooling them).
    pub(crate) async fn send(
        &self,
        mut req: Request<UpstreamBody>,
        upgrade: bool,
    ) -> Result<Response<Incoming>, String> {
        let sent = match self {
            // Boxed: a handshake's connect future is large, and inline it would
            // grow (and so copy) every request's future.
            Route::Direct(pool) if upgrade => return Box::pin(pool.send_upgrade(req)).await,
            Route::Direct(pool) => return pool.send(req).await,
            Route::Forward { client, auth } => {
                if let Some(auth) = auth {
                    req.headers_mut().insert(PROXY_AUTHORIZATION, auth.clone());
                }
                client.request(req).await
            }
            Route::Tunnel(client) => client.request(req).await,
            Route::Socks(client) => client.request(req).await,
            Route::Unsupported(why) => return Err(why.to_string()),
        };
        sent.map_err(|e| chain(&e))
    }
}

/// Builds routes. Holds the proxy matcher (read once, at start) and a cache of
/// clients so a config swap keeps warm connection pools.
pub(crate) struct Upstream {
    matcher: Matcher,
    cache: Mutex<Cache>,
}

struct Cache {
    connect_timeout: Duration,
    direct: Option<Arc<DirectPool>>,
    /// Keyed by destination scheme and proxy URI; at most a handful of entries.
    proxied: Vec<(String, Route)>,
}

impl Upstream {
    pub(crate) fn new(matcher: Matcher) -> Self {
        Upstream {
            matcher,
            cache: Mutex::new(Cache {
                connect_timeout: Duration::ZERO,
                direct: None,
                proxied: Vec::new(),
            }),
        }
    }

    /// The route for a provider base URL (already validated: http or https).
    pub(crate) fn route(&self, base: &Uri, connect_timeout: Duration) -> Route {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.connect_timeout != connect_timeout {
            // The timeout lives in the connector, so a new one needs new clients.
            cache.connect_timeout = connect_timeout;
            cache.direct = None;
            cache.proxied.clear();
        }
        let Some(intercept) = self.matcher.intercept(base) else {
            let direct = cache.direct.get_or_insert_with(|| {
                Arc::new(DirectPool::new(tls(http_connector(connect_timeout))))
            });
            return Route::Direct(Arc::clone(direct));
        };
        let dst_https = base.scheme_str() == Some("https");
        let key = format!("{}|{}", base.scheme_str().unwrap_or(""), intercept.uri());
        if let Some((_, route)) = cache.proxied.iter().find(|(k, _)| *k == key) {
            return route.clone();
        }
        let route = proxied_route(&intercept, dst_https, connect_timeout);
        cache.proxied.push((key, route.clone()));
        route
    }
}

fn proxied_route(intercept: &Intercept, dst_https: bool, connect_timeout: Duration) -> Route {
    let proxy = intercept.uri().clone();
    match proxy.scheme_str() {
        Some("http" | "https") if dst_https => {
            let mut tunnel = Tunnel::new(proxy, tls(http_connector(connect_timeout)));
            if let Some(auth) = intercept.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            Route::Tunnel(client(tls(tunnel)))
        }
        Some("http" | "https") => Route::Forward {
            client: client(ForwardConnector {
                proxy,
                inner: tls(http_connector(connect_timeout)),
            }),
            auth: intercept.basic_auth().cloned(),
        },
        Some(scheme @ ("socks5" | "socks5h")) => {
            // curl's convention: socks5 resolves names locally, socks5h at the proxy.
            let mut socks = SocksV5::new(proxy.clone(), http_connector(connect_timeout))
                .local_dns(scheme == "socks5");
            if let Some((user, pass)) = intercept.raw_auth() {
                socks = socks.with_auth(user.to_owned(), pass.to_owned());
            }
            Route::Socks(client(tls(socks)))
        }
        other => Route::Unsupported(
            format!(
                "outbound proxy scheme {:?} is not supported",
                other.unwrap_or("")
            )
            .into(),
        ),
    }
}

fn http_connector(connect_timeout: Duration) -> HttpConnector {
    let mut http = HttpConnector::new();
    // Without NODELAY, Nagle holds small SSE-sized writes back waiting for ACKs.
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    // Long, quiet streams must survive NAT and firewall idle timers.
    http.set_keepalive(Some(Duration::from_secs(30)));
    // The TLS wrapper decides what https means; this connector only makes TCP.
    http.enforce_http(false);
    http
}

fn tls<C>(inner: C) -> HttpsConnector<C> {
    HttpsConnectorBuilder::new()
        .with_tls_config(tls_config().clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(inner)
}

/// The one TLS client configuration (cloning it shares the roots).
fn tls_config() -> &'static rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        match rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder
                .with_root_certificates(roots())
                .with_no_client_auth(),
            Err(error) => {
                // ring supports every default version; the process default is
                // the same provider anyway.
                tracing::warn!(%error, "TLS versions refused; using rustls' defaults");
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots())
                    .with_no_client_auth()
            }
        }
    })
}

/// webpki's roots plus the platform's (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set).
fn roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "some of the platform's TLS roots could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "platform TLS roots loaded beside webpki's");
    roots
}

fn client<C>(connector: C) -> Client<C, UpstreamBody>
where
    C: hyper_util::client::legacy::connect::Connect + Clone,
{
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// Connects to an HTTP proxy for plain-HTTP destinations and marks the connection
/// as proxied, which makes the client send absolute-form request targets.
#[derive(Clone)]
pub(crate) struct ForwardConnector {
    proxy: Uri,
    inner: HttpsConnector<HttpConnector>,
}

type Inner = hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>;

impl tower_service::Service<Uri> for ForwardConnector {
    type Response = Proxied<Inner>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, _dst: Uri) -> Self::Future {
        let connecting = self.inner.call(self.proxy.clone());
        Box::pin(async move { Ok(Proxied(connecting.await?)) })
    }
}

/// A connection to a forward proxy: the stream itself, flagged as proxied.
pub(crate) struct Proxied<T>(T);

impl<T: Connection> Connection for Proxied<T> {
    fn connected(&self) -> Connected {
        self.0.connected().proxy(true)
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Proxied<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Proxied<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }
}
