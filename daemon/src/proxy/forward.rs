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

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderValue;

use super::breaker::{Admit, Owed};
use super::cooling;
use super::error::BodyError;
use super::fault::Fault;
use super::headers::{inject_credential, strip_client_auth, strip_hop_by_hop};
use super::keys;
use super::model;
use super::provider::{Active, Api, Key, KeyPick, Provider, Target};
use super::report::Tracker;
use super::request::{Collected, Replay, UpstreamBody, collect};
use super::response::{ClientBody, ProxyBody, json_error, read_back, whole};
use super::server::Ctx;
use super::tap::{self, Tap};
use super::translated::{self, Translating, read_whole};
use super::tunnel;
use crate::apps::OfficialRoute;
use crate::protocol::requests::Failover;
use crate::translate::{
    self, CLIENT_FORMAT_HEADERS, Format, RequestIn, ResponseTranslator, StreamOutcome,
    TranslateError,
};

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

/// Providers given up on, in order, each with its reason: the 502's message
/// names them all; the request's record keeps those that were tried (not the
/// ones skipped without a request: cooling, resting keys, loops, refusals).
#[derive(Default)]
struct Failures(Vec<(Failover, bool)>);

impl Failures {
    /// A provider tried and given up on.
    fn push(&mut self, provider: &str, reason: String) {
        self.add(provider, reason, true);
    }

    /// A provider passed over without a request.
    fn skip(&mut self, provider: &str, reason: String) {
        self.add(provider, reason, false);
    }

    fn add(&mut self, provider: &str, reason: String, tried: bool) {
        let failover = Failover {
            provider: provider.to_owned(),
            reason,
        };
        self.0.push((failover, tried));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `a: status 529; b: connection refused`.
    fn join(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(f, _)| format!("{}: {}", f.provider, f.reason))
            .collect();
        parts.join("; ")
    }

    /// The attempts given up on, for the record.
    fn take(&mut self) -> Vec<Failover> {
        std::mem::take(&mut self.0)
            .into_iter()
            .filter_map(|(f, tried)| tried.then_some(f))
            .collect()
    }
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
    let mut failures = Failures::default();
    // The last 429/5xx, kept to hand back if nobody does better.
    let mut held: Option<Held<'_>> = None;
    // Providers skipped while cooling down: the soonest one back.
    let mut cooling: Option<Duration> = None;
    // A request no translating provider could take, and WebSocket upgrades
    // refused by one: answered when nobody else could serve.
    let mut refused: Option<TranslateError> = None;
    let mut upgrade_refused = false;

