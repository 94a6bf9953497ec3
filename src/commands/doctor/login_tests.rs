//! Unit tests of the login readings: each CLI's precedence, and where each
//! login's requests go.

use super::*;

const PROXY: &str = "http://127.0.0.1:15721";

fn claude(settings: &str, credentials: bool, env: &[(&str, &str)]) -> Login {
    let files = Files::Claude {
        settings: File::with("/h/.claude/settings.json", settings),
        credentials: credentials.then(|| PathBuf::from("/h/.claude/.credentials.json")),
    };
    login(&files, &Env::of(env)).expect("readable")
}

fn follows(login: &Login) -> (&str, Option<&str>, &str) {
    match &login.route {
        Route::Follows {
            setting,
            url,
            source,
            ..
        } => (setting, url.as_deref(), source),
        other => panic!("expected a base URL, got {other:?}"),
    }
}

fn elsewhere(login: &Login) -> (&str, &str) {
    match &login.route {
        Route::Elsewhere { why, fix } => (why, fix),
        other => panic!("expected a bypass, got {other:?}"),
    }
}

#[test]
fn claude_logins_in_claude_codes_order_all_follow_the_base_url() {
    let pointed = r#"{"env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:15721"}}"#;
    let login = claude(pointed, true, &[("ANTHROPIC_API_KEY", "sk-ant")]);
    assert_eq!(login.mode, "API key ($ANTHROPIC_API_KEY)");
    assert_eq!(
        follows(&login),
        (
            "ANTHROPIC_BASE_URL",
            Some(PROXY),
            "env.ANTHROPIC_BASE_URL in /h/.claude/settings.json"
        )
    );
    // A bearer token beats the key; the settings' env beats the shell's.
    let login = claude(
        r#"{"env":{"ANTHROPIC_AUTH_TOKEN":"t"}}"#,
        true,
        &[
            ("ANTHROPIC_API_KEY", "k"),
            ("ANTHROPIC_BASE_URL", "https://x"),
        ],
    );
    assert_eq!(
        login.mode,
        "bearer token (env.ANTHROPIC_AUTH_TOKEN in /h/.claude/settings.json)"
    );
    assert_eq!(follows(&login).1, Some("https://x"));
    let login = claude(r#"{"apiKeyHelper":"~/bin/key"}"#, true, &[]);
    assert_eq!(
        login.mode,
        "API key from apiKeyHelper (/h/.claude/settings.json)"
    );
    let login = claude("", true, &[("ANTHROPIC_API_KEY", "")]);
    assert_eq!(login.mode, "claude.ai login (/h/.claude/.credentials.json)");
    assert_eq!(
        follows(&login),
        ("ANTHROPIC_BASE_URL", None, "/h/.claude/settings.json")
    );
    let login = claude("{}", false, &[("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat")]);
    assert_eq!(login.mode, "claude.ai login ($CLAUDE_CODE_OAUTH_TOKEN)");
    assert!(claude("{}", false, &[]).mode.starts_with("no login found"));
}

#[test]
fn claude_on_bedrock_vertex_or_foundry_bypasses_the_proxy() {
    let login = claude(
        r#"{"env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:15721"}}"#,
        false,
        &[("CLAUDE_CODE_USE_BEDROCK", "1"), ("ANTHROPIC_API_KEY", "k")],
    );
    assert_eq!(login.mode, "Amazon Bedrock ($CLAUDE_CODE_USE_BEDROCK)");
    let (why, fix) = elsewhere(&login);
    assert!(why.contains("never to ANTHROPIC_BASE_URL"), "{why}");
    assert!(fix.contains("unset CLAUDE_CODE_USE_BEDROCK"), "{fix}");
    let login = claude(r#"{"env":{"CLAUDE_CODE_USE_VERTEX":"true"}}"#, false, &[]);
    assert!(
        login
            .mode
            .starts_with("Google Vertex AI (env.CLAUDE_CODE_USE_VERTEX")
    );
    // Off is off.
    let login = claude("{}", false, &[("CLAUDE_CODE_USE_BEDROCK", "0")]);
    assert!(matches!(login.route, Route::Follows { .. }));
}

fn codex(config: &str, auth: Option<&str>, env: &[(&str, &str)]) -> Login {
    let files = Files::Codex {
        config: File::with("/h/.codex/config.toml", config),
        auth: match auth {
            Some(text) => File::with("/h/.codex/auth.json", text),
            None => File::missing("/h/.codex/auth.json"),
        },
    };
    login(&files, &Env::of(env)).expect("readable")
}

#[test]
fn codex_api_key_and_chatgpt_logins_follow_openai_base_url() {
    let pointed = "openai_base_url = \"http://127.0.0.1:15721\"\n";
    let chatgpt = r#"{"auth_mode":"chatgpt","tokens":{"id_token":"a.b.c"},"last_refresh":"2026-01-01T00:00:00Z"}"#;
    let login = codex(pointed, Some(chatgpt), &[]);
    assert_eq!(login.mode, "ChatGPT login (/h/.codex/auth.json)");
    assert_eq!(
        follows(&login),
        ("openai_base_url", Some(PROXY), "/h/.codex/config.toml")
    );
    // Tokens without a mode are a ChatGPT login too (older auth.json files).
    let login = codex(pointed, Some(r#"{"tokens":{}}"#), &[]);
    assert_eq!(login.mode, "ChatGPT login (/h/.codex/auth.json)");
    let login = codex(pointed, Some(r#"{"OPENAI_API_KEY":"sk-proj"}"#), &[]);
    assert_eq!(login.mode, "API key (/h/.codex/auth.json)");
    let login = codex(
        "",
        None,
        &[("CODEX_API_KEY", "sk"), ("OPENAI_BASE_URL", "https://y")],
    );
    assert_eq!(login.mode, "API key ($CODEX_API_KEY, for codex exec)");
    assert_eq!(
        follows(&login),
        ("openai_base_url", Some("https://y"), "$OPENAI_BASE_URL")
    );
    let login = codex("cli_auth_credentials_store = \"keyring\"\n", None, &[]);
    assert!(login.mode.contains("keyring"), "{}", login.mode);
    assert!(codex("", None, &[]).mode.starts_with("no login found"));
}

#[test]
fn codex_with_another_provider_bypasses_unless_that_provider_points_at_the_proxy() {
    let login = codex(
        "model_provider = \"azure\"\n[model_providers.azure]\nbase_url = \"https://x.openai.azure.com/openai\"\n",
        None,
        &[],
    );
    let (why, fix) = elsewhere(&login);
    assert!(why.contains("provider \"azure\""), "{why}");
    assert!(fix.contains("remove `model_provider = \"azure\"`"), "{fix}");
    // Selected through a profile.
    let login = codex(
        "profile = \"local\"\n[profiles.local]\nmodel_provider = \"ollama\"\n",
        None,
        &[],
    );
    assert_eq!(
        login.mode,
        "model_provider = \"ollama\" (/h/.codex/config.toml)"
    );
    assert!(matches!(login.route, Route::Elsewhere { .. }));
    // Takeover's own provider entry from before openai_base_url.
    let legacy = "model_provider = \"switchyard\"\n[model_providers.switchyard]\nbase_url = \"http://127.0.0.1:15721\"\nrequires_openai_auth = true\n";
    let login = codex(legacy, None, &[]);
    assert_eq!(
        follows(&login),
        (
            "model_providers.switchyard.base_url",
            Some(PROXY),
            "/h/.codex/config.toml"
        )
    );
    // It signs in with the OpenAI login.
    let login = codex(legacy, Some(r#"{"tokens":{}}"#), &[]);
    assert_eq!(login.mode, "ChatGPT login (/h/.codex/auth.json)");
    // "openai" is the built-in provider itself.
    let login = codex("model_provider = \"openai\"\n", None, &[]);
    assert_eq!(follows(&login).0, "openai_base_url");
}

fn gemini(settings: &[&str], env_file: Option<(&str, &str)>, env: &[(&str, &str)]) -> Login {
    let files = Files::Gemini {
        settings: settings
            .iter()
            .map(|s| File::with("/h/.gemini/settings.json", s))
            .collect(),
        env_file: env_file.map(|(path, text)| File::with(path, text)),
        home_env: PathBuf::from("/h/.gemini/.env"),
    };
    login(&files, &Env::of(env)).expect("readable")
}

const TAKEN_OVER: &str = "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15721\nGOOGLE_VERTEX_BASE_URL=http://127.0.0.1:15721\nCODE_ASSIST_ENDPOINT=http://127.0.0.1:15721\n";

fn selected(kind: &str) -> String {
    format!(r#"{{"security":{{"auth":{{"selectedType":"{kind}"}}}}}}"#)
}

#[test]
fn each_gemini_login_follows_its_own_variable() {
    let env_file = Some(("/h/.gemini/.env", TAKEN_OVER));
    for (kind, mode, setting) in [
        ("gemini-api-key", "Gemini API key", "GOOGLE_GEMINI_BASE_URL"),
        ("vertex-ai", "Vertex AI", "GOOGLE_VERTEX_BASE_URL"),
        (
            "oauth-personal",
            "Google login (Code Assist)",
            "CODE_ASSIST_ENDPOINT",
        ),
        (
            "compute-default-credentials",
            "Google Cloud credentials (Code Assist)",
            "CODE_ASSIST_ENDPOINT",
        ),
    ] {
        let login = gemini(&[&selected(kind)], env_file, &[]);
        assert_eq!(
            login.mode,
            format!("{mode} (selected in /h/.gemini/settings.json)")
        );
        assert_eq!(follows(&login), (setting, Some(PROXY), "/h/.gemini/.env"));
    }
    // Without a selection, the environment chooses, in gemini-cli's order.
    let login = gemini(
        &[],
        env_file,
        &[("GOOGLE_GENAI_USE_GCA", "true"), ("GEMINI_API_KEY", "k")],
    );
    assert_eq!(
        login.mode,
        "Google login (Code Assist) (GOOGLE_GENAI_USE_GCA)"
    );
    let login = gemini(&[], env_file, &[("GOOGLE_GENAI_USE_VERTEXAI", "true")]);
    assert_eq!(follows(&login).0, "GOOGLE_VERTEX_BASE_URL");
    // The shell beats the .env file.
    let login = gemini(
        &[&selected("oauth-personal")],
        env_file,
        &[(
            "CODE_ASSIST_ENDPOINT",
            "https://cloudcode-pa.googleapis.com",
        )],
    );
    assert_eq!(
        follows(&login),
        (
            "CODE_ASSIST_ENDPOINT",
            Some("https://cloudcode-pa.googleapis.com"),
            "$CODE_ASSIST_ENDPOINT in this shell"
        )
    );
    // A later settings file (this folder's) wins.
    let login = gemini(
        &[&selected("vertex-ai"), &selected("gemini-api-key")],
        env_file,
        &[],
    );
    assert!(login.mode.starts_with("Gemini API key"), "{}", login.mode);
}

#[test]
fn gemini_with_only_an_api_key_and_a_base_url_is_refused_as_gateway() {
    let env_file = Some(("/h/.gemini/.env", TAKEN_OVER));
    let login = gemini(&[], env_file, &[("GEMINI_API_KEY", "k")]);
    assert_eq!(login.mode, "Gemini API key (GEMINI_API_KEY)");
    assert_eq!(follows(&login).0, "GOOGLE_GEMINI_BASE_URL");
    let problem = login.problem.expect("refused");
    assert!(problem.why.contains("\"gateway\""), "{}", problem.why);
    assert!(problem.why.contains("exit 41"), "{}", problem.why);
    assert!(
        problem
            .fix
            .contains("\"gemini-api-key\" in /h/.gemini/settings.json"),
        "{}",
        problem.fix
    );
    // Selected, the API key login works with the same .env.
    let login = gemini(
        &[&selected("gemini-api-key")],
        env_file,
        &[("GEMINI_API_KEY", "k")],
    );
    assert_eq!(follows(&login).1, Some(PROXY));
    assert_eq!(login.problem, None);
    // Without a key there is no login to break: gemini asks for one.
    let login = gemini(&[], env_file, &[]);
    assert_eq!(
        (login.mode.as_str(), login.problem),
        ("no login selected", None)
    );
    // A login the user selected that gemini-cli does not accept.
    let login = gemini(&[&selected("gateway")], env_file, &[]);
    assert!(
        login
            .problem
            .is_some_and(|p| p.why.contains("refuses this login"))
    );
    // Without the base URL, the key alone is the API key login.
    let login = gemini(&[], None, &[("GEMINI_API_KEY", "k")]);
    assert_eq!(login.mode, "Gemini API key (GEMINI_API_KEY)");
    assert_eq!(
        follows(&login),
        ("GOOGLE_GEMINI_BASE_URL", None, "/h/.gemini/.env")
    );
}

#[test]
fn a_project_env_file_hides_the_home_one() {
    let login = gemini(
        &[&selected("oauth-personal")],
        Some(("/work/app/.env", "DEBUG=1\n")),
        &[],
    );
    let (_, url, source) = follows(&login);
    assert_eq!(url, None);
    assert_eq!(
        source,
        "/work/app/.env (Gemini CLI loads it in this folder instead of /h/.gemini/.env)"
    );
    // Takeover does not edit that file: the user has to.
    assert!(matches!(
        login.route,
        Route::Follows {
            fix: Fix::ByHand,
            ..
        }
    ));
}

#[test]
fn unreadable_files_are_errors_that_name_the_file() {
    let files = Files::Claude {
        settings: File::with("/h/.claude/settings.json", "{\"env\": "),
        credentials: None,
    };
    let err = login(&files, &Env::default()).unwrap_err();
    assert!(
        err.starts_with("/h/.claude/settings.json: not valid JSON"),
        "{err}"
    );
    let files = Files::Codex {
        config: File::with("/h/.codex/config.toml", "= broken"),
        auth: File::missing("/h/.codex/auth.json"),
    };
    let err = login(&files, &Env::default()).unwrap_err();
    assert!(
        err.starts_with("/h/.codex/config.toml: not valid TOML"),
        "{err}"
    );
}

#[test]
fn dotenv_lines_parse_as_dotenv_reads_them() {
    let text =
        "# comment\nexport A=1\nB = \"two # not a comment\"\nC='three'\nD=four # comment\n\nE=\n";
    assert_eq!(
        parse_dotenv(text),
        [
            ("A", "1"),
            ("B", "two # not a comment"),
            ("C", "three"),
            ("D", "four"),
            ("E", ""),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}
