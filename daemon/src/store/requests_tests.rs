use super::*;

/// A database with the tables this file needs (the store applies the same
/// migrations in order when it opens a file).
pub(crate) fn database() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(include_str!("../../../assets/migrations/0001_init.sql"))
        .unwrap();
    conn.execute_batch(include_str!("../../../assets/migrations/0004_requests.sql"))
        .unwrap();
    conn.execute_batch(include_str!(
        "../../../assets/migrations/0007_request_key.sql"
    ))
    .unwrap();
    conn.execute_batch(include_str!(
        "../../../assets/migrations/0008_request_detail.sql"
    ))
    .unwrap();
    conn
}

pub(crate) fn sample(time_ms: u64, app: App, model: Option<&str>) -> RequestRecord {
    RequestRecord {
        time_ms,
        app,
        provider: Some("anthropic".into()),
        route: Some("oauth".into()),
        method: "POST".into(),
        path: "/v1/messages".into(),
        model: model.map(str::to_owned),
        mapped_model: None,
        key: None,
        status: Some(200),
        outcome: Outcome::Ok,
        latency_ms: 1200,
        ttfb_ms: Some(300),
        queue_ms: Some(2),
        bytes_in: 5000,
        bytes_out: 9000,
        failovers: Vec::new(),
        tokens: Tokens {
            input: Some(10),
            output: Some(20),
            cache_read: Some(30),
            cache_write: Some(40),
            cache_write_1h: Some(0),
            reasoning: None,
        },
        cost_nano_usd: Some(1000),
        error: None,
        headers: None,
    }
}

#[test]
fn records_round_trip_with_unknowns_kept_unknown() {
    let mut conn = database();
    let mut failed = sample(2, App::Codex, None);
    failed.status = None;
    failed.outcome = Outcome::Aborted;
    failed.ttfb_ms = None;
    failed.tokens = Tokens::default();
    failed.cost_nano_usd = None;
    failed.failovers = vec![Failover {
        provider: "openai".into(),
        reason: "status 529".into(),
    }];
    failed.error = Some("client disconnected".into());
    let ok = sample(1, App::Claude, Some("claude-sonnet-4-5"));
    insert_batch(&mut conn, &[ok.clone(), failed.clone()]).unwrap();
    let page = select(
        &conn,
        &RequestsQuery {
            limit: 10,
            ..RequestsQuery::default()
        },
    )
    .unwrap();
    assert_eq!(page.records, vec![ok, failed]);
    assert_eq!(page.older, None);
}

#[test]
fn filters_limit_and_newest_last() {
    let mut conn = database();
    let mut records: Vec<RequestRecord> = (0..10)
        .map(|i| {
            sample(
                1000 + i,
                if i % 2 == 0 { App::Claude } else { App::Gemini },
                None,
            )
        })
        .collect();
    records[9].status = Some(429);
    insert_batch(&mut conn, &records).unwrap();
    let query = |q: RequestsQuery| {
        select(&conn, &q)
            .unwrap()
            .records
            .iter()
            .map(|r| r.time_ms)
            .collect::<Vec<_>>()
    };
    let all = RequestsQuery {
        limit: 100,
        ..RequestsQuery::default()
    };
    assert_eq!(query(all.clone()), (1000..1010).collect::<Vec<_>>());
    // The newest three, printed oldest first.
    assert_eq!(
        query(RequestsQuery {
            limit: 3,
            ..all.clone()
        }),
        vec![1007, 1008, 1009]
    );
    assert_eq!(
        query(RequestsQuery {
            app: Some(App::Gemini),
            since_ms: Some(1004),
            ..all.clone()
        }),
        vec![1005, 1007, 1009]
    );
    assert_eq!(
        query(RequestsQuery {
            status: Some(429),
            ..all
        }),
        vec![1009]
    );
}

#[test]
fn long_histories_come_in_pages() {
    let mut conn = database();
    let records: Vec<_> = (0..(PAGE_ROWS as u64 + 10))
        .map(|i| sample(i, App::Claude, None))
        .collect();
    insert_batch(&mut conn, &records).unwrap();
    let mut query = RequestsQuery {
        limit: u32::MAX,
        ..RequestsQuery::default()
    };
    let first = select(&conn, &query).unwrap();
    assert_eq!(first.records.len(), PAGE_ROWS as usize);
    assert_eq!(first.records[0].time_ms, 10);
    query.before_id = first.older;
    let second = select(&conn, &query).unwrap();
    let times: Vec<_> = second.records.iter().map(|r| r.time_ms).collect();
    assert_eq!(times, (0..10).collect::<Vec<_>>());
    assert_eq!(second.older, None);
}

#[test]
fn usage_groups_and_counts_what_was_unknown() {
    let mut conn = database();
    let day = 86_400_000;
    let mut unknown = sample(day + 5, App::Codex, Some("gpt-5-codex"));
    unknown.tokens.output = None;
    unknown.cost_nano_usd = None;
    unknown.outcome = Outcome::Cut;
    let records = vec![
        sample(5, App::Claude, Some("claude-haiku-4-5")),
        sample(6, App::Claude, Some("claude-haiku-4-5")),
        sample(day + 1, App::Claude, None),
        unknown,
    ];
    insert_batch(&mut conn, &records).unwrap();
    let report = |by| {
        usage(
            &conn,
            &UsageQuery {
                since_ms: None,
                by,
                utc_offset_s: 0,
            },
        )
        .unwrap()
    };
    let (rows, total) = report(GroupBy::Day);
    let keys: Vec<_> = rows.iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        keys,
        [Some("1970-01-01".to_owned()), Some("1970-01-02".to_owned())]
    );
    assert_eq!((rows[1].requests, rows[1].errors), (2, 1));
    assert_eq!(
        rows[1].output_tokens,
        Total {
            value: 20,
            unknown: 1
        }
    );
    assert_eq!(total.requests, 4);
    assert_eq!(
        total.cost_nano_usd,
        Total {
            value: 3000,
            unknown: 1
        }
    );
    assert_eq!(total.input_tokens.known(total.requests), Some(40));
    let (rows, _) = report(GroupBy::Model);
    let models: Vec<_> = rows.iter().map(|r| r.key.as_deref()).collect();
    // Most spent first; a request without a model is its own group.
    assert_eq!(
        models,
        [Some("claude-haiku-4-5"), None, Some("gpt-5-codex")]
    );
    // Days are the user's: at UTC-1h, 00:00:00.005 UTC is the day before.
    let (rows, _) = usage(
        &conn,
        &UsageQuery {
            since_ms: None,
            by: GroupBy::Day,
            utc_offset_s: -3600,
        },
    )
    .unwrap();
    assert_eq!(rows[0].key.as_deref(), Some("1969-12-31"));
}

#[test]
fn pruning_goes_in_small_steps_and_stops_at_the_cutoff() {
    let mut conn = database();
    let records: Vec<_> = (0..25).map(|i| sample(i, App::Claude, None)).collect();
    insert_batch(&mut conn, &records).unwrap();
    assert_eq!(prune_step(&conn, 20, 8).unwrap(), 8);
    assert_eq!(prune_step(&conn, 20, 8).unwrap(), 8);
    assert_eq!(prune_step(&conn, 20, 8).unwrap(), 4);
    assert_eq!(prune_step(&conn, 20, 8).unwrap(), 0);
    let left: i64 = conn
        .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 5);
}
