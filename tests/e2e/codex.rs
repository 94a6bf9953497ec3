//! Codex through takeover: an API key, and a ChatGPT login.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::support::mock::Seen;
use crate::support::world::World;

/// A JWT that parses (header, claims, a signature nobody checks).
fn jwt(claims: &serde_json::Value) -> String {
    let part = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(&json!({"alg": "RS256", "typ": "JWT"})),
        part(claims),
        URL_SAFE_NO_PAD.encode("e2e-signature")
    )
}

/// `auth.json` as `codex login` writes it for a ChatGPT account: tokens that
/// expire in 2100 and a refresh a moment ago, so Codex does not refresh.
fn chatgpt_auth() -> String {
    let auth = json!({"chatgpt_plan_type": "plus", "chatgpt_user_id": "user-e2e", "chatgpt_account_id": "acct-e2e"});
    let id = jwt(
        &json!({"email": "e2e@example.com", "exp": 4_102_444_800_i64, "https://api.openai.com/auth": auth}),
    );
    let access = jwt(
        &json!({"exp": 4_102_444_800_i64, "https://api.openai.com/auth": auth,
        "https://api.openai.com/profile": {"email": "e2e@example.com"}}),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {"id_token": id, "access_token": access, "refresh_token": "rt-e2e", "account_id": "acct-e2e"},
        "last_refresh": rfc3339(now),
    })
    .to_string()
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn exec(world: &World, shell: &[(&str, &str)], reply: &str) {
    let mut cmd = world.cli("codex", shell);
    cmd.args(["exec", "--skip-git-repo-check", "Say hello"]);
    world.run_ok(cmd, reply);
}

/// Codex's built-in OpenAI provider streams Responses over a WebSocket; the
/// turn must have gone that way through the proxy (a frame of method `WS`),
/// not fallen back to a POST after failed upgrades.
fn assert_websocket(world: &World, call: &Seen) {
    assert_eq!(
        call.method,
        "WS",
        "Codex fell back from its WebSocket to {}; the mock saw:\n{}",
        call.line(),
        world.mock.log()
    );
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn codex_with_an_api_key() {
    let reply = "switchyard-e2e codex api-key reply";
    let world = World::new("codex", reply);
    world.write(
        ".codex/auth.json",
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-e2e-key"}"#,
    );
    // The organization and project headers come from the shell, and only
    // Codex's built-in provider sends them.
    let shell = [
        ("OPENAI_ORGANIZATION", "org-e2e"),
        ("OPENAI_PROJECT", "proj_e2e"),
    ];
    world.takeover(&shell);
    exec(&world, &shell, reply);

    let call = world.model_call("/responses");
    world.assert_served_by(&call, "api.openai.com", "/v1/responses", &["chatgpt.com"]);
    assert_eq!(call.header("authorization"), Some("Bearer sk-proj-e2e-key"));
    assert_eq!(call.header("chatgpt-account-id"), None);
    assert_eq!(call.header("originator"), Some("codex_exec"));
    assert_eq!(call.header("openai-organization"), Some("org-e2e"));
    assert_eq!(call.header("openai-project"), Some("proj_e2e"));
    world.assert_route("api-key");
    world.assert_doctor_agrees(&shell, "API key (");
    assert_websocket(&world, &call);
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn codex_with_a_chatgpt_login() {
    let reply = "switchyard-e2e codex chatgpt reply";
    let world = World::new("codex", reply);
    let auth = chatgpt_auth();
    world.write(".codex/auth.json", &auth);
    world.takeover(&[]);
    exec(&world, &[], reply);

    let call = world.model_call("/responses");
    world.assert_served_by(
        &call,
        "chatgpt.com",
        "/backend-api/codex/responses",
        &["api.openai.com"],
    );
    let access = serde_json::from_str::<serde_json::Value>(&auth).expect("auth.json")["tokens"]
        ["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {access}").as_str())
    );
    assert_eq!(call.header("chatgpt-account-id"), Some("acct-e2e"));
    assert_eq!(call.header("originator"), Some("codex_exec"));
    // Codex asks the same backend for its model list first.
    let models = world.model_call("/models");
    world.assert_served_by(&models, "chatgpt.com", "/backend-api/codex/models", &[]);
    world.assert_route("chatgpt");
    world.assert_doctor_agrees(&[], "ChatGPT login (");
    assert_websocket(&world, &call);
}
