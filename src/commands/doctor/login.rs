//! Which login each CLI will use, and where that login's requests go: a pure
//! function of the CLI's files and the shell's environment, following each
//! CLI's own precedence (read from Claude Code 2.1.332, codex-cli 0.171.0 and
//! gemini-cli 0.61.0, and checked end to end by `tests/e2e/`).
//!
//! Every login of a CLI sends its requests to one base-URL setting or to a
//! host Switchyard cannot move: Claude Code's Anthropic logins follow
//! `ANTHROPIC_BASE_URL` (its Bedrock, Vertex and Foundry modes do not);
//! Codex's built-in OpenAI provider follows `openai_base_url`, for an API key
//! and a ChatGPT login alike (another `model_provider` does not); Gemini
//! CLI reads one variable per login (`GOOGLE_GEMINI_BASE_URL`,
//! `GOOGLE_VERTEX_BASE_URL`, `CODE_ASSIST_ENDPOINT`).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The variables of this shell the CLIs choose their login and base URL by.
pub const ENV_NAMES: &[&str] = &[
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_GCA",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_ACCESS_TOKEN",
    "CLOUD_SHELL",
    "GEMINI_CLI_USE_COMPUTE_ADC",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "CODE_ASSIST_ENDPOINT",
];

/// Some of a shell's environment: names and values. An empty variable
/// counts as unset, as takeover counts it (the one difference, an empty
/// variable shadowing Gemini CLI's `.env`, makes no verdict wrong: an empty
/// base URL does not point at the proxy either).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// This process's values of [`ENV_NAMES`].
    pub fn current() -> Env {
        let vars = ENV_NAMES
            .iter()
            .filter_map(|n| Some((n.to_string(), std::env::var(n).ok()?)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Env { vars }
    }

    #[cfg(test)]
    pub fn of(pairs: &[(&str, &str)]) -> Env {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env { vars }
    }

    /// The value, if the variable is set and not empty.
    fn value(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Whether a flag variable is on, as the CLIs read them (`1`, `true`).
fn on(value: Option<&str>) -> bool {
    value.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// A file the doctor read: where, and its text (`None`: it does not exist),
/// or why it could not be read.
#[derive(Debug, Clone)]
pub struct File {
    pub path: PathBuf,
    pub text: Result<Option<String>, String>,
}

impl File {
    #[cfg(test)]
    pub fn missing(path: impl Into<PathBuf>) -> File {
        File {
            path: path.into(),
            text: Ok(None),
        }
    }

    #[cfg(test)]
    pub fn with(path: impl Into<PathBuf>, text: &str) -> File {
        File {
            path: path.into(),
            text: Ok(Some(text.to_owned())),
        }
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    /// The file as JSON (`{}` when missing or blank).
    fn json(&self) -> Result<Value, String> {
        match self.text.clone()? {
            Some(text) if !text.trim().is_empty() => serde_json::from_str(&text)
                .map_err(|e| format!("{}: not valid JSON ({e})", self.shown())),
            _ => Ok(Value::Object(Default::default())),
        }
    }

    /// The file as TOML (empty when missing).
    fn toml(&self) -> Result<toml_edit::DocumentMut, String> {
        self.text
            .clone()?
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("{}: not valid TOML ({e})", self.shown()))
    }
}

/// What the doctor read for one CLI.
#[derive(Debug, Clone)]
pub enum Files {
    Claude {
        /// `settings.json` in `$CLAUDE_CONFIG_DIR` or `~/.claude`.
        settings: File,
        /// `.credentials.json` beside it: a claude.ai login, if it exists.
        credentials: Option<PathBuf>,
    },
    Codex {
        /// `config.toml` and `auth.json` in `$CODEX_HOME` or `~/.codex`.
        config: File,
        auth: File,
    },
    Gemini {
        /// The user's `settings.json`, then this folder's (which wins).
        settings: Vec<File>,
        /// The one `.env` file Gemini CLI loads in this folder, if any (the
        /// first of `.gemini/.env` and `.env` from here up, then the home ones).
        env_file: Option<File>,
        /// `~/.gemini/.env`, where takeover writes.
        home_env: PathBuf,
    },
}

/// How a CLI signs in, and where those requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// For the report: "claude.ai login (/h/.claude/.credentials.json)".
    pub mode: String,
    pub route: Route,
    /// Why the CLI will refuse to run with this login, and what to do.
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub why: String,
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The requests go to the URL this setting holds (`None`: not set, so
    /// the CLI's own default host).
    Follows {
        /// The variable or key, e.g. `CODE_ASSIST_ENDPOINT`.
        setting: String,
        url: Option<String>,
        /// Where `url` was read (or, when unset, the file that would hold it).
        source: String,
        fix: Fix,
    },
    /// The requests never reach the proxy: why, and what to do.
    Elsewhere { why: String, fix: String },
}

/// What points the setting of a [`Route::Follows`] at the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// `switchyard enable APP --takeover` does; so does `export SETTING=URL`
    /// when `export` (a variable, not a key only a file can hold).
    Takeover { export: bool },
    /// The CLI reads a file takeover does not own (a project's `.env`): the
    /// user sets it there, or exports it.
    ByHand,
}

/// `app`'s login and route; an error names a file that cannot be read.
pub fn login(files: &Files, env: &Env) -> Result<Login, String> {
    match files {
        Files::Claude {
            settings,
            credentials,
        } => claude(settings, credentials.as_deref(), env),
        Files::Codex { config, auth } => codex(config, auth, env),
        Files::Gemini {
            settings,
            env_file,
            home_env,
        } => gemini(settings, env_file.as_ref(), home_env, env),
    }
}

fn claude(settings: &File, credentials: Option<&Path>, env: &Env) -> Result<Login, String> {
    let json = settings.json()?;
    let file = settings.shown();
    // Claude Code applies settings.json's `env` over the shell's.
    let var = |name: &str| -> Option<(String, String)> {
        match json["env"][name].as_str().filter(|v| !v.is_empty()) {
            Some(v) => Some((v.to_owned(), format!("env.{name} in {file}"))),
            None => env.value(name).map(|v| (v.to_owned(), format!("${name}"))),
        }
    };
    for (flag, cloud, base) in [
        (
            "CLAUDE_CODE_USE_BEDROCK",
            "Amazon Bedrock",
            "ANTHROPIC_BEDROCK_BASE_URL",
        ),
        (
            "CLAUDE_CODE_USE_VERTEX",
            "Google Vertex AI",
            "ANTHROPIC_VERTEX_BASE_URL",
        ),
        (
            "CLAUDE_CODE_USE_FOUNDRY",
            "Microsoft Foundry",
            "ANTHROPIC_FOUNDRY_BASE_URL",
        ),
    ] {
        if let Some((_, source)) = var(flag).filter(|(v, _)| on(Some(v))) {
            return Ok(Login {
                mode: format!("{cloud} ({source})"),
                route: Route::Elsewhere {
                    why: format!(
                        "Claude Code sends {cloud} requests to {base}'s host, never to ANTHROPIC_BASE_URL, so they bypass the proxy"
                    ),
                    fix: format!(
                        "Switchyard proxies Anthropic logins: unset {flag} to sign in with an Anthropic API key or claude.ai login"
                    ),
                },
                problem: None,
            });
        }
    }
    let mode = if let Some((_, source)) = var("ANTHROPIC_AUTH_TOKEN") {
        format!("bearer token ({source})")
    } else if let Some((_, source)) = var("ANTHROPIC_API_KEY") {
        format!("API key ({source})")
    } else if json["apiKeyHelper"].as_str().is_some_and(|h| !h.is_empty()) {
        format!("API key from apiKeyHelper ({file})")
    } else if let Some((_, source)) = var("CLAUDE_CODE_OAUTH_TOKEN") {
        format!("claude.ai login ({source})")
    } else if let Some(path) = credentials {
        format!("claude.ai login ({})", path.display())
    } else {
        "no login found (claude signs in on first use)".to_owned()
    };
    let (url, source) = match var("ANTHROPIC_BASE_URL") {
        Some((url, source)) => (Some(url), source),
        None => (None, file),
    };
    Ok(Login {
        mode,
        route: Route::Follows {
            setting: "ANTHROPIC_BASE_URL".into(),
            url,
            source,
            fix: Fix::Takeover { export: true },
        },
        problem: None,
    })
}

fn codex(config: &File, auth: &File, env: &Env) -> Result<Login, String> {
    let doc = config.toml()?;
    let file = config.shown();
    let profile = doc
        .get("profile")
        .and_then(|p| p.as_str())
        .and_then(|p| doc.get("profiles")?.get(p));
    let provider = profile
        .and_then(|p| p.get("model_provider"))
        .or_else(|| doc.get("model_provider"))
        .and_then(|p| p.as_str())
        .filter(|p| *p != "openai");
    if let Some(provider) = provider {
        let entry = doc.get("model_providers").and_then(|t| t.get(provider));
        let base = entry
            .and_then(|t| t.get("base_url"))
            .and_then(|u| u.as_str())
            .map(str::to_owned);
        // A provider that signs in with the OpenAI login (as takeover's own
        // entry did before openai_base_url) uses the same modes.
        let openai_login = entry
            .and_then(|t| t.get("requires_openai_auth"))
            .and_then(|v| v.as_bool())
            == Some(true);
        let mode = if openai_login {
            codex_mode(auth, &doc, env)?
        } else {
            format!("model_provider = \"{provider}\" ({file})")
        };
        // A provider entry that points at the proxy (takeover's own, before
        // it used openai_base_url, or the user's) goes through it.
        return Ok(Login {
            mode,
            route: match base {
                Some(url) if is_loopback(&url) => Route::Follows {
                    setting: format!("model_providers.{provider}.base_url"),
                    url: Some(url),
                    source: file,
                    fix: Fix::Takeover { export: false },
                },
                _ => Route::Elsewhere {
                    why: format!(
                        "Codex sends its requests to the provider \"{provider}\" that {file} selects, and openai_base_url moves only its built-in OpenAI provider, so they bypass the proxy"
                    ),
                    fix: format!(
                        "remove `model_provider = \"{provider}\"` from {file} to use OpenAI through Switchyard"
                    ),
                },
            },
            problem: None,
        });
    }
    let mode = codex_mode(auth, &doc, env)?;
    let (url, source) = match doc.get("openai_base_url").and_then(|u| u.as_str()) {
        Some(url) => (Some(url.to_owned()), file),
        None => match env.value("OPENAI_BASE_URL") {
            Some(url) => (Some(url.to_owned()), "$OPENAI_BASE_URL".to_owned()),
            None => (None, file),
        },
    };
    Ok(Login {
        mode,
        route: Route::Follows {
            setting: "openai_base_url".into(),
            url,
            source,
            fix: Fix::Takeover { export: false },
        },
        problem: None,
    })
}

fn codex_mode(auth: &File, config: &toml_edit::DocumentMut, env: &Env) -> Result<String, String> {
    if env.value("CODEX_API_KEY").is_some() {
        return Ok("API key ($CODEX_API_KEY, for codex exec)".into());
    }
    let path = auth.shown();
    let json = auth.json()?;
    let has_tokens = json["tokens"].is_object();
    let has_key = json["OPENAI_API_KEY"]
        .as_str()
        .is_some_and(|k| !k.is_empty());
    let mode = match json["auth_mode"].as_str() {
        Some(m) if m.eq_ignore_ascii_case("chatgpt") || m == "chatgptAuthTokens" => "chatgpt",
        Some(m) if m.eq_ignore_ascii_case("apikey") => "apikey",
        _ if has_tokens => "chatgpt",
        _ if has_key => "apikey",
        _ => "",
    };
    Ok(match mode {
        "chatgpt" => format!("ChatGPT login ({path})"),
        "apikey" => format!("API key ({path})"),
        _ if config
            .get("cli_auth_credentials_store")
            .and_then(|s| s.as_str())
            .is_some_and(|s| s != "file") =>
        {
            "login kept in the system keyring (not read here)".into()
        }
        _ => "no login found (codex login signs in)".into(),
    })
}

fn gemini(
    settings: &[File],
    env_file: Option<&File>,
    home_env: &Path,
    env: &Env,
) -> Result<Login, String> {
    let mut selected = None;
    for file in settings {
        if let Some(kind) = file.json()?["security"]["auth"]["selectedType"].as_str() {
            selected = Some((kind.to_owned(), file.shown()));
        }
    }
    let explicit = selected.is_some();
    let dotenv = match env_file {
        Some(file) => match file.text.clone()? {
            Some(text) => parse_dotenv(&text),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let loaded = env_file.map(File::shown);
    // The shell's variables win: Gemini CLI never overrides one with `.env`.
    let var = |name: &str| -> Option<(String, String)> {
        match env.value(name) {
            Some(v) => Some((v.to_owned(), format!("${name} in this shell"))),
            None => dotenv
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| (v.clone(), loaded.clone().unwrap_or_default())),
        }
    };
    let set = |name: &str| var(name).is_some_and(|(v, _)| !v.is_empty());
    // gemini-cli's getAuthTypeFromEnv, when no login is selected.
    let (kind, chosen) = match selected {
        Some((kind, file)) => (kind, format!("selected in {file}")),
        None if var("GOOGLE_GENAI_USE_GCA").is_some_and(|(v, _)| v == "true") => {
            ("oauth-personal".into(), "GOOGLE_GENAI_USE_GCA".into())
        }
        None if var("GOOGLE_GENAI_USE_VERTEXAI").is_some_and(|(v, _)| v == "true") => {
            ("vertex-ai".into(), "GOOGLE_GENAI_USE_VERTEXAI".into())
        }
        None if set("GOOGLE_GEMINI_BASE_URL") => ("gateway".into(), String::new()),
        None if set("GEMINI_API_KEY") => ("gemini-api-key".into(), "GEMINI_API_KEY".into()),
        None if var("CLOUD_SHELL").is_some_and(|(v, _)| v == "true")
            || var("GEMINI_CLI_USE_COMPUTE_ADC").is_some_and(|(v, _)| v == "true") =>
        {
            (
                "compute-default-credentials".into(),
                "CLOUD_SHELL / GEMINI_CLI_USE_COMPUTE_ADC".into(),
            )
        }
        None => (String::new(), String::new()),
    };
    let (mode, setting) = match kind.as_str() {
        "gemini-api-key" => ("Gemini API key", "GOOGLE_GEMINI_BASE_URL"),
        "vertex-ai" => ("Vertex AI", "GOOGLE_VERTEX_BASE_URL"),
        "oauth-personal" => ("Google login (Code Assist)", "CODE_ASSIST_ENDPOINT"),
        "compute-default-credentials" | "cloud-shell" => (
            "Google Cloud credentials (Code Assist)",
            "CODE_ASSIST_ENDPOINT",
        ),
        "" => ("no login selected", "GOOGLE_GEMINI_BASE_URL"),
        // The gateway login reads GOOGLE_GEMINI_BASE_URL, and gemini-cli 0.61
        // refuses it ("Invalid auth method selected.", exit 41).
        "gateway" if !explicit && !set("GEMINI_API_KEY") => {
            ("no login selected", "GOOGLE_GEMINI_BASE_URL")
        }
        _ => ("", "GOOGLE_GEMINI_BASE_URL"),
    };
    let problem = mode.is_empty().then(|| Problem {
        why: if explicit {
            "gemini-cli 0.61 refuses this login (\"Invalid auth method selected.\")".to_owned()
        } else {
            "gemini-cli 0.61 takes it for its \"gateway\" login, because GOOGLE_GEMINI_BASE_URL is set and no login is selected, and refuses that (\"Invalid auth method selected.\", exit 41)".to_owned()
        },
        fix: if set("GEMINI_API_KEY") {
            format!(
                "select the API key login: set security.auth.selectedType to \"gemini-api-key\" in {}/settings.json (`switchyard enable gemini --takeover` does it when GEMINI_API_KEY is set)",
                home_dir(home_env)
            )
        } else {
            "select a login in `gemini` (its /auth dialog)".to_owned()
        },
    });
    let (mode, chosen) = match (mode, explicit) {
        ("", true) => (format!("\"{kind}\""), chosen),
        ("", false) => ("Gemini API key".to_owned(), "GEMINI_API_KEY".to_owned()),
        (mode, _) => (mode.to_owned(), chosen),
    };
    let mode = if chosen.is_empty() {
        mode.to_owned()
    } else {
        format!("{mode} ({chosen})")
    };
    // Takeover writes only the home .env; a closer one hides it.
    let hidden = loaded.as_deref().is_some_and(|f| Path::new(f) != home_env);
    let (url, source) = match var(setting) {
        Some((url, source)) if !url.is_empty() => (Some(url), source),
        _ => {
            let source = match &loaded {
                Some(file) if hidden => format!(
                    "{file} (Gemini CLI loads it in this folder instead of {})",
                    home_env.display()
                ),
                Some(file) => file.clone(),
                None => home_env.display().to_string(),
            };
            (None, source)
        }
    };
    let fix = if hidden {
        Fix::ByHand
    } else {
        Fix::Takeover { export: true }
    };
    Ok(Login {
        mode,
        route: Route::Follows {
            setting: setting.into(),
            url,
            source,
            fix,
        },
        problem,
    })
}

fn home_dir(home_env: &Path) -> String {
    home_env
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

fn is_loopback(url: &str) -> bool {
    url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:")
}

/// `KEY=VALUE` lines as dotenv reads them: `export ` and quotes allowed,
/// `#` starts a comment outside quotes.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            if key.is_empty() || key.starts_with('#') {
                return None;
            }
            let value = value.trim();
            let value = match value.chars().next() {
                Some(q @ ('"' | '\'' | '`')) => {
                    value[1..].find(q).map_or(value, |end| &value[1..end + 1])
                }
                _ => value.split(" #").next().unwrap_or("").trim_end(),
            };
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
