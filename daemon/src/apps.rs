//! The app registry: the AI coding CLIs Switchyard proxies, their default ports,
//! official upstreams (one per login mode: [`OfficialRoute`]) and how each one
//! carries its credentials.

use std::fmt;
use std::str::FromStr;

/// One proxied CLI. Each app has its own worker, port and supervision state.
///
/// It is also the app's name on the wire and in JSON (`"claude"`), the one
/// domain type that crosses sockets as it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum App {
    Claude,
    Codex,
    Gemini,
}

/// Which request header carries an API key: the app's official provider's, or
/// (for a provider of another format) that provider's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    /// `x-api-key: KEY` (Anthropic).
    XApiKey,
    /// `Authorization: Bearer KEY` (OpenAI).
    Bearer,
    /// `x-goog-api-key: KEY` (Google).
    GoogApiKey,
}

impl AuthStyle {
    pub fn name(self) -> &'static str {
        match self {
            AuthStyle::XApiKey => "x-api-key",
            AuthStyle::Bearer => "bearer",
            AuthStyle::GoogApiKey => "goog-api-key",
        }
    }

    pub fn parse(name: &str) -> Option<AuthStyle> {
        [AuthStyle::XApiKey, AuthStyle::Bearer, AuthStyle::GoogApiKey]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// The header each API format's own servers read the key from.
    pub fn of_format(format: crate::translate::Format) -> AuthStyle {
        use crate::translate::Format;
        match format {
            Format::Anthropic => AuthStyle::XApiKey,
            Format::OpenaiChat | Format::OpenaiResponses => AuthStyle::Bearer,
            Format::Gemini => AuthStyle::GoogApiKey,
        }
    }
}

impl App {
    /// Every app, in display order.
    pub const ALL: [App; 3] = [App::Claude, App::Codex, App::Gemini];

    pub fn name(self) -> &'static str {
        match self {
            App::Claude => "claude",
            App::Codex => "codex",
            App::Gemini => "gemini",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            App::Claude => 15721,
            App::Codex => 15722,
            App::Gemini => 15723,
        }
    }

    /// The provider every app starts with, in passthrough mode, so a logged-in CLI
    /// works through the proxy at once. It is the upstream of the app's default
    /// route; the other routes' upstreams are [`OfficialRoute::base_url`].
    pub fn official_base_url(self) -> &'static str {
        match self {
            App::Claude => "https://api.anthropic.com",
            App::Codex => "https://api.openai.com/v1",
            App::Gemini => "https://generativelanguage.googleapis.com",
        }
    }

    /// Whether `base_url` is this app's official upstream (a trailing `/` aside):
    /// a passthrough provider there routes each request by its credential.
    pub fn is_official_base_url(self, base_url: &str) -> bool {
        base_url.trim().trim_end_matches('/') == self.official_base_url()
    }

    pub fn official_provider_name(self) -> &'static str {
        match self {
            App::Claude => "anthropic",
            App::Codex => "openai",
            App::Gemini => "google",
        }
    }

    pub fn auth_style(self) -> AuthStyle {
        match self {
            App::Claude => AuthStyle::XApiKey,
            App::Codex => AuthStyle::Bearer,
            App::Gemini => AuthStyle::GoogApiKey,
        }
    }

    /// Position in [`App::ALL`]; used to index per-app arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which upstream an app's official provider sends one request to, chosen from
/// the credential the CLI sent and the path it built (`proxy::official`). Named
/// in request summaries: `openai · chatgpt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficialRoute {
    /// An API key (`x-api-key`, `Authorization: Bearer sk-…`, `x-goog-api-key`),
    /// or no credential at all: the app's [`App::official_base_url`].
    ApiKey,
    /// Claude Code signed in to claude.ai: an OAuth bearer, to the same upstream.
    OAuth,
    /// Codex signed in with ChatGPT: a ChatGPT JWT and/or `chatgpt-account-id`.
    ChatGpt,
    /// Gemini CLI signed in with Google: Code Assist's `/v1internal:…` methods.
    CodeAssist,
    /// Gemini CLI on Vertex AI: `/v1…/projects/P/locations/L/…` paths.
    Vertex,
}

impl OfficialRoute {
    pub fn name(self) -> &'static str {
        match self {
            OfficialRoute::ApiKey => "api-key",
            OfficialRoute::OAuth => "oauth",
            OfficialRoute::ChatGpt => "chatgpt",
            OfficialRoute::CodeAssist => "code-assist",
            OfficialRoute::Vertex => "vertex",
        }
    }

    /// The upstream of a route whose host does not depend on the request, when
    /// it is not the app's own base URL. Vertex's host depends on the location
    /// in the path: [`vertex_base_url`].
    pub fn base_url(self) -> Option<&'static str> {
        match self {
            OfficialRoute::ChatGpt => Some("https://chatgpt.com/backend-api/codex"),
            OfficialRoute::CodeAssist => Some("https://cloudcode-pa.googleapis.com"),
            OfficialRoute::ApiKey | OfficialRoute::OAuth | OfficialRoute::Vertex => None,
        }
    }
}

/// The Vertex AI upstream for a location, as gemini-cli (through @google/genai)
/// would reach it: `https://L-aiplatform.googleapis.com`, `global` without a
/// prefix, and the `us`/`eu` multi-regions on their representative endpoints.
/// `None` for a location that is not a plain DNS label.
pub fn vertex_base_url(location: &str) -> Option<String> {
    let label = !location.is_empty()
        && location.len() <= 63
        && location
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !location.starts_with('-')
        && !location.ends_with('-');
    if !label {
        return None;
    }
    Some(match location {
        "global" => "https://aiplatform.googleapis.com".to_owned(),
        "us" | "eu" => format!("https://aiplatform.{location}.rep.googleapis.com"),
        _ => format!("https://{location}-aiplatform.googleapis.com"),
    })
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An app name that is not one of `claude`, `codex`, `gemini`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown app {0:?}: expected one of claude, codex, gemini")]
pub struct UnknownApp(pub String);

impl FromStr for App {
    type Err = UnknownApp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        App::ALL
            .into_iter()
            .find(|app| app.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownApp(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for app in App::ALL {
            assert_eq!(app.name().parse::<App>().ok(), Some(app));
        }
        let err = "vim".parse::<App>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown app \"vim\": expected one of claude, codex, gemini")
        );
    }

    #[test]
    fn official_base_urls_and_vertex_hosts() {
        assert!(App::Codex.is_official_base_url("https://api.openai.com/v1/"));
        assert!(!App::Codex.is_official_base_url("https://api.openai.com"));
        assert!(!App::Claude.is_official_base_url("http://127.0.0.1:9"));
        for (location, url) in [
            (
                "us-central1",
                Some("https://us-central1-aiplatform.googleapis.com"),
            ),
            ("global", Some("https://aiplatform.googleapis.com")),
            ("eu", Some("https://aiplatform.eu.rep.googleapis.com")),
            ("evil.com/x", None),
            ("a@b", None),
            ("", None),
            ("-x", None),
        ] {
            assert_eq!(vertex_base_url(location).as_deref(), url, "{location:?}");
        }
    }
}
