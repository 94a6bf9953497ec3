//! Handing an upstream's answer to the client: streamed through as it arrives,
//! translated to the client's format, read back (a pooled key's error), or a
//! WebSocket spliced; and noting who served it.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;

use super::breaker::Owed;
use super::headers::strip_hop_by_hop;
use super::provider::{Active, Key, Provider};
use super::report::Tracker;
use super::response::{ClientBody, ProxyBody, read_back, whole};
use super::server::Ctx;
use super::tap::{self, Tap};
use super::translated::{self, Translating, read_whole};
use super::tunnel;
use crate::apps::OfficialRoute;
use crate::translate::{ResponseTranslator, StreamOutcome};

/// An upstream answer: still streaming, or (a pooled key's error) read.
pub(super) enum Answer {
    Streaming(Response<Incoming>),
    Read(http::response::Parts, Bytes),
}

impl Answer {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Answer::Streaming(response) => response.status(),
            Answer::Read(parts, _) => parts.status,
        }
    }
}

/// Hands an answer to the client: passed through, or translated.
pub(super) async fn deliver(
    answer: Answer,
    translator: Option<ResponseTranslator>,
    verdict: Owed,
    active: &Active,
    tracker: Tracker,
) -> Response<ClientBody> {
    match (answer, translator) {
        (Answer::Streaming(response), None) => stream(response, verdict, active, tracker),
        (Answer::Streaming(response), Some(translator)) => {
            translate_response(response, translator, verdict, active, tracker).await
        }
        (Answer::Read(parts, body), None) => read_back(active.app, parts, body, tracker),
        (Answer::Read(parts, body), Some(translator)) => {
            translated_error(parts.status, &body, &translator, verdict, active, tracker)
        }
    }
}

/// The answer to a translated request, in the client's format: a 2xx event
/// stream translated as it arrives; anything else read whole (bounded) and
/// translated at once.
pub(super) async fn translate_response(
    response: Response<Incoming>,
    translator: ResponseTranslator,
    mut verdict: Owed,
    active: &Active,
    tracker: Tracker,
) -> Response<ClientBody> {
    let (parts, body) = response.into_parts();
    let idle = active.timeouts.idle;
    let is_sse = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if parts.status.is_success() && translator.is_stream() && is_sse {
        let stream = Translating::new(body, idle, translator.stream());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        // The tap reads the client's format: what the client gets.
        let scanner = tap::scanner(active.app, &tracker.summary.path, parts.status, &headers);
        let body = ProxyBody::translated(stream, verdict);
        let mut response = Response::new(Tap::new(body, tracker).with_usage(scanner));
        *response.headers_mut() = headers;
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return response;
    }
    let mut tracker = tracker;
    let read = read_whole(body, translated::MAX_WHOLE, idle).await;
    let status = parts.status;
    if !status.is_success() {
        let upstream = read.unwrap_or_default();
        return translated_error(status, &upstream, &translator, verdict, active, tracker);
    }
    let upstream = match read {
        Ok(bytes) => bytes,
        Err(why) => {
            verdict.failure();
            let message = format!("the provider's answer broke off: {why}");
            tracker.fail(message.clone());
            let body = translator.error(502, message.as_bytes());
            return whole(
                active.app,
                StatusCode::BAD_GATEWAY,
                "application/json",
                body,
                tracker,
            );
        }
    };
    if translator.is_stream() {
        // A server that ignored `stream` and answered whole.
        let mut stream = translator.stream();
        let mut out = bytes::BytesMut::new();
        stream.whole(&upstream, &mut out);
        match stream.outcome() {
            StreamOutcome::Failed(why) => {
                verdict.failure();
                tracker.fail(format!("the provider's answer failed: {why}"));
            }
            _ => verdict.success(),
        }
        return whole(
            active.app,
            StatusCode::OK,
            "text/event-stream",
            out.to_vec(),
            tracker,
        );
    }
    let translated = translator.body(&upstream);
    if translated.status == 200 {
        verdict.success();
    } else {
        verdict.failure();
        tracker.fail("the provider's answer could not be read".to_owned());
    }
    let status = StatusCode::from_u16(translated.status).unwrap_or(StatusCode::BAD_GATEWAY);
    whole(
        active.app,
        status,
        "application/json",
        translated.body,
        tracker,
    )
}

/// The provider's error, in the client's shape; its status kept.
fn translated_error(
    status: StatusCode,
    upstream: &[u8],
    translator: &ResponseTranslator,
    mut verdict: Owed,
    active: &Active,
    mut tracker: Tracker,
) -> Response<ClientBody> {
    verdict.success();
    tracker.fail(format!("the provider answered {}", status.as_u16()));
    whole(
        active.app,
        status,
        "application/json",
        translator.error(status.as_u16(), upstream),
        tracker,
    )
}

/// Answers a WebSocket handshake with the upstream's `101`; the tunnel runs
/// where the server's drain waits for it.
pub(super) fn splice(
    ctx: &Ctx,
    response: Response<Incoming>,
    client: OnUpgrade,
    active: &Active,
    tracker: Tracker,
) -> Response<ClientBody> {
    let splice = tunnel::Splice {
        idle: active.timeouts.idle,
        counters: Arc::clone(&ctx.sink.counters),
        hard_stop: ctx.tunnels.hard_stop.clone(),
    };
    let (response, task) = tunnel::switch(response, client, splice, tracker);
    ctx.tunnels.tasks.spawn(task);
    response
}

/// Notes who answered (and with which key of its pool), for the summary.
pub(super) fn served(
    tracker: &mut Tracker,
    status: StatusCode,
    provider: &Provider,
    route: Option<OfficialRoute>,
    key: Option<&Key>,
) {
    tracker.summary.status = status.as_u16();
    tracker.summary.provider = Some(provider.name.clone());
    tracker.summary.route = route.map(OfficialRoute::name);
    tracker.summary.ttfb = Some(tracker.started().elapsed());
    tracker.summary.key = key.map(|k| Arc::clone(&k.label));
}

/// Hands the upstream response to the client, to be streamed from now on; the
/// breaker's verdict is given when the body ends.
pub(super) fn stream(
    response: Response<Incoming>,
    verdict: Owed,
    active: &Active,
    tracker: Tracker,
) -> Response<ClientBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // The client connection is HTTP/1.1 whatever the upstream spoke.
    parts.version = Version::HTTP_11;
    let event_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let scanner = tap::scanner(
        active.app,
        &tracker.summary.path,
        parts.status,
        &parts.headers,
    );
    let body = ProxyBody::upstream(body, active.timeouts.idle, verdict, event_stream);
    Response::from_parts(parts, Tap::new(body, tracker).with_usage(scanner))
}
