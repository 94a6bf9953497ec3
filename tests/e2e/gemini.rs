//! Gemini CLI through takeover: an API key with and without an auth type in
//! its settings, a Google login (Code Assist: cached OAuth credentials, or
//! an access token from the environment), and Vertex AI (express mode with
//! an API key, or a project with Application Default Credentials).

use std::process::Command;

use crate::support::world::World;

/// `gemini -p` in a folder it trusts, as a script would run it.
fn gemini(world: &World, shell: &[(&str, &str)]) -> Command {
    let mut cmd = world.cli("gemini", shell);
    cmd.env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .args(["-p", "Say hello"]);
    cmd
}

/// Takes Gemini CLI over from `shell`, runs it there, and checks that it
/// printed `reply` and that `doctor` agrees about the login `mode`.
fn run(world: &World, shell: &[(&str, &str)], reply: &str, mode: &str) {
    world.takeover(shell);
    world.run_ok(gemini(world, shell), reply);
    world.assert_doctor_agrees(shell, mode);
}

const API_KEY: (&str, &str) = ("GEMINI_API_KEY", "AIza-e2e-key");

fn assert_api_key(world: &World) {
    let call = world.model_call(":streamGenerateContent");
    world.assert_served_by(
        &call,
        "generativelanguage.googleapis.com",
        "/v1beta/models/",
        &["cloudcode-pa.googleapis.com"],
    );
    assert_eq!(call.header("x-goog-api-key"), Some("AIza-e2e-key"));
    world.assert_route("api-key");
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn gemini_with_an_api_key_selected_in_settings() {
    let reply = "switchyard-e2e gemini api-key reply";
    let world = World::new("gemini", reply);
    world.write(
        ".gemini/settings.json",
        r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#,
    );
    run(&world, &[API_KEY], reply, "Gemini API key (selected in");
    assert_api_key(&world);
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn gemini_with_only_an_api_key() {
    let reply = "switchyard-e2e gemini env-key reply";
    let world = World::new("gemini", reply);
    run(&world, &[API_KEY], reply, "Gemini API key");
    assert_api_key(&world);
}

fn assert_code_assist(world: &World, token: &str) {
    let load = world.model_call(":loadCodeAssist");
    world.assert_served_by(&load, "cloudcode-pa.googleapis.com", "/v1internal:", &[]);
    let call = world.model_call(":streamGenerateContent");
    world.assert_served_by(
        &call,
        "cloudcode-pa.googleapis.com",
        "/v1internal:streamGenerateContent",
        &["generativelanguage.googleapis.com"],
    );
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    let project = call.json().map(|b| b["project"].clone());
    assert_eq!(
        project,
        Some(serde_json::json!("e2e-project")),
        "{}",
        call.text()
    );
    world.assert_route("code-assist");
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn gemini_with_a_google_login() {
    let reply = "switchyard-e2e gemini google-login reply";
    let world = World::new("gemini", reply);
    world.write(
        ".gemini/settings.json",
        r#"{"security":{"auth":{"selectedType":"oauth-personal"}}}"#,
    );
    world.write(
        ".gemini/oauth_creds.json",
        r#"{"access_token":"ya29.e2e-cached","refresh_token":"1//e2e-refresh","scope":"https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid","token_type":"Bearer","expiry_date":4102444800000}"#,
    );
    run(
        &world,
        &[],
        reply,
        "Google login (Code Assist) (selected in",
    );
    assert_code_assist(&world, "ya29.e2e-cached");
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn gemini_with_a_cloud_access_token() {
    let reply = "switchyard-e2e gemini gca-token reply";
    let world = World::new("gemini", reply);
    let shell = [
        ("GOOGLE_GENAI_USE_GCA", "true"),
        ("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.e2e-env"),
    ];
    run(
        &world,
        &shell,
        reply,
        "Google login (Code Assist) (GOOGLE_GENAI_USE_GCA)",
    );
    assert_code_assist(&world, "ya29.e2e-env");
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn gemini_on_vertex_ai_with_an_api_key() {
    let reply = "switchyard-e2e gemini vertex-express reply";
    let world = World::new("gemini", reply);
    let shell = [
        ("GOOGLE_GENAI_USE_VERTEXAI", "true"),
        ("GOOGLE_API_KEY", "AIza-e2e-vertex"),
    ];
    run(
        &world,
        &shell,
        reply,
        "Vertex AI (GOOGLE_GENAI_USE_VERTEXAI)",
    );
    let call = world.model_call(":streamGenerateContent");
    world.assert_served_by(
        &call,
        "aiplatform.googleapis.com",
        "/v1beta1/publishers/google/models/",
        &["generativelanguage.googleapis.com"],
    );
    assert_eq!(call.header("x-goog-api-key"), Some("AIza-e2e-vertex"));
    world.assert_route("vertex");
}

#[test]
#[ignore = "needs the pinned CLIs: npm ci --prefix tests/e2e"]
fn gemini_on_vertex_ai_with_a_project() {
    let reply = "switchyard-e2e gemini vertex-project reply";
    let world = World::new("gemini", reply);
    world.write(
        ".config/gcloud/application_default_credentials.json",
        r#"{"type":"authorized_user","client_id":"e2e.apps.googleusercontent.com","client_secret":"e2e-secret","refresh_token":"1//e2e-adc"}"#,
    );
    let shell = [
        ("GOOGLE_GENAI_USE_VERTEXAI", "true"),
        ("GOOGLE_CLOUD_PROJECT", "e2e-project"),
        ("GOOGLE_CLOUD_LOCATION", "us-central1"),
    ];
    run(
        &world,
        &shell,
        reply,
        "Vertex AI (GOOGLE_GENAI_USE_VERTEXAI)",
    );
    let call = world.model_call(":streamGenerateContent");
    world.assert_served_by(
        &call,
        "us-central1-aiplatform.googleapis.com",
        "/v1beta1/projects/e2e-project/locations/us-central1/publishers/google/models/",
        &["generativelanguage.googleapis.com"],
    );
    assert_eq!(
        call.header("authorization"),
        Some("Bearer ya29.e2e-from-refresh")
    );
    world.assert_route("vertex");
}
