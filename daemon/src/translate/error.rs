//! Errors: what the translator refuses (with the feature named), and every error a
//! client sees — ours or the upstream's — in that client's own error shape.

use http::StatusCode;
use serde_json::{Value, json};

use super::format::Format;

/// Longest upstream error text passed on; the rest is cut.
const MAX_MESSAGE: usize = 2000;

/// A request the translator will not send. Each message says what and why once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The client called something other than message generation.
    #[error(
        "{path} cannot be translated for this provider (it speaks {upstream}); only message generation is translated"
    )]
    UnsupportedEndpoint { upstream: Format, path: String },
    /// The request uses something the upstream's format cannot carry.
    #[error("this provider speaks {upstream}, which cannot carry {feature}")]
    Unsupported { upstream: Format, feature: String },
    /// No translation exists between these two formats.
    #[error(
        "requests in {client} format cannot be translated to {upstream}; give this provider format openai-chat or {client}"
    )]
    UnsupportedPair { client: Format, upstream: Format },
    /// The client's body is not what its own format allows.
    #[error("the request body is not a valid {client} request: {reason}")]
    BadRequest { client: Format, reason: String },
}

impl TranslateError {
    pub(crate) fn unsupported(upstream: Format, feature: impl Into<String>) -> Self {
        TranslateError::Unsupported {
            upstream,
            feature: feature.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            TranslateError::UnsupportedEndpoint { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The error body in the client's own error shape (the status is [`Self::status`]).
    pub fn client_body(&self, client: Format) -> Vec<u8> {
        ClientError::new(self.status().as_u16(), format!("switchyard: {self}"), None).body(client)
    }
}

/// One error as a client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientError {
    pub status: u16,
    pub message: String,
    /// The upstream's machine-readable code, when it gave one (`context_length_exceeded`).
    pub code: Option<String>,
}

impl ClientError {
    pub(crate) fn new(status: u16, message: String, code: Option<String>) -> Self {
        ClientError {
            status,
            message,
            code,
        }
    }

    /// Reads an upstream error body of any common shape: `{"error":{"message",
    /// "type","code"}}`, `{"error":"text"}`, `{"message":…}`, `{"detail":…}`, or
    /// plain text.
    pub(crate) fn from_upstream(status: u16, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let root = parsed.as_ref().map(|v| match v {
            // Gemini's OpenAI layer wraps errors in a one-element list.
            Value::Array(items) => items.first().unwrap_or(v),
            _ => v,
        });
        let error = root.and_then(|r| r.get("error")).or(root);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let message = match error {
            Some(Value::String(s)) => Some(s.clone()),
            Some(e) => text(e.get("message"))
                .or_else(|| text(e.get("detail")))
                .or_else(|| e.get("detail").map(Value::to_string)),
            None => None,
        }
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
        let code = error.and_then(|e| {
            e.get("code")
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .or_else(|| text(e.get("type")))
        });
        let mut message = if message.is_empty() {
            format!("the provider answered HTTP {status} with no message")
        } else {
            message
        };
        truncate(&mut message, MAX_MESSAGE);
        ClientError::new(status, message, code)
    }

    fn is_context_length(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        self.code.as_deref() == Some("context_length_exceeded")
            || m.contains("context length")
            || m.contains("context_length")
            || m.contains("context window")
            || m.contains("prompt is too long")
    }

    /// The body in `client`'s error shape.
    pub(crate) fn body(&self, client: Format) -> Vec<u8> {
        serde_json::to_vec(&self.value(client)).unwrap_or_default()
    }

    pub(crate) fn value(&self, client: Format) -> Value {
        match client {
            Format::Anthropic => {
                let (kind, message) = if self.is_context_length() && self.status == 400 {
                    // Claude Code recognises this wording and offers to compact.
                    let m = if self
                        .message
                        .to_ascii_lowercase()
                        .starts_with("prompt is too long")
                    {
                        self.message.clone()
                    } else {
                        format!("prompt is too long: {}", self.message)
                    };
                    ("invalid_request_error", m)
                } else {
                    (anthropic_type(self.status), self.message.clone())
                };
                json!({"type": "error", "error": {"type": kind, "message": message}})
            }
            Format::OpenaiChat | Format::OpenaiResponses => {
                let code = match &self.code {
                    Some(c) => Some(c.clone()),
                    None if self.is_context_length() => Some("context_length_exceeded".to_owned()),
                    None => None,
                };
                json!({"error": {
                    "message": self.message,
                    "type": openai_type(self.status),
                    "param": null,
                    "code": code,
                }})
            }
            Format::Gemini => json!({"error": {
                "code": self.status,
                "message": self.message,
                "status": gemini_status(self.status),
            }}),
        }
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

fn openai_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

fn gemini_status(status: u16) -> &'static str {
    match status {
        400 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(status: u16, body: &str, client: Format) -> Value {
        ClientError::from_upstream(status, body.as_bytes()).value(client)
    }

    #[test]
    fn upstream_errors_take_each_clients_shape() {
        let openai = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            value(401, openai, Format::Anthropic),
            json!({"type":"error","error":{"type":"authentication_error","message":"Incorrect API key provided"}})
        );
        assert_eq!(
            value(401, openai, Format::OpenaiResponses),
            json!({"error":{"message":"Incorrect API key provided","type":"authentication_error","param":null,"code":"invalid_api_key"}})
        );
        assert_eq!(
            value(429, r#"{"error":"model is busy"}"#, Format::Gemini),
            json!({"error":{"code":429,"message":"model is busy","status":"RESOURCE_EXHAUSTED"}})
        );
        // vLLM's and FastAPI's shapes, and plain text.
        assert_eq!(
            value(
                400,
                r#"{"object":"error","message":"bad","type":"BadRequestError","code":400}"#,
                Format::Anthropic
            )["error"]["message"],
            "bad"
        );
        assert_eq!(
            value(
                422,
                r#"{"detail":[{"loc":["body"],"msg":"x"}]}"#,
                Format::Anthropic
            )["error"]["message"],
            r#"[{"loc":["body"],"msg":"x"}]"#
        );
        assert_eq!(
            value(502, "Bad Gateway", Format::Anthropic)["error"],
            json!({"type":"api_error","message":"Bad Gateway"})
        );
        assert_eq!(
            value(529, "", Format::Anthropic)["error"],
            json!({"type":"overloaded_error","message":"the provider answered HTTP 529 with no message"})
        );
    }

    #[test]
    fn context_length_errors_are_recognisable_by_each_cli() {
        let body = r#"{"error":{"message":"This model's maximum context length is 65536 tokens. However, you requested 70000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        let a = value(400, body, Format::Anthropic);
        assert!(
            a["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("prompt is too long: This model's"))
        );
        let deepseek = r#"{"error":{"message":"This model's maximum context length is 65536 tokens.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}"#;
        assert_eq!(
            value(400, deepseek, Format::OpenaiResponses)["error"]["code"],
            "invalid_request_error"
        );
        let bare = r#"{"error":{"message":"maximum context length exceeded"}}"#;
        assert_eq!(
            value(400, bare, Format::OpenaiResponses)["error"]["code"],
            "context_length_exceeded"
        );
    }

    #[test]
    fn our_refusals_name_the_feature_in_the_clients_shape() {
        let e = TranslateError::unsupported(Format::OpenaiChat, "the web_search tool");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let body: Value =
            serde_json::from_slice(&e.client_body(Format::Anthropic)).unwrap_or_default();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(
            body["error"]["message"],
            "switchyard: this provider speaks openai-chat, which cannot carry the web_search tool"
        );
        let long = "é".repeat(3000);
        let e = ClientError::from_upstream(500, long.as_bytes());
        assert!(e.message.len() <= MAX_MESSAGE + 3);
    }
}