    // First pass honours the breakers; if they skipped every provider, the second
    // pass tries them all anyway, in order, rather than failing without trying.
    // Cooling providers and loops are skipped in both: a provider said when to
    // come back, and a loop never works.
    'passes: for forced in [false, true] {
        if forced && attempts > 0 {
            break;
        }
        for (index, provider) in active.providers.iter().enumerate() {
            if let Some(port) = provider.loops_to {
                if !forced {
                    provider.breaker.record_failure(policy, Instant::now());
                    // A provider failure (its breaker counts it), so on record.
                    failures.push(&provider.name, format!(
                        "refused, its URL points back at Switchyard's own port {port} (a loop); give it the provider's own address"
                    ));
                }
                continue;
            }
            if let Some(left) = provider.cooling.left(Instant::now()) {
                if !forced {
                    cooling = Some(cooling.map_or(left, |c| c.min(left)));
                    failures.skip(
                        &provider.name,
                        format!(
                            "cooling down for {} s more, as its Retry-After asked",
                            left.as_secs_f64().ceil()
                        ),
                    );
                }
                continue;
            }
            let translates = provider.api.as_ref().is_some_and(|a| a.translates());
            if translates && upgrade.is_some() {
                // The client falls back to plain HTTP, which this provider takes.
                upgrade_refused = true;
                break 'passes;
            }
            let mut probe = if forced {
                false
            } else {
                match provider.breaker.admit(policy, Instant::now()) {
                    Admit::Pass => false,
                    Admit::Probe => true,
                    Admit::Skip => continue,
                }
            };
            // One attempt per key: a key that is rate limited, out of quota or
            // refused rests and the next one of the pool is tried at once.
            loop {
                let key = match provider.pick_key(Instant::now()) {
                    KeyPick::None => None,
                    KeyPick::Key(key) => Some(key),
                    KeyPick::AllResting(left) => {
                        cooling = Some(cooling.map_or(left, |c| c.min(left)));
                        failures.skip(
                            &provider.name,
                            format!(
                                "every key is resting (rate limit, quota or refusal) for {} s more",
                                left.as_secs_f64().ceil()
                            ),
                        );
                        break;
                    }
                };
                let mut verdict = Owed::new(&provider.breaker, *policy, std::mem::take(&mut probe));
                let (target, route) = provider.target_for(headers, uri.path());
                // No attempt follows the last provider's single one (the forced
                // pass runs only when nothing was tried), so its request can have
                // the headers themselves instead of a copy.
                let last = index + 1 == active.providers.len() && provider.keys.len() <= 1;
                let headers = if last {
                    std::mem::take(headers)
                } else {
                    headers.clone()
                };
                let prepared = match &provider.api {
                    None => source.next().map(|body| Prepared {
                        body,
                        path: None,
                        translator: None,
                        headers,
                        upstream_model: None,
                    }),
                    Some(api) => match prepare(api, source, target_path, headers, key.is_some()) {
                        Ok(prepared) => prepared,
                        Err(e) => {
                            // Not the provider's fault: no verdict.
                            failures.skip(&provider.name, e.to_string());
                            refused = Some(e);
                            break;
                        }
                    },
                };
                let Some(prepared) = prepared else {
                    // A streamed body is gone after the first attempt.
                    failures.skip(
                        &provider.name,
                        "not tried (request body too large to retry)".to_owned(),
                    );
                    break 'passes;
                };
                if let Some(model) = &prepared.upstream_model {
                    tracker.summary.upstream_model = Some(model.clone());
                }
                attempts += 1;
                let path = prepared.path.as_ref().or(target_path);
                let request = match build_request(
                    method,
                    key,
                    &target,
                    path,
                    prepared.headers,
                    prepared.body,
                ) {
                    Ok(request) => request,
                    Err(e) => {
                        // Not the provider's fault: no verdict.
                        failures.push(&provider.name, e.to_string());
                        break;
                    }
                };
                let first_byte = active.timeouts.first_byte;
                let send = target.route.send(request, upgrade.is_some());
                let outcome = tokio::time::timeout(first_byte, send).await;
                // A pooled key's error answer is read (bounded) to see whether
                // the key is the trouble: then it rests and the next key is tried.
                let pooled = key.filter(|_| provider.keys.len() > 1);
                let outcome = match (outcome, pooled) {
                    (Ok(Ok(response)), Some(key))
                        if keys::may_be_key_trouble(response.status()) =>
                    {
                        let (parts, body) = response.into_parts();
                        let body = keys::read_error_body(body, active.timeouts.idle).await;
                        let status = parts.status;
                        if let Some(trouble) = keys::classify(
                            status,
                            parts
                                .headers
                                .get(header::CONTENT_ENCODING)
                                .map(|v| v.as_bytes()),
                            &body,
                        ) {
                            // The key is the trouble, not the provider: no verdict.
                            let asked = cooling::retry_after(&parts.headers, SystemTime::now());
                            key.rest.cool(Instant::now(), trouble.rest(asked));
                            failures.push(
                                &provider.name,
                                format!(
                                    "status {} (key {} rests: {})",
                                    status.as_u16(),
                                    key.label,
                                    trouble.reason()
                                ),
                            );
                            held = Some(Held {
                                answer: Answer::Read(parts, body),
                                provider,
                                route,
                                translator: prepared.translator,
                            });
                            continue;
                        }
                        // The request's own error: it goes back as it came.
                        tracker.summary.failovers = failures.take();
                        served(&mut tracker, status, provider, route, Some(key));
                        verdict.success();
                        let answer = Answer::Read(parts, body);
                        return deliver(answer, prepared.translator, verdict, active, tracker)
                            .await;
                    }
                    (outcome, _) => outcome,
                };
                let failure = match outcome {
                    Ok(Ok(response)) if is_retryable(response.status()) => {
                        let status = response.status();
                        let wait = matches!(status.as_u16(), 429 | 503)
                            .then(|| cooling::retry_after(response.headers(), SystemTime::now()))
                            .flatten();
                        let failure = format!("status {}", status.as_u16());
                        held = Some(Held {
                            answer: Answer::Streaming(response),
                            provider,
                            route,
                            translator: prepared.translator,
                        });
                        let failure = match wait {
                            Some(wait) => {
                                provider.cooling.cool(Instant::now(), wait);
                                format!(
                                    "{failure}, cooling down for {} s",
                                    wait.as_secs_f64().ceil()
                                )
                            }
                            None => failure,
                        };
                        verdict.failure();
                        failure
                    }
                    Ok(Ok(response)) => {
                        tracker.summary.failovers = failures.take();
                        served(&mut tracker, response.status(), provider, route, key);
                        if response.status() == StatusCode::SWITCHING_PROTOCOLS
                            && let Some(client) = upgrade.take()
                        {
                            verdict.success();
                            return splice(ctx, response, client, active, tracker);
                        }
                        return match prepared.translator {
                            None => stream(response, verdict, active, tracker),
                            Some(translator) => {
                                translate_response(response, translator, verdict, active, tracker)
                                    .await
                            }
                        };
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
                let line = format!("{}: {failure}", provider.name);
                tracing::debug!(failure = %line, "upstream attempt failed");
                tracker.counters().set_last_error(line);
                failures.push(&provider.name, failure);
                break;
            }
        }
    }

    if upgrade_refused {
        let message = "the provider's API format is translated, which a WebSocket cannot carry; use HTTP streaming";
        tracker.summary.failovers = failures.take();
        tracker.fail(message.to_owned());
        return json_error(active.app, Fault::UpgradeRequired, message, tracker);
    }
    let summary = if failures.is_empty() {
        // The daemon sends only providers that can be used: none came, either
        // because none is enabled or because their keys are unavailable.
        "no usable provider: none is configured, or their keys are not set in the daemon's environment (see `switchyard provider list`)".to_owned()
    } else {
        format!("all providers failed: {}", failures.join())
    };
    tracker.summary.failovers = failures.take();
    tracker.fail(summary.clone());
    if let Some(held) = held {
        let Held {
            answer,
            provider,
            route,
            translator,
        } = held;
        served(&mut tracker, answer.status(), provider, route, None);
        let verdict = Owed::given(&provider.breaker, *policy);
        return deliver(answer, translator, verdict, active, tracker).await;
    }
    if attempts == 0 {
        if let Some(error) = refused {
            let body = error.client_body(Format::of_app(active.app));
            return whole(
                active.app,
                error.status(),
                "application/json",
                body,
                tracker,
            );
        }
        if let Some(wait) = cooling {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let message =
                format!("every provider is rate limited; try again in {secs} s ({summary})");
            let mut response = json_error(active.app, Fault::RateLimited, &message, tracker);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from(secs));
            return response;
        }
    }
    json_error(active.app, Fault::UpstreamUnavailable, &summary, tracker)
}

