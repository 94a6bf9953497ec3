//! An event-stream connection: the snapshot (or a journal replay from a seq),
//! then every event in order. A subscriber that falls behind the broadcast
//! buffer gets a fresh snapshot instead of slowing anyone down. Neither waits
//! on the core: the snapshot is the one it last published.

use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::connection::ServerFramed;

/// A subscriber that does not take an event for this long is closed (a
/// dashboard suspended that long reconnects when it resumes).
pub const SUBSCRIBER_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
use crate::core::CoreHandle;
use crate::protocol::{Reply, ServerMessage};

pub(super) async fn stream(
    mut framed: ServerFramed,
    core: CoreHandle,
    id: u64,
    since: Option<u64>,
    shutdown: CancellationToken,
) {
    let mut sub = core.subscribe();
    let reply = ServerMessage::Response {
        id,
        result: Ok(Reply::Subscribed),
    };
    if framed.send(reply).await.is_err() {
        return;
    }
    let at = sub.snapshot.seq;
    let replay = match since {
        Some(since) if since <= at => core
            .store
            .events_since(sub.snapshot.epoch, since)
            .await
            .ok()
            .flatten()
            // Events held in memory (the disk is full) are not in the
            // journal yet: then the snapshot it is.
            .filter(|events| since == at || events.last().is_some_and(|e| e.seq >= at)),
        _ => None,
    };
    let start = match replay {
        Some(events) => {
            let mut ok = true;
            for event in events.into_iter().filter(|e| e.seq <= at) {
                ok &= framed.feed(ServerMessage::Event(event)).await.is_ok();
            }
            ok && SinkExt::<ServerMessage>::flush(&mut framed).await.is_ok()
        }
        None => framed
            .send(ServerMessage::Snapshot(Box::new(sub.snapshot.clone())))
            .await
            .is_ok(),
    };
    if !start {
        return;
    }
    // One wait for shutdown per subscriber, not one per event (with a hundred
    // subscribers, a fresh one each would be a hundred registrations per event).
    // Events first: the fan-out is what this loop is for.
    let stopping = shutdown.cancelled_owned();
    tokio::pin!(stopping);
    // Events up to here are in what was sent already.
    let mut sent_upto = at;
    loop {
        tokio::select! {
            biased;
            event = sub.events.recv() => match event {
                Ok((seq, _)) if seq <= sent_upto => {}
                Ok((_, frame)) => {
                    // A subscriber that stopped reading blocks only this task,
                    // and not past shutdown.
                    let sent = tokio::select! {
                        biased;
                        sent = tokio::time::timeout(SUBSCRIBER_WRITE_TIMEOUT, framed.send(frame)) => sent,
                        () = &mut stopping => return,
                    };
                    if !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "subscriber fell behind; resyncing with a snapshot");
                    sub = core.subscribe();
                    sent_upto = sub.snapshot.seq;
                    let snapshot = ServerMessage::Snapshot(Box::new(sub.snapshot.clone()));
                    let sent = tokio::select! {
                        biased;
                        sent = tokio::time::timeout(SUBSCRIBER_WRITE_TIMEOUT, framed.send(snapshot)) => sent,
                        () = &mut stopping => return,
                    };
                    if !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = framed.next() => if incoming.is_none() { return },
            () = &mut stopping => return,
        }
    }
}

/// A log-stream connection: every log line from now on, until the client
/// goes, stops reading for [`SUBSCRIBER_WRITE_TIMEOUT`], or the daemon stops.
/// A client that falls behind misses lines and is told how many.
pub(super) async fn logs(mut framed: ServerFramed, id: u64, shutdown: CancellationToken) {
    let mut lines = crate::log_tap::subscribe();
    let reply = ServerMessage::Response {
        id,
        result: Ok(Reply::Subscribed),
    };
    if framed.send(reply).await.is_err() {
        return;
    }
    let stopping = shutdown.cancelled_owned();
    tokio::pin!(stopping);
    loop {
        let line = tokio::select! {
            biased;
            line = lines.recv() => match line {
                Ok(line) => line,
                Err(RecvError::Lagged(missed)) => crate::protocol::LogLine {
                    at_ms: crate::store::now_ms(),
                    level: "WARN".to_owned(),
                    worker: false,
                    app: None,
                    text: format!("{missed} log lines skipped: the log pane fell behind"),
                },
                Err(RecvError::Closed) => return,
            },
            () = &mut stopping => return,
        };
        let sent = tokio::select! {
            biased;
            sent = tokio::time::timeout(SUBSCRIBER_WRITE_TIMEOUT, framed.send(ServerMessage::Log(line))) => sent,
            () = &mut stopping => return,
        };
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
}
