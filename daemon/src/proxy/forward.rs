//! One request, start to finish: guard, read the body (bounded), then hand it
//! to [`failover`](super::failover), which tries the providers in order.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use http::request::Parts;
use http::{Request, Response, header};
use hyper::body::Incoming;

use super::error::BodyError;
use super::failover::failover;
use super::fault::Fault;
use super::headers::strip_hop_by_hop;
use super::model;
use super::report::Tracker;
use super::request::{Collected, Replay, UpstreamBody, collect};
use super::response::{ClientBody, json_error};
use super::server::Ctx;
use super::tunnel;

/// The hyper service function.
pub(crate) async fn handle(
    ctx: Arc<Ctx>,
    req: Request<Incoming>,
) -> Result<Response<ClientBody>, Infallible> {
    let (parts, mut body) = respond(ctx, req).await.into_parts();
    body.tracker_mut().capture_response(&parts.headers);
    let mut response = Response::from_parts(parts, body);
    response.body_mut().coalesce_small().await;
    Ok(response)
}

/// The response to one request, however it ends.
async fn respond(ctx: Arc<Ctx>, req: Request<Incoming>) -> Response<ClientBody> {
    let mut tracker = Tracker::start(&ctx.sink, req.method(), req.uri().path());
    tracker.capture_request(req.headers());
    if let Err(rejection) = ctx.guard.check(req.uri(), req.headers()) {
        let message = rejection.message(ctx.guard.port());
        tracker.fail(format!("refused: {message}"));
        let app = ctx.active.borrow().app;
        return json_error(app, Fault::Forbidden, &message, tracker);
    }
    // One Arc clone; the watch lock is released at once.
    let active = Arc::clone(&ctx.active.borrow());
    let (mut parts, body) = req.into_parts();
    let upgrade = tunnel::take_websocket(&mut parts);
    if upgrade.is_some() {
        tunnel::keep_handshake(&mut parts.headers);
    } else {
        strip_hop_by_hop(&mut parts.headers);
    }

    let idle = active.timeouts.idle;
    let mut source = match collect(body, active.max_buffered_body, idle, &mut tracker).await {
        Ok(Collected::Full(chunks)) => {
            note_model(&mut tracker, &parts, &chunks);
            BodySource::Replay(chunks)
        }
        Ok(Collected::Partial { prefix, rest }) => {
            // The model is usually the first field, so the held prefix is enough.
            note_model(&mut tracker, &parts, &prefix);
            let seen = Arc::new(AtomicU64::new(0));
            tracker.streamed_in = Some(Arc::clone(&seen));
            let counters = Arc::clone(&ctx.sink.counters);
            BodySource::Once(Some(UpstreamBody::stream(
                prefix, rest, idle, counters, seen,
            )))
        }
        Err(e) => {
            let fault = match &e {
                BodyError::IdleTimeout(_) => Fault::RequestTimeout,
                _ => Fault::BadRequest,
            };
            let message = e.to_string();
            tracker.fail(message.clone());
            return json_error(active.app, fault, &message, tracker);
        }
    };
    failover(&ctx, &active, &mut parts, &mut source, tracker, upgrade).await
}

/// The model a request names: its JSON body's `model` field, else its path
/// (Gemini puts it there).
fn note_model(tracker: &mut Tracker, parts: &Parts, body: &[bytes::Bytes]) {
    tracker.summary.model = model::from_json_body(parts.headers.get(header::CONTENT_TYPE), body)
        .or_else(|| model::from_path(parts.uri.path()));
}

/// Where each attempt's body comes from.
pub(super) enum BodySource {
    Replay(Replay),
    /// Too big to hold: the first attempt takes it, later ones cannot happen.
    Once(Option<UpstreamBody>),
}

impl BodySource {
    pub(super) fn next(&mut self) -> Option<UpstreamBody> {
        match self {
            BodySource::Replay(chunks) => Some(UpstreamBody::replay(chunks)),
            BodySource::Once(body) => body.take(),
        }
    }
}
