//! Live state through the real daemon: every transition is broadcast exactly
//! once, a subscriber's fold equals the daemon's snapshot, `--since` resumes
//! from the journal, slow subscribers are resynced instead of slowing others,
//! and `events --json` is NDJSON without secrets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use common::{Home, free_port};
use proptest::prelude::*;
use switchyard_daemon::apps::App;
use switchyard_daemon::client::{Client, Subscription};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::state::{EventKind, Snapshot, apply};
use switchyard_daemon::protocol::{Reply, Request, ServerMessage};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn paths(home: &Home) -> Paths {
    Paths::under(home.path().to_path_buf())
}

async fn status(paths: &Paths) -> Snapshot {
    let mut client = Client::connect(paths, "test").await.unwrap();
    match client.request(Request::Status).await.unwrap() {
        Reply::Status(s) => *s,
        other => panic!("{other:?}"),
    }
}

/// Folds events into `view` until it reaches `seq`.
async fn fold_until(sub: &mut Subscription, view: &mut Snapshot, seq: u64) {
    while view.seq < seq {
        let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("events keep coming")
            .expect("subscription open")
            .unwrap();
        match msg {
            ServerMessage::Event(event) => {
                assert_eq!(event.seq, view.seq + 1, "gapless seqs");
                apply(view, &event);
            }
            ServerMessage::Snapshot(s) => *view = *s,
            other => panic!("{other:?}"),
        }
    }
}

async fn subscribe(paths: &Paths) -> (Subscription, Snapshot) {
    let client = Client::connect(paths, "test").await.unwrap();
    let mut sub = client.subscribe(None).await.unwrap();
    match sub.next().await.unwrap().unwrap() {
        ServerMessage::Snapshot(s) => (sub, *s),
        other => panic!("first message must be the snapshot: {other:?}"),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Enable(App),
    Takeover(App),
    Disable(App),
    Port(App),
    Provider(App),
    /// Replace the first provider in place.
    Replace(App),
    /// Remove the app's last provider.
    Remove(App),
    /// Put the app's last provider first.
    Use(App),
}

fn op() -> impl Strategy<Value = Op> {
    let app = prop_oneof![Just(App::Claude), Just(App::Codex), Just(App::Gemini)];
    (0..8u8, app).prop_map(|(kind, app)| match kind {
        0 => Op::Enable(app),
        1 => Op::Takeover(app),
        2 => Op::Disable(app),
        3 => Op::Port(app),
        4 => Op::Provider(app),
        5 => Op::Replace(app),
        6 => Op::Remove(app),
        _ => Op::Use(app),
    })
}

/// The app's providers as a fresh `provider list` gives them, in order.
async fn listed(paths: &Paths, app: App) -> Vec<switchyard_daemon::protocol::ProviderInfo> {
    let mut client = Client::connect(paths, "test").await.unwrap();
    match client
        .request(Request::ProviderList { app: Some(app) })
        .await
        .unwrap()
    {
        Reply::Providers(list) => list,
        other => panic!("{other:?}"),
    }
}

/// Issue 16, bug 1: every fact a client shows is in the snapshot and changes
/// only through events, providers (order, credential kind) and the takeover
/// included: after any mix of requests the folded state equals a fresh
/// snapshot, and the snapshot's providers equal a fresh `provider list`.
#[test]
fn folding_the_events_reproduces_the_daemon_snapshot() {
    let home = Home::with_user_home();
    home.start();
    let paths = paths(&home);
    let rt = runtime();
    let mut config = ProptestConfig::with_cases(6);
    config.failure_persistence = None;
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..8))| {
        rt.block_on(async {
            let (mut sub, mut view) = subscribe(&paths).await;
            let mut client = Client::connect(&paths, "test").await.unwrap();
            for op in &ops {
                let spec = |app: App, name: String, replace| switchyard_daemon::protocol::ProviderSpec {
                    auth: switchyard_daemon::protocol::AuthSpec::KeyEnv("SOME_KEY".into()),
                    replace,
                    ..switchyard_daemon::protocol::ProviderSpec::new(app, name, format!("http://127.0.0.1:{}", free_port()))
                };
                let names: Vec<String> = status(&paths).await.apps.iter()
                    .find(|s| Some(s.app) == op_app(op))
                    .map(|s| s.providers.iter().map(|p| p.name.clone()).collect())
                    .unwrap_or_default();
                let request = match op {
                    Op::Enable(app) => Request::Enable { app: *app, takeover: false, env: Default::default() },
                    Op::Takeover(app) => Request::Enable { app: *app, takeover: true, env: home_env(&home) },
                    Op::Replace(app) => match names.first() {
                        Some(name) => Request::ProviderAdd(spec(*app, name.clone(), true)),
                        None => continue,
                    },
                    Op::Remove(app) => match names.last() {
                        Some(name) => Request::ProviderRemove { app: *app, name: name.clone() },
                        None => continue,
                    },
                    Op::Use(app) => match names.last() {
                        Some(name) => Request::ProviderUse { app: *app, name: name.clone() },
                        None => continue,
                    },
                    Op::Disable(app) => Request::Disable { app: *app },
                    Op::Port(app) => Request::SetPort { app: *app, port: free_port() },
                    Op::Provider(app) => Request::ProviderAdd(switchyard_daemon::protocol::ProviderSpec {
                        priority: Some(-(free_port() as i64)),
                        ..switchyard_daemon::protocol::ProviderSpec::new(*app, format!("p{}", free_port()), "http://127.0.0.1:9")
                    }),
                };
                // Errors (a port race, say) are fine: state must still agree.
                let _ = client.request(request).await;
            }
            let truth = status(&paths).await;
            fold_until(&mut sub, &mut view, truth.seq).await;
            assert_eq!(view, truth);
            for state in &truth.apps {
                assert_eq!(state.providers, listed(&paths, state.app).await, "{}", state.app);
            }
        });
    });
}

