//! The core's side of takeover: pointing a CLI's configuration file at its
//! proxy, handing it back, and making files agree with the store on start.
//!
//! The core does this itself — the edits are small and quick — running the
//! file work on the blocking pool while it waits, so changes stay sequenced by
//! their one owner. The store's record is saved *before* a file changes, so a
//! crash at any point leaves the original recoverable.

use tokio::sync::oneshot;

use super::{Core, stopping, store_failed};
use crate::apps::App;
use crate::protocol::{ErrorKind, ErrorReply, Reply};
use crate::store::TakeoverRecord;
use crate::takeover::{self, Action, TakeoverError};

/// How often a plan is redone when the user saves the file mid-edit.
const ATTEMPTS: usize = 3;

impl Core {
    /// Points `app`'s CLI at its proxy on `port`; returns what happened, for
    /// the reply. A file that cannot be edited refuses with the file and line,
    /// and nothing changes.
    pub(super) async fn takeover_point(&self, app: App, port: u16) -> Result<String, ErrorReply> {
        let path = takeover::config_path(app).map_err(|err| refused(app, err))?;
        let url = takeover::proxy_url(port);
        let mut old = self
            .store
            .takeover_record(app)
            .await
            .map_err(store_failed)?;
        if let Some(record) = old.take_if(|r| r.path != path) {
            // HOME moved since: hand the old file back before taking the new one.
            let note = self
                .release_record(record)
                .await
                .map_err(|err| refused(app, err))?;
            tracing::info!(%app, "takeover: {note}");
        }
        for _ in 0..ATTEMPTS {
            let (p, u, r) = (path.clone(), url.clone(), old.clone());
            let plan = blocking(move || takeover::plan_point(app, &p, &u, r.as_ref()))
                .await
                .map_err(|err| refused(app, err))?;
            if old.as_ref() != Some(&plan.record) {
                self.store
                    .save_takeover(plan.record.clone())
                    .await
                    .map_err(store_failed)?;
            }
            if !plan.changed {
                return Ok(format!("{} already points at {url}", path.display()));
            }
            let (p, seen, write) = (path.clone(), plan.seen, Action::Write(plan.record.written));
            match blocking(move || takeover::commit(&p, &seen, &write)).await {
                Ok(()) => {
                    tracing::info!(%app, path = %path.display(), %url, "takeover: pointed");
                    return Ok(format!("{} now points at {url}", path.display()));
                }
                Err(TakeoverError::Changed { .. }) => continue,
                Err(err) => {
                    // The file did not change: the record must say so again.
                    let undo = match old {
                        Some(record) => self.store.save_takeover(record).await,
                        None => self.store.delete_takeover(app).await,
                    };
                    undo.map_err(store_failed)?;
                    return Err(refused(app, err));
                }
            }
        }
        // The file kept changing under us and was never written: the record
        // must not claim otherwise.
        let undo = match old {
            Some(record) => self.store.save_takeover(record).await,
            None => self.store.delete_takeover(app).await,
        };
        undo.map_err(store_failed)?;
        Err(refused(app, TakeoverError::Changed { path }))
    }

    /// Hands `app`'s file back if Switchyard holds it; returns a note for the
    /// reply ("" when there was nothing to do). It never fails the request it
    /// is part of: on failure the record stays, and the next disable or daemon
    /// start retries.
    pub(super) async fn takeover_release(&self, app: App) -> String {
        let record = match self.store.takeover_record(app).await {
            Ok(Some(record)) => record,
            Ok(None) => return String::new(),
            Err(err) => return store_failed(err).message,
        };
        match self.release_record(record).await {
            Ok(note) => note,
            Err(err) => {
                tracing::warn!(%app, %err, "takeover: cannot hand the file back");
                format!(
                    "{app}'s configuration was not handed back: {err}; Switchyard keeps its record and retries on the next `switchyard disable {app}` or daemon start"
                )
            }
        }
    }

    async fn release_record(&self, record: TakeoverRecord) -> Result<String, TakeoverError> {
        let (app, path) = (record.app, record.path.clone());
        for _ in 0..ATTEMPTS {
            let r = record.clone();
            let plan = blocking(move || takeover::plan_release(&r)).await?;
            let (p, seen, action) = (path.clone(), plan.seen, plan.action.clone());
            match blocking(move || takeover::commit(&p, &seen, &action)).await {
                Ok(()) => {}
                Err(TakeoverError::Changed { .. }) => continue,
                Err(err) => return Err(err),
            }
            if let Err(err) = self.store.delete_takeover(app).await {
                tracing::error!(%app, %err, "takeover: file handed back, but the record stays");
            }
            tracing::info!(%app, path = %path.display(), action = ?plan.action, "takeover: released");
            let path = path.display();
            return Ok(match plan.action {
                Action::Nothing => format!("{path} needed no change"),
                Action::Write(_) => format!("{path} restored"),
                Action::Remove => format!("{path} removed (Switchyard had created it)"),
            });
        }
        Err(TakeoverError::Changed { path })
    }

    /// On start: a file that should point at the proxy is pointed again; one
    /// that should not any more is handed back.
    pub(super) async fn reconcile_takeover(&self, app: App, wanted: bool, port: u16) {
        if wanted {
            match self.takeover_point(app, port).await {
                Ok(note) => tracing::info!(%app, "takeover: {note}"),
                Err(err) => tracing::warn!(%app, "takeover: {err}"),
            }
        } else {
            let note = self.takeover_release(app).await;
            if !note.is_empty() {
                tracing::info!(%app, "takeover: {note}");
            }
        }
    }

    /// After a port move: a taken-over app's file follows it.
    pub(super) async fn takeover_follow_port(&self, app: App, port: u16) {
        if self.app_state(app).is_some_and(|s| s.enabled && s.takeover)
            && let Err(err) = self.takeover_point(app, port).await
        {
            tracing::warn!(%app, "takeover: cannot re-point after the port change: {err}");
        }
    }
}

/// `rx`'s answer with `note` appended, success or failure.
pub(super) fn with_note(
    rx: oneshot::Receiver<Result<Reply, ErrorReply>>,
    note: String,
) -> oneshot::Receiver<Result<Reply, ErrorReply>> {
    if note.is_empty() {
        return rx;
    }
    let (tx, out) = oneshot::channel();
    tokio::spawn(async move {
        let result = match rx.await.unwrap_or_else(|_| Err(stopping())) {
            Ok(Reply::Done(text)) => Ok(Reply::Done(format!("{text}; {note}"))),
            Ok(other) => Ok(other),
            Err(mut err) => {
                err.message = format!("{}; {note}", err.message);
                Err(err)
            }
        };
        let _ = tx.send(result);
    });
    out
}

/// Joins a reply and a note.
pub(super) fn noted(text: String, note: &str) -> String {
    if note.is_empty() {
        text
    } else {
        format!("{text}; {note}")
    }
}

fn refused(app: App, err: TakeoverError) -> ErrorReply {
    match err {
        TakeoverError::Invalid { .. } => ErrorReply::new(
            ErrorKind::BadRequest,
            format!(
                "cannot take over {app}: {err}. The file was left untouched; fix it, or enable {app} without --takeover"
            ),
        ),
        err => ErrorReply::new(ErrorKind::Failed, format!("cannot take over {app}: {err}")),
    }
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TakeoverError> + Send + 'static,
) -> Result<T, TakeoverError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|err| {
        Err(TakeoverError::Io {
            what: "edit",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(err.to_string()),
        })
    })
}
