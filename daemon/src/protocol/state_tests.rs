use super::*;
use crate::protocol::requests::Failover;

fn record(provider: &str, route: Option<&str>, tokens: Tokens, cost: Option<u64>) -> RequestRecord {
    RequestRecord {
        time_ms: 1,
        app: App::Codex,
        provider: Some(provider.into()),
        route: route.map(str::to_owned),
        method: "POST".into(),
        path: "/responses".into(),
        model: None,
        mapped_model: None,
        key: None,
        status: Some(200),
        outcome: Outcome::Ok,
        latency_ms: 1,
        ttfb_ms: None,
        queue_ms: None,
        bytes_in: 0,
        bytes_out: 0,
        failovers: vec![Failover {
            provider: "x".into(),
            reason: "status 529".into(),
        }],
        tokens,
        cost_nano_usd: cost,
        error: None,
        headers: None,
    }
}

fn finished(day: u64, records: Vec<RequestRecord>) -> EventKind {
    EventKind::RequestsFinished {
        app: App::Codex,
        day_start_ms: day,
        requests: records,
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        epoch: 1,
        seq: 0,
        daemon: DaemonInfo {
            pid: 1,
            version: String::new(),
            started_at_ms: 0,
            socket: String::new(),
        },
        apps: vec![AppState::new(App::Codex, true, 1)],
        health: DaemonHealth::default(),
    }
}

fn fold(snapshot: &mut Snapshot, kinds: impl IntoIterator<Item = EventKind>) {
    for kind in kinds {
        let seq = snapshot.seq + 1;
        apply(
            snapshot,
            &Event {
                seq,
                at_ms: 0,
                kind,
            },
        );
    }
}

#[test]
fn the_first_providers_last_route_is_kept_until_the_provider_changes() {
    let mut snapshot = snapshot();
    let none = Tokens::default();
    fold(
        &mut snapshot,
        [
            EventKind::ProviderSelected {
                app: App::Codex,
                provider: Some("openai".into()),
            },
            // A failover to another provider says nothing about the first one.
            finished(
                0,
                vec![
                    record("openai", Some("chatgpt"), none, None),
                    record("backup", None, none, None),
                ],
            ),
        ],
    );
    assert_eq!(snapshot.apps[0].route.as_deref(), Some("chatgpt"));
    fold(
        &mut snapshot,
        [EventKind::ProviderSelected {
            app: App::Codex,
            provider: Some("backup".into()),
        }],
    );
    assert_eq!(snapshot.apps[0].route, None);
}

#[test]
fn usage_today_adds_known_counts_and_counts_the_unknown_apart() {
    let mut snapshot = snapshot();
    let known = Tokens {
        input: Some(10),
        output: Some(5),
        cache_read: Some(3),
        cache_write: Some(0),
        cache_write_1h: None,
        reasoning: Some(2),
    };
    let mut failed = record("openai", None, Tokens::default(), None);
    failed.outcome = Outcome::Cut;
    fold(
        &mut snapshot,
        [finished(
            100,
            vec![
                record("openai", None, known, Some(1_000)),
                record("openai", None, known, None),
                failed,
            ],
        )],
    );
    let usage = &snapshot.apps[0].usage;
    assert_eq!(usage.day_start_ms, 100);
    assert_eq!((usage.requests, usage.errors), (3, 1));
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens
        ),
        (20, 10, 6)
    );
    assert_eq!(usage.reasoning_tokens, 4);
    assert_eq!(usage.tokens_unknown, 1);
    assert_eq!((usage.cost_nano_usd, usage.cost_unknown), (1_000, 2));

    // A new day starts from zero, whether a batch or the day's event says so.
    fold(
        &mut snapshot,
        [finished(200, vec![record("openai", None, known, Some(7))])],
    );
    assert_eq!(snapshot.apps[0].usage.requests, 1);
    assert_eq!(snapshot.apps[0].usage.cost_nano_usd, 7);
    fold(&mut snapshot, [EventKind::UsageDay { day_start_ms: 300 }]);
    assert_eq!(
        snapshot.apps[0].usage,
        UsageToday {
            day_start_ms: 300,
            ..UsageToday::default()
        }
    );
}
