//! Official providers route by credential: each request goes to the upstream
//! its login mode belongs to. The real upstreams are never contacted: the proxy
//! is given an outbound HTTPS proxy that logs the CONNECT target and refuses,
//! or a local mock stands in for the official base URL.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use hyper_util::client::proxy::matcher::Matcher;
use support::*;
use switchyard_daemon::apps::App;

type Headers<'a> = Vec<(&'a str, &'a str)>;

fn chatgpt_jwt() -> String {
    let part = |json: &str| URL_SAFE_NO_PAD.encode(json);
    format!(
        "{}.{}.c2ln",
        part(r#"{"alg":"RS256","typ":"JWT"}"#),
        part(r#"{"https://api.openai.com/auth":{"chatgpt_account_id":"acc-1"},"exp":4102444800}"#)
    )
}

#[tokio::test]
async fn each_login_mode_connects_to_its_own_upstream() -> TestResult {
    within(SCENARIO, async {
        let jwt = format!("Bearer {}", chatgpt_jwt());
        let vertex = "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse";
        let cases: Vec<(App, &str, Headers, &str)> = vec![
            (App::Codex, "/responses", vec![("authorization", "Bearer sk-proj-abc")], "api.openai.com:443"),
            (
                App::Codex,
                "/responses",
                vec![("authorization", &jwt), ("chatgpt-account-id", "acc-1")],
                "chatgpt.com:443",
            ),
            (App::Codex, "/models?client_version=0.171.0", vec![("authorization", &jwt)], "chatgpt.com:443"),
            // A malformed JWT is an opaque bearer: the API-key route.
            (App::Codex, "/responses", vec![("authorization", "Bearer eyJ.not-a.jwt")], "api.openai.com:443"),
            // No credential: the default route, whose upstream answers 401.
            (App::Codex, "/responses", vec![], "api.openai.com:443"),
            (App::Claude, "/v1/messages", vec![("x-api-key", "sk-ant-api03-x")], "api.anthropic.com:443"),
            (App::Claude, "/v1/messages", vec![("authorization", "Bearer sk-ant-oat01-x")], "api.anthropic.com:443"),
            (
                App::Gemini,
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                vec![("x-goog-api-key", "AIza-x")],
                "generativelanguage.googleapis.com:443",
            ),
            (
                App::Gemini,
                "/v1internal:streamGenerateContent?alt=sse",
                vec![("authorization", "Bearer ya29.x")],
                "cloudcode-pa.googleapis.com:443",
            ),
            (App::Gemini, vertex, vec![("authorization", "Bearer ya29.x")], "us-central1-aiplatform.googleapis.com:443"),
            (
                App::Gemini,
                "/v1/projects/p/locations/global/publishers/google/models/m:generateContent",
                vec![("authorization", "Bearer ya29.x")],
                "aiplatform.googleapis.com:443",
            ),
        ];
        for (app, path, headers, expected) in cases {
            let (logger, mut targets) = connect_logger(None).await?;
            let matcher = Matcher::builder().https(logger).build();
            let config = config(app, vec![official(app, app.official_base_url())]);
            let h = start_with(config, matcher, std::time::Duration::from_secs(5)).await?;
            let (status, _, _) = send(h.addr, request(h.addr, Method::POST, path, &headers)?).await?;
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{app} {path}: the logger refuses");
            assert_eq!(next(&mut targets).await?, expected, "{app} {path} {headers:?}");
            assert!(targets.try_recv().is_err(), "{app} {path}: one CONNECT only");
        }
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn every_header_is_kept_and_the_summary_names_the_route() -> TestResult {
    within(SCENARIO, async {
        // A local mock stands in for the official base URL (the default and
        // OAuth routes go there).
        let (up, mut seen) = mock(200, "{}").await?;
        let url = format!("http://{up}");
        let sent = [
            ("authorization", "Bearer sk-ant-oat01-secret"),
            (
                "anthropic-beta",
                "oauth-2025-04-20,interleaved-thinking-2025-05-14",
            ),
            ("anthropic-version", "2023-06-01"),
            ("x-stainless-lang", "js"),
        ];
        let mut h = start(config(App::Claude, vec![official(App::Claude, &url)])).await?;
        let (status, _, _) = send(
            h.addr,
            request(h.addr, Method::POST, "/v1/messages?beta=true", &sent)?,
        )
        .await?;
        assert_eq!(status, StatusCode::OK);
        let got = next(&mut seen).await?;
        assert_eq!(got.uri.to_string(), "/v1/messages?beta=true");
        for (k, v) in sent {
            assert_eq!(
                got.headers.get(k).and_then(|v| v.to_str().ok()),
                Some(v),
                "{k}"
            );
        }
        let summary = h.next_summary().await?;
        assert_eq!(
            (summary.provider.as_deref(), summary.route),
            (Some("anthropic"), Some("oauth"))
        );
        let shown = format!("{summary:?}");
        assert!(
            !shown.contains("secret"),
            "no credential in a summary: {shown}"
        );

        let sent = [
            ("authorization", "Bearer sk-proj-abc"),
            ("openai-organization", "org-1"),
            ("openai-project", "proj-1"),
            ("version", "0.171.0"),
        ];
        let mut h = start(config(App::Codex, vec![official(App::Codex, &url)])).await?;
        let (status, _, _) =
            send(h.addr, request(h.addr, Method::POST, "/responses", &sent)?).await?;
        assert_eq!(status, StatusCode::OK);
        let got = next(&mut seen).await?;
        for (k, v) in sent {
            assert_eq!(
                got.headers.get(k).and_then(|v| v.to_str().ok()),
                Some(v),
                "{k}"
            );
        }
        assert_eq!(h.next_summary().await?.route, Some("api-key"));

        // Any other provider has no route.
        let mut h = start(config(App::Codex, vec![provider("mine", &url)])).await?;
        send(
            h.addr,
            request(
                h.addr,
                Method::POST,
                "/responses",
                &[("chatgpt-account-id", "a")],
            )?,
        )
        .await?;
        next(&mut seen).await?;
        let summary = h.next_summary().await?;
        assert_eq!(
            (summary.provider.as_deref(), summary.route),
            (Some("mine"), None)
        );
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn no_credential_gets_the_official_401_unchanged() -> TestResult {
    within(SCENARIO, async {
        let body = r#"{"error":{"message":"Missing bearer authentication in header","type":"invalid_request_error","code":null}}"#;
        let (up, mut seen) = mock(401, body).await?;
        let mut h = start(config(App::Codex, vec![official(App::Codex, &format!("http://{up}"))])).await?;
        let (status, _, got) = send(h.addr, request(h.addr, Method::POST, "/responses", &[])?).await?;
        assert_eq!((status, &got[..]), (StatusCode::UNAUTHORIZED, body.as_bytes()));
        assert!(next(&mut seen).await?.headers.get("authorization").is_none());
        let summary = h.next_summary().await?;
        assert_eq!((summary.status, summary.route), (401, Some("api-key")));
        Ok(())
    })
    .await?
}

#[tokio::test]
async fn errors_the_proxy_makes_take_each_apps_own_shape() -> TestResult {
    within(SCENARIO, async {
        let refused = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            format!("http://{}", l.local_addr()?)
        };
        for app in App::ALL {
            let h = start(config(app, vec![provider("gone", &refused)])).await?;
            let browser = [("origin", "https://evil.example")];
            let (status, headers, forbidden) =
                send(h.addr, request(h.addr, Method::POST, "/x", &browser)?).await?;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(
                headers.get("content-type").map(|v| v.as_bytes()),
                Some(&b"application/json"[..])
            );
            let (status, _, failed) =
                send(h.addr, request(h.addr, Method::POST, "/x", &[])?).await?;
            assert_eq!(status, StatusCode::BAD_GATEWAY);
            for (body, anthropic, openai, google) in [
                (
                    forbidden,
                    "permission_error",
                    "invalid_request_error",
                    "PERMISSION_DENIED",
                ),
                (failed, "api_error", "server_error", "UNAVAILABLE"),
            ] {
                let json: serde_json::Value = serde_json::from_slice(&body)?;
                let error = &json["error"];
                match app {
                    App::Claude => {
                        assert_eq!(
                            (&json["type"], &error["type"]),
                            (&"error".into(), &anthropic.into())
                        );
                    }
                    App::Codex => {
                        assert_eq!(error["type"], openai);
                        assert!(
                            error["code"]
                                .as_str()
                                .is_some_and(|c| c.starts_with("switchyard_"))
                        );
                    }
                    App::Gemini => {
                        assert_eq!(error["status"], google);
                        assert!(error["code"].is_u64());
                    }
                }
                assert!(
                    error["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{app}: {json}"
                );
            }
        }
        Ok(())
    })
    .await?
}
