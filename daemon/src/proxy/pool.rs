//! Keep-alive upstream connections for providers reached directly (no outbound
//! proxy): hyper's own HTTP/1.1 connection API and a small pool, kept by the one
//! proxy thread that uses it.
//!
//! hyper-util's general-purpose client does more per request than this path
//! needs (a pool keyed through a hash map, a checkout future racing a connect, a
//! task spawned per request to return the connection once its body is done).
//! Here a connection stays in the pool while it is busy, and a request takes the
//! next one that is ready for another, scanning round-robin from where the last
//! was found: the connection handed out longest ago is the likeliest to be free
//! again, so under load the scan stops at once whatever the pool's size.
//! Routes through an outbound proxy keep hyper-util's client (`client.rs`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use super::error::chain;
use super::request::UpstreamBody;

/// A connection unused for this long is closed rather than reused (servers
/// drop idle keep-alive connections on their own schedule; this keeps us from
/// holding a peak's worth of sockets forever).
const IDLE_LIMIT: Duration = Duration::from_secs(90);

/// A reused connection can turn out to be closed by the server just as a
/// request is handed to it; the request (not yet sent) is then retried on
/// another connection, this many times at most.
const STALE_RETRIES: usize = 3;

pub(crate) struct DirectPool {
    connector: HttpsConnector<HttpConnector>,
    conns: Mutex<Conns>,
}

#[derive(Default)]
struct Conns {
    list: Vec<Pooled>,
    /// Where the next scan starts: just past the connection last handed out.
    next: usize,
}

struct Pooled {
    scheme: Scheme,
    authority: Authority,
    sender: SendRequest<UpstreamBody>,
    last_used: Instant,
}

impl DirectPool {
    pub(crate) fn new(connector: HttpsConnector<HttpConnector>) -> Self {
        DirectPool {
            connector,
            conns: Mutex::new(Conns::default()),
        }
    }

    /// Sends one request (absolute URI) on a pooled connection to its origin,
    /// opening one if none is free. The error is rendered with its causes.
    pub(crate) async fn send(
        &self,
        mut req: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, String> {
        // The request line carries the origin form (`/path?query`); the scheme
        // and authority pick the connection.
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme.take(), parts.authority.take()) else {
            return Err("the upstream URI has no scheme or host".to_owned());
        };
        *req.uri_mut() = Uri::from(
            parts
                .path_and_query
                .take()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        let mut stale = 0;
        loop {
            let pooled = {
                let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
                match ready(&mut conns, &scheme, &authority) {
                    Some(conn) => Ok(conn.sender.try_send_request(req)),
                    None => Err(req),
                }
            };
            let (sending, reused) = match pooled {
                Ok(sending) => (sending, true),
                Err(req) => {
                    // Boxed: connecting (TCP, maybe TLS) is rare and its future is
                    // big; unboxed it would be copied with every request.
                    let mut sender = Box::pin(self.connect(&scheme, &authority)).await?;
                    let sending = sender.try_send_request(req);
                    self.keep(&scheme, &authority, sender);
                    (sending, false)
                }
            };
            match sending.await {
                Ok(response) => return Ok(response),
                Err(mut err) => match err.take_message() {
                    Some(unsent) if reused && stale < STALE_RETRIES => {
                        stale += 1;
                        req = unsent;
                    }
                    _ => return Err(chain(&err.into_error())),
                },
            }
        }
    }

    fn keep(&self, scheme: &Scheme, authority: &Authority, sender: SendRequest<UpstreamBody>) {
        let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        conns.list.push(Pooled {
            scheme: scheme.clone(),
            authority: authority.clone(),
            sender,
            last_used: Instant::now(),
        });
    }

    async fn connect(
        &self,
        scheme: &Scheme,
        authority: &Authority,
    ) -> Result<SendRequest<UpstreamBody>, String> {
        let (sender, connection) = self.handshake(scheme, authority).await?;
        // The connection runs on this thread's runtime until either side closes
        // it or its sender is dropped from the pool.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Sends a WebSocket upgrade request (absolute URI) on a connection of its
    /// own, never pooled: once upgraded it belongs to that tunnel. The response's
    /// upgrade (`hyper::upgrade::on`) yields the connection on a `101`.
    pub(crate) async fn send_upgrade(
        &self,
        mut req: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, String> {
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme.take(), parts.authority.take()) else {
            return Err("the upstream URI has no scheme or host".to_owned());
        };
        *req.uri_mut() = Uri::from(
            parts
                .path_and_query
                .take()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        let (mut sender, connection) = self.handshake(&scheme, &authority).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "upstream upgrade connection ended with an error");
            }
        });
        sender.send_request(req).await.map_err(|e| chain(&e))
    }

    async fn handshake(
        &self,
        scheme: &Scheme,
        authority: &Authority,
    ) -> Result<(SendRequest<UpstreamBody>, Upstream), String> {
        let origin = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| chain(&e))?;
        let io = self
            .connector
            .clone()
            .call(origin)
            .await
            .map_err(|e| chain(e.as_ref()))?;
        http1::handshake(io).await.map_err(|e| chain(&e))
    }
}

/// One upstream connection's I/O side, driven by a task of its own.
type Upstream = http1::Connection<
    hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>,
    UpstreamBody,
>;

/// A connection to this origin that is ready for a request (handing it one makes
/// it busy until that response is done), looked for round-robin. Closed and
/// long-idle connections are dropped on the way.
fn ready<'a>(
    conns: &'a mut Conns,
    scheme: &Scheme,
    authority: &Authority,
) -> Option<&'a mut Pooled> {
    let now = Instant::now();
    let mut looked = 0;
    while looked < conns.list.len() {
        if conns.next >= conns.list.len() {
            conns.next = 0;
        }
        let i = conns.next;
        let conn = &conns.list[i];
        let ready = conn.sender.is_ready();
        if conn.sender.is_closed() || (ready && now - conn.last_used > IDLE_LIMIT) {
            // The last one moves into its place and is looked at next.
            conns.list.swap_remove(i);
            continue;
        }
        conns.next = i + 1;
        // Exact bytes, not `Authority`'s case-insensitive `==`: every request to a
        // provider carries the very authority its connections were opened with.
        if ready && conn.authority.as_str() == authority.as_str() && conn.scheme == *scheme {
            let conn = &mut conns.list[i];
            conn.last_used = now;
            return Some(conn);
        }
        looked += 1;
    }
    None
}
