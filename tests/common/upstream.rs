//! A mock upstream provider on 127.0.0.1: hyper on its own runtime thread,
//! answering every request with JSON that echoes what it received.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub struct MockUpstream {
    pub port: u16,
    pub hits: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl MockUpstream {
    pub fn start() -> MockUpstream {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind mock upstream");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let counter = counter.clone();
                            async move {
                                counter.fetch_add(1, Ordering::Relaxed);
                                let path = req.uri().path().to_owned();
                                if path == "/slow" {
                                    return Ok::<_, Infallible>(Response::new(slow_body()));
                                }
                                let key = req
                                    .headers()
                                    .get("x-api-key")
                                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let json = serde_json::json!({
                                    "upstream": "mock",
                                    "path": path,
                                    "x_api_key": key,
                                    "body_len": body.len(),
                                });
                                let body = Full::new(Bytes::from(json.to_string())).boxed();
                                Ok::<_, Infallible>(Response::new(body))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        MockUpstream {
            port,
            hits,
            _runtime: runtime,
        }
    }
}

/// `/slow`: five server-sent events, 200 ms apart (a stream in flight).
fn slow_body() -> BoxBody<Bytes, Infallible> {
    let events = futures::stream::unfold(0u32, |n| async move {
        if n == 5 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let frame = Frame::data(Bytes::from(format!("data: event {n}\n\n")));
        Some((Ok::<_, Infallible>(frame), n + 1))
    });
    StreamBody::new(events).boxed()
}
