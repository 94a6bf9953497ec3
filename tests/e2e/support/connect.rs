//! An HTTP proxy on 127.0.0.1 that logs every target it is asked for.
//! `CONNECT host:443` to a host of its list is tunnelled to the TLS mock; a
//! forward-proxy request for such a host (`POST https://host/path`, which a
//! client sends when it was handed a plain-HTTP proxy agent) is passed on to
//! the plain mock in origin form; everything else is refused with 403, so
//! nothing it is handed ever leaves the machine.
//!
//! Two uses: the daemon's `HTTPS_PROXY`, tunnelling the official hosts to the
//! mock (so the official provider really serves each request, and the log
//! says which host it chose), and the CLIs' own `HTTPS_PROXY`/`HTTP_PROXY`,
//! tunnelling nothing (their telemetry and update checks are refused, and the
//! log shows what they tried).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request head larger than this is refused.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

pub struct ConnectProxy {
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ConnectProxy {
    /// A proxy for the hosts of `hosts` (exact names, or `*.suffix`):
    /// CONNECT tunnels to 127.0.0.1:`tls`, forward-proxy requests go to
    /// 127.0.0.1:`plain`; everything else is refused.
    pub fn tunnelling(hosts: &[&str], tls: u16, plain: u16) -> ConnectProxy {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        ConnectProxy::start(Arc::new(hosts), Ports { tls, plain })
    }

    /// A proxy that refuses everything (and logs what it was asked for).
    pub fn refusing() -> ConnectProxy {
        ConnectProxy::start(Arc::new(Vec::new()), Ports { tls: 0, plain: 0 })
    }

    fn start(hosts: Arc<Vec<String>>, to: Ports) -> ConnectProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind CONNECT proxy");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (hosts, log) = (Arc::clone(&hosts), Arc::clone(&shared));
                tokio::spawn(async move {
                    let _ = client(stream, &hosts, to, &log).await;
                });
            }
        });
        ConnectProxy {
            port,
            log,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request line target so far (`host:port` for CONNECT, the
    /// absolute URL otherwise), in arrival order.
    pub fn targets(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Where the mock listens.
#[derive(Debug, Clone, Copy)]
struct Ports {
    tls: u16,
    plain: u16,
}

async fn client(
    mut stream: TcpStream,
    hosts: &[String],
    to: Ports,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let (head, early) = tokio::time::timeout(HEAD_DEADLINE, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::other("request head deadline"))??;
    let line = head.lines().next().unwrap_or("");
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(target.to_owned());
    if method == "CONNECT" {
        let host = target.strip_suffix(":443").unwrap_or("");
        if !matches(hosts, host) {
            return refuse(&mut stream).await;
        }
        let mut upstream = TcpStream::connect(("127.0.0.1", to.tls)).await?;
        upstream.write_all(&early).await?;
        stream
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
        return Ok(());
    }
    // A forward-proxy request: `METHOD scheme://host[:port]/path HTTP/1.1`.
    let rest = target.split_once("://").map_or("", |(_, rest)| rest);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if !matches(hosts, host) {
        return refuse(&mut stream).await;
    }
    let path = if path.is_empty() { "/" } else { path };
    let head = head.replacen(target, path, 1);
    let mut upstream = TcpStream::connect(("127.0.0.1", to.plain)).await?;
    upstream.write_all(head.as_bytes()).await?;
    upstream.write_all(&early).await?;
    tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
    Ok(())
}

async fn refuse(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
}

fn matches(hosts: &[String], host: &str) -> bool {
    hosts.iter().any(|h| match h.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|label| label.ends_with('.') && !label[..label.len() - 1].contains('.')),
        None => h == host,
    })
}

/// Reads up to the blank line ending the request head, and returns the head
/// and whatever the client sent after it (a client may send its TLS hello
/// without waiting for the 200). Anything but CONNECT is refused, so its body
/// does not matter.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let early = head.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&head).into_owned(), early));
        }
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
}
