//! End to end: the real, pinned Claude Code, Codex and Gemini CLI (from
//! `tests/e2e/package-lock.json`; install with `npm ci --prefix tests/e2e`),
//! taken over by the real daemon, in each login mode that runs offline.
//! Every request goes CLI → Switchyard's worker → the official provider's
//! route → a CONNECT proxy → the TLS mock, all on 127.0.0.1.
//!
//! Each test is ignored by default (`cargo test --workspace` must pass on a
//! machine without the CLIs): `cargo test --test e2e -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

#[path = "../common/mod.rs"]
mod common;
mod support;

mod harness;

mod claude;
mod codex;
mod gemini;
mod translated;
