//! Claude Code through takeover: an API key, and a claude.ai login (OAuth).
//! Both go to `api.anthropic.com` with every header Claude Code sent.

use crate::support::world::World;

const OAUTH: &str = r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-e2e-access","refreshToken":"sk-ant-ort01-e2e-refresh","expiresAt":4102444800000,"scopes":["user:inference","user:profile","user:sessions:claude_code"],"subscriptionType":"max"}}"#;

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn claude_with_an_api_key() {
    let reply = "switchyard-e2e claude api-key reply";
    let world = World::new("claude", reply);
    let shell = [("ANTHROPIC_API_KEY", "sk-ant-api03-e2e-key")];
    world.takeover(&shell);
    let mut cmd = world.cli("claude", &shell);
    cmd.args(["-p", "Say hello"]);
    world.run_ok(cmd, reply);

    let call = world.model_call("/v1/messages");
    world.assert_served_by(&call, "api.anthropic.com", "/v1/messages", &[]);
    assert_eq!(call.header("x-api-key"), Some("sk-ant-api03-e2e-key"));
    assert_eq!(call.header("authorization"), None);
    assert_eq!(call.header("anthropic-version"), Some("2023-06-01"));
    assert!(
        call.header("anthropic-beta").is_some(),
        "{:?}",
        call.headers
    );
    world.assert_route("api-key");
    world.assert_doctor_agrees(&shell, "API key ($ANTHROPIC_API_KEY)");
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn claude_with_a_claude_ai_login() {
    let reply = "switchyard-e2e claude oauth reply";
    let world = World::new("claude", reply);
    world.write(".claude/.credentials.json", OAUTH);
    world.takeover(&[]);
    let mut cmd = world.cli("claude", &[]);
    cmd.args(["-p", "Say hello"]);
    world.run_ok(cmd, reply);

    let call = world.model_call("/v1/messages");
    world.assert_served_by(&call, "api.anthropic.com", "/v1/messages", &[]);
    assert_eq!(
        call.header("authorization"),
        Some("Bearer sk-ant-oat01-e2e-access")
    );
    assert_eq!(call.header("x-api-key"), None);
    assert_eq!(call.header("anthropic-version"), Some("2023-06-01"));
    let beta = call.header("anthropic-beta").unwrap_or("");
    assert!(beta.contains("oauth-2025-04-20"), "anthropic-beta: {beta}");
    world.assert_route("oauth");
    world.assert_doctor_agrees(&[], "claude.ai login (");
}
