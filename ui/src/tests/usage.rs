//! Usage on screen: tokens and cost per app (today, since attach) in the apps
//! table, and the usage view (`u`): per-day bars and a per-model table.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::requests::{GroupBy, Total, UsageReport, UsageRow};
use switchyard_daemon::protocol::state::EventKind;
use switchyard_daemon::protocol::{Reply, Request};

use super::*;

fn row(key: &str, requests: u64, input: u64, output: u64, cost_nano: u64) -> UsageRow {
    let total = |value| Total { value, unknown: 0 };
    UsageRow {
        key: Some(key.to_owned()),
        requests,
        errors: requests / 10,
        input_tokens: total(input),
        output_tokens: total(output),
        cache_read_tokens: total(input / 2),
        cache_write_tokens: total(0),
        reasoning_tokens: total(0),
        cost_nano_usd: total(cost_nano),
    }
}

fn report(by: GroupBy, rows: Vec<UsageRow>) -> UsageReport {
    let mut total = row("total", 0, 0, 0, 0);
    for r in &rows {
        total.requests += r.requests;
        total.errors += r.errors;
        total.input_tokens.value += r.input_tokens.value;
        total.output_tokens.value += r.output_tokens.value;
        total.cache_read_tokens.value += r.cache_read_tokens.value;
        total.cost_nano_usd.value += r.cost_nano_usd.value;
    }
    total.key = None;
    UsageReport {
        since_ms: None,
        by,
        rows,
        total,
        price_source: "built-in".to_owned(),
    }
}

/// The view open with both answers in.
fn with_usage() -> Model {
    let mut apps = super::all_running();
    apps[0].usage.requests = 42;
    apps[0].usage.input_tokens = 120_000;
    apps[0].usage.output_tokens = 30_500;
    apps[0].usage.cost_nano_usd = 1_234_000_000;
    let mut model = attached(snapshot(apps));
    let Some(Action::Many(asked)) = update(&mut model, key('u')) else {
        panic!("u asks for usage");
    };
    let queries: Vec<_> = asked
        .into_iter()
        .map(|a| match a {
            Action::Request(Request::Usage(q)) => q,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(queries.len(), 2);
    let days = report(
        GroupBy::Day,
        (8..15)
            .map(|d| {
                row(
                    &format!("2023-11-{d:02}"),
                    d,
                    d * 9_000,
                    d * 2_000,
                    d * 50_000_000,
                )
            })
            .collect(),
    );
    let models = report(
        GroupBy::Model,
        vec![
            row("claude-sonnet-4-5", 60, 700_000, 90_000, 3_100_000_000),
            row("gpt-5-codex", 17, 150_000, 40_000, 410_000_000),
            row(
                "claude-sonnet-4-5-20250929-with-a-long-suffix",
                3,
                9_000,
                400,
                20_000_000,
            ),
        ],
    );
    for (query, report) in queries.into_iter().zip([days, models]) {
        update(
            &mut model,
            Msg::Reply {
                request: Request::Usage(query),
                result: Ok(Reply::Usage(Box::new(report))),
            },
        );
    }
    model
}

#[test]
fn apps_table_shows_today_and_since_attach() {
    let mut model = attached(snapshot(super::all_running()));
    let mut msg = request(SEQ + 1, NOW, App::Claude, "/v1/messages", 200, 900);
    if let Msg::Conn(crate::msg::ConnMsg::Event(event)) = &mut msg
        && let EventKind::RequestsFinished { requests, .. } = &mut event.kind
    {
        requests[0].tokens.input = Some(1_000);
        requests[0].tokens.output = Some(200);
        requests[0].cost_nano_usd = Some(20_000_000);
    }
    update(&mut model, msg);
    let seen = model.since_attach[App::Claude.index()];
    assert_eq!(
        (seen.requests, seen.tokens, seen.cost_nano_usd),
        (1, 1_200, 20_000_000)
    );
    let screen = format!("{:?}", render(&model, 140, 35).backend());
    assert!(
        screen.contains("SINCE ATTACH") && screen.contains("1.2k $0.02"),
        "{screen}"
    );
}

#[test]
fn usage_view_cycles_period_and_grouping() {
    let mut model = with_usage();
    let view = model.usage_view.as_ref().unwrap();
    assert!(matches!(view.table, Some(Ok(_))) && matches!(view.days, Some(Ok(_))));
    let Some(Action::Many(asked)) = update(&mut model, key('b')) else {
        panic!("b asks again");
    };
    assert!(matches!(&asked[1], Action::Request(Request::Usage(q)) if q.by == GroupBy::Provider));
    assert!(
        model.usage_view.as_ref().unwrap().table.is_none(),
        "waits for the new answer"
    );
    update(&mut model, key('d'));
    assert_eq!(
        model.usage_view.as_ref().unwrap().period,
        crate::usage_view::Period::Days(30)
    );
    update(&mut model, code(KeyCode::Esc));
    assert!(model.usage_view.is_none());
}

#[test]
fn usage_view_120x35() {
    assert_snapshot!(render(&with_usage(), 120, 35).backend());
}

#[test]
fn usage_view_80x24() {
    assert_snapshot!(render(&with_usage(), 80, 24).backend());
}

/// A group name too long for its column ends in `…` (not cut bare).
#[test]
fn long_group_names_end_in_an_ellipsis() {
    let model = with_usage();
    let screen = render(&model, 80, 24);
    let buffer = screen.backend().buffer();
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect()
        })
        .collect();
    let line = rows
        .iter()
        .find(|l| l.contains("claude-sonnet-4-5-2025"))
        .unwrap_or_else(|| panic!("no long model row:\n{}", rows.join("\n")));
    assert!(line.contains("…"), "{line}");
}
