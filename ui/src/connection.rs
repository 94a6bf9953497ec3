//! The attach task: connects to the daemon (starting it, detached, if none
//! answers on the first try), takes a snapshot, subscribes from a little before
//! it so the panes get recent history, and forwards everything as [`Msg`]s. When
//! the daemon goes away it reports so and reconnects with backoff, then resyncs.

use std::time::Duration;

use switchyard_daemon::client::{Client, ClientError, Subscription};
use switchyard_daemon::lifecycle::{self, Started};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Reply, Request, ServerMessage};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::msg::{ConnMsg, Msg};

/// The name the dashboard gives in its `Hello`.
pub const CLIENT_NAME: &str = "switchyard-ui";
/// Reconnect delays: from this, doubling…
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// …up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How many journal events before the snapshot to replay into the panes.
pub const HISTORY: u64 = 300;

/// Runs until cancelled or until the model's receiver is gone.
pub async fn attach(paths: Paths, tx: UnboundedSender<Msg>, cancel: CancellationToken) {
    tokio::select! {
        () = cancel.cancelled() => {}
        () = attach_loop(&paths, &tx) => {}
    }
}

/// Why a session ended.
enum Ended {
    /// The model is gone: stop.
    Closed,
    /// Never got as far as a subscription.
    Failed(String),
    /// Was attached, then lost the connection (or missed events).
    Lost(String),
}

async fn attach_loop(paths: &Paths, tx: &UnboundedSender<Msg>) {
    let mut may_start = true;
    let mut delay = BACKOFF_MIN;
    loop {
        let reason = match session(paths, tx, &mut may_start).await {
            Ended::Closed => return,
            Ended::Failed(reason) => reason,
            Ended::Lost(reason) => {
                delay = BACKOFF_MIN;
                reason
            }
        };
        let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        if tx
            .send(Msg::Conn(ConnMsg::Lost {
                reason,
                retry_in_ms,
            }))
            .is_err()
        {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// One connection's life: connect, snapshot, subscribe, forward.
async fn session(paths: &Paths, tx: &UnboundedSender<Msg>, may_start: &mut bool) -> Ended {
    let mut client = match connect(paths, tx, may_start).await {
        Ok(client) => client,
        Err(ended) => return ended,
    };
    let snapshot = match client.request(Request::Status).await {
        Ok(Reply::Status(snapshot)) => snapshot,
        Ok(other) => return Ended::Failed(format!("unexpected answer: {other:?}")),
        Err(err) => return Ended::Failed(describe(&err)),
    };
    // Events after `since` are replayed from the journal, then live ones follow.
    let since = snapshot.seq.saturating_sub(HISTORY);
    let subscription = match client.subscribe(Some(since)).await {
        Ok(subscription) => subscription,
        Err(err) => return Ended::Failed(describe(&err)),
    };
    let seq = snapshot.seq;
    if tx.send(Msg::Conn(ConnMsg::Attached(snapshot))).is_err() {
        return Ended::Closed;
    }
    forward(subscription, seq, tx).await
}

/// Forwards snapshots and events until the stream ends. A gap in the seqs
/// means we missed something: end the session so the next one resyncs.
async fn forward(mut subscription: Subscription, mut seq: u64, tx: &UnboundedSender<Msg>) -> Ended {
    loop {
        let msg = match subscription.next().await {
            None => return Ended::Lost("connection closed".to_owned()),
            Some(Err(err)) => return Ended::Lost(describe(&err)),
            Some(Ok(ServerMessage::Snapshot(snapshot))) => {
                seq = snapshot.seq;
                ConnMsg::Resync(snapshot)
            }
            Some(Ok(ServerMessage::Event(event))) => {
                if event.seq > seq + 1 {
                    return Ended::Lost(format!("missed events after #{seq}; resyncing"));
                }
                seq = seq.max(event.seq);
                ConnMsg::Event(event)
            }
            Some(Ok(_)) => continue,
        };
        if tx.send(Msg::Conn(msg)).is_err() {
            return Ended::Closed;
        }
    }
}

/// Connects; on the very first attempt, starts a daemon if none answers.
async fn connect(
    paths: &Paths,
    tx: &UnboundedSender<Msg>,
    may_start: &mut bool,
) -> Result<Client, Ended> {
    let first_try = std::mem::replace(may_start, false);
    match Client::connect(paths, CLIENT_NAME).await {
        Ok(client) => return Ok(client),
        Err(ClientError::NotRunning { .. }) if first_try => {}
        Err(err) => return Err(Ended::Failed(describe(&err))),
    }
    if tx.send(Msg::Conn(ConnMsg::Starting)).is_err() {
        return Err(Ended::Closed);
    }
    let started = match lifecycle::start_detached(paths).await {
        Ok(Started::Started { pid, elapsed }) => Some(ConnMsg::Started {
            pid,
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }),
        // Someone else started one meanwhile: fine.
        Ok(Started::AlreadyRunning { .. }) => None,
        Err(err) => Some(ConnMsg::StartFailed(err.to_string())),
    };
    if let Some(msg) = started
        && tx.send(Msg::Conn(msg)).is_err()
    {
        return Err(Ended::Closed);
    }
    Client::connect(paths, CLIENT_NAME)
        .await
        .map_err(|err| Ended::Failed(describe(&err)))
}

/// A short reason for the banner.
pub fn describe(err: &ClientError) -> String {
    match err {
        ClientError::NotRunning { .. } => "not running".to_owned(),
        other => other.to_string(),
    }
}
