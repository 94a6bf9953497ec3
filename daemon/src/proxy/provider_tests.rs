//! Tests of [`super`]: base URLs joined, bad ones refused, official routing.

use super::*;
use http::uri::PathAndQuery;
use hyper_util::client::proxy::matcher::Matcher;

fn provider(url: &str, credential: Credential) -> ProviderConfig {
    ProviderConfig {
        name: "p".into(),
        base_url: url.into(),
        credential,
        ..ProviderConfig::default()
    }
}

fn build(urls: &[&str]) -> Result<Active, ProxyError> {
    let upstream = Upstream::new(Matcher::builder().build());
    let providers = urls
        .iter()
        .map(|u| provider(u, Credential::Passthrough))
        .collect();
    Active::build(ProxyConfig::new(App::Codex, providers), None, &upstream)
}

#[test]
fn joins_base_path_and_request_target() -> Result<(), Box<dyn std::error::Error>> {
    let active = build(&["http://h:8/v1", "https://api.example/", "http://h/a/b/"])?;
    let target = PathAndQuery::from_static("/responses?x=1");
    let joined: Vec<String> = active
        .providers
        .iter()
        .map(|p| p.target.uri_for(Some(&target)).map(|u| u.to_string()))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        joined,
        [
            "http://h:8/v1/responses?x=1",
            "https://api.example/responses?x=1",
            "http://h/a/b/responses?x=1"
        ]
    );
    // A request without a path goes to the base URL itself.
    assert_eq!(
        active.providers[0].target.uri_for(None)?.to_string(),
        "http://h:8/v1/"
    );
    assert_eq!(
        active.providers[1].target.uri_for(None)?.to_string(),
        "https://api.example/"
    );
    assert_eq!(active.providers[0].target.host, "h:8");
    assert_eq!(active.providers[1].target.host, "api.example");
    Ok(())
}

#[test]
fn rejects_unusable_base_urls() {
    for bad in [
        "ftp://h",
        "/just/a/path",
        "http://user:pw@h",
        "http://h/v1?x=1",
        "not a url",
        "",
    ] {
        assert!(
            matches!(build(&[bad]), Err(ProxyError::InvalidBaseUrl { .. })),
            "{bad:?} accepted"
        );
    }
    let upstream = Upstream::new(Matcher::builder().build());
    let config = ProxyConfig::new(
        App::Claude,
        vec![provider("http://h", Credential::Key("bad\nkey".into()))],
    );
    let err = Active::build(config, None, &upstream)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("API key") && !e.contains("bad")));
}

/// Where an official provider sends a request, as `scheme://host/path`.
fn routed(active: &Active, headers: &[(&'static str, &'static str)], path: &str) -> String {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, HeaderValue::from_static(v));
    }
    let (target, route) = active.providers[0].target_for(&h, path);
    let target_path = PathAndQuery::try_from(path).ok();
    let uri = target
        .uri_for(target_path.as_ref())
        .map(|u| u.to_string())
        .unwrap_or_default();
    format!(
        "{} {uri} host={:?}",
        route.map_or("-", |r| r.name()),
        target.host
    )
}

#[test]
fn official_providers_route_by_credential_and_path() -> Result<(), ProxyError> {
    let upstream = Upstream::new(Matcher::builder().build());
    let official = |app: App, credential| {
        let mut p = provider(app.official_base_url(), credential);
        p.official = true;
        Active::build(ProxyConfig::new(app, vec![p]), None, &upstream)
    };
    let codex = official(App::Codex, Credential::Passthrough)?;
    assert_eq!(
        routed(&codex, &[("authorization", "Bearer sk-1")], "/responses"),
        "api-key https://api.openai.com/v1/responses host=\"api.openai.com\""
    );
    assert_eq!(
        routed(
            &codex,
            &[("chatgpt-account-id", "a")],
            "/models?client_version=1"
        ),
        "chatgpt https://chatgpt.com/backend-api/codex/models?client_version=1 host=\"chatgpt.com\""
    );
    let claude = official(App::Claude, Credential::Passthrough)?;
    assert_eq!(
        routed(&claude, &[("authorization", "Bearer oat")], "/v1/messages"),
        "oauth https://api.anthropic.com/v1/messages host=\"api.anthropic.com\""
    );
    let gemini = official(App::Gemini, Credential::Passthrough)?;
    assert_eq!(
        routed(&gemini, &[], "/v1internal:streamGenerateContent?alt=sse"),
        "code-assist https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse host=\"cloudcode-pa.googleapis.com\""
    );
    assert_eq!(
        routed(
            &gemini,
            &[],
            "/v1beta1/projects/p/locations/us-east5/publishers/google/models/m:generateContent"
        ),
        "vertex https://us-east5-aiplatform.googleapis.com/v1beta1/projects/p/locations/us-east5/publishers/google/models/m:generateContent host=\"us-east5-aiplatform.googleapis.com\""
    );
    // A location that is no host name takes the default route.
    assert!(
        routed(&gemini, &[], "/v1/projects/p/locations/a.b/x").starts_with(
            "api-key https://generativelanguage.googleapis.com/v1/projects/p/locations/a.b/x"
        )
    );
    // A keyed official provider is an API-key provider: no routing.
    let keyed = official(App::Codex, Credential::Key("sk-k".into()))?;
    assert!(
        routed(&keyed, &[("chatgpt-account-id", "a")], "/responses")
            .starts_with("- https://api.openai.com/v1/responses")
    );
    // Not official: the base URL, whatever the credential.
    let plain = build(&["http://h:8/v1"])?;
    assert_eq!(
        routed(&plain, &[("chatgpt-account-id", "a")], "/responses"),
        "- http://h:8/v1/responses host=\"h:8\""
    );
    Ok(())
}
