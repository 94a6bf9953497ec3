//! Unit tests of the Codex config.toml edits: text in, text out.

use super::*;
use crate::takeover::codex_legacy;

const URL: &str = "http://127.0.0.1:15722";

fn round_trip(original: &str, expected: &str) {
    crate::takeover::assert_round_trip(crate::apps::App::Codex, URL, original, expected);
}

#[test]
fn one_top_level_key_goes_before_the_tables_and_comes_out_again() {
    let original = "# Codex configuration\nmodel = \"gpt-5-codex\"   # the default\napproval_policy = \"on-request\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\",   \"docs-mcp\"]  # keep\n\n# profiles\n[profiles.fast]\nmodel = 'gpt-5-mini'\n";
    let expected = "# Codex configuration\nmodel = \"gpt-5-codex\"   # the default\napproval_policy = \"on-request\"\nopenai_base_url = \"http://127.0.0.1:15722\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\",   \"docs-mcp\"]  # keep\n\n# profiles\n[profiles.fast]\nmodel = 'gpt-5-mini'\n";
    round_trip(original, expected);
    round_trip("", "openai_base_url = \"http://127.0.0.1:15722\"\n");
    round_trip(
        "[tools]\nweb_search = true\n",
        "openai_base_url = \"http://127.0.0.1:15722\"\n[tools]\nweb_search = true\n",
    );
}

#[test]
fn an_existing_base_url_is_replaced_in_place_and_put_back_as_written() {
    round_trip(
        "openai_base_url = 'https://eu.api.openai.com/v1'  # residency\nmodel = \"m\"\n",
        "openai_base_url = \"http://127.0.0.1:15722\"  # residency\nmodel = \"m\"\n",
    );
}

#[test]
fn a_user_s_own_provider_choice_is_left_alone() {
    let original = "model_provider = \"azure\"\n\n[model_providers.azure]\nname = \"Azure\"\nbase_url = \"https://x.openai.azure.com/openai\"\n";
    let (pointed, _) = point(original, URL).unwrap();
    assert!(pointed.contains("model_provider = \"azure\""), "{pointed}");
    // The CLI talks to Azure: the file does not point at the proxy.
    assert_eq!(
        current_url(&pointed).unwrap().as_deref(),
        Some("https://x.openai.azure.com/openai")
    );
    let (pointed, _) = point(
        "profile = \"work\"\n[profiles.work]\nmodel_provider = \"azure\"\n",
        URL,
    )
    .unwrap();
    assert_eq!(current_url(&pointed).unwrap(), None);
    let (pointed, _) = point("model_provider = \"openai\"\n", URL).unwrap();
    assert_eq!(current_url(&pointed).unwrap().as_deref(), Some(URL));
}

#[test]
fn user_edits_made_while_pointed_survive_and_a_url_they_set_is_kept() {
    let original = "model = \"m\"\n";
    let (pointed, previous) = point(original, URL).unwrap();
    let edited = pointed.replace("model = \"m\"", "model = \"n\"\n# mine")
        + "\n[tools]\nweb_search = true\n";
    let restored = restore(&edited, &previous, owned_value(&pointed).as_deref()).unwrap();
    assert_eq!(
        restored.text,
        "model = \"n\"\n# mine\n\n[tools]\nweb_search = true\n"
    );
    assert!(restored.kept.is_empty());
    let theirs = pointed.replace(URL, "https://gw.example/v1");
    let restored = restore(&theirs, &previous, owned_value(&pointed).as_deref()).unwrap();
    assert_eq!(restored.text, theirs);
    assert_eq!(
        restored.kept,
        ["openai_base_url = \"https://gw.example/v1\""]
    );
}

#[test]
fn a_file_taken_over_the_old_way_moves_to_the_new_key_in_one_edit() {
    let original = "model = \"m\"   # mine\n\n[tools]\nweb_search = true\n";
    let (old, old_previous) = codex_legacy::point(original, URL).unwrap();
    assert!(old.contains("model_provider = \"switchyard\""));
    let handed_back = codex_legacy::restore(&old, &old_previous).unwrap();
    assert_eq!(handed_back, original);
    let (new, previous) = point(&handed_back, URL).unwrap();
    assert!(!new.contains("switchyard"), "{new}");
    assert_eq!(current_url(&new).unwrap().as_deref(), Some(URL));
    assert_eq!(restore(&new, &previous, Some(URL)).unwrap().text, original);
}

#[test]
fn malformed_files_and_odd_shapes_are_refused_with_a_line() {
    let err = point("model = \"m\"\n\n[broken\nx = 1\n", URL).unwrap_err();
    assert_eq!(err.line, Some(3), "{err:?}");
    assert!(err.message.starts_with("not valid TOML"), "{err:?}");
    let err = point("a = 1\n[openai_base_url]\nx = 1\n", URL).unwrap_err();
    assert!(
        err.message.contains("`openai_base_url` is not a string"),
        "{err:?}"
    );
}
