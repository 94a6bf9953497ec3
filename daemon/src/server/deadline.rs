//! Deadlines for reading a client's frames: a connection that says nothing
//! for too long, or starts a frame and does not finish it, is closed.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::{Instant, Sleep};

use super::connection::ServerFramed;
use crate::protocol::{ClientMessage, FrameError};

/// A frame whose first bytes arrived must be complete within this.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    /// No frame began in time.
    Idle,
    /// A frame began and stalled.
    Partial,
}

/// One connection's read deadlines; one timer each, re-armed, not re-made.
pub(super) struct Deadlines {
    idle: Pin<Box<Sleep>>,
    partial: Pin<Box<Sleep>>,
    partial_armed: bool,
}

impl Deadlines {
    pub fn new() -> Deadlines {
        Deadlines {
            idle: Box::pin(tokio::time::sleep(Duration::ZERO)),
            partial: Box::pin(tokio::time::sleep(Duration::ZERO)),
            partial_armed: false,
        }
    }

    /// The next frame (`None` at end of input) if one begins within `idle`
    /// and, once begun, is complete within [`FRAME_TIMEOUT`].
    pub async fn next(
        &mut self,
        framed: &mut ServerFramed,
        idle: Duration,
    ) -> Result<Option<Result<ClientMessage, FrameError>>, Expired> {
        self.idle.as_mut().reset(Instant::now() + idle);
        self.partial_armed = false;
        poll_fn(|cx| {
            if let Poll::Ready(item) = framed.poll_next_unpin(cx) {
                return Poll::Ready(Ok(item));
            }
            if !framed.read_buffer().is_empty() {
                if !self.partial_armed {
                    self.partial_armed = true;
                    self.partial.as_mut().reset(Instant::now() + FRAME_TIMEOUT);
                }
                if self.partial.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(Expired::Partial));
                }
            }
            if self.idle.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Expired::Idle));
            }
            Poll::Pending
        })
        .await
    }
}
