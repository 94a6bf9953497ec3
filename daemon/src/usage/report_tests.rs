use super::*;
use crate::apps::App;
use crate::protocol::requests::{Failover, GroupBy, Outcome, Tokens};

fn record() -> RequestRecord {
    RequestRecord {
        time_ms: 1_764_800_000_123,
        app: App::Claude,
        provider: Some("anthropic".into()),
        route: Some("oauth".into()),
        method: "POST".into(),
        path: "/v1/messages".into(),
        model: Some("claude-sonnet-4-5-20250929".into()),
        mapped_model: None,
        key: None,
        status: Some(200),
        outcome: Outcome::Cut,
        latency_ms: 1234,
        ttfb_ms: None,
        queue_ms: None,
        bytes_in: 10,
        bytes_out: 20,
        failovers: vec![Failover {
            provider: "backup".into(),
            reason: "status 529".into(),
        }],
        tokens: Tokens {
            input: Some(1_234_567),
            output: None,
            cache_read: Some(0),
            cache_write: Some(12),
            cache_write_1h: Some(0),
            reasoning: None,
        },
        cost_nano_usd: Some(12_345_678),
        error: Some("upstream went idle".into()),
        headers: None,
    }
}

#[test]
fn numbers_for_people() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(usd(0), "$0.0000");
    assert_eq!(usd(12_345_678), "$0.0123");
    assert_eq!(usd(49_999), "$0.0000");
    assert_eq!(usd(50_000), "$0.0001");
    assert_eq!(usd(99_999_999_999), "$100.0000");
    assert_eq!(usd(1_234_567_000_000), "$1,234.57");
    assert_eq!(local_time(1_764_800_000_123, 3600), "2025-12-03 23:13:20");
}

#[test]
fn the_requests_json_contract() {
    let v = record_json(&record());
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "time_ms",
        "app",
        "provider",
        "route",
        "method",
        "path",
        "model",
        "status",
        "outcome",
        "latency_ms",
        "ttfb_ms",
        "bytes_out",
        "failovers",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_usd",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(v["outcome"], "cut");
    assert_eq!(v["ttfb_ms"], Value::Null);
    assert_eq!(v["output_tokens"], Value::Null);
    assert_eq!(v["input_tokens"], 1_234_567);
    assert_eq!(v["cost_usd"].to_string(), "0.012345678");
    assert_eq!(v["failovers"][0]["reason"], "status 529");
}

fn report() -> UsageReport {
    let row = UsageRow {
        key: Some("claude-sonnet-4-5-20250929".into()),
        requests: 3,
        errors: 1,
        input_tokens: Total {
            value: 1500,
            unknown: 1,
        },
        output_tokens: Total {
            value: 0,
            unknown: 3,
        },
        cost_nano_usd: Total {
            value: 2_500_000_000,
            unknown: 0,
        },
        ..UsageRow::default()
    };
    UsageReport {
        since_ms: None,
        by: GroupBy::Model,
        rows: vec![row.clone()],
        total: UsageRow { key: None, ..row },
        price_source: "prices: Anthropic pricing page of 2026-12-03".into(),
    }
}

#[test]
fn the_usage_json_contract() {
    let v = usage_json(&report());
    assert_eq!(v["since_ms"], Value::Null);
    assert_eq!(v["by"], "model");
    let row = &v["rows"][0];
    assert_eq!(row["key"], "claude-sonnet-4-5-20250929");
    assert_eq!(
        (row["requests"].clone(), row["errors"].clone()),
        (json!(3), json!(1))
    );
    // Some unknown: the sum of the known, and how many were left out.
    assert_eq!(row["input_tokens"], 1500);
    assert_eq!(row["unknown"]["input_tokens"], 1);
    // All unknown: null, never 0.
    assert_eq!(row["output_tokens"], Value::Null);
    assert_eq!(row["cost_usd"], 2.5);
    assert_eq!(v["total"]["key"], Value::Null);
    for key in [
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_usd",
    ] {
        assert!(v["total"].get(key).is_some(), "total lacks {key}");
    }
}

#[test]
fn tables_line_up() {
    let mut other = record();
    other.app = App::Codex;
    other.model = None;
    other.status = None;
    other.outcome = Outcome::Aborted;
    other.cost_nano_usd = None;
    let table = requests_table(&[record(), other], 0);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("TIME"));
    assert!(lines[1].contains("anthropic · oauth") && lines[1].contains("200 cut"));
    assert!(lines[1].contains("1,234,567") && lines[1].contains("$0.0123"));
    assert!(lines[2].contains("— aborted"));
    // Every column starts at the same place on every line (in characters:
    // `·` and `—` are more than one byte).
    let at = |line: &str, needle: &str| line[..line.find(needle).unwrap()].chars().count();
    assert_eq!(at(lines[0], "REQUEST"), at(lines[1], "POST"));
    assert_eq!(at(lines[1], "POST"), at(lines[2], "POST"));

    let table = usage_table(&report(), 0);
    assert!(
        table.starts_with("Usage everything on record, by model"),
        "{table}"
    );
    assert!(table.contains("1,500 (+1 ?)"), "{table}");
    assert!(table.contains("$2.5000"), "{table}");
    assert!(table.contains("TOTAL"));
    assert!(table.ends_with("prices: Anthropic pricing page of 2026-12-03"));
    let header = table.lines().nth(2).unwrap();
    assert!(header.starts_with("MODEL"), "{header}");
}
