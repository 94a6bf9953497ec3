//! The command line's reference, `docs/cli.md`, is generated from the clap
//! definition itself (`src/cli.rs`), so it cannot drift: this test fails when
//! the file differs from what the code says. `UPDATE_DOCS=1 cargo test --test
//! command_line docs` rewrites it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
#![allow(dead_code)] // the parsing half of `cli.rs` is the binary's business

#[path = "../src/cli.rs"]
mod cli;

use std::fmt::Write as _;

use clap::CommandFactory;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md");

/// The whole reference: every visible command's `--help`, in order.
fn reference() -> String {
    let mut cmd = cli::Cli::command().term_width(100);
    cmd.build();
    let mut out = String::from(
        "# Command-line reference\n\n\
         Generated from `src/cli.rs` by `UPDATE_DOCS=1 cargo test --test command_line docs`;\n\
         do not edit by hand. Exit codes and JSON shapes: [reference.md](reference.md).\n",
    );
    section(&mut out, &mut cmd, "switchyard");
    out
}

fn section(out: &mut String, cmd: &mut clap::Command, path: &str) {
    let help = cmd.render_long_help().to_string();
    let help: String = help
        .lines()
        .map(|l| l.trim_end().to_owned() + "\n")
        .collect();
    let _ = write!(out, "\n## `{path}`\n\n```text\n{help}```\n");
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        if let Some(sub) = cmd.find_subcommand_mut(&name) {
            section(out, sub, &format!("{path} {name}"));
        }
    }
}

#[test]
fn docs_cli_md_is_what_the_code_says() {
    let want = reference();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(DOC, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        have == want,
        "docs/cli.md is out of date with src/cli.rs; regenerate it with `UPDATE_DOCS=1 cargo test --test command_line docs`"
    );
}

/// The reference names every exit code the commands use.
#[test]
fn docs_reference_md_names_the_exit_codes() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md")).unwrap();
    for needle in [
        "| 0 |",
        "| 1 |",
        "| 2 |",
        "| 3 |",
        "status --json",
        "requests --json",
        "usage --json",
        "events --json",
    ] {
        assert!(text.contains(needle), "docs/reference.md lacks {needle}");
    }
}
