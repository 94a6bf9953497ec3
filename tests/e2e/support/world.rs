//! One test's world: a private Switchyard home with a fake `$HOME`, the mock
//! upstream, the daemon's CONNECT proxy to it, the CLI's own proxy, and the
//! daemon itself, with one app on a port of its own.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{Home, free_port, login_shell, wait_for};

use super::cli;
use super::connect::ConnectProxy;
use super::mock::{Mock, Script, Seen};
use super::tls::{OFFICIAL_HOSTS, TestCa};
use super::wire;

/// The hosts the CLIs' own proxy tunnels to the mock: Google's OAuth
/// endpoints, where Gemini CLI checks a cached login or refreshes
/// Application Default Credentials before its first model call.
pub const CLI_AUTH_HOSTS: [&str; 2] = ["oauth2.googleapis.com", "www.googleapis.com"];

/// Where the app's requests are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// By the app's official provider, as for a user: the daemon's
    /// `HTTPS_PROXY` tunnels the official hosts to the TLS mock, whose test CA
    /// it trusts through `SSL_CERT_FILE`.
    Official,
    /// By a provider added with `--base-url http://127.0.0.1:MOCK
    /// --passthrough` ahead of the official one.
    Provider,
}

impl Upstream {
    /// `Official`, unless `SWITCHYARD_E2E_UPSTREAM=provider` asks for the
    /// mock provider (to tell a harness problem from a routing one).
    pub fn from_env() -> Upstream {
        match std::env::var("SWITCHYARD_E2E_UPSTREAM").as_deref() {
            Ok("provider") => Upstream::Provider,
            _ => Upstream::Official,
        }
    }
}

pub struct World {
    pub app: &'static str,
    pub port: u16,
    pub upstream: Upstream,
    pub mock: Mock,
    /// The daemon's outbound proxy: logs which official host each request went to.
    pub official: ConnectProxy,
    /// The CLI's own proxy: tunnels [`CLI_AUTH_HOSTS`] to the mock and
    /// refuses (and logs) every other bit of side traffic.
    pub side: ConnectProxy,
    /// The test CA's PEM (the daemon's `SSL_CERT_FILE`, the CLI's
    /// `NODE_EXTRA_CA_CERTS`).
    pub ca_file: PathBuf,
    // Last: dropped after the mocks, it stops the daemon, then removes the dir.
    pub home: Home,
}

impl World {
    /// `app`'s world with the daemon running, every model call answered with
    /// `reply`, served as [`Upstream::from_env`] says.
    pub fn new(app: &'static str, reply: &str) -> World {
        let reply = reply.to_owned();
        World::scripted(
            app,
            Upstream::from_env(),
            Arc::new(move |seen| wire::answer(seen, &reply)),
        )
    }

    pub fn scripted(app: &'static str, upstream: Upstream, script: Script) -> World {
        let home = Home::with_user_home();
        let ca = TestCa::new(home.path());
        let mock = Mock::start(script, ca.server.clone());
        let official = ConnectProxy::tunnelling(&OFFICIAL_HOSTS, mock.tls_port, mock.port);
        let side = ConnectProxy::tunnelling(&CLI_AUTH_HOSTS, mock.tls_port, mock.port);
        let ca_file = ca.pem_path.to_str().expect("UTF-8 temp path").to_owned();
        // The daemon (and so its workers) reach the world only through `official`.
        let home = home
            .env("HTTPS_PROXY", &official.url())
            .env("https_proxy", "")
            .env("HTTP_PROXY", "")
            .env("http_proxy", "")
            .env("ALL_PROXY", "")
            .env("all_proxy", "")
            .env("NO_PROXY", "")
            .env("no_proxy", "")
            .env("SSL_CERT_FILE", &ca_file)
            .env("SSL_CERT_DIR", "");
        home.start();
        let port = free_port();
        home.ok(&["port", app, &port.to_string()]);
        if upstream == Upstream::Provider {
            home.ok(&[
                "provider",
                "add",
                app,
                "mock",
                "--base-url",
                &format!("http://127.0.0.1:{}", mock.port),
                "--passthrough",
                "--priority",
                "-10",
            ]);
        }
        World {
            app,
            port,
            upstream,
            mock,
            official,
            side,
            ca_file: ca.pem_path,
            home,
        }
    }

    /// `switchyard enable APP --takeover` from a shell whose login
    /// variables are `shell` (takeover may choose by them, as it would for
    /// the user), then waits until the worker runs.
    pub fn takeover(&self, shell: &[(&str, &str)]) {
        let mut cmd = self.home.command(&["enable", self.app, "--takeover"]);
        login_shell(&mut cmd, shell);
        let out = self.home.run_command(cmd);
        assert!(
            out.status.success(),
            "enable --takeover failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        wait_for(
            &format!("{} running", self.app),
            Duration::from_secs(20),
            || self.home.app(self.app)["state"] == "running",
        );
    }

    /// The fake `$HOME`.
    pub fn user(&self) -> PathBuf {
        self.home.user()
    }

