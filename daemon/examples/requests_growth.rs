//! Database growth per 10,000 requests (issue 15's figure): inserts realistic
//! request rows into a fresh file, in the store's batches and settings, and
//! prints the file size after each 10,000.
//!
//!   cargo run --release -p switchyard-daemon --example requests_growth

use rusqlite::Connection;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::requests::{Failover, Outcome, RequestRecord, Tokens};
use switchyard_daemon::store::requests::insert_batch;

const BATCH: usize = 500;
const STEP: usize = 10_000;

fn record(i: usize) -> RequestRecord {
    let (app, path, model) = match i % 3 {
        0 => (App::Claude, "/v1/messages", "claude-sonnet-4-5-20250929"),
        1 => (App::Codex, "/backend-api/codex/responses", "gpt-5-codex"),
        _ => (
            App::Gemini,
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            "gemini-2.5-pro",
        ),
    };
    RequestRecord {
        time_ms: 1_767_000_000_000 + i as u64 * 37,
        app,
        provider: Some(["anthropic", "openai", "google"][i % 3].into()),
        route: Some(["oauth", "chatgpt", "code-assist"][i % 3].into()),
        method: "POST".into(),
        path: path.into(),
        model: Some(model.into()),
        mapped_model: None,
        key: None,
        status: Some(200),
        outcome: Outcome::Ok,
        latency_ms: 2_000 + (i as u64 * 7919) % 30_000,
        ttfb_ms: Some(300 + (i as u64 * 104_729) % 2_000),
        queue_ms: None,
        bytes_in: 20_000 + (i as u64 * 31) % 200_000,
        bytes_out: 3_000 + (i as u64 * 17) % 50_000,
        failovers: if i.is_multiple_of(50) {
            vec![Failover {
                provider: "backup".into(),
                reason: "status 529".into(),
            }]
        } else {
            Vec::new()
        },
        tokens: Tokens {
            input: Some(12 + (i as u64 % 4000)),
            output: Some(150 + (i as u64 * 13) % 3000),
            cache_read: Some(40_000 + (i as u64 * 101) % 60_000),
            cache_write: Some((i as u64 * 7) % 2000),
            cache_write_1h: Some(0),
            reasoning: Some((i as u64 * 3) % 1000),
        },
        cost_nano_usd: Some(1_000_000 + (i as u64 * 7_777) % 50_000_000),
        error: None,
        headers: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sygrowth.{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("switchyard.db");
    let mut conn = Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(include_str!("../../assets/migrations/0001_init.sql"))?;
    conn.execute_batch(include_str!("../../assets/migrations/0004_requests.sql"))?;
    conn.execute_batch(include_str!("../../assets/migrations/0007_request_key.sql"))?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let mut before = std::fs::metadata(&path)?.len();
    println!("empty database: {} KiB", before / 1024);
    for step in 1..=3 {
        let start = std::time::Instant::now();
        for batch in 0..STEP / BATCH {
            let base = (step - 1) * STEP + batch * BATCH;
            let rows: Vec<_> = (base..base + BATCH).map(record).collect();
            insert_batch(&mut conn, &rows)?;
        }
        let took = start.elapsed();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "after {:>6} requests: {:>7} KiB (+{} KiB per 10,000, {:.0} bytes per request); inserted at {:.0} rows/s",
            step * STEP,
            size / 1024,
            (size - before) / 1024,
            (size - before) as f64 / STEP as f64,
            STEP as f64 / took.as_secs_f64()
        );
        before = size;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
