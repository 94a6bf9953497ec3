//! One client connection: peer check, handshake, then requests until the client
//! leaves (or turns the connection into an event stream). Every state has a
//! deadline: the `Hello`, a frame once begun, an idle connection, a reply the
//! client does not read.

use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::deadline::{Deadlines, Expired, FRAME_TIMEOUT};
use super::slots::Slot;
use crate::core::CoreHandle;
use crate::protocol::{
    ClientMessage, ErrorKind, ErrorReply, FrameCodec, FrameError, PROTOCOL_VERSION, Request,
    ServerMessage,
};
use crate::text::clean;

/// A client must say `Hello` within this time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// A request connection with no request for this long is closed (quietly:
/// clients reconnect when they need to).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A reply the client does not read within this time closes the connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) type ServerFramed = Framed<Stream, FrameCodec<ClientMessage, ServerMessage>>;

/// What a connection task gets from the accept loop.
pub(super) struct Conn {
    pub core: CoreHandle,
    pub shutdown: CancellationToken,
    pub uid: u32,
    /// Its slot: marked busy and idle as it goes; cancelled to shed it.
    pub slot: Arc<Slot>,
    pub subscribers: Arc<Semaphore>,
}

pub(super) async fn serve(stream: Stream, conn: Conn, admitted: bool) {
    let peer = stream.peer_creds().ok();
    let peer_uid = peer.and_then(|c| c.euid());
    let peer_pid = peer.and_then(|c| c.pid());
    let mut framed = Framed::new(stream, FrameCodec::new());
    let uid = conn.uid;
    if let Some(peer_uid) = peer_uid
        && peer_uid != uid
    {
        tracing::warn!(peer_uid, ?peer_pid, "refused a client of another user");
        let msg = format!("this daemon belongs to uid {uid}; uid {peer_uid} may not use it");
        refuse(&mut framed, ErrorKind::PermissionDenied, msg).await;
        return;
    }
    if !admitted {
        refuse(
            &mut framed,
            ErrorKind::Failed,
            "the daemon is serving too many connections, all of them busy; try again in a moment",
        )
        .await;
        return;
    }
    let mut deadlines = Deadlines::new();
    // Shed by the accept loop, or the daemon stops.
    let shed = conn.slot.shed.clone().cancelled_owned();
    tokio::pin!(shed);
    let first = tokio::select! {
        biased;
        first = deadlines.next(&mut framed, HANDSHAKE_TIMEOUT) => first,
        () = &mut shed => return,
    };
    let client = match first {
        Err(_) => {
            tracing::debug!(?peer_pid, "client sent no hello in time");
            let msg = format!("no Hello within {}s; closing", HANDSHAKE_TIMEOUT.as_secs());
            refuse(&mut framed, ErrorKind::Timeout, msg).await;
            return;
        }
        Ok(None) => return,
        Ok(Some(Err(err))) => {
            bad_frame(&mut framed, err).await;
            return;
        }
        Ok(Some(Ok(ClientMessage::Hello { protocol, client }))) => {
            // A name is the client's to choose: never a line break or a
            // terminal escape in our log.
            let client = clean(&client).into_owned();
            if protocol != PROTOCOL_VERSION {
                let msg = format!(
                    "protocol mismatch: the client ({client}) speaks protocol {protocol}, this daemon speaks protocol {PROTOCOL_VERSION}; restart the daemon with the same switchyard version (`switchyard daemon restart`)"
                );
                tracing::warn!(%client, protocol, "{msg}");
                refuse(&mut framed, ErrorKind::VersionMismatch, msg).await;
                return;
            }
            client
        }
        Ok(Some(Ok(ClientMessage::Request { .. }))) => {
            refuse(
                &mut framed,
                ErrorKind::BadRequest,
                "the first frame must be Hello",
            )
            .await;
            return;
        }
    };
    let welcome = ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    if !send(&mut framed, welcome).await {
        return;
    }
    tracing::debug!(%client, ?peer_pid, "client attached");
    loop {
        conn.slot.idle();
        let msg = tokio::select! {
            biased;
            msg = deadlines.next(&mut framed, IDLE_TIMEOUT) => msg,
            () = &mut shed => {
                tracing::debug!(%client, "closing an idle connection for a newer one");
                return;
            }
        };
        conn.slot.busy();
        match msg {
            Err(Expired::Idle) | Ok(None) => return,
            Err(Expired::Partial) => {
                let msg = format!(
                    "a frame began but was not complete within {}s; closing",
                    FRAME_TIMEOUT.as_secs()
                );
                refuse(&mut framed, ErrorKind::Timeout, msg).await;
                return;
            }
            Ok(Some(Err(err))) => {
                bad_frame(&mut framed, err).await;
                return;
            }
            Ok(Some(Ok(ClientMessage::Hello { .. }))) => {
                refuse(
                    &mut framed,
                    ErrorKind::BadRequest,
                    "Hello may only be sent once",
                )
                .await;
                return;
            }
            Ok(Some(Ok(ClientMessage::Request {
                id,
                request: request @ (Request::Subscribe { .. } | Request::SubscribeLogs),
            }))) => {
                // Both kinds of stream share the subscriber slots.
                let Ok(_permit) = Arc::clone(&conn.subscribers).try_acquire_owned() else {
                    let msg = format!(
                        "the daemon already serves {} streams; close a dashboard or `switchyard events` and try again",
                        super::MAX_SUBSCRIBERS
                    );
                    let refused = ServerMessage::Response {
                        id,
                        result: Err(ErrorReply::new(ErrorKind::Failed, msg)),
                    };
                    send(&mut framed, refused).await;
                    return;
                };
                conn.slot.subscribed();
                match request {
                    Request::Subscribe { since } => {
                        super::subscribe::stream(framed, conn.core, id, since, conn.shutdown).await;
                    }
                    _ => super::subscribe::logs(framed, id, conn.shutdown).await,
                }
                return;
            }
            Ok(Some(Ok(ClientMessage::Request { id, request }))) => {
                let result = conn.core.request(request).await;
                if !send(&mut framed, ServerMessage::Response { id, result }).await {
                    return;
                }
            }
        }
    }
}

/// Sends `msg`; false when the client is gone or does not read it in time.
async fn send(framed: &mut ServerFramed, msg: ServerMessage) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, framed.send(msg)).await,
        Ok(Ok(()))
    )
}

async fn bad_frame(framed: &mut ServerFramed, err: FrameError) {
    let msg = match err {
        FrameError::TooLarge => format!(
            "frame refused: larger than the {} byte limit (is this a Switchyard client?)",
            crate::protocol::MAX_FRAME
        ),
        FrameError::Undecodable(err) => format!(
            "undecodable frame ({err}): unknown request or another protocol; this daemon speaks protocol {PROTOCOL_VERSION}"
        ),
        FrameError::Io(err) => {
            tracing::debug!(%err, "client connection failed");
            return;
        }
    };
    tracing::warn!("{msg}");
    refuse(framed, ErrorKind::BadRequest, msg).await;
}

/// Sends a last error frame (best effort, briefly) before the connection closes.
/// Closing with unread input would make the peer's kernel report a reset
/// instead of our message, so the write side is shut first and the input
/// drained for a moment.
pub(super) async fn refuse(framed: &mut ServerFramed, kind: ErrorKind, message: impl Into<String>) {
    let frame = ServerMessage::Error(ErrorReply::new(kind, message));
    let linger = async {
        framed.send(frame).await.ok()?;
        framed.get_mut().shutdown().await.ok()?;
        let mut sink = [0u8; 4096];
        while framed.get_mut().read(&mut sink).await.ok()? > 0 {}
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
}
