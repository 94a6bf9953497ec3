//! The core's side of takeover: when to point a CLI's files at the proxy and
//! when to hand them back — on `enable`, `disable`, port moves and conflicts,
//! and at start.
//!
//! The file work itself runs on the takeover thread (`takeover::actor`),
//! never on the core: the core sends a job and carries on, and what must
//! happen after it (continuing an `enable`, answering the client) comes back
//! as a [`TakeoverDone`] message or is appended to the reply by a small task.
//! Jobs run in the order the core sent them, so edits of one file never
//! interleave. The record is saved (in a file of its own, beside the
//! database) before any CLI file changes, so a crash at any point leaves the
//! original recoverable.
//!
//! A file is pointed only while the proxy serves the port: while another
//! program holds it, the CLI would send its key there, so `enable` leaves the
//! file as it is (and says so), and points it once the proxy serves.

use tokio::sync::oneshot;

use super::notes::{ReplyTx, forward, now, with_note};
use super::{Core, CoreMsg, Outcome, stopping};
use crate::apps::App;
use crate::protocol::state::EventKind;
use crate::protocol::{CallerEnv, ErrorKind, ErrorReply, Reply};
use crate::takeover::actor::{Pending, answer};
use crate::takeover::{self, TakeoverError};

/// Takeover work that finished, for the core to carry on from.
pub enum TakeoverDone {
    /// `enable --takeover`: the files were checked (nothing written yet).
    Checked {
        app: App,
        env: CallerEnv,
        reply: ReplyTx,
        result: Result<(), TakeoverError>,
    },
    /// `enable --takeover`: the supervisor answered; point the files if the
    /// proxy serves the port.
    Served {
        app: App,
        env: CallerEnv,
        reply: ReplyTx,
        result: Result<Reply, ErrorReply>,
    },
}

/// What an app's port did that its taken-over files must follow.
pub(super) enum Follow {
    /// The port moved: the files follow.
    Moved(App, u16),
    /// Another program holds it: the files are handed back meanwhile.
    Taken(App),
    /// A worker serves it: files waiting for that are pointed.
    Served(App),
}

impl Follow {
    pub(super) fn of(kind: &EventKind) -> Option<Follow> {
        match kind {
            EventKind::PortChanged { app, port } => Some(Follow::Moved(*app, *port)),
            EventKind::PortConflict { app, .. } => Some(Follow::Taken(*app)),
            EventKind::WorkerReady { app, .. } => Some(Follow::Served(*app)),
            _ => None,
        }
    }
}

