//! Non-key messages on the model: daemon events (applied or only logged),
//! req/s from traffic counters, action outcomes, and starting the daemon.

use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::Request;
use switchyard_daemon::protocol::state::{EventKind, Health, Traffic, WorkerState};

use super::*;
use crate::model::{Link, Severity};

#[test]
fn outcomes_and_errors_reach_the_status_line() {
    let mut model = attached(snapshot(all_running()));
    let request = Request::SetPort {
        app: App::Gemini,
        port: 15721,
    };
    let result = Err("port 15721 is in use by claude".to_owned());
    update(&mut model, Msg::Reply { request, result });
    let status = model.status.clone();
    assert_eq!(
        status.map(|s| (s.severity, s.text)),
        Some((
            Severity::Bad,
            "move gemini to port 15721 failed: port 15721 is in use by claude".to_owned()
        ))
    );
    update(
        &mut model,
        Msg::Tick {
            now_ms: NOW + 20_000,
        },
    );
    assert!(model.status.is_none(), "old status fades");
}

#[test]
fn live_events_are_applied_and_history_only_logged() {
    let mut model = attached(snapshot(all_running()));
    // Journal replay (seq <= snapshot seq): shown, not applied again.
    update(
        &mut model,
        event(99, NOW - 5_000, EventKind::AppDisabled { app: App::Claude }),
    );
    assert!(model.apps()[0].enabled);
    assert_eq!(model.log.len(), 1);
    // Live: folded with the daemon's reducer.
    update(
        &mut model,
        event(101, NOW + 10, EventKind::AppDisabled { app: App::Claude }),
    );
    assert!(!model.apps()[0].enabled);
    update(
        &mut model,
        event(
            102,
            NOW + 20,
            EventKind::HealthChanged {
                app: App::Codex,
                health: Health::Degraded,
            },
        ),
    );
    assert_eq!(model.apps()[1].health, Health::Degraded);
    assert_eq!(model.now_ms, NOW + 20, "events move the clock forward");
    assert_eq!(model.log.len(), 3);

    // Re-attach to the same run: the replay does not double the log.
    update(&mut model, lost());
    let mut again = snapshot(all_running());
    again.seq = 102;
    update(&mut model, Msg::Conn(ConnMsg::Attached(Box::new(again))));
    update(
        &mut model,
        event(101, NOW + 10, EventKind::AppDisabled { app: App::Claude }),
    );
    update(
        &mut model,
        event(
            102,
            NOW + 20,
            EventKind::HealthChanged {
                app: App::Codex,
                health: Health::Degraded,
            },
        ),
    );
    assert_eq!(model.log.len(), 3);
    assert_eq!(model.link, Link::Connected);

    // A new daemon run is marked in the log.
    let mut fresh = snapshot(vec![off(App::Claude)]);
    fresh.epoch = EPOCH + 1;
    fresh.seq = 0;
    update(&mut model, Msg::Conn(ConnMsg::Attached(Box::new(fresh))));
    assert!(
        model
            .log
            .back()
            .is_some_and(|e| e.text.contains("new daemon run"))
    );
    assert_eq!(model.selected, 0);
    update(
        &mut model,
        event(1, NOW + 30, EventKind::WorkerStarting { app: App::Claude }),
    );
    assert_eq!(model.apps()[0].state, WorkerState::Starting);
}

#[test]
fn req_per_second_comes_from_traffic_counter_deltas() {
    let mut model = attached(snapshot(all_running()));
    let traffic = |seq, requests| {
        event(
            SEQ + seq,
            NOW + 100 * seq,
            EventKind::Traffic {
                app: App::Claude,
                traffic: Traffic {
                    requests,
                    ..Traffic::default()
                },
            },
        )
    };
    // The snapshot said 1204 requests; 20 more arrive within the next second.
    update(&mut model, traffic(1, 1214));
    update(&mut model, traffic(2, 1224));
    update(
        &mut model,
        Msg::Tick {
            now_ms: NOW + 1_000,
        },
    );
    assert_eq!(model.rate(App::Claude).current(), 20.0);
    assert_eq!(model.rate(App::Codex).current(), 0.0);
    // A restarted worker counts from zero again.
    update(&mut model, traffic(3, 5));
    update(
        &mut model,
        Msg::Tick {
            now_ms: NOW + 2_000,
        },
    );
    assert_eq!(model.rate(App::Claude).current(), 5.0);
    update(
        &mut model,
        Msg::Tick {
            now_ms: NOW + 4_000,
        },
    );
    assert_eq!(model.rate(App::Claude).current(), 0.0);
    for s in 0..100 {
        update(
            &mut model,
            Msg::Tick {
                now_ms: NOW + 5_000 + s * 1000,
            },
        );
    }
    assert_eq!(
        model.rate(App::Claude).samples.len(),
        crate::model::RATE_SAMPLES
    );
    assert!(model.log.is_empty(), "traffic counters are not logged");
}