/// A 429/5xx answer (or a pooled key's error) kept while other keys and
/// providers are tried.
struct Held<'a> {
    answer: Answer,
    provider: &'a Provider,
    route: Option<OfficialRoute>,
    translator: Option<ResponseTranslator>,
}

/// An upstream answer: still streaming, or (a pooled key's error) read.
enum Answer {
    Streaming(Response<Incoming>),
    Read(http::response::Parts, Bytes),
}

impl Answer {
    fn status(&self) -> StatusCode {
        match self {
            Answer::Streaming(response) => response.status(),
            Answer::Read(parts, _) => parts.status,
        }
    }
}

/// Hands an answer to the client: passed through, or translated.
async fn deliver(
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

/// One attempt's request, as the provider gets it.
struct Prepared {
    body: UpstreamBody,
    /// The path to send instead of the client's (a translated request's).
    path: Option<PathAndQuery>,
    translator: Option<ResponseTranslator>,
    headers: HeaderMap,
    /// The model the provider is asked for, when its model map changed it.
    upstream_model: Option<String>,
}

/// The request for a provider that does not take the client's bytes as they
/// are: translated to its format, or with its model mapped. `None` when the
/// body is not held (too large to translate or rewrite).
fn prepare(
    api: &Api,
    source: &mut BodySource,
    target_path: Option<&PathAndQuery>,
    mut headers: HeaderMap,
    keyed: bool,
) -> Result<Option<Prepared>, TranslateError> {
    let BodySource::Replay(chunks) = source else {
        return if api.translates() {
            Err(TranslateError::BadRequest {
                client: api.client,
                reason: "the body is too large to translate (over the failover buffer)".into(),
            })
        } else {
            Ok(source.next().map(|body| Prepared {
                body,
                path: None,
                translator: None,
                headers,
                upstream_model: None,
            }))
        };
    };
    let body: Cow<'_, [u8]> = match &chunks[..] {
        [one] => Cow::Borrowed(&one[..]),
        many => Cow::Owned(many.concat()),
    };
    let path = target_path.map_or("/", PathAndQuery::as_str);
    if !api.translates() {
        return Ok(Some(map_model(api, chunks, &body, path, headers)));
    }
    let translated = translate::translate_request(RequestIn {
        client: api.client,
        upstream: api.upstream,
        path,
        body: &body,
        model_map: &api.model_map,
        max_output_tokens: api.max_output_tokens,
    })?;
    for name in CLIENT_FORMAT_HEADERS {
        headers.remove(*name);
    }
    if !keyed {
        // The client's own credentials are for its own vendor, not this one.
        strip_client_auth(&mut headers);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if translated.stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    let path = PathAndQuery::try_from(translated.path.as_str()).map_err(|e| {
        TranslateError::BadRequest {
            client: api.client,
            reason: e.to_string(),
        }
    })?;
    for note in &translated.notes {
        tracing::debug!(%note, "left out in translation");
    }
    Ok(Some(Prepared {
        body: UpstreamBody::bytes(Bytes::from(translated.body)),
        path: Some(path),
        translator: Some(translated.response),
        headers,
        upstream_model: Some(translated.upstream_model),
    }))
}

/// A same-format request with the provider's model map applied: the body's
/// `model` (or, for Gemini, the path's) rewritten, every other byte kept.
fn map_model(api: &Api, chunks: &Replay, body: &[u8], path: &str, headers: HeaderMap) -> Prepared {
    let unchanged = |headers| Prepared {
        body: UpstreamBody::replay(chunks),
        path: None,
        translator: None,
        headers,
        upstream_model: None,
    };
    if api.client == Format::Gemini {
        let Some(model) = super::model::from_path(path.split('?').next().unwrap_or(path)) else {
            return unchanged(headers);
        };
        let mapped = api.model_map.map(&model);
        if mapped == model.as_str() {
            return unchanged(headers);
        }
        let Some(new_path) = translate::rewrite_path_model(path, &mapped)
            .and_then(|p| PathAndQuery::try_from(p).ok())
        else {
            return unchanged(headers);
        };
        return Prepared {
            body: UpstreamBody::replay(chunks),
            path: Some(new_path),
            translator: None,
            headers,
            upstream_model: Some(mapped.into_owned()),
        };
    }
    let Some(model) = super::model::from_json_body(
        headers.get(header::CONTENT_TYPE),
        &[Bytes::copy_from_slice(body)],
    ) else {
        return unchanged(headers);
    };
    let mapped = api.model_map.map(&model).into_owned();
    if mapped == model {
        return unchanged(headers);
    }
    match translate::rewrite_body_model(body, &mapped) {
        Ok((rewritten, _)) => {
            let mut headers = headers;
            headers.remove(header::CONTENT_LENGTH);
            Prepared {
                body: UpstreamBody::bytes(Bytes::from(rewritten)),
                path: None,
                translator: None,
                headers,
                upstream_model: Some(mapped),
            }
        }
        Err(_) => unchanged(headers),
    }
}

/// The answer to a translated request, in the client's format: a 2xx event
/// stream translated as it arrives; anything else read whole (bounded) and
/// translated at once.
async fn translate_response(
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

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn build_request(
    method: &Method,
    key: Option<&Key>,
    target: &Target,
    target_path: Option<&PathAndQuery>,
    mut headers: HeaderMap,
    body: UpstreamBody,
) -> Result<Request<UpstreamBody>, http::Error> {
    let uri = target.uri_for(target_path)?;
    headers.insert(header::HOST, target.host.clone());
    if let Some(key) = key {
        inject_credential(&mut headers, &key.header);
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
fn served(
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
fn stream(
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
