//! Unit tests of the old Codex takeover's hand-back: text in, text out.

use super::*;

const URL: &str = "http://127.0.0.1:15722";
const OURS: &str = "\n[model_providers.switchyard]\nname = \"Switchyard proxy\"\nbase_url = \"http://127.0.0.1:15722\"\nwire_api = \"responses\"\nrequires_openai_auth = true\n";

fn round_trip(original: &str, expected: &str) {
    let (pointed, previous) = point(original, URL).unwrap();
    assert_eq!(pointed, expected);
    assert_eq!(restore(&pointed, &previous).unwrap(), original);
}

fn is_empty(text: &str) -> bool {
    text.trim().is_empty()
}

#[test]
fn comments_order_and_tables_stay_where_they_were() {
    let original = "# Codex configuration\nmodel = \"gpt-5-codex\"   # the default\napproval_policy = \"on-request\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\",   \"docs-mcp\"]  # keep\n\n# profiles\n[profiles.fast]\nmodel = 'gpt-5-mini'\n";
    let expected = format!(
        "# Codex configuration\nmodel = \"gpt-5-codex\"   # the default\napproval_policy = \"on-request\"\nmodel_provider = \"switchyard\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\",   \"docs-mcp\"]  # keep\n\n# profiles\n[profiles.fast]\nmodel = 'gpt-5-mini'\n{OURS}"
    );
    round_trip(original, &expected);
}

#[test]
fn an_existing_selection_is_replaced_in_place_and_put_back() {
    let original = "model_provider = 'openai'  # built in\n\n[model_providers.local]\nname = \"Local\"\nbase_url = \"http://localhost:1234/v1\"\n";
    let expected = format!(
        "model_provider = \"switchyard\"  # built in\n\n[model_providers.local]\nname = \"Local\"\nbase_url = \"http://localhost:1234/v1\"\n{OURS}"
    );
    round_trip(original, &expected);
}

#[test]
fn an_empty_file_gets_just_the_owned_keys() {
    let (pointed, previous) = point("", URL).unwrap();
    assert_eq!(pointed, format!("model_provider = \"switchyard\"\n{OURS}"));
    assert!(is_empty(&restore(&pointed, &previous).unwrap()));
}

#[test]
fn re_pointing_changes_only_the_base_url() {
    let (first, previous) = point("model = \"m\"\n", URL).unwrap();
    let (second, _) = point(&first, "http://127.0.0.1:16000").unwrap();
    assert_eq!(second, first.replace("15722", "16000"));
    assert_eq!(restore(&second, &previous).unwrap(), "model = \"m\"\n");
}

#[test]
fn user_edits_made_while_pointed_survive_the_restore() {
    let original = "model = \"m\"\n";
    let (pointed, previous) = point(original, URL).unwrap();
    let edited = pointed.replace("model = \"m\"", "model = \"n\"\n# mine")
        + "\n[tools]\nweb_search = true\n";
    assert_eq!(
        restore(&edited, &previous).unwrap(),
        "model = \"n\"\n# mine\n\n[tools]\nweb_search = true\n"
    );
}

#[test]
fn malformed_files_and_odd_shapes_are_refused_with_a_line() {
    let err = point("model = \"m\"\n\n[broken\nx = 1\n", URL).unwrap_err();
    assert_eq!(err.line, Some(3), "{err:?}");
    assert!(err.message.starts_with("not valid TOML"), "{err:?}");
    let err = point("a = 1\n[model_provider]\nx = 1\n", URL).unwrap_err();
    assert!(
        err.message.contains("`model_provider` is not a string"),
        "{err:?}"
    );
    assert!(point("model_providers = 3\n", URL).is_err());
}

#[test]
fn comments_the_user_wrote_around_the_owned_keys_stay() {
    let original = "model = \"m\"\n\n[tools]\nweb_search = true\n";
    let (pointed, previous) = point(original, URL).unwrap();
    let edited = pointed
        .replace("model_provider =", "# above ours\nmodel_provider =")
        .replace(
            "[model_providers.switchyard]",
            "# before our table\n[model_providers.switchyard]",
        )
        + "# at the end\n";
    assert_eq!(
        restore(&edited, &previous).unwrap(),
        "model = \"m\"\n# above ours\n\n[tools]\nweb_search = true\n# before our table\n# at the end\n"
    );
}
