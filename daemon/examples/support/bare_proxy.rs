//! The least a reverse proxy built on hyper and tokio can do, measured beside
//! Switchyard's to show what the libraries cost on their own: one thread with a
//! single-threaded runtime (as in the worker), and per client connection one
//! upstream connection opened up front. Each request gets the upstream's
//! `Host` and goes straight out; the response comes straight back. No pool,
//! no header surgery, no timeouts, no failover, no accounting: not a proxy
//! anyone should run, only a floor.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Starts the bare proxy in front of `upstream` on a thread of its own; it
/// stops when `shutdown` is cancelled.
pub fn start(upstream: SocketAddr, shutdown: CancellationToken) -> Result<SocketAddr, BoxError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let host = HeaderValue::from_str(&upstream.to_string())?;
    std::thread::Builder::new()
        .name("bare proxy".into())
        .spawn(move || {
            let served = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&runtime, async {
                        let listener = TcpListener::from_std(listener)?;
                        loop {
                            let (client, _) = tokio::select! {
                                () = shutdown.cancelled() => return Ok(()),
                                accepted = listener.accept() => accepted?,
                            };
                            tokio::task::spawn_local(connection(client, upstream, host.clone()));
                        }
                    })
                });
            if let Err(e) = served {
                eprintln!("bare proxy stopped: {e}");
            }
        })?;
    Ok(addr)
}

async fn connection(client: TcpStream, upstream: SocketAddr, host: HeaderValue) {
    let Ok(sender) = open(upstream).await else {
        return;
    };
    let sender = Rc::new(RefCell::new(sender));
    let service = service_fn(move |mut req: Request<Incoming>| {
        let sender = Rc::clone(&sender);
        req.headers_mut().insert(header::HOST, host.clone());
        async move {
            // One request at a time on an HTTP/1.1 connection: the borrows
            // never overlap.
            std::future::poll_fn(|cx| sender.borrow_mut().poll_ready(cx)).await?;
            let response = sender.borrow_mut().send_request(req);
            response.await
        }
    });
    let _ = client.set_nodelay(true);
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await;
}

async fn open(upstream: SocketAddr) -> Result<SendRequest<Incoming>, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
