//! The app registry: the AI coding CLIs Switchyard proxies, their default ports,
//! official upstreams and how each one carries its credentials.

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

/// Which request header carries the API key for an app's official provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `x-api-key: KEY` (Anthropic).
    XApiKey,
    /// `Authorization: Bearer KEY` (OpenAI).
    Bearer,
    /// `x-goog-api-key: KEY` (Google).
    GoogApiKey,
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
    /// works through the proxy at once.
    pub fn official_base_url(self) -> &'static str {
        match self {
            App::Claude => "https://api.anthropic.com",
            App::Codex => "https://api.openai.com/v1",
            App::Gemini => "https://generativelanguage.googleapis.com",
        }
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
}
