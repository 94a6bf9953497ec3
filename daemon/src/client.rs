//! The client library every CLI command and the dashboard use to talk to the
//! daemon: connect, handshake, typed requests, and event subscriptions.

use std::io;
use std::path::PathBuf;

use futures::{SinkExt, StreamExt};
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use tokio_util::codec::Framed;

use crate::paths::Paths;
use crate::protocol::{
    ClientMessage, ErrorReply, FrameCodec, FrameError, PROTOCOL_VERSION, Reply, Request,
    ServerMessage,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the switchyard daemon is not running (no answer on {}); start it with `switchyard daemon start`", socket.display())]
    NotRunning { socket: PathBuf },
    /// The daemon's own words; shown as they are (and only once: it is no
    /// error source of its own).
    #[error("{0}")]
    Daemon(ErrorReply),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("the daemon at {} accepted the connection but did not answer within {}s (stopping, or stuck?); see `switchyard logs`", socket.display(), HANDSHAKE_TIMEOUT.as_secs())]
    NotAnswering { socket: PathBuf },
    #[error("unexpected answer from the daemon: {0}")]
    Protocol(String),
    #[error("talking to the daemon failed: {0}")]
    Frame(FrameError),
    #[error("cannot reach the daemon socket: {0}")]
    Io(io::Error),
}

// By hand, not `#[from]`: that would also make the inner error the `source`,
// and a report of the whole chain would then print the same words twice.
impl From<ErrorReply> for ClientError {
    fn from(err: ErrorReply) -> Self {
        ClientError::Daemon(err)
    }
}

impl From<FrameError> for ClientError {
    fn from(err: FrameError) -> Self {
        ClientError::Frame(err)
    }
}

impl From<io::Error> for ClientError {
    fn from(err: io::Error) -> Self {
        ClientError::Io(err)
    }
}

/// Whether a connection was dropped by its far end (as a dying daemon does).
fn dropped(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
    )
}

/// How long a daemon may take to answer `Hello`.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

type ClientFramed = Framed<Stream, FrameCodec<ServerMessage, ClientMessage>>;

pub struct Client {
    framed: ClientFramed,
    next_id: u64,
    /// The daemon's pid and version, from its `Welcome`.
    pub daemon_pid: u32,
    pub daemon_version: String,
}

impl Client {
    /// Connects and completes the handshake.
    pub async fn connect(paths: &Paths, client: &str) -> Result<Client, ClientError> {
        let socket = paths.socket();
        let name = socket.as_path().to_fs_name::<GenericFilePath>()?;
        let stream = match Stream::connect(name).await {
            Ok(stream) => stream,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning { socket });
            }
            Err(err) => return Err(err.into()),
        };
        let mut framed = Framed::new(stream, FrameCodec::new());
        // A daemon killed a moment ago can still hold its listener while its
        // last threads exit: the connect lands in the backlog and is reset
        // before any answer. That daemon is gone, not broken.
        let gone = |err: FrameError| match err {
            FrameError::Io(io) if dropped(&io) => ClientError::NotRunning {
                socket: socket.clone(),
            },
            other => other.into(),
        };
        framed
            .send(ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                client: client.to_owned(),
            })
            .await
            .map_err(gone)?;
        let welcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, framed.next())
            .await
            .map_err(|_| ClientError::NotAnswering {
                socket: socket.clone(),
            })?;
        match welcome {
            Some(Ok(ServerMessage::Welcome { pid, version, .. })) => Ok(Client {
                framed,
                next_id: 1,
                daemon_pid: pid,
                daemon_version: version,
            }),
            Some(Ok(ServerMessage::Error(err))) => Err(err.into()),
            Some(Ok(other)) => Err(ClientError::Protocol(format!("{other:?}"))),
            Some(Err(err)) => Err(gone(err)),
            None => Err(ClientError::NotRunning { socket }),
        }
    }

    /// Sends one request and waits for its reply.
    pub async fn request(&mut self, request: Request) -> Result<Reply, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.framed
            .send(ClientMessage::Request { id, request })
            .await?;
        loop {
            match self.framed.next().await {
                Some(Ok(ServerMessage::Response { id: got, result })) if got == id => {
                    return result.map_err(ClientError::from);
                }
                Some(Ok(ServerMessage::Error(err))) => return Err(err.into()),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
                None => return Err(ClientError::Closed),
            }
        }
    }

    /// Turns this connection into an event stream: a snapshot (or, with `since`,
    /// the journal's events after that seq), then every event.
    pub async fn subscribe(mut self, since: Option<u64>) -> Result<Subscription, ClientError> {
        match self.request(Request::Subscribe { since }).await? {
            Reply::Subscribed => Ok(Subscription {
                framed: self.framed,
            }),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }
}

impl Client {
    /// Turns this connection into a stream of the daemon's log lines.
    pub async fn subscribe_logs(mut self) -> Result<Subscription, ClientError> {
        match self.request(Request::SubscribeLogs).await? {
            Reply::Subscribed => Ok(Subscription {
                framed: self.framed,
            }),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }
}

/// A live event stream from the daemon.
pub struct Subscription {
    framed: ClientFramed,
}

impl Subscription {
    /// The next snapshot or event; `None` when the daemon went away.
    pub async fn next(&mut self) -> Option<Result<ServerMessage, ClientError>> {
        match self.framed.next().await? {
            Ok(ServerMessage::Error(err)) => Some(Err(err.into())),
            Ok(msg) => Some(Ok(msg)),
            Err(err) => Some(Err(err.into())),
        }
    }
}
