//! Unit tests of the Gemini CLI `.env` edits: text in, text out.

use super::*;

const URL: &str = "http://127.0.0.1:15723";
const OURS: &str = "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723\nGOOGLE_VERTEX_BASE_URL=http://127.0.0.1:15723\nCODE_ASSIST_ENDPOINT=http://127.0.0.1:15723\n";

fn round_trip(original: &str, expected: &str) {
    crate::takeover::assert_round_trip(crate::apps::App::Gemini, URL, original, expected);
}

#[test]
fn appends_a_line_per_login_mode_and_takes_them_away_again() {
    round_trip(
        "# keys\nGEMINI_API_KEY=abc\n",
        &format!("# keys\nGEMINI_API_KEY=abc\n{OURS}"),
    );
    round_trip("A=1", &format!("A=1\n{OURS}"));
    round_trip("", OURS);
    round_trip("A=1\r\n", &format!("A=1\r\n{}", OURS.replace('\n', "\r\n")));
}

#[test]
fn replaces_the_last_assignment_keeping_its_prefix() {
    round_trip(
        "GOOGLE_GEMINI_BASE_URL=one\nexport  GOOGLE_GEMINI_BASE_URL = \"https://x\" # mine\nB=2",
        "GOOGLE_GEMINI_BASE_URL=one\nexport  GOOGLE_GEMINI_BASE_URL = http://127.0.0.1:15723\nB=2\nGOOGLE_VERTEX_BASE_URL=http://127.0.0.1:15723\nCODE_ASSIST_ENDPOINT=http://127.0.0.1:15723\n",
    );
}

#[test]
fn user_lines_added_meanwhile_stay() {
    let (pointed, previous) = point("A=1\n", URL).unwrap();
    let edited = format!("{pointed}B=2\n");
    assert_eq!(
        restore(&edited, &previous, &pointed).unwrap().text,
        "A=1\nB=2\n"
    );
    let (pointed, previous) = point("A=1", URL).unwrap();
    let edited = format!("{pointed}B=2\n");
    assert_eq!(
        restore(&edited, &previous, &pointed).unwrap().text,
        "A=1\nB=2\n"
    );
}

#[test]
fn a_value_the_user_set_on_an_owned_key_is_theirs_and_said_to_be_kept() {
    let (pointed, previous) = point("GEMINI_API_KEY=k\n", URL).unwrap();
    let edited = pointed.replace(
        "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723",
        "GOOGLE_GEMINI_BASE_URL=https://gw.example",
    );
    let restored = restore(&edited, &previous, &pointed).unwrap();
    assert_eq!(
        restored.text,
        "GEMINI_API_KEY=k\nGOOGLE_GEMINI_BASE_URL=https://gw.example\n"
    );
    assert_eq!(restored.kept, ["GOOGLE_GEMINI_BASE_URL=https://gw.example"]);
}

#[test]
fn a_file_taken_over_with_one_key_is_handed_back_by_the_old_record() {
    // What an older Switchyard wrote and kept.
    let old = LegacyPrevious {
        value: Some("https://x".into()),
        newline: false,
    };
    let text = "A=1\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:15723\n";
    let restored = restore(text, &(&old).into(), text).unwrap();
    assert_eq!(restored.text, "A=1\nGOOGLE_GEMINI_BASE_URL=https://x\n");
}

#[test]
fn reads_values_as_dotenv_does() {
    assert_eq!(unquote(" \"http://a\" "), "http://a");
    assert_eq!(unquote("'http://b' # c"), "http://b");
    assert_eq!(unquote("http://c # note"), "http://c");
    assert_eq!(current_url("GOOGLE_GEMINI_BASE_URLX=1\n").unwrap(), None);
    assert_eq!(
        current_url("exportGOOGLE_GEMINI_BASE_URL=1\n").unwrap(),
        None
    );
    assert_eq!(
        value_of("CODE_ASSIST_ENDPOINT='x'\n", "CODE_ASSIST_ENDPOINT").as_deref(),
        Some("x")
    );
}