/// How long start waits for the files to agree with the store.
const RECONCILE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Core {
    /// `enable APP --takeover`: the files are checked first, so one that
    /// cannot be edited refuses the enable before anything changed.
    pub(super) fn request_enable_takeover(&mut self, app: App, env: CallerEnv) -> Outcome {
        let Some(port) = self.app_state(app).map(|s| s.port) else {
            return super::apps::unknown(app);
        };
        let (reply, rx) = oneshot::channel();
        let pending = answer(self.takeovers.check(app, port, env.clone()));
        self.then(pending, move |result| TakeoverDone::Checked {
            app,
            env,
            reply,
            result,
        });
        Outcome::Later(rx)
    }

    pub(super) async fn takeover_done(&mut self, done: TakeoverDone) {
        match done {
            TakeoverDone::Checked {
                app,
                reply,
                result: Err(err),
                ..
            } => {
                let _ = reply.send(Err(refused(app, err)));
            }
            TakeoverDone::Checked {
                app,
                env,
                reply,
                result: Ok(()),
            } => self.enable_checked(app, env, reply).await,
            TakeoverDone::Served {
                app,
                env,
                reply,
                result,
            } => self.served(app, env, reply, result),
        }
    }

    /// The files can be pointed: record the desire, start the proxy, and
    /// point them once it serves (at once if it already does).
    async fn enable_checked(&mut self, app: App, env: CallerEnv, reply: ReplyTx) {
        let Some(state) = self.app_state(app) else {
            return;
        };
        let (enabled, running, had, port) = (
            state.enabled,
            state.pid.is_some(),
            state.takeover,
            state.port,
        );
        if !enabled && self.worker_config(app).providers.is_empty() {
            let _ = reply.send(Err(self.no_usable_provider(app)));
            return;
        }
        if let Err(err) = self.store.set_enabled(app, true, true).await {
            let _ = reply.send(Err(super::store_failed(err)));
            return;
        }
        if enabled && !had {
            self.emit(EventKind::AppEnabled {
                app,
                takeover: true,
            });
        }
        if enabled && running {
            let text = format!("{app} is already enabled on 127.0.0.1:{port}");
            let note = self.takeovers.point(app, port, Some(env));
            forward(with_note(now(Ok(Reply::Done(text))), note, app), reply);
            return;
        }
        let served = self.enable(app, true);
        self.then(
            async move { served.await.unwrap_or_else(|_| Err(stopping())) },
            move |result| TakeoverDone::Served {
                app,
                env,
                reply,
                result,
            },
        );
    }

    /// The supervisor answered an `enable --takeover`.
    fn served(
        &mut self,
        app: App,
        env: CallerEnv,
        reply: ReplyTx,
        result: Result<Reply, ErrorReply>,
    ) {
        let Some(port) = self.app_state(app).map(|s| s.port) else {
            return;
        };
        match result {
            // Another program holds the port: the file stays as it is until
            // the proxy serves it.
            // The app is enabled all the same: the answer is a success.
            Err(err) if err.kind == ErrorKind::Conflict => {
                let file = takeover::config_path_in(app, &env).map_or_else(
                    |_| format!("{app}'s configuration"),
                    |p| p.display().to_string(),
                );
                let text = format!(
                    "{}; {file} was left as it is, and will point at {} once the proxy serves port {port}",
                    super::apps::waiting_text(app, &err),
                    takeover::proxy_url(port)
                );
                self.set_awaiting(app, Some(Some(env)));
                let _ = reply.send(Ok(Reply::Done(text)));
            }
            // Served, or by the daemon's own 503 answer while it cannot be:
            // the port is Switchyard's either way.
            result => {
                let note = self.takeovers.point(app, port, Some(env));
                forward(with_note(now(result), note, app), reply);
            }
        }
    }

    /// Hands `app`'s files back if Switchyard holds them; the note for the
    /// reply comes when the takeover thread is done. A failure never fails
    /// the request it is part of: the record stays, and the next disable or
    /// daemon start retries.
    pub(super) fn takeover_release(&self, app: App) -> Pending<String> {
        self.takeovers.release(app)
    }

    /// On start: a file that should point at the proxy is pointed again; one
    /// that should not any more is handed back. Records an older Switchyard
    /// kept in the database are moved to record files first.
    pub(super) async fn reconcile_takeover(&mut self, wanted: Vec<(App, bool, u16)>) {
        match self.store.legacy_takeover_records().await {
            Ok(legacy) if !legacy.is_empty() => match answer(self.takeovers.import(legacy)).await {
                Ok(apps) => {
                    for app in apps {
                        tracing::info!(%app, "takeover: record moved out of the database");
                        if let Err(err) = self.store.delete_legacy_takeover(app).await {
                            tracing::warn!(%app, %err, "takeover: old record stays in the database");
                        }
                    }
                }
                Err(err) => {
                    tracing::error!(%err, "takeover: cannot move old records out of the database")
                }
            },
            Ok(_) => {}
            Err(err) => tracing::error!(%err, "takeover: cannot read old records"),
        }
        let jobs = wanted.into_iter().map(|(app, wanted, port)| {
            let pending = if wanted {
                self.takeovers.point(app, port, None)
            } else {
                self.takeovers.release(app)
            };
            async move { log_result(app, "on start", answer(pending).await) }
        });
        // The daemon answers only once its files agree with the store (so a
        // script that starts it sees them so), unless a file hangs: the jobs
        // then finish on their own.
        if tokio::time::timeout(RECONCILE_WAIT, futures::future::join_all(jobs))
            .await
            .is_err()
        {
            tracing::warn!("takeover: files still being reconciled; the daemon starts meanwhile");
        }
    }

    /// Keeps the files agreeing with the port: see [`Follow`].
    pub(super) fn takeover_follow(&mut self, follow: Follow) {
        match follow {
            Follow::Moved(app, port) => self.takeover_follow_port(app, port),
            Follow::Taken(app) => self.takeover_port_taken(app),
            Follow::Served(app) => self.takeover_port_served(app),
        }
    }

    /// After a port move: a taken-over app's files follow it.
    fn takeover_follow_port(&mut self, app: App, port: u16) {
        if self.app_state(app).is_some_and(|s| s.enabled && s.takeover) {
            let pending = self.takeovers.point(app, port, None);
            log_when_done(app, "after the port change", pending);
        }
    }

    /// Another program holds `app`'s port: the CLI must not send its key
    /// there. Its files are handed back until the proxy serves the port.
    fn takeover_port_taken(&mut self, app: App) {
        if self.app_state(app).is_some_and(|s| s.enabled && s.takeover) {
            self.set_awaiting(app, Some(None));
        }
        log_when_done(
            app,
            "while another program holds the port",
            self.takeovers.release(app),
        );
    }

    /// The proxy serves `app`'s port again: files waiting for it are pointed.
    fn takeover_port_served(&mut self, app: App) {
        let Some(env) = self.awaiting_port.get(&app).cloned() else {
            return;
        };
        self.set_awaiting(app, None);
        let Some(state) = self.app_state(app) else {
            return;
        };
        if state.enabled && state.takeover {
            let pending = self.takeovers.point(app, state.port, env);
            log_when_done(app, "now that the proxy serves the port", pending);
        }
    }

    /// Runs `pending` to its end off the core, then hands `make(result)` back.
    fn then<T: Send + 'static>(
        &self,
        pending: impl Future<Output = T> + Send + 'static,
        make: impl FnOnce(T) -> TakeoverDone + Send + 'static,
    ) {
        let core = self.myself.clone();
        tokio::spawn(async move {
            let result = pending.await;
            if let Some(core) = core.upgrade() {
                let _ = core.send(CoreMsg::Takeover(make(result)));
            }
        });
    }
}

fn log_when_done(app: App, when: &'static str, pending: Pending<String>) {
    tokio::spawn(async move { log_result(app, when, answer(pending).await) });
}

fn log_result(app: App, when: &str, result: Result<String, TakeoverError>) {
    match result {
        Ok(note) if note.is_empty() => {}
        Ok(note) => tracing::info!(%app, "takeover {when}: {note}"),
        Err(err) => tracing::warn!(%app, "takeover {when}: {err}"),
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