fn op_app(op: &Op) -> Option<App> {
    match op {
        Op::Replace(app) | Op::Remove(app) | Op::Use(app) => Some(*app),
        _ => None,
    }
}

/// The caller's environment of a user whose home is the test's own.
fn home_env(home: &Home) -> switchyard_daemon::protocol::CallerEnv {
    use std::os::unix::ffi::OsStrExt;
    switchyard_daemon::protocol::CallerEnv {
        vars: vec![(
            "HOME".to_owned(),
            home.user().as_os_str().as_bytes().to_vec(),
        )],
    }
}

#[test]
fn many_clients_toggling_see_every_transition_exactly_once() {
    let home = Home::new();
    home.start();
    let paths = paths(&home);
    let rt = runtime();
    for app in ["claude", "codex"] {
        home.ok(&["port", app, &free_port().to_string()]);
    }
    let final_view = rt.block_on(async {
        let (mut sub, mut view) = subscribe(&paths).await;
        let start_seq = view.seq;
        let clients: Vec<_> = (0..10)
            .map(|i| {
                let paths = paths.clone();
                tokio::spawn(async move {
                    let mut client = Client::connect(&paths, "toggler").await.unwrap();
                    for n in 0..100 {
                        let app = if (i + n) % 2 == 0 {
                            App::Claude
                        } else {
                            App::Codex
                        };
                        let request = if (n / 2 + i) % 2 == 0 {
                            Request::Enable {
                                app,
                                takeover: false,
                                env: Default::default(),
                            }
                        } else {
                            Request::Disable { app }
                        };
                        // A concurrent disable may fail a pending enable: that is a real outcome.
                        let _ = client.request(request).await;
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        let truth = status(&paths).await;
        let mut toggles = Vec::new();
        while view.seq < truth.seq {
            match sub.next().await.unwrap().unwrap() {
                ServerMessage::Event(event) => {
                    assert_eq!(event.seq, view.seq + 1, "no event missed or repeated");
                    match &event.kind {
                        EventKind::AppEnabled { app, .. } => toggles.push((*app, true)),
                        EventKind::AppDisabled { app } => toggles.push((*app, false)),
                        _ => {}
                    }
                    apply(&mut view, &event);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(view.seq > start_seq);
        assert_eq!(view, truth, "the fold equals the daemon's state");
        // Every broadcast enable/disable is a real transition: they alternate per app.
        for app in [App::Claude, App::Codex] {
            let states: Vec<bool> = toggles
                .iter()
                .filter(|(a, _)| *a == app)
                .map(|(_, s)| *s)
                .collect();
            assert!(!states.is_empty());
            assert!(states.windows(2).all(|w| w[0] != w[1]), "{app}: {states:?}");
        }
        truth
    });
    // The final state matches the store and the live processes.
    let db = rusqlite::Connection::open(home.path().join("switchyard.db")).unwrap();
    for app in &final_view.apps {
        let enabled: bool = db
            .query_row(
                "SELECT enabled FROM apps WHERE app = ?1",
                [app.app.name()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(enabled, app.enabled, "{}", app.app);
        if app.enabled {
            let pid = app.pid.expect("an enabled app has a worker");
            assert!(common::alive(pid));
        } else {
            assert_eq!(app.pid, None);
        }
        let open: i64 = db
            .query_row(
                "SELECT count(*) FROM runs WHERE app = ?1 AND ended_at_ms IS NULL",
                [app.app.name()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(open, i64::from(app.enabled), "{}: open runs", app.app);
    }
}

#[test]
fn a_subscriber_that_stops_reading_is_resynced_and_delays_nobody() {
    let home = Home::new();
    home.start();
    let paths = paths(&home);
    let rt = runtime();
    rt.block_on(async {
        let (mut stalled, _) = subscribe(&paths).await;
        let (mut live, mut view) = subscribe(&paths).await;
        let mut client = Client::connect(&paths, "test").await.unwrap();
        // Far more events than the subscriber buffer holds.
        let n = switchyard_daemon::core::SUBSCRIBER_BUFFER as u16 + 1000;
        let began = std::time::Instant::now();
        for i in 0..n {
            client
                .request(Request::SetPort {
                    app: App::Gemini,
                    port: 30_000 + (i % 2),
                })
                .await
                .unwrap();
        }
        let elapsed = began.elapsed();
        let truth = status(&paths).await;
        fold_until(&mut live, &mut view, truth.seq).await;
        assert_eq!(view, truth);
        assert!(
            elapsed < Duration::from_secs(60),
            "requests were not held up ({elapsed:?})"
        );
        // The stalled one, reading at last, is told to resync with a snapshot.
        let mut resynced = false;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), stalled.next()).await
        {
            if let ServerMessage::Snapshot(s) = msg.unwrap() {
                assert!(s.seq > 0);
                resynced = true;
                break;
            }
        }
        assert!(resynced, "a lagging subscriber gets a fresh snapshot");
    });
}

#[test]
fn events_json_is_ndjson_resumable_and_secret_free() {
    let home = Home::new();
    home.start();
    let secret = "sk-test-SECRET-0123456789";
    let mut add = home
        .command(&[
            "provider",
            "add",
            "claude",
            "vault",
            "--base-url",
            "http://127.0.0.1:9",
            "--key-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success());
    home.ok(&["port", "gemini", &free_port().to_string()]);
    home.ok(&["port", "gemini", &free_port().to_string()]);

    let mut events = home
        .command(&["events", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(
        first["epoch"].is_u64() && first["apps"].is_array(),
        "{first}"
    );
    let seq = first["seq"].as_u64().unwrap();
    home.ok(&["port", "codex", &free_port().to_string()]);
    let next: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(next["seq"], seq + 1);
    assert_eq!(next["kind"]["port_changed"]["app"], "codex");
    let _ = events.kill();
    let _ = events.wait();

    // Resume: the journal replays everything after the given seq, in order.
    let mut resumed = home
        .command(&["events", "--json", "--since", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(resumed.stdout.take().unwrap()).lines();
    for expected in 2..=seq + 1 {
        let line = lines.next().unwrap().unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["seq"], expected, "{line}");
    }
    let _ = resumed.kill();
    let _ = resumed.wait();

    // The key is nowhere clients or logs can see it.
    let mut seen = String::new();
    seen += &home.ok(&["status", "--json"]);
    seen += &home.ok(&["provider", "list", "--json"]);
    home.ok(&["daemon", "stop"]);
    seen += &home.ok(&["logs"]);
    assert!(seen.contains("stored"), "the provider is listed as stored");
    assert!(!seen.contains(secret), "the key leaked");
}

/// Issue 16, bug 10: `events` exits non-zero when the daemon ends the
/// stream, and refuses a `--since` past the newest event instead of quietly
/// printing the state.
#[test]
fn events_says_when_the_stream_ends_and_refuses_a_future_since() {
    let home = Home::new();
    home.start();
    let out = home.run(&["events", "--since", "999999"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("past the newest event"), "{err}");
    assert!(out.stdout.is_empty(), "nothing printed as if it were state");

    let mut events = home
        .command(&["events", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    lines.next().unwrap().unwrap(); // the snapshot: subscribed
    home.ok(&["daemon", "stop"]);
    for _ in lines.by_ref() {}
    let status = events.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "a stream the daemon ended is not a success"
    );
}
