//! `switchyard requests [--app APP] [--since T] [--status CODE] [--limit N]
//! [-f] [--json]`: the request history from the daemon's store, newest last;
//! with `-f`, then each request as it finishes (the live event stream carries
//! the same records the store keeps, tokens and cost included). `--json` prints one object a
//! line in the shape DESIGN.md fixes (unknown values `null`).

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use color_eyre::eyre::{Result, bail};
use switchyard_daemon::client::Client;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::requests::{RequestRecord, RequestsQuery};
use switchyard_daemon::protocol::state::EventKind;
use switchyard_daemon::protocol::{Reply, Request, ServerMessage};
use switchyard_daemon::store::now_ms;
use switchyard_daemon::usage::report;
use switchyard_daemon::usage::since::local_offset_s;

pub async fn run(
    paths: &Paths,
    query: RequestsQuery,
    follow: bool,
    json: bool,
) -> Result<ExitCode> {
    let offset = local_offset_s(now_ms());
    // Subscribed before the history is read, so nothing finishes unseen in between.
    let live = if follow {
        Some(super::connect(paths).await?.subscribe(None).await?)
    } else {
        None
    };
    let mut client = super::connect(paths).await?;
    let history = history(&mut client, query.clone()).await?;
    let mut out = std::io::stdout().lock();
    let text = if json {
        history
            .iter()
            .map(|r| format!("{}\n", report::record_json(r)))
            .collect::<String>()
    } else if history.is_empty() {
        String::new()
    } else {
        format!("{}\n", report::requests_table(&history, offset))
    };
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return Ok(ExitCode::SUCCESS);
    }
    let Some(mut events) = live else {
        if history.is_empty() && !json {
            eprintln!("no requests on record{}", filters_note(&query));
        }
        return Ok(ExitCode::SUCCESS);
    };
    // A request may be both in the history and on the stream: print it once.
    let seen: HashSet<String> = history.iter().map(key).collect();
    while let Some(msg) = events.next().await {
        let ServerMessage::Event(event) = msg? else {
            continue;
        };
        let EventKind::RequestsFinished { requests, .. } = event.kind else {
            continue;
        };
        for record in requests {
            if !matches(&query, &record) || seen.contains(&key(&record)) {
                continue;
            }
            let line = if json {
                report::record_json(&record).to_string()
            } else {
                report::request_line(&record, offset)
            };
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    eprintln!("switchyard: the event stream ended: the daemon stopped or restarted");
    Ok(ExitCode::SUCCESS)
}

/// The newest `query.limit` records, oldest first, read page by page.
async fn history(client: &mut Client, mut query: RequestsQuery) -> Result<Vec<RequestRecord>> {
    let wanted = query.limit as usize;
    let mut pages = Vec::new();
    let mut got = 0;
    while got < wanted {
        query.limit = (wanted - got) as u32;
        let page = match client.request(Request::Requests(query.clone())).await? {
            Reply::Requests(page) => page,
            other => bail!("unexpected reply from the daemon: {other:?}"),
        };
        got += page.records.len();
        let older = page.older;
        pages.push(page.records);
        match older {
            Some(id) => query.before_id = Some(id),
            None => break,
        }
    }
    Ok(pages.into_iter().rev().flatten().collect())
}

fn matches(query: &RequestsQuery, r: &RequestRecord) -> bool {
    query.app.is_none_or(|app| app == r.app)
        && query.since_ms.is_none_or(|since| r.time_ms >= since)
        && query.status.is_none_or(|status| r.status == Some(status))
}

fn key(r: &RequestRecord) -> String {
    format!(
        "{} {} {} {} {}",
        r.time_ms, r.app, r.path, r.latency_ms, r.bytes_out
    )
}

fn filters_note(query: &RequestsQuery) -> String {
    let mut parts = Vec::new();
    if let Some(app) = query.app {
        parts.push(format!("for {app}"));
    }
    if let Some(since) = query.since_ms {
        parts.push(format!(
            "since {}",
            report::local_time(since, local_offset_s(since))
        ));
    }
    if let Some(status) = query.status {
        parts.push(format!("with status {status}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {}", parts.join(" "))
    }
}
