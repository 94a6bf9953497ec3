//! Replies that carry a takeover note: the answer to a request, with what
//! happened to the CLI's files appended once the takeover thread is done —
//! put together by a small task, so the core never waits for either.

use tokio::sync::oneshot;

use super::stopping;
use crate::apps::App;
use crate::protocol::{ErrorReply, Reply};
use crate::takeover::TakeoverError;
use crate::takeover::actor::{Pending, answer};

pub(super) type ReplyTx = oneshot::Sender<Result<Reply, ErrorReply>>;
pub(super) type ReplyRx = oneshot::Receiver<Result<Reply, ErrorReply>>;

/// `rx`'s answer with the takeover note appended, success or failure.
pub(super) fn with_note(rx: ReplyRx, note: Pending<String>, app: App) -> ReplyRx {
    let (tx, out) = oneshot::channel();
    tokio::spawn(async move {
        let result = rx.await.unwrap_or_else(|_| Err(stopping()));
        let note = match answer(note).await {
            Ok(note) => note,
            Err(err @ TakeoverError::Invalid { .. }) | Err(err @ TakeoverError::Changed { .. }) => {
                tracing::warn!(%app, %err, "takeover: cannot edit the file");
                format!(
                    "{app}'s configuration was not handed back: {err}; Switchyard keeps its record and retries on the next `switchyard disable {app}` or daemon start"
                )
            }
            Err(err) => {
                tracing::warn!(%app, %err, "takeover failed");
                format!("{app}'s configuration: {err}")
            }
        };
        let _ = tx.send(match result {
            Ok(Reply::Done(text)) => Ok(Reply::Done(noted(text, &note))),
            Ok(other) => Ok(other),
            Err(mut err) => {
                err.message = noted(err.message, &note);
                Err(err)
            }
        });
    });
    out
}

/// An answer that is already known, as a receiver.
pub(super) fn now(result: Result<Reply, ErrorReply>) -> ReplyRx {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(result);
    rx
}

/// Sends `rx`'s answer on to `reply` when it comes.
pub(super) fn forward(rx: ReplyRx, reply: ReplyTx) {
    tokio::spawn(async move {
        let _ = reply.send(rx.await.unwrap_or_else(|_| Err(stopping())));
    });
}

/// Joins a reply and a note.
pub(super) fn noted(text: String, note: &str) -> String {
    if note.is_empty() {
        text
    } else {
        format!("{text}; {note}")
    }
}
