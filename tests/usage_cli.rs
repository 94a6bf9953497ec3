//! The `requests` and `usage` commands' command-line contract that holds
//! before any request is recorded: arguments are checked before the daemon is
//! asked (usage errors exit 2 and say what is accepted), and without a daemon
//! they say how to start one. (Recorded requests and their output are tested
//! once the worker reports them: see the lead's wiring step.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use common::Home;

#[test]
fn bad_arguments_are_usage_errors_that_say_what_works() {
    let home = Home::new();
    for args in [
        &["requests", "--since", "yesterday"][..],
        &["usage", "--since", "15y"],
        &["usage", "--by", "week"],
        &["requests", "--status", "abc"],
    ] {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.is_empty(), "{args:?}");
    }
    let out = home.run(&["usage", "--since", "yesterday"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("15m") && err.contains("RFC 3339"), "{err}");
}

#[test]
fn without_a_daemon_they_say_how_to_start_one() {
    let home = Home::new();
    for args in [&["requests"][..], &["usage", "--by", "model", "--json"]] {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("daemon"), "{args:?}: {err}");
    }
}
