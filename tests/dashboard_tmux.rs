//! The dashboard end to end, in a real terminal (tmux): attach to a daemon,
//! press Space to enable an app, see it running on screen and in
//! `status --json`, press `q`, and check that the daemon and its worker keep
//! serving requests after the dashboard has gone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::process::Command;
use std::time::Duration;

use common::upstream::MockUpstream;
use common::{BIN, Home, http, wait_for};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "sy"]).stdout).into_owned()
    }

    fn session_alive(&self) -> bool {
        self.cmd(&["has-session", "-t", "sy"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn space_enables_q_detaches_and_the_daemon_keeps_serving() {
    if !tmux_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install tmux (.ci/run does)"
        );
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);

    let tmux = Tmux {
        socket: format!("sytest{}", std::process::id()),
    };
    let shell = format!(
        "env SWITCHYARD_HOME={} TERM=xterm-256color {BIN}; sleep 30",
        home.path().display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "sy",
        "-x",
        "120",
        "-y",
        "40",
        &shell,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    wait_for(
        "the dashboard to draw the apps",
        Duration::from_secs(20),
        || {
            let s = tmux.screen();
            s.contains("claude") && s.contains("codex") && s.contains(&port.to_string())
        },
    );
    // The first row (claude) is selected: Space enables it.
    tmux.cmd(&["send-keys", "-t", "sy", "Space"]);
    wait_for(
        "claude running in status --json",
        Duration::from_secs(20),
        || home.app("claude")["state"] == "running",
    );
    wait_for("claude running on screen", Duration::from_secs(10), || {
        tmux.screen()
            .lines()
            .any(|l| l.contains("claude") && l.contains("running"))
    });

    // The inspector: a request, Tab to the traffic pane, Enter.
    let (status, body) = http(port, "POST", "/v1/messages", "{}").expect("a request");
    assert_eq!(status, 200, "{body}");
    wait_for(
        "the request in the traffic pane",
        Duration::from_secs(10),
        || tmux.screen().contains("/v1/messages"),
    );
    tmux.cmd(&["send-keys", "-t", "sy", "Tab", "Tab", "Enter"]);
    wait_for("the inspector", Duration::from_secs(10), || {
        let s = tmux.screen();
        s.contains("Request") && s.contains("timings") && s.contains("first byte")
    });
    tmux.cmd(&["send-keys", "-t", "sy", "Escape", "BTab", "BTab"]);
    wait_for("the inspector to close", Duration::from_secs(10), || {
        !tmux.screen().contains("timings")
    });

    // The usage view: today's request is in it.
    tmux.cmd(&["send-keys", "-t", "sy", "u"]);
    wait_for(
        "the usage view with a total",
        Duration::from_secs(10),
        || {
            let s = tmux.screen();
            s.contains("Usage · last 7 days") && s.contains("total")
        },
    );
    tmux.cmd(&["send-keys", "-t", "sy", "u"]);
    wait_for("the usage view to close", Duration::from_secs(10), || {
        !tmux.screen().contains("Usage · last 7 days")
    });

    // The log pane: the log's end at once, then live lines (a restart's).
    tmux.cmd(&["send-keys", "-t", "sy", "l"]);
    wait_for(
        "the log pane with the log's end",
        Duration::from_secs(10),
        || {
            let s = tmux.screen();
            s.contains("Logs · all apps") && s.contains("daemon ready")
        },
    );
    home.ok(&["restart", "claude"]);
    wait_for(
        "a live line of the restart",
        Duration::from_secs(10),
        || tmux.screen().contains("draining worker"),
    );
    tmux.cmd(&["send-keys", "-t", "sy", "l"]);
    wait_for("the log pane to close", Duration::from_secs(10), || {
        let s = tmux.screen();
        !s.contains("Logs · all apps") && s.contains("Events")
    });
    wait_for("the restarted worker", Duration::from_secs(20), || {
        home.app("claude")["state"] == "running"
    });
    let pid = home.app("claude")["pid"].as_u64().unwrap();

    tmux.cmd(&["send-keys", "-t", "sy", "q"]);
    wait_for(
        "the dashboard to say it detached",
        Duration::from_secs(10),
        || tmux.screen().contains("detached"),
    );

    // The daemon and the same worker carry on serving.
    let app = home.app("claude");
    assert_eq!(app["state"], "running");
    assert_eq!(app["pid"].as_u64(), Some(pid));
    let (status, body) = http(port, "POST", "/v1/messages", "{}").expect("request after detach");
    assert_eq!(status, 200, "{body}");
    assert!(tmux.session_alive());
}

/// Issue 16, bug 7: a daemon the dashboard started is the dashboard's child;
/// once it stops it is reaped, not left a zombie while the dashboard runs.
#[test]
fn a_daemon_the_dashboard_started_is_reaped_when_it_stops() {
    if !tmux_available() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tmux");
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let home = Home::new();
    let tmux = Tmux {
        socket: format!("syreap{}", std::process::id()),
    };
    let shell = format!(
        "env SWITCHYARD_HOME={} TERM=xterm-256color {BIN}; sleep 30",
        home.path().display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "sy",
        "-x",
        "120",
        "-y",
        "35",
        &shell,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "the dashboard to start a daemon",
        Duration::from_secs(20),
        || home.daemon_pid().is_some() && tmux.screen().contains("claude"),
    );
    let pid = home.daemon_pid().unwrap();
    home.ok(&["daemon", "stop"]);
    // Gone for good, not even a zombie: signal 0 reaches a zombie until its
    // parent (the dashboard) reaps it, and fails with ESRCH after.
    wait_for(
        "the stopped daemon to be reaped",
        Duration::from_secs(10),
        || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err(),
    );
    assert!(tmux.session_alive(), "the dashboard keeps running");
    tmux.cmd(&["send-keys", "-t", "sy", "q"]);
}
