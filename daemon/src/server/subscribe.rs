//! An event-stream connection: the snapshot (or a journal replay from a seq),
//! then every event in order. A subscriber that falls behind the broadcast
//! buffer gets a fresh snapshot instead of slowing anyone down.

use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::connection::ServerFramed;
use crate::core::CoreHandle;
use crate::protocol::{Reply, ServerMessage};

pub(super) async fn stream(
    mut framed: ServerFramed,
    core: CoreHandle,
    id: u64,
    since: Option<u64>,
    shutdown: CancellationToken,
) {
    let mut sub = match core.subscribe().await {
        Ok(sub) => sub,
        Err(err) => {
            let _ = framed
                .send(ServerMessage::Response {
                    id,
                    result: Err(err),
                })
                .await;
            return;
        }
    };
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
            .flatten(),
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
    loop {
        tokio::select! {
            biased;
            event = sub.events.recv() => match event {
                Ok(frame) => {
                    // A subscriber that stopped reading blocks only this task,
                    // and not past shutdown.
                    let sent = tokio::select! {
                        biased;
                        sent = framed.send(frame) => sent,
                        () = &mut stopping => return,
                    };
                    if sent.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "subscriber fell behind; resyncing with a snapshot");
                    sub = match core.subscribe().await {
                        Ok(sub) => sub,
                        Err(_) => return,
                    };
                    let snapshot = ServerMessage::Snapshot(Box::new(sub.snapshot.clone()));
                    let sent = tokio::select! {
                        biased;
                        sent = framed.send(snapshot) => sent,
                        () = &mut stopping => return,
                    };
                    if sent.is_err() {
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
