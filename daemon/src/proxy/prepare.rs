//! One attempt's request for a provider that does not take the client's bytes
//! as they are: translated to its API format, or with its model mapped.

use std::borrow::Cow;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, header};

use super::forward::BodySource;
use super::headers::strip_client_auth;
use super::provider::Api;
use super::request::{Replay, UpstreamBody};
use crate::translate::{
    self, CLIENT_FORMAT_HEADERS, Format, RequestIn, ResponseTranslator, TranslateError,
};

/// One attempt's request, as the provider gets it.
pub(super) struct Prepared {
    pub(super) body: UpstreamBody,
    /// The path to send instead of the client's (a translated request's).
    pub(super) path: Option<PathAndQuery>,
    pub(super) translator: Option<ResponseTranslator>,
    pub(super) headers: HeaderMap,
    /// The model the provider is asked for, when its model map changed it.
    pub(super) upstream_model: Option<String>,
}

/// The request for a provider that does not take the client's bytes as they
/// are: translated to its format, or with its model mapped. `None` when the
/// body is not held (too large to translate or rewrite).
pub(super) fn prepare(
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
