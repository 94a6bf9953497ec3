//! The failover loop: tries the providers in order — skipping loops, cooling
//! providers, open breakers and resting keys — until one answers with something
//! other than 429/5xx before the first response byte (a pooled key's quota error
//! or refusal rests the key and tries the next). After that the response streams
//! through and there is no going back.

use std::time::{Duration, Instant, SystemTime};

use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;

use super::answer::{Answer, deliver, served, splice, stream, translate_response};
use super::breaker::{Admit, Owed};
use super::cooling;
use super::failures::Failures;
use super::fault::Fault;
use super::forward::BodySource;
use super::headers::inject_credential;
use super::keys;
use super::prepare::{Prepared, prepare};
use super::provider::{Active, Key, KeyPick, Provider};
use super::report::Tracker;
use super::request::UpstreamBody;
use super::response::{ClientBody, json_error, whole};
use super::server::Ctx;
use super::target::Target;
use crate::apps::OfficialRoute;
use crate::translate::{Format, ResponseTranslator, TranslateError};

/// Tries the providers in turn. With `upgrade` (a WebSocket handshake), an
/// upstream that answers `101` gets the client's connection spliced to its own.
pub(super) async fn failover(
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
                tracker.sending_upstream();
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
