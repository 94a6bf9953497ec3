//! One request, start to finish: guard, read the body (bounded), then try providers
//! in order — skipping open breakers — until one answers with something other than
//! 429/5xx before the first response byte. After that the response streams through
//! and there is no going back.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;

use super::breaker::{Admit, Breaker};
use super::config::BreakerPolicy;
use super::error::BodyError;
use super::fault::Fault;
use super::headers::{inject_credential, strip_hop_by_hop};
use super::model;
use super::provider::{Active, Provider, Target};
use super::report::Tracker;
use super::request::{Collected, Replay, UpstreamBody, collect};
use super::response::{ClientBody, ProxyBody, json_error};
use super::server::Ctx;
use super::tap::Tap;
use super::tunnel;
use crate::apps::OfficialRoute;
use crate::protocol::requests::Failover;
use crate::usage::{Format, UsageScanner};

/// The hyper service function.
pub(crate) async fn handle(
    ctx: Arc<Ctx>,
    req: Request<Incoming>,
) -> Result<Response<ClientBody>, Infallible> {
    let mut tracker = Tracker::start(&ctx.sink, req.method(), req.uri().path());
    if let Err(rejection) = ctx.guard.check(req.uri(), req.headers()) {
        let message = rejection.message(ctx.guard.port());
        tracker.fail(format!("refused: {message}"));
        let app = ctx.active.borrow().app;
        return Ok(json_error(app, Fault::Forbidden, &message, tracker));
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
            return Ok(json_error(active.app, fault, &message, tracker));
        }
    };
    let mut response = failover(&ctx, &active, &mut parts, &mut source, tracker, upgrade).await;
    response.body_mut().coalesce_small().await;
    Ok(response)
}

/// The model a request names: its JSON body's `model` field, else its path
/// (Gemini puts it there).
fn note_model(tracker: &mut Tracker, parts: &Parts, body: &[bytes::Bytes]) {
    tracker.summary.model = model::from_json_body(parts.headers.get(header::CONTENT_TYPE), body)
        .or_else(|| model::from_path(parts.uri.path()));
}

/// One provider given up on: for the record, and for the 502's message.
fn give_up(tracker: &mut Tracker, failures: &mut Vec<String>, provider: &str, reason: String) {
    failures.push(format!("{provider}: {reason}"));
    tracker.summary.failovers.push(Failover {
        provider: provider.to_owned(),
        reason,
    });
}

/// Where each attempt's body comes from.
enum BodySource {
    Replay(Replay),
    /// Too big to hold: the first attempt takes it, later ones cannot happen.
    Once(Option<UpstreamBody>),
}

impl BodySource {
    fn next(&mut self) -> Option<UpstreamBody> {
        match self {
            BodySource::Replay(chunks) => Some(UpstreamBody::replay(chunks)),
            BodySource::Once(body) => body.take(),
        }
    }
}

/// A breaker verdict owed for one attempt; an attempt abandoned without one (the
/// client left mid-wait) frees a half-open probe slot on drop.
struct Verdict<'a> {
    breaker: &'a Breaker,
    policy: &'a BreakerPolicy,
    probe: bool,
}

impl Verdict<'_> {
    fn success(mut self) {
        self.probe = false;
        self.breaker.record_success();
    }

    fn failure(mut self) {
        self.probe = false;
        self.breaker.record_failure(self.policy, Instant::now());
    }
}

impl Drop for Verdict<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.release_probe();
        }
    }
}

