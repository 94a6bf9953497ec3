//! Running the pinned CLIs (`tests/e2e/node_modules/.bin/…`, installed by
//! `npm ci --prefix tests/e2e`) non-interactively, in a clean environment, in
//! their own process group so that a deadline kills them and every child they
//! started (Gemini CLI relaunches itself; Codex's launcher runs the native
//! binary).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one CLI run may take.
pub const CLI_DEADLINE: Duration = Duration::from_secs(90);

/// Where `npm ci --prefix tests/e2e` puts `name`'s launcher.
pub fn bin(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/node_modules/.bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: install the pinned CLIs with `npm ci --prefix tests/e2e`",
        path.display()
    );
    path
}

/// A command for `name` with nothing of this shell's environment but `PATH`
/// (which must find `node`): the caller adds exactly what the test needs.
pub fn command(name: &str) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("TERM", "dumb")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    cmd
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// Both streams, labelled, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "exit {:?} after {:.1?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion within [`CLI_DEADLINE`]; on the deadline the
/// whole process group is killed and the run reports what it had printed.
pub fn run(mut cmd: Command) -> Run {
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn the CLI");
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the CLI") {
            break Some(status);
        }
        if start.elapsed() > CLI_DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the CLI left behind (a relaunched child, a helper) goes with it,
    // which also closes the pipes the readers wait on.
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let mut stderr = err.join().unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!("\n[killed: no exit within {CLI_DEADLINE:?}]"));
    }
    Run {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap_or_default(),
        stderr,
        took: start.elapsed(),
    }
}
