//! One client connection: peer check, handshake, then requests until the client
//! leaves (or turns the connection into an event stream).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::core::CoreHandle;
use crate::protocol::{
    ClientMessage, ErrorKind, ErrorReply, FrameCodec, FrameError, PROTOCOL_VERSION, Request,
    ServerMessage,
};

/// A client must say `Hello` within this time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) type ServerFramed = Framed<Stream, FrameCodec<ClientMessage, ServerMessage>>;

pub(super) async fn serve(
    stream: Stream,
    core: CoreHandle,
    shutdown: CancellationToken,
    uid: u32,
    has_slot: bool,
) {
    let peer = stream.peer_creds().ok();
    let peer_uid = peer.and_then(|c| c.euid());
    let peer_pid = peer.and_then(|c| c.pid());
    let mut framed = Framed::new(stream, FrameCodec::new());
    if let Some(peer_uid) = peer_uid
        && peer_uid != uid
    {
        tracing::warn!(peer_uid, ?peer_pid, "refused a client of another user");
        let msg = format!("this daemon belongs to uid {uid}; uid {peer_uid} may not use it");
        refuse(&mut framed, ErrorKind::PermissionDenied, msg).await;
        return;
    }
    if !has_slot {
        refuse(
            &mut framed,
            ErrorKind::Failed,
            "the daemon is serving too many connections; try again",
        )
        .await;
        return;
    }
    let client = match tokio::time::timeout(HANDSHAKE_TIMEOUT, framed.next()).await {
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
    if framed.send(welcome).await.is_err() {
        return;
    }
    tracing::debug!(%client, ?peer_pid, "client attached");
    // One wait for shutdown per connection, not one per request; polled after
    // the socket, so a request that is already there costs no look at it.
    let stopping = shutdown.clone().cancelled_owned();
    tokio::pin!(stopping);
    loop {
        let msg = tokio::select! {
            biased;
            msg = framed.next() => msg,
            () = &mut stopping => return,
        };
        match msg {
            None => return,
            Some(Err(err)) => {
                bad_frame(&mut framed, err).await;
                return;
            }
            Some(Ok(ClientMessage::Hello { .. })) => {
                refuse(
                    &mut framed,
                    ErrorKind::BadRequest,
                    "Hello may only be sent once",
                )
                .await;
                return;
            }
            Some(Ok(ClientMessage::Request {
                id,
                request: Request::Subscribe { since },
            })) => {
                super::subscribe::stream(framed, core, id, since, shutdown).await;
                return;
            }
            Some(Ok(ClientMessage::Request { id, request })) => {
                let result = core.request(request).await;
                if framed
                    .send(ServerMessage::Response { id, result })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
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
