//! The held port under fire: continuous load on a proxied app while its worker
//! is killed with SIGKILL 20 times. The daemon's copy of the listener keeps the
//! port bound, so no request is ever refused; requests in flight at a kill fail
//! cleanly and every other request succeeds. Prints kill-to-first-success
//! latencies (p50/p99) for the closing note; asserts only behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::upstream::MockUpstream;
use common::{Home, http, kill, libc_sig, running_pid, set_policy};

const KILLS: usize = 20;
const CLIENTS: usize = 4;

#[test]
fn twenty_kills_under_load_refuse_no_connection() {
    let upstream = MockUpstream::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    home.ok(&["daemon", "stop"]);
    // Kills here are deliberate, so lift the crash-loop guard and keep the
    // backoff short (both are per-app settings).
    set_policy(
        &home,
        "claude",
        r#"{"park_after": 1000, "initial_delay_ms": 5, "max_delay_ms": 20}"#,
    );
    home.start();
    home.ok(&["enable", "claude"]);

    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let (successes_tx, successes) = mpsc::channel::<Instant>();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, refused, failed, ok, tx) = (
                stop.clone(),
                refused.clone(),
                failed.clone(),
                ok.clone(),
                successes_tx.clone(),
            );
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match http(port, "POST", "/v1/messages", r#"{"model":"m"}"#) {
                        Ok((200, _)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            let _ = tx.send(Instant::now());
                        }
                        Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        // In flight at a kill: a reset or an early EOF, never a hang.
                        Ok(_) | Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    drop(successes_tx);

    let mut recoveries = Vec::with_capacity(KILLS);
    let mut pid = running_pid(&home, "claude", None, Duration::from_secs(10));
    for _ in 0..KILLS {
        while successes.try_recv().is_ok() {}
        let killed_at = Instant::now();
        kill(pid as u32, libc_sig::SIGKILL);
        // The first success that started after the kill.
        let first = loop {
            let at = successes
                .recv_timeout(Duration::from_secs(10))
                .expect("a request succeeds within 10 s of a kill");
            if at > killed_at + Duration::from_millis(1) {
                break at;
            }
        };
        recoveries.push(first - killed_at);
        pid = running_pid(&home, "claude", Some(pid), Duration::from_secs(10));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }

    recoveries.sort();
    let pct = |p: usize| recoveries[(recoveries.len() * p / 100).min(recoveries.len() - 1)];
    println!(
        "held port: {KILLS} kills, {} ok, {} failed in flight, {} refused; kill-to-first-success p50 {:?} p99 {:?}",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        pct(50),
        pct(99)
    );
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "no connection is ever refused"
    );
    assert!(
        failed.load(Ordering::Relaxed) <= (KILLS * CLIENTS) as u64,
        "only requests in flight at a kill fail"
    );
    assert_eq!(home.app("claude")["restarts"], KILLS as u64);
}