#[test]
fn requests_go_to_the_traffic_pane() {
    let mut model = attached(snapshot(all_running()));
    update(
        &mut model,
        request(101, NOW, App::Claude, "/v1/messages", 200, 1200),
    );
    assert_eq!(model.traffic.len(), 1);
    assert!(model.log.is_empty());
}

#[test]
fn starting_and_start_failures_are_shown() {
    let mut model = Model::new(NOW, false);
    assert_eq!(model.link, Link::Connecting);
    update(&mut model, Msg::Conn(ConnMsg::Starting));
    assert_eq!(model.link, Link::Starting);
    update(
        &mut model,
        Msg::Conn(ConnMsg::Started {
            pid: 77,
            elapsed_ms: 180,
        }),
    );
    assert_eq!(status_text(&model), "started the daemon (pid 77) in 180ms");
    update(
        &mut model,
        Msg::Conn(ConnMsg::StartFailed("boom".to_owned())),
    );
    update(&mut model, lost());
    let banner = crate::view::banner(&model);
    assert!(banner.is_some_and(|(text, _)| text.contains("could not start the daemon: boom")));
}

/// Issue 16, bug 1: a provider added or removed while attached shows at once,
/// from the event alone (no re-attach, no list request).
#[test]
fn the_providers_panel_follows_provider_events() {
    let mut model = attached(snapshot(all_running()));
    let mut list = model.providers_of(App::Claude).to_vec();
    list.retain(|p| p.name != "anthropic");
    list.push(switchyard_daemon::protocol::ProviderInfo {
        name: "tmp2".to_owned(),
        ..list[0].clone()
    });
    let action = update(
        &mut model,
        event(
            SEQ + 1,
            NOW,
            EventKind::ProvidersChanged {
                app: App::Claude,
                providers: list,
            },
        ),
    );
    assert!(action.is_none(), "{action:?}");
    let names: Vec<_> = model
        .providers_of(App::Claude)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["backup", "tmp2"]);
    let screen = format!("{:?}", render(&model, 120, 35).backend());
    assert!(screen.contains("    tmp2"), "{screen}");
}

/// Issue 16, bug 6: while the link is lost, uptimes stop (nobody knows the
/// daemon still runs), and `q` does not claim that the daemon keeps serving.
#[test]
fn a_lost_link_freezes_uptimes_and_q_says_what_is_known() {
    let mut model = attached(snapshot(all_running()));
    update(&mut model, lost());
    let header = |model: &Model| {
        let screen = format!("{:?}", render(model, 120, 35).backend());
        let at = screen.find("· up ").expect("the header's uptime");
        screen[at..at + 12].to_owned()
    };
    let before = header(&model);
    assert!(before.contains("up 2h 05m"), "{before}");
    update(
        &mut model,
        Msg::Tick {
            now_ms: NOW + 600_000,
        },
    );
    assert_eq!(header(&model), before, "the uptime stopped");

    let Some(Action::Quit(exit)) = update(&mut model, key('q')) else {
        panic!("q quits");
    };
    let text = exit.message();
    assert!(!text.contains("keeps serving"), "{text}");
    assert!(text.contains("was not answering"), "{text}");

    // Once reattached, the clock runs again.
    update(
        &mut model,
        Msg::Conn(ConnMsg::Attached(Box::new(snapshot(all_running())))),
    );
    assert!(header(&model).contains("up 2h 15m"), "{}", header(&model));
}
