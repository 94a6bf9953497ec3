use super::*;
use proptest::prelude::*;

const USAGE: &[u8] = b"usage";
const MODEL: &[u8] = b"model";
const MESSAGE: &[u8] = b"message";
const TOP: Paths = &[&[USAGE], &[MODEL], &[MESSAGE, USAGE]];

fn scan(parts: &[&[u8]], array_roots: bool) -> JsonScan {
    let mut scan = JsonScan::new(TOP, array_roots);
    for part in parts {
        scan.feed(part);
    }
    scan
}

fn value(scan: &JsonScan, index: usize) -> Option<String> {
    match scan.committed(index) {
        Capture::Value(v) => Some(String::from_utf8(v.to_vec()).unwrap()),
        Capture::Absent => None,
        Capture::Unusable => Some("UNUSABLE".into()),
    }
}

#[test]
fn captures_top_level_values_only() {
    let body = br#"{"id":"x","content":[{"type":"tool_use","input":{"usage":{"input_tokens":999},"model":"fake"}}],
        "text":"\"usage\":{\"input_tokens\":7}","model" : "claude-x","usage": {"input_tokens": 5, "n": [1, {"a": "}"}]}}"#;
    let s = scan(&[body], false);
    assert!(s.complete());
    assert_eq!(
        value(&s, 0).as_deref(),
        Some(r#"{"input_tokens": 5, "n": [1, {"a": "}"}]}"#)
    );
    assert_eq!(value(&s, 1).as_deref(), Some(r#""claude-x""#));
    assert_eq!(value(&s, 2), None);
}

#[test]
fn follows_nested_paths() {
    let body = br#"{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3},"content":[]}}"#;
    let s = scan(&[body], false);
    assert_eq!(value(&s, 2).as_deref(), Some(r#"{"input_tokens":3}"#));
    // `model` at depth 2 is not the top-level path.
    assert_eq!(value(&s, 1), None);
    // A path prefix whose value is not an object is skipped.
    let s = scan(&[br#"{"message":null,"usage":1}"#], false);
    assert_eq!(value(&s, 0).as_deref(), Some("1"));
    assert_eq!(value(&s, 2), None);
}

#[test]
fn every_split_gives_the_same_answer() {
    let body: &[u8] = br#" {"a\"b":"x\\","model":"gpt-5","usage":{"input_tokens":12,"d":{"c":[true,null,-1.5e3]}}} "#;
    let whole = scan(&[body], false);
    for split in 0..=body.len() {
        for split2 in split..=body.len() {
            let s = scan(
                &[&body[..split], &body[split..split2], &body[split2..]],
                false,
            );
            assert_eq!(value(&s, 0), value(&whole, 0), "split {split}/{split2}");
            assert_eq!(value(&s, 1), value(&whole, 1));
            assert!(s.complete());
        }
    }
    assert_eq!(value(&whole, 1).as_deref(), Some(r#""gpt-5""#));
}

#[test]
fn nothing_counts_until_the_root_is_complete() {
    let s = scan(&[br#"{"usage":{"input_tokens":1}"#], false);
    assert_eq!(value(&s, 0), None);
    assert!(!s.complete() && !s.failed());
}

#[test]
fn malformed_input_fails() {
    for bad in [
        &br#"{"usage":{"a":1]}"#[..],
        br#"{"usage":1}}"#,
        br#"{"usage" 1}"#,
        br#"{"usage":1 "x":2}"#,
        br#"{usage:1}"#,
        br#"{"a":1}garbage"#,
        b"\x00\xff",
    ] {
        let s = scan(&[bad], false);
        assert!(s.failed(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn duplicates_and_oversized_values_are_unusable() {
    let s = scan(&[br#"{"usage":{"a":1},"usage":{"a":2}}"#], false);
    assert_eq!(value(&s, 0).as_deref(), Some("UNUSABLE"));
    let big = format!(r#"{{"usage":"{}"}}"#, "x".repeat(CAPTURE_LIMIT));
    let s = scan(&[big.as_bytes()], false);
    assert_eq!(value(&s, 0).as_deref(), Some("UNUSABLE"));
    assert!(s.complete());
}

#[test]
fn array_roots_keep_the_last_element_that_had_the_path() {
    let body = br#"[{"usage":{"n":1},"model":"a"},
    {"usage":{"n":2}}, 3, ["usage"], {"other":true}]"#;
    let s = scan(&[body], true);
    assert!(s.complete());
    assert_eq!(s.roots(), 5);
    assert_eq!(value(&s, 0).as_deref(), Some(r#"{"n":2}"#));
    assert_eq!(value(&s, 1).as_deref(), Some(r#""a""#));
    // A cut array keeps what its complete elements said.
    let s = scan(&[br#"[{"usage":{"n":1}},{"usage":{"n":"#], true);
    assert_eq!(value(&s, 0).as_deref(), Some(r#"{"n":1}"#));
    // Without array_roots, an array root is skipped whole.
    let s = scan(&[br#"[{"usage":{"n":1}}]"#], false);
    assert_eq!(value(&s, 0), None);
    assert!(s.complete());
}

#[test]
fn reset_starts_a_new_document() {
    let mut s = scan(&[br#"{"usage":1}"#], false);
    s.reset(TOP);
    assert_eq!(value(&s, 0), None);
    s.feed(br#"{"usage":2}"#);
    assert_eq!(value(&s, 0).as_deref(), Some("2"));
    let mut out = Vec::new();
    assert_eq!(s.take_committed(0, &mut out), Ok(true));
    assert_eq!(out, b"2");
    assert_eq!(value(&s, 0), None);
}

#[test]
fn deep_nesting_is_bounded() {
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(300), "]".repeat(300));
    let s = scan(&[deep.as_bytes()], false);
    assert!(s.failed());
}

proptest! {
    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
        let at = cut.index(data.len() + 1);
        let mut s = JsonScan::new(TOP, true);
        s.feed(&data[..at]);
        s.feed(&data[at..]);
        let _ = (s.committed(0), s.complete(), s.failed());
    }

    #[test]
    fn any_split_matches_the_whole(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let body: &[u8] = br#"{"x":[{"usage":{"y":"\"}"}}],"model":"m\u00e9","usage":{"input_tokens":4,"z":[[],{}]}}"#;
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        points.sort_unstable();
        let mut s = JsonScan::new(TOP, false);
        let mut from = 0;
        for p in points {
            s.feed(&body[from..p]);
            from = p;
        }
        s.feed(&body[from..]);
        prop_assert!(s.complete());
        prop_assert_eq!(s.committed(0), Capture::Value(br#"{"input_tokens":4,"z":[[],{}]}"#));
        prop_assert_eq!(s.committed(1), Capture::Value(br#""m\u00e9""#));
    }
}
