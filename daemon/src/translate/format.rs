//! The API formats a provider can speak, which one each CLI speaks, and where a
//! generation request goes in each.

use std::fmt;
use std::str::FromStr;

use crate::apps::App;

/// The wire format of an API: what request bodies, responses and streams look like.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`POST /chat/completions` on a base ending in `/v1`).
    OpenaiChat,
    /// OpenAI Responses (`POST /responses` on a base ending in `/v1`).
    OpenaiResponses,
    /// Google Gemini `generateContent` / `streamGenerateContent`.
    Gemini,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Anthropic,
        Format::OpenaiChat,
        Format::OpenaiResponses,
        Format::Gemini,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Anthropic => "anthropic",
            Format::OpenaiChat => "openai-chat",
            Format::OpenaiResponses => "openai-responses",
            Format::Gemini => "gemini",
        }
    }

    /// The format each CLI speaks to its API.
    pub fn of_app(app: App) -> Format {
        match app {
            App::Claude => Format::Anthropic,
            App::Codex => Format::OpenaiResponses,
            App::Gemini => Format::Gemini,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of the four.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown API format {0:?}: expected one of anthropic, openai-chat, openai-responses, gemini"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// What a client's request path asks for, as far as translation cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A generation request; for Gemini the model comes from the path and whether it
    /// streams from the method name.
    Generate {
        path_model: Option<String>,
        path_stream: bool,
    },
    /// Anything else (token counting, model lists, compaction, …).
    Other,
}

/// Classifies a client's request path (with or without a query) for `format`.
pub(crate) fn endpoint(format: Format, path_and_query: &str) -> Endpoint {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let path = path.trim_end_matches('/');
    let generate = |path_model, path_stream| Endpoint::Generate {
        path_model,
        path_stream,
    };
    match format {
        Format::Anthropic if path.ends_with("/v1/messages") => generate(None, false),
        Format::OpenaiResponses if path == "/responses" || path.ends_with("/v1/responses") => {
            generate(None, false)
        }
        Format::OpenaiChat if path.ends_with("/chat/completions") => generate(None, false),
        Format::Gemini => {
            let Some((_, rest)) = path.split_once("/models/") else {
                return Endpoint::Other;
            };
            let Some((model, method)) = rest.rsplit_once(':') else {
                return Endpoint::Other;
            };
            if model.is_empty() || model.contains('/') {
                return Endpoint::Other;
            }
            match method {
                "generateContent" => generate(Some(model.to_owned()), false),
                "streamGenerateContent" => generate(Some(model.to_owned()), true),
                _ => Endpoint::Other,
            }
        }
        _ => Endpoint::Other,
    }
}

/// The query parameter value `name` in a path's query string, if present.
pub(crate) fn query_param<'a>(path_and_query: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = path_and_query.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Where a generation request goes on a provider of `format`, appended to its base
/// URL. Bases follow each vendor's SDK convention: OpenAI-style bases end in the
/// version (`https://api.openai.com/v1`), Anthropic and Gemini bases do not
/// (`https://api.anthropic.com`, `https://generativelanguage.googleapis.com`).
pub(crate) fn upstream_path(format: Format, model: &str, stream: bool) -> String {
    match format {
        Format::Anthropic => "/v1/messages".to_owned(),
        Format::OpenaiChat => "/chat/completions".to_owned(),
        Format::OpenaiResponses => "/responses".to_owned(),
        Format::Gemini if stream => format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
        Format::Gemini => format!("/v1beta/models/{model}:generateContent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().ok(), Some(f));
            let json = serde_json::to_string(&f).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", f.name()));
        }
        assert!("openai".parse::<Format>().is_err());
    }

    #[test]
    fn endpoints_are_recognised() {
        let gen_ = |m: Option<&str>, s| Endpoint::Generate {
            path_model: m.map(str::to_owned),
            path_stream: s,
        };
        assert_eq!(
            endpoint(Format::Anthropic, "/v1/messages?beta=true"),
            gen_(None, false)
        );
        assert_eq!(
            endpoint(Format::Anthropic, "/v1/messages/count_tokens?beta=true"),
            Endpoint::Other
        );
        assert_eq!(
            endpoint(Format::OpenaiResponses, "/responses"),
            gen_(None, false)
        );
        assert_eq!(
            endpoint(Format::OpenaiResponses, "/v1/responses"),
            gen_(None, false)
        );
        assert_eq!(
            endpoint(Format::OpenaiResponses, "/responses/compact"),
            Endpoint::Other
        );
        assert_eq!(
            endpoint(
                Format::Gemini,
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
            ),
            gen_(Some("gemini-2.5-pro"), true)
        );
        assert_eq!(query_param("/x?a=1&alt=sse", "alt"), Some("sse"));
        assert_eq!(query_param("/x", "alt"), None);
        assert_eq!(
            endpoint(Format::Gemini, "/v1beta/models/gemini-2.5-pro:countTokens"),
            Endpoint::Other
        );
    }
}
