//! Errors Switchyard answers itself — a refused browser, a bad request body, all
//! providers failing, an app that is not serving — written in the app's own API
//! error shape, so each CLI shows the reason to its user as it would show one of
//! its provider's:
//!
//! - Anthropic: `{"type":"error","error":{"type":…,"message":…}}`
//! - OpenAI: `{"error":{"message":…,"type":…,"code":…}}`
//! - Gemini (Google APIs): `{"error":{"code":…,"message":…,"status":…}}`
//!
//! One function per shape; the worker and the daemon's 503 responder both go
//! through [`body`].

use http::StatusCode;
use serde_json::json;

use crate::apps::App;

/// What went wrong, in Switchyard's terms; each shape words it in its own
/// vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 403: the Origin/Host guard refused the request (a browser, a foreign host).
    Forbidden,
    /// 400: the request body could not be read.
    BadRequest,
    /// 408: the request body stalled past the idle timeout.
    RequestTimeout,
    /// 502: every provider failed before answering (or none is configured).
    UpstreamUnavailable,
    /// 503: no worker serves the app (parked, or waiting to restart).
    NotServing,
    /// 429: every provider is cooling down after its `Retry-After`.
    RateLimited,
    /// 426: a WebSocket upgrade to a provider whose format is translated.
    UpgradeRequired,
}

impl Fault {
    pub fn status(self) -> StatusCode {
        match self {
            Fault::Forbidden => StatusCode::FORBIDDEN,
            Fault::BadRequest => StatusCode::BAD_REQUEST,
            Fault::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Fault::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Fault::NotServing => StatusCode::SERVICE_UNAVAILABLE,
            Fault::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Fault::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
        }
    }

    /// Switchyard's own name for it: OpenAI's `code`.
    fn code(self) -> &'static str {
        match self {
            Fault::Forbidden => "switchyard_forbidden",
            Fault::BadRequest => "switchyard_bad_request",
            Fault::RequestTimeout => "switchyard_request_timeout",
            Fault::UpstreamUnavailable => "switchyard_upstream_unavailable",
            Fault::NotServing => "switchyard_unavailable",
            Fault::RateLimited => "rate_limit_exceeded",
            Fault::UpgradeRequired => "switchyard_upgrade_required",
        }
    }
}

/// The JSON body for `fault` in `app`'s API shape.
pub fn body(app: App, fault: Fault, message: &str) -> String {
    match app {
        App::Claude => anthropic(fault, message),
        App::Codex => openai(fault, message),
        App::Gemini => gemini(fault, message),
    }
}

/// Anthropic's shape, with its error types (`permission_error`, `api_error`, …).
pub fn anthropic(fault: Fault, message: &str) -> String {
    let kind = match fault {
        Fault::Forbidden => "permission_error",
        Fault::BadRequest | Fault::RequestTimeout | Fault::UpgradeRequired => {
            "invalid_request_error"
        }
        Fault::UpstreamUnavailable | Fault::NotServing => "api_error",
        Fault::RateLimited => "rate_limit_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

/// OpenAI's shape: its error type, and Switchyard's own `code`.
pub fn openai(fault: Fault, message: &str) -> String {
    let kind = if fault.status().is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    json!({"error": {"message": message, "type": kind, "code": fault.code()}}).to_string()
}

/// Google's shape: the HTTP status as `code` and its canonical `status` name.
pub fn gemini(fault: Fault, message: &str) -> String {
    let status = match fault {
        Fault::Forbidden => "PERMISSION_DENIED",
        Fault::BadRequest => "INVALID_ARGUMENT",
        Fault::RequestTimeout => "DEADLINE_EXCEEDED",
        Fault::UpstreamUnavailable | Fault::NotServing => "UNAVAILABLE",
        Fault::RateLimited => "RESOURCE_EXHAUSTED",
        Fault::UpgradeRequired => "FAILED_PRECONDITION",
    };
    json!({"error": {"code": fault.status().as_u16(), "message": message, "status": status}})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parsed(app: App, fault: Fault) -> Value {
        serde_json::from_str(&body(app, fault, "why \"quoted\"")).unwrap_or(Value::Null)
    }

    #[test]
    fn each_app_gets_its_own_shape() {
        assert_eq!(
            parsed(App::Claude, Fault::Forbidden),
            json!({"type": "error", "error": {"type": "permission_error", "message": "why \"quoted\""}})
        );
        assert_eq!(
            parsed(App::Codex, Fault::UpstreamUnavailable),
            json!({"error": {"message": "why \"quoted\"", "type": "server_error", "code": "switchyard_upstream_unavailable"}})
        );
        assert_eq!(
            parsed(App::Gemini, Fault::NotServing),
            json!({"error": {"code": 503, "message": "why \"quoted\"", "status": "UNAVAILABLE"}})
        );
        for app in App::ALL {
            for fault in [
                Fault::Forbidden,
                Fault::BadRequest,
                Fault::RequestTimeout,
                Fault::UpstreamUnavailable,
                Fault::NotServing,
            ] {
                let v = parsed(app, fault);
                assert_eq!(v["error"]["message"], "why \"quoted\"", "{app} {fault:?}");
            }
        }
        assert_eq!(
            parsed(App::Codex, Fault::BadRequest)["error"]["type"],
            "invalid_request_error"
        );
        assert_eq!(
            parsed(App::Gemini, Fault::RequestTimeout)["error"]["code"],
            408
        );
    }
}
