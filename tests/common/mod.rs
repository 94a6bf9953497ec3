//! Shared helpers for the integration tests: each test gets its own
//! `SWITCHYARD_HOME` in a temp dir and drives the real `switchyard` binary.
//! Every wait has a deadline; nothing sleeps blindly.

#![allow(dead_code)]

pub mod canned;
pub mod upstream;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// A private home for one test; stops whatever daemon it started on drop.
pub struct Home {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Home {
    pub fn new() -> Home {
        // Short paths: a Unix socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("sy")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Home {
            dir,
            env: Vec::new(),
        }
    }

    /// A home whose user directory — `$HOME`, where the CLIs keep their
    /// configuration files — is `user/` inside it, with every variable that
    /// could point those files (or the CLIs) elsewhere cleared.
    pub fn with_user_home() -> Home {
        let home = Home::new();
        let user = home.user();
        std::fs::create_dir_all(&user).expect("user home");
        let user = user.to_str().expect("a UTF-8 temp path").to_owned();
        home.env("HOME", &user)
            .env("CLAUDE_CONFIG_DIR", "")
            .env("CODEX_HOME", "")
            .env("GEMINI_CLI_HOME", "")
            .env("GEMINI_API_KEY", "")
            .env("GOOGLE_GENAI_USE_GCA", "")
            .env("GOOGLE_GENAI_USE_VERTEXAI", "")
            .env("XDG_CONFIG_HOME", "")
            .env("ANTHROPIC_BASE_URL", "")
            .env("OPENAI_BASE_URL", "")
            .env("GOOGLE_GEMINI_BASE_URL", "")
    }

    /// The fake `$HOME` of [`Home::with_user_home`].
    pub fn user(&self) -> PathBuf {
        self.path().join("user")
    }

    /// Adds an environment variable to every command (and so to the daemon).
    pub fn env(mut self, key: &str, value: &str) -> Home {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join("run/switchyard.sock")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("SWITCHYARD_HOME", self.path())
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a command to completion (with a deadline).
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_command(self.command(args))
    }

    /// Runs `cmd` (from [`Home::command`], perhaps with more environment or
    /// another working directory) to completion, with a deadline.
    pub fn run_command(&self, mut cmd: Command) -> Output {
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchyard");
        // Read both pipes while it runs: output beyond a pipe's buffer (64 KiB)
        // would otherwise block it forever.
        let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut out);
                }
                out
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return Output {
                    status,
                    stdout: stdout.join().expect("stdout reader"),
                    stderr: stderr.join().expect("stderr reader"),
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("switchyard {args:?} did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "switchyard {args:?} failed with {}:\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn start(&self) {
        self.ok(&["daemon", "start"]);
    }

    /// A foreground daemon as our own child.
    pub fn spawn_foreground(&self) -> Child {
        let child = self
            .command(&["--daemon"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        // Answering, not just alive: only an answering daemon reports its version.
        wait_for("the daemon to answer", Duration::from_secs(10), || {
            self.status()["daemon"]["version"].is_string()
        });
        child
    }

    pub fn status(&self) -> Value {
        let out = self.run(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
            panic!(
                "status --json is not JSON ({err}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn app(&self, app: &str) -> Value {
        let status = self.status();
        status["apps"]
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["app"] == app).cloned())
            .unwrap_or_else(|| panic!("no app {app} in {status}"))
    }

    pub fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.path().join("run/daemon.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Points `app` at a free port and adds `upstream` as its first provider.
    pub fn route(&self, app: &str, upstream: u16) -> u16 {
        let port = free_port();
        self.ok(&["port", app, &port.to_string()]);
        self.ok(&[
            "provider",
            "add",
            app,
            "mock",
            "--base-url",
            &format!("http://127.0.0.1:{upstream}"),
            "--priority",
            "-10",
        ]);
        port
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon_pid() {
            kill(pid, libc_sig::SIGKILL);
        }
        // Workers die with their daemon (control channel EOF, parent-death signal).
    }
}

pub mod libc_sig {
    pub use nix::sys::signal::Signal::*;
}

pub fn kill(pid: u32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
}

/// Whether `pid` is alive (and not a zombie).
pub fn alive(pid: u32) -> bool {
    switchyard_daemon::process_info::alive(pid)
}

/// Polls `cond` until it holds, panicking with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port the OS just handed out and released.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One blocking HTTP/1.1 request to 127.0.0.1:`port`; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Variables of a developer's shell by which the CLIs choose their login
/// (and so takeover and `doctor` their verdicts).
pub const LOGIN_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_GCA",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_ACCESS_TOKEN",
    "CLOUD_SHELL",
    "GEMINI_CLI_USE_COMPUTE_ADC",
    "GEMINI_CLI_HOME",
    "GOOGLE_VERTEX_BASE_URL",
    "CODE_ASSIST_ENDPOINT",
];

/// `cmd` in a shell with none of [`LOGIN_VARS`] but `env`.
pub fn login_shell(cmd: &mut Command, env: &[(&str, &str)]) {
    for name in LOGIN_VARS {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
}

/// Writes supervision overrides for `app` straight into a stopped daemon's
/// store (the `apps.policy` column), as an operator would.
pub fn set_policy(home: &Home, app: &str, json: &str) {
    let db = rusqlite::Connection::open(home.path().join("switchyard.db")).expect("open db");
    db.execute("UPDATE apps SET policy = ?1 WHERE app = ?2", [json, app])
        .expect("update policy");
}

/// The worker pid of `app` once it is running, waiting up to `limit`.
pub fn running_pid(home: &Home, app: &str, other_than: Option<u64>, limit: Duration) -> u64 {
    let mut pid = 0;
    wait_for(
        &format!("{app} running (not pid {other_than:?})"),
        limit,
        || {
            let a = home.app(app);
            pid = a["pid"].as_u64().unwrap_or(0);
            a["state"] == "running" && pid != 0 && Some(pid) != other_than
        },
    );
    pid
}
