//! The owner check on the proxy port: a connection from another local user would
//! spend this user's stored keys, so it is refused. The kernel tells who owns the
//! client's end of a loopback connection (`crate::platform`); that is asked once
//! per connection, when it is accepted, never per request. A refused connection
//! gets a 403 in the app's error shape for each request on it, then closes.

use std::net::SocketAddr;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::TcpStream;

use super::fault::Fault;
use super::report::Tracker;
use super::response::{ClientBody, json_error};
use super::server::Ctx;
use crate::platform::{self, PeerOwner, PeerOwners};

/// Who may use the port, and how to tell who connected.
pub(crate) struct PeerGate {
    owners: PeerOwners,
    uid: u32,
    /// Uids refused so far: each is logged once per listener, not per connection.
    refused: Vec<u32>,
    /// Whether "cannot tell" has been logged.
    told_unknown: bool,
}

/// What to do with a new connection.
pub(crate) enum Admission {
    Owner,
    /// Another user's: answer with 403 and close.
    Stranger(u32),
    /// The client is already gone.
    Gone,
}

impl PeerGate {
    pub(crate) fn new() -> Self {
        PeerGate {
            owners: PeerOwners::new(),
            uid: platform::own_uid(),
            refused: Vec::new(),
            told_unknown: false,
        }
    }

    pub(crate) fn uid(&self) -> u32 {
        self.uid
    }

    pub(crate) fn admit(&mut self, stream: &TcpStream, peer: SocketAddr) -> Admission {
        let Ok(local) = stream.local_addr() else {
            return Admission::Gone;
        };
        let why = match self.owners.owner(local, peer) {
            Ok(PeerOwner::Uid(uid)) if uid == self.uid => return Admission::Owner,
            Ok(PeerOwner::Uid(uid)) => {
                if !self.refused.contains(&uid) && self.refused.len() < 64 {
                    self.refused.push(uid);
                    tracing::warn!(
                        uid,
                        owner = self.uid,
                        "refused a connection from another local user on the proxy port (further ones from this uid are not logged)"
                    );
                }
                return Admission::Stranger(uid);
            }
            Ok(PeerOwner::Gone) => return Admission::Gone,
            Ok(PeerOwner::Unknown) => "this system does not tell".to_owned(),
            Err(err) => err.to_string(),
        };
        if !std::mem::replace(&mut self.told_unknown, true) {
            tracing::warn!(
                %why,
                "cannot tell which user a proxy connection comes from; other local users are not refused"
            );
        }
        Admission::Owner
    }
}

/// The answer to every request on a connection from `uid`.
pub(crate) fn refusal(
    ctx: &Ctx,
    req: &Request<Incoming>,
    owner: u32,
    uid: u32,
) -> Response<ClientBody> {
    let mut tracker = Tracker::start(&ctx.sink, req.method(), req.uri().path());
    let message = format!(
        "this proxy belongs to uid {owner}; uid {uid} may not use it (each user runs their own switchyard)"
    );
    tracker.fail(format!("refused: {message}"));
    let app = ctx.active.borrow().app;
    json_error(app, Fault::Forbidden, &message, tracker)
}