    /// Writes `text` to `rel` under the fake `$HOME`, making its directories.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.user().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        std::fs::write(&path, text).expect("write file");
    }

    /// Reads `rel` under the fake `$HOME` ("" when missing).
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.user().join(rel)).unwrap_or_default()
    }

    /// The CLI `name` in this world, run from a shell whose login variables
    /// are `shell`: the fake `$HOME`, a project folder and temp dir of its
    /// own, and its own proxy variables pointing at [`World::side`], with
    /// loopback exempt so that it reaches Switchyard directly.
    pub fn cli(&self, name: &str, shell: &[(&str, &str)]) -> Command {
        let mut cmd = cli::command(name);
        cmd.envs(shell.iter().copied());
        let side = self.side.url();
        let (work, tmp) = (self.user().join("work"), self.home.path().join("tmp"));
        for dir in [&work, &tmp] {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        cmd.env("HOME", self.user())
            .env("TMPDIR", &tmp)
            .env("HTTPS_PROXY", &side)
            .env("HTTP_PROXY", &side)
            .env("https_proxy", &side)
            .env("http_proxy", &side)
            .env("NO_PROXY", "127.0.0.1,localhost,::1")
            .env("no_proxy", "127.0.0.1,localhost,::1")
            .env("NODE_EXTRA_CA_CERTS", &self.ca_file)
            .current_dir(&work);
        cmd
    }

    /// Runs `cmd` and asserts that it succeeded and printed `reply`.
    pub fn run_ok(&self, cmd: Command, reply: &str) -> cli::Run {
        let run = cli::run(cmd);
        assert!(
            run.code == Some(0) && run.stdout.contains(reply),
            "the CLI did not print the mock's reply {reply:?}\n{}",
            self.report(&run)
        );
        run
    }

    /// The one request whose path contains `fragment` and that reached the
    /// mock through the app's upstream (not the CLI's side traffic).
    pub fn model_call(&self, fragment: &str) -> Seen {
        let calls: Vec<Seen> = self
            .mock
            .seen_at(fragment)
            .into_iter()
            .filter(|s| !CLI_AUTH_HOSTS.contains(&s.host.as_str()))
            .collect();
        assert!(
            !calls.is_empty(),
            "no request to …{fragment} reached the mock; it saw:\n{}",
            self.mock.log()
        );
        calls.into_iter().last().expect("one call")
    }

    /// Asserts that `seen` was served where it should be: with
    /// [`Upstream::Official`], over TLS for `host` at a path starting with
    /// `path`, after the daemon asked its proxy for `host:443`; and that the
    /// daemon never asked for a host of `never`.
    pub fn assert_served_by(&self, seen: &Seen, host: &str, path: &str, never: &[&str]) {
        let targets = self.official.targets();
        match self.upstream {
            Upstream::Official => {
                assert!(
                    seen.tls && seen.host == host && seen.path.starts_with(path),
                    "{} (tls {}) was not served at {host}{path}…",
                    seen.line(),
                    seen.tls
                );
                let connect = format!("{host}:443");
                assert!(
                    targets.contains(&connect),
                    "the daemon never asked its proxy for {connect}: {targets:?}"
                );
            }
            Upstream::Provider => assert!(!seen.tls, "{} came over TLS", seen.line()),
        }
        for host in never {
            let connect = format!("{host}:443");
            assert!(
                !targets.contains(&connect),
                "the daemon asked its proxy for {connect}: {targets:?}"
            );
        }
    }

    /// With [`Upstream::Official`]: `status` names `route` (`chatgpt`,
    /// `code-assist`, …) as the route the official provider took for the
    /// app's last request (summaries arrive with the worker's heartbeat).
    pub fn assert_route(&self, route: &str) {
        if self.upstream != Upstream::Official {
            return;
        }
        wait_for(
            &format!("status to name the route {route:?}"),
            Duration::from_secs(10),
            || self.home.app(self.app)["route"] == route,
        );
    }

    /// `switchyard doctor` from the same shell and folder as the CLI ran in:
    /// it must agree that the app's login goes through the proxy (no FAIL
    /// line for the app, exit 0) and name the login `mode`.
    pub fn assert_doctor_agrees(&self, shell: &[(&str, &str)], mode: &str) {
        let mut cmd = self.home.command(&["doctor"]);
        login_shell(&mut cmd, shell);
        cmd.current_dir(self.user().join("work"));
        let out = self.home.run_command(cmd);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let start = text.find(&format!("\n{} ", self.app)).unwrap_or(0);
        let section = text[start..].split("\n\n").next().unwrap_or("");
        assert!(
            out.status.code() == Some(0) && !section.contains("FAIL") && section.contains(mode),
            "doctor disagrees (expected no problem and the login {mode:?}):\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Everything that is useful when a test fails.
    pub fn report(&self, run: &cli::Run) -> String {
        format!(
            "{}\n--- mock saw\n{}--- daemon's CONNECTs: {:?}\n--- CLI's side traffic: {:?}\n--- daemon log (tail)\n{}",
            run.output(),
            self.mock.log(),
            self.official.targets(),
            self.side.targets(),
            self.daemon_log(),
        )
    }

    fn daemon_log(&self) -> String {
        let dir = self.home.path().join("logs");
        let text = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect::<Vec<_>>()
            .join("");
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}