/// Tries the providers in turn. With `upgrade` (a WebSocket handshake), an
/// upstream that answers `101` gets the client's connection spliced to its own.
async fn failover(
    ctx: &Ctx,
    active: &Active,
    parts: &mut Parts,
    source: &mut BodySource,
    mut tracker: Tracker,
    mut upgrade: Option<OnUpgrade>,
) -> Response<ClientBody> {
    let Parts {
        method,
        uri,
        headers,
        ..
    } = parts;
    let target_path = uri.path_and_query();
    let policy = &active.policy;
    let mut attempts: u32 = 0;
    let mut failures: Vec<String> = Vec::new();
    // The last 429/5xx, kept to hand back as-is if nobody does better.
    let mut held: Option<(Response<Incoming>, &Provider, Option<OfficialRoute>)> = None;

    // First pass honours the breakers; if they skipped every provider, the second
    // pass tries them all anyway, in order, rather than failing without trying.
    for forced in [false, true] {
        if forced && attempts > 0 {
            break;
        }
        for (index, provider) in active.providers.iter().enumerate() {
            let probe = if forced {
                false
            } else {
                match provider.breaker.admit(policy, Instant::now()) {
                    Admit::Pass => false,
                    Admit::Probe => true,
                    Admit::Skip => continue,
                }
            };
            let verdict = Verdict {
                breaker: &provider.breaker,
                policy,
                probe,
            };
            let Some(body) = source.next() else {
                // A streamed body is gone after the first attempt.
                give_up(
                    &mut tracker,
                    &mut failures,
                    &provider.name,
                    "not tried (request body too large to retry)".to_owned(),
                );
                break;
            };
            attempts += 1;
            let (target, route) = provider.target_for(headers, uri.path());
            // No attempt follows the last provider's (the forced pass runs only
            // when nothing was tried), so its request can have the headers
            // themselves instead of a copy.
            let headers = if index + 1 == active.providers.len() {
                std::mem::take(headers)
            } else {
                headers.clone()
            };
            let request = match build_request(method, provider, &target, target_path, headers, body)
            {
                Ok(request) => request,
                Err(e) => {
                    // Not the provider's fault: no verdict.
                    give_up(&mut tracker, &mut failures, &provider.name, e.to_string());
                    continue;
                }
            };
            let first_byte = active.timeouts.first_byte;
            let send = target.route.send(request, upgrade.is_some());
            let outcome = tokio::time::timeout(first_byte, send).await;
            let failure = match outcome {
                Ok(Ok(response)) if is_retryable(response.status()) => {
                    verdict.failure();
                    let failure = format!("status {}", response.status().as_u16());
                    held = Some((response, provider, route));
                    failure
                }
                Ok(Ok(response)) => {
                    verdict.success();
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS
                        && let Some(client) = upgrade.take()
                    {
                        return splice(ctx, response, client, provider, route, active, tracker);
                    }
                    return stream(response, provider, route, active, tracker);
                }
                Ok(Err(e)) => {
                    verdict.failure();
                    e.to_string()
                }
                Err(_) => {
                    verdict.failure();
                    format!("no response headers within {first_byte:?}")
                }
            };
            give_up(&mut tracker, &mut failures, &provider.name, failure);
            if let Some(failure) = failures.last() {
                tracing::debug!(failure = %failure, "upstream attempt failed");
                tracker.counters().set_last_error(failure.clone());
            }
        }
    }

    let summary = if failures.is_empty() {
        "no providers are configured".to_owned()
    } else {
        format!("all providers failed: {}", failures.join("; "))
    };
    tracker.fail(summary.clone());
    match held {
        Some((response, provider, route)) => stream(response, provider, route, active, tracker),
        None => json_error(active.app, Fault::UpstreamUnavailable, &summary, tracker),
    }
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn build_request(
    method: &Method,
    provider: &Provider,
    target: &Target,
    target_path: Option<&PathAndQuery>,
    mut headers: HeaderMap,
    body: UpstreamBody,
) -> Result<Request<UpstreamBody>, http::Error> {
    let uri = target.uri_for(target_path)?;
    headers.insert(header::HOST, target.host.clone());
    if let Some(credential) = &provider.credential {
        inject_credential(&mut headers, credential);
    }
    let mut request = Request::new(body);
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Answers a WebSocket handshake with the upstream's `101`; the tunnel runs
/// where the server's drain waits for it.
fn splice(
    ctx: &Ctx,
    response: Response<Incoming>,
    client: OnUpgrade,
    provider: &Provider,
    route: Option<OfficialRoute>,
    active: &Active,
    mut tracker: Tracker,
) -> Response<ClientBody> {
    served(&mut tracker, response.status(), provider, route);
    let splice = tunnel::Splice {
        idle: active.timeouts.idle,
        counters: Arc::clone(&ctx.sink.counters),
        hard_stop: ctx.tunnels.hard_stop.clone(),
    };
    let (response, task) = tunnel::switch(response, client, splice, tracker);
    ctx.tunnels.tasks.spawn(task);
    response
}

/// Notes who answered, for the summary.
fn served(
    tracker: &mut Tracker,
    status: StatusCode,
    provider: &Provider,
    route: Option<OfficialRoute>,
) {
    tracker.summary.status = status.as_u16();
    tracker.summary.provider = Some(provider.name.clone());
    tracker.summary.route = route.map(OfficialRoute::name);
    tracker.summary.ttfb = Some(tracker.started().elapsed());
}

/// Hands the upstream response to the client, to be streamed from now on.
fn stream(
    response: Response<Incoming>,
    provider: &Provider,
    route: Option<OfficialRoute>,
    active: &Active,
    mut tracker: Tracker,
) -> Response<ClientBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // The client connection is HTTP/1.1 whatever the upstream spoke.
    parts.version = Version::HTTP_11;
    served(&mut tracker, parts.status, provider, route);
    // Only a successful answer on an endpoint that reports usage is read.
    let scanner = if parts.status.is_success() {
        Format::for_request(active.app, &tracker.summary.path).and_then(|format| {
            UsageScanner::new(
                format,
                parts.headers.get(header::CONTENT_TYPE),
                parts.headers.get(header::CONTENT_ENCODING),
            )
        })
    } else {
        None
    };
    let body = ProxyBody::upstream(
        body,
        active.timeouts.idle,
        Arc::clone(&provider.breaker),
        active.policy,
    );
    Response::from_parts(parts, Tap::new(body, tracker).with_usage(scanner))
}
