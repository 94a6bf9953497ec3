//! `switchyard events [--json] [--since SEQ]`: the snapshot, then live events,
//! until the daemon goes away. `--json` prints NDJSON: the snapshot object on
//! the first line (again after a resync), then one event object a line.

use std::io::Write;
use std::process::ExitCode;

use color_eyre::eyre::Result;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::ServerMessage;

pub async fn run(paths: &Paths, json: bool, since: Option<u64>) -> Result<ExitCode> {
    let client = super::connect(paths).await?;
    let mut events = client.subscribe(since).await?;
    let mut out = std::io::stdout().lock();
    while let Some(msg) = events.next().await {
        let line = match msg? {
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
    eprintln!("switchyard: the event stream ended: the daemon stopped or restarted");
    Ok(ExitCode::SUCCESS)
}
