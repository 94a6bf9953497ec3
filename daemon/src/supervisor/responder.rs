//! While an app is parked, or waiting more than a second to restart, the daemon
//! answers its port itself: every request (a WebSocket upgrade too: it is
//! answered, not upgraded) gets a 503 in the app's API error shape
//! (`proxy::fault`), naming the reason and the command that recovers. A CLI
//! never hangs on a dead port.

use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, header};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use crate::apps::App;
use crate::proxy::fault::{self, Fault};

/// Serves 503s on a copy of `listener` until `stop` is cancelled. `retry_after`
/// (whole seconds, rounded up) is sent while a restart is due; a parked app
/// sends none, since only the user's `restart` brings it back.
pub fn start(
    app: App,
    listener: &TcpListener,
    reason: &str,
    retry_after: Option<std::time::Duration>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let retry_after = retry_after.map(|d| {
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        header::HeaderValue::from(secs.max(1))
    });
    let copy = listener.try_clone()?;
    copy.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(copy)?;
    let body = Arc::new(Bytes::from(body(app, reason)));
    tracing::info!(%app, %reason, "answering the port with 503 while no worker serves it");
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(%app, %err, "503 responder: accept failed");
                        continue;
                    }
                },
            };
            let body = body.clone();
            let retry_after = retry_after.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    let response = unavailable(&body, retry_after.as_ref());
                    async move { Ok::<_, Infallible>(response) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    () = stop.cancelled() => {}
                }
            });
        }
    });
    Ok(())
}

fn unavailable(body: &Bytes, retry_after: Option<&header::HeaderValue>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.clone()));
    *response.status_mut() = Fault::NotServing.status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Some(value) = retry_after {
        headers.insert(header::RETRY_AFTER, value.clone());
    }
    response
}

fn body(app: App, reason: &str) -> String {
    let message = format!(
        "the switchyard proxy for {app} is not serving: {reason}. Run `switchyard restart {app}` to recover, or `switchyard status` to see why."
    );
    fault::body(app, Fault::NotServing, &message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_websocket_upgrade_to_a_parked_app_gets_the_503_not_a_tunnel()
    -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = CancellationToken::new();
        start(App::Codex, &listener, "crashed 5 times", None, stop.clone())?;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let handshake = format!(
            "GET /responses HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        stream.write_all(handshake.as_bytes()).await?;
        let mut response = String::new();
        let read = stream.read_to_string(&mut response);
        tokio::time::timeout(std::time::Duration::from_secs(5), read).await??;
        stop.cancel();
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");
        let (_, body) = response.split_once("\r\n\r\n").unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(body)?;
        assert_eq!(json["error"]["code"], "switchyard_unavailable", "{body}");
        Ok(())
    }

    #[test]
    fn the_503_body_is_in_each_apps_shape_and_says_how_to_recover() {
        for app in App::ALL {
            let json: serde_json::Value =
                serde_json::from_str(&body(app, "crashed 5 times")).unwrap_or_default();
            let message = match app {
                App::Claude => {
                    assert_eq!(json["type"], "error");
                    assert_eq!(json["error"]["type"], "api_error");
                    &json["error"]["message"]
                }
                App::Codex => {
                    assert_eq!(json["error"]["code"], "switchyard_unavailable");
                    &json["error"]["message"]
                }
                App::Gemini => {
                    assert_eq!(json["error"]["status"], "UNAVAILABLE");
                    assert_eq!(json["error"]["code"], 503);
                    &json["error"]["message"]
                }
            };
            let message = message.as_str().unwrap_or_default();
            assert!(message.contains("crashed 5 times"), "{message}");
            assert!(
                message.contains(&format!("switchyard restart {app}")),
                "{message}"
            );
        }
    }
}
