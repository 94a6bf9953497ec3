//! Unit tests of the Claude Code settings edits: text in, text out.

use super::*;

const URL: &str = "http://127.0.0.1:15721";

fn round_trip(original: &str, expected: &str) {
    crate::takeover::assert_round_trip(crate::apps::App::Claude, URL, original, expected);
}

#[test]
fn four_space_indent_unicode_and_no_env() {
    let original = "{\n    \"model\": \"opus\",\n    \"permissions\": {\n        \"allow\": [\"Bash(ls)\"]\n    },\n    \"note\": \"caf\u{e9} \u{2603} \\u00e9\"\n}\n";
    let expected = "{\n    \"model\": \"opus\",\n    \"permissions\": {\n        \"allow\": [\"Bash(ls)\"]\n    },\n    \"note\": \"caf\u{e9} \u{2603} \\u00e9\",\n    \"env\": {\n        \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:15721\"\n    }\n}\n";
    round_trip(original, expected);
}

#[test]
fn an_existing_env_keeps_its_members_and_order() {
    let original = "{\n  \"env\": {\n    \"DISABLE_TELEMETRY\": \"1\",\n    \"FOO\": \"bar\"\n  },\n  \"z\": 1\n}";
    let expected = "{\n  \"env\": {\n    \"DISABLE_TELEMETRY\": \"1\",\n    \"FOO\": \"bar\",\n    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:15721\"\n  },\n  \"z\": 1\n}";
    round_trip(original, expected);
}

#[test]
fn an_existing_value_is_replaced_and_put_back_as_written() {
    let original = "{\"env\":{\"ANTHROPIC_BASE_URL\" :  \"https://x.example/\\u0061\",\"A\":1}}";
    let expected = "{\"env\":{\"ANTHROPIC_BASE_URL\" :  \"http://127.0.0.1:15721\",\"A\":1}}";
    round_trip(original, expected);
}

#[test]
fn compact_and_tab_indented_files_keep_their_style() {
    round_trip(
        "{\"a\":1,\"b\":[1,2]}",
        "{\"a\":1,\"b\":[1,2],\"env\":{\"ANTHROPIC_BASE_URL\":\"http://127.0.0.1:15721\"}}",
    );
    round_trip(
        "{\r\n\t\"a\": 1\r\n}\r\n",
        "{\r\n\t\"a\": 1,\r\n\t\"env\": {\r\n\t\t\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:15721\"\r\n\t}\r\n}\r\n",
    );
}

#[test]
fn empty_objects_and_empty_files() {
    let (pointed, previous) = point("{}", URL).unwrap();
    assert_eq!(
        pointed,
        "{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:15721\"\n  }\n}"
    );
    assert_eq!(restore(&pointed, &previous, &pointed).unwrap().text, "{}");
    let (pointed, previous) = point("", URL).unwrap();
    assert_eq!(current_url(&pointed).unwrap().as_deref(), Some(URL));
    assert!(is_empty(
        &restore(&pointed, &previous, &pointed).unwrap().text
    ));
    // An empty `env` the user had stays.
    let (pointed, previous) = point("{\"env\": {}}", URL).unwrap();
    assert_eq!(
        restore(&pointed, &previous, &pointed).unwrap().text,
        "{\"env\": {}}"
    );
}

#[test]
fn user_edits_made_while_pointed_survive_the_restore() {
    let original = "{\n  \"model\": \"opus\"\n}\n";
    let (pointed, previous) = point(original, URL).unwrap();
    // The user adds a member to `env` and a top-level key.
    let edited = pointed
        .replace(
            "\"ANTHROPIC_BASE_URL\"",
            "\"MY_VAR\": \"kept\",\n    \"ANTHROPIC_BASE_URL\"",
        )
        .replace("\"opus\"", "\"sonnet\"");
    let restored = restore(&edited, &previous, &pointed).unwrap().text;
    assert_eq!(
        restored,
        "{\n  \"model\": \"sonnet\",\n  \"env\": {\n    \"MY_VAR\": \"kept\"\n  }\n}\n"
    );
    // Restoring twice changes nothing more.
    assert_eq!(
        restore(&restored, &previous, &pointed).unwrap().text,
        restored
    );
}

#[test]
fn a_url_the_user_set_while_pointed_is_theirs_and_said_to_be_kept() {
    let original = "{\"env\": {\"ANTHROPIC_BASE_URL\": \"https://mine.example\"}}";
    let (pointed, previous) = point(original, URL).unwrap();
    let edited = pointed.replace(URL, "https://other.example");
    let restored = restore(&edited, &previous, &pointed).unwrap();
    assert_eq!(restored.text, edited);
    assert_eq!(
        restored.kept,
        ["env.ANTHROPIC_BASE_URL = \"https://other.example\""]
    );
}

#[test]
fn malformed_files_and_odd_shapes_are_refused_with_a_line() {
    let err = point("{\n  \"a\": 1,\n  \"b\" 2\n}\n", URL).unwrap_err();
    assert_eq!(err.line, Some(3), "{err:?}");
    assert!(err.message.starts_with("not valid JSON"), "{err:?}");
    let err = point("{\n  \"env\": \"x\"\n}", URL).unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(err.message.contains("`env` is not an object"), "{err:?}");
    assert!(point("[1, 2]", URL).is_err());
}
