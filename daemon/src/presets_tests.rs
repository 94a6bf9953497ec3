use super::*;

fn entry(extra: &str) -> String {
    format!(
        r#"
[[preset]]
id = "mine"
name = "Mine"
apps = ["claude"]
base_url = "https://llm.example.com/v1"
format = "openai-chat"
auth = "bearer"
key_env = "MINE_KEY"
docs = "https://llm.example.com/docs"
{extra}
"#
    )
}

fn refusal(text: &str) -> String {
    parse(text, "test.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn builtin_presets_load_and_cover_every_app() {
    let presets = Presets::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert!(presets.all().len() >= 20);
    for app in App::ALL {
        assert!(presets.for_app(app).next().is_some(), "{app}");
    }
    let deepseek = presets.get("deepseek-anthropic").cloned();
    assert_eq!(
        deepseek.map(|p| (p.base_url, p.format, p.auth)),
        Some((
            "https://api.deepseek.com/anthropic".to_owned(),
            Format::Anthropic,
            PresetAuth::XApiKey
        ))
    );
    let zai = presets
        .get("zai-anthropic")
        .map(|p| p.model_map.map("claude-haiku-4-5").into_owned());
    assert_eq!(zai.as_deref(), Some("glm-4.5-air"));
    // Local servers are plain http on loopback and take no key.
    for id in ["ollama", "vllm", "llama-cpp", "lm-studio"] {
        let p = presets.get(id).unwrap_or_else(|| panic!("{id}"));
        assert!(p.base_url.starts_with("http://127.0.0.1:"), "{id}");
        assert_eq!((p.auth, p.key_env.as_deref()), (PresetAuth::None, None));
    }
}

#[test]
fn a_user_file_overrides_and_adds_by_id() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("presets.toml");
    let missing = Presets::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        missing,
        Presets::builtin().unwrap_or_else(|e| panic!("{e}"))
    );
    let text = format!(
        "{}\n{}",
        entry(""),
        entry("")
            .replace("\"mine\"", "\"groq\"")
            .replace("Mine", "My Groq")
    );
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let presets = Presets::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(presets.all().len(), missing.all().len() + 1);
    assert_eq!(
        presets.get("groq").map(|p| p.name.as_str()),
        Some("My Groq")
    );
    assert_eq!(presets.get("mine").map(|p| p.name.as_str()), Some("Mine"));
    assert_eq!(
        Presets::user_file(&Paths::under(dir.path().to_path_buf())),
        file
    );
}

#[test]
fn bad_entries_are_refused_with_the_entry_named() {
    let cases = [
        (
            entry("colour = \"red\""),
            "preset \"mine\": unknown field `colour`",
        ),
        (
            entry("").replace("https://llm.example.com/v1", "ftp://x/v1"),
            "base_url \"ftp://x/v1\": it must be an http(s) URL",
        ),
        (
            entry("").replace("https://llm.example.com/v1", "http://llm.example.com/v1"),
            "plain http only for 127.0.0.1",
        ),
        (
            entry("").replace("https://llm.example.com/v1", "https://user:pw@h/v1"),
            "credentials",
        ),
        (
            entry("").replace("https://llm.example.com/v1", "not a url"),
            "base_url \"not a url\"",
        ),
        (
            entry("").replace("\"openai-chat\"", "\"openai\""),
            "unknown variant `openai`",
        ),
        (
            entry("")
                .replace("[\"claude\"]", "[\"gemini\"]")
                .replace("\"openai-chat\"", "\"anthropic\""),
            "gemini cannot use a anthropic provider",
        ),
        (entry("").replace("[\"claude\"]", "[]"), "apps is empty"),
        (
            entry("").replace("\"bearer\"", "\"none\""),
            "key_env is set but auth is \"none\"",
        ),
        (
            entry("").replace("MINE_KEY", "mine key"),
            "not an environment variable name",
        ),
        (
            entry("model_map = [\"claude\"]"),
            "model map rule \"claude\"",
        ),
        (
            entry("").replace("\"mine\"", "\"Mine!\""),
            "preset \"Mine!\": id must be",
        ),
        (format!("{}{}", entry(""), entry("")), "same id"),
        ("[other]\nx = 1\n".to_owned(), "unknown table \"other\""),
        ("[[preset]]\nid = \n".to_owned(), "presets file test.toml:"),
    ];
    for (text, want) in cases {
        let got = refusal(&text);
        assert!(got.contains(want), "want {want:?} in {got:?}");
        assert!(got.contains("test.toml"), "{got}");
    }
    // Without an id the entry is named by its position.
    let text = entry("").replace("id = \"mine\"\n", "");
    assert!(
        refusal(&text).contains("preset #1: missing field `id`"),
        "{}",
        refusal(&text)
    );
}
