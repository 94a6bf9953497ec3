//! `switchyard events [--json] [--since SEQ]`: the snapshot, then live events,
//! until the daemon goes away. `--json` prints NDJSON: the snapshot object on
//! the first line (again after a resync), then one event object a line.
//!
//! Exit codes: 1 when the daemon ends the stream (it stopped or restarted: a
//! script must not take that for a normal end) and for a `--since` past the
//! newest event; 0 only when the reader closed the pipe.

use std::io::Write;
use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Reply, Request, ServerMessage};

pub async fn run(paths: &Paths, json: bool, since: Option<u64>) -> Result<ExitCode> {
    let mut client = super::connect(paths).await?;
    if let Some(since) = since {
        let newest = match client.request(Request::Status).await? {
            Reply::Status(snapshot) => snapshot.seq,
            other => return Err(eyre!("unexpected reply from the daemon: {other:?}")),
        };
        if since > newest {
            eprintln!(
                "switchyard: --since {since} is past the newest event (#{newest} of this daemon run); give a seq `events` printed, or leave --since out to start from the current state"
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    let mut events = client.subscribe(since).await?;
    let mut out = std::io::stdout().lock();
    let mut first = true;
    while let Some(msg) = events.next().await {
        let msg = msg?;
        // Asked to resume but given the state instead: the journal no longer
        // has those events (trimmed, or the disk was full). Say so.
        if std::mem::replace(&mut first, false)
            && let (Some(since), ServerMessage::Snapshot(_)) = (since, &msg)
        {
            eprintln!(
                "switchyard: the journal no longer has the events after #{since}; starting from the current state"
            );
        }
        let line = match msg {
            ServerMessage::Snapshot(snapshot) if json => serde_json::to_string(&snapshot)?,
            ServerMessage::Snapshot(snapshot) => {
                let apps: Vec<String> = snapshot
                    .apps
                    .iter()
                    .map(|a| format!("{} {} :{}", a.app, a.state.as_str(), a.port))
                    .collect();
                format!(
                    "snapshot: epoch {} seq {}, daemon pid {}; {}",
                    snapshot.epoch,
                    snapshot.seq,
                    snapshot.daemon.pid,
                    apps.join(", ")
                )
            }
            ServerMessage::Event(event) if json => serde_json::to_string(&event)?,
            ServerMessage::Event(event) => format!("#{} {}", event.seq, event.kind),
            _ => continue,
        };
        // A closed pipe (`| head`) ends the command quietly.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    // On stderr, so NDJSON on stdout stays clean.
    eprintln!(
        "switchyard: the event stream ended: the daemon stopped or restarted (`switchyard status` tells which)"
    );
    Ok(ExitCode::FAILURE)
}
