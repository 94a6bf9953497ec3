//! How an app's official provider picks the upstream for one request: each CLI
//! sends every login mode to the same proxy root, so the credential headers and
//! the path say where the request would have gone without Switchyard.
//!
//! - Codex: an API key → `api.openai.com/v1`; a ChatGPT login (the
//!   `chatgpt-account-id` header, or a bearer that is a well-formed JWT) →
//!   `chatgpt.com/backend-api/codex`. API keys never contain a dot, so the JWT
//!   check costs nothing for them.
//! - Claude Code: `x-api-key` → `api-key`, an OAuth bearer → `oauth`; both go
//!   to `api.anthropic.com` with every header kept.
//! - Gemini CLI: `/v1internal…` → Code Assist; `/v1…/projects/P/locations/L/…`
//!   or `/v1…/publishers/…` → Vertex AI in that location; anything else → the
//!   Gemini API.
//!
//! Pure functions over headers and a path: nothing is logged, nothing kept.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::{self, HeaderName};

use crate::apps::{App, OfficialRoute};

const CHATGPT_ACCOUNT_ID: HeaderName = HeaderName::from_static("chatgpt-account-id");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The route for a request to `app`'s official provider. A request with no
/// credential takes the default route (`api-key`), whose upstream answers it
/// with its own 401.
pub(crate) fn select(app: App, headers: &HeaderMap, path: &str) -> OfficialRoute {
    match app {
        App::Claude => {
            if !headers.contains_key(X_API_KEY) && bearer(headers).is_some() {
                OfficialRoute::OAuth
            } else {
                OfficialRoute::ApiKey
            }
        }
        App::Codex => {
            if headers.contains_key(CHATGPT_ACCOUNT_ID) || bearer(headers).is_some_and(is_jwt) {
                OfficialRoute::ChatGpt
            } else {
                OfficialRoute::ApiKey
            }
        }
        App::Gemini => {
            if is_code_assist(path) {
                OfficialRoute::CodeAssist
            } else if vertex_location(path).is_some() {
                OfficialRoute::Vertex
            } else {
                OfficialRoute::ApiKey
            }
        }
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// Whether `token` is a JSON Web Token: three base64url parts, the first two
/// JSON objects (the header naming its `alg`). Anything else — an API key, a
/// truncated or garbled token — is an opaque bearer.
fn is_jwt(token: &[u8]) -> bool {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(head), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Header {
        #[allow(dead_code)]
        alg: serde::de::IgnoredAny,
    }
    let object = |part: &[u8]| URL_SAFE_NO_PAD.decode(part).ok();
    object(head).is_some_and(|h| serde_json::from_slice::<Header>(&h).is_ok())
        && object(claims).is_some_and(|c| {
            serde_json::from_slice::<std::collections::BTreeMap<String, serde::de::IgnoredAny>>(&c)
                .is_ok()
        })
}

/// Code Assist methods: `/v1internal:generateContent`, `/v1internal/operations/…`.
fn is_code_assist(path: &str) -> bool {
    path.strip_prefix("/v1internal")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
}

/// The location a Vertex AI path names: `/v1beta1/projects/P/locations/L/…` →
/// `L`; `/v1beta1/publishers/…` (express mode, an API key without a project) →
/// `global`. `None` for anything else, Gemini API paths (`/v1beta/models/…`)
/// included.
pub(crate) fn vertex_location(path: &str) -> Option<&str> {
    let mut segments = path.strip_prefix('/')?.split('/');
    let version = segments.next()?;
    if !version.starts_with("v1") || version.contains(':') {
        return None;
    }
    match segments.next()? {
        "publishers" => Some("global"),
        "projects" => {
            let _project = segments.next().filter(|p| !p.is_empty())?;
            if segments.next()? != "locations" {
                return None;
            }
            // `…/locations/L:method` is possible too.
            let location = segments.next()?;
            let location = location.split(':').next()?;
            (!location.is_empty()).then_some(location)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    fn jwt(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn codex_routes_chatgpt_logins_and_api_keys() {
        let token = jwt(
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"https://api.openai.com/auth":{"chatgpt_account_id":"acc"},"exp":1}"#,
        );
        let with_token = format!("Bearer {token}");
        let cases = [
            (
                vec![("authorization", "Bearer sk-proj-abc123")],
                OfficialRoute::ApiKey,
            ),
            (
                vec![("authorization", with_token.as_str())],
                OfficialRoute::ChatGpt,
            ),
            (
                vec![
                    ("authorization", with_token.as_str()),
                    ("chatgpt-account-id", "acc"),
                ],
                OfficialRoute::ChatGpt,
            ),
            // The header alone says ChatGPT, whatever the bearer.
            (
                vec![
                    ("authorization", "Bearer opaque"),
                    ("chatgpt-account-id", "a"),
                ],
                OfficialRoute::ChatGpt,
            ),
            (vec![], OfficialRoute::ApiKey),
            (vec![("authorization", "Basic dTpw")], OfficialRoute::ApiKey),
        ];
        for (pairs, route) in cases {
            let h = headers(&pairs);
            assert_eq!(select(App::Codex, &h, "/responses"), route, "{pairs:?}");
        }
    }

    #[test]
    fn malformed_jwts_are_opaque_bearers() {
        let good = jwt(r#"{"alg":"none"}"#, r#"{"sub":"x"}"#);
        assert!(is_jwt(good.as_bytes()));
        let bad = [
            "a.b.c".to_owned(),
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0".to_owned(), // two parts
            format!("{good}.extra"),
            jwt(r#"{"typ":"JWT"}"#, r#"{"sub":"x"}"#), // no alg
            jwt(r#"{"alg":"none"}"#, r#"["not","an","object"]"#),
            jwt(r#"{"alg":"none"}"#, "{truncated"),
            "sk-proj-abc.def".to_owned(),
            "..".to_owned(),
        ];
        for token in bad {
            assert!(!is_jwt(token.as_bytes()), "{token}");
            let h = headers(&[("authorization", &format!("Bearer {token}"))]);
            assert_eq!(select(App::Codex, &h, "/responses"), OfficialRoute::ApiKey);
        }
    }

    #[test]
    fn claude_api_keys_and_oauth_bearers() {
        let cases = [
            (vec![("x-api-key", "sk-ant-api03-x")], OfficialRoute::ApiKey),
            (
                vec![("authorization", "Bearer sk-ant-oat01-x")],
                OfficialRoute::OAuth,
            ),
            (
                vec![("authorization", "bearer sk-ant-oat01-x")],
                OfficialRoute::OAuth,
            ),
            (
                vec![("authorization", "Bearer t"), ("x-api-key", "k")],
                OfficialRoute::ApiKey,
            ),
            (vec![("authorization", "Bearer ")], OfficialRoute::ApiKey),
            (vec![], OfficialRoute::ApiKey),
        ];
        for (pairs, route) in cases {
            let h = headers(&pairs);
            assert_eq!(select(App::Claude, &h, "/v1/messages"), route, "{pairs:?}");
        }
    }

    #[test]
    fn gemini_routes_by_path() {
        let none = HeaderMap::new();
        let cases = [
            (
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
                OfficialRoute::ApiKey,
            ),
            ("/v1beta/files", OfficialRoute::ApiKey),
            ("/upload/v1beta/files", OfficialRoute::ApiKey),
            (
                "/v1internal:streamGenerateContent",
                OfficialRoute::CodeAssist,
            ),
            ("/v1internal:loadCodeAssist", OfficialRoute::CodeAssist),
            ("/v1internal/operations/abc", OfficialRoute::CodeAssist),
            ("/v1internalx", OfficialRoute::ApiKey),
            (
                "/v1beta1/projects/p/locations/us-central1/publishers/google/models/m:generateContent",
                OfficialRoute::Vertex,
            ),
            (
                "/v1/projects/p/locations/global/publishers/google/models/m:countTokens",
                OfficialRoute::Vertex,
            ),
            (
                "/v1beta1/publishers/google/models/m:generateContent",
                OfficialRoute::Vertex,
            ),
            ("/v1beta1/projects/p/models", OfficialRoute::ApiKey),
            ("/v1beta1/projects//locations/x/m", OfficialRoute::ApiKey),
            ("/", OfficialRoute::ApiKey),
        ];
        for (path, route) in cases {
            assert_eq!(select(App::Gemini, &none, path), route, "{path}");
        }
        assert_eq!(
            vertex_location("/v1beta1/projects/p/locations/europe-west4/publishers/x"),
            Some("europe-west4")
        );
        assert_eq!(
            vertex_location("/v1/projects/p/locations/us:batch"),
            Some("us")
        );
    }
}
