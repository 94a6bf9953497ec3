//! Requests that change an app's desired state: enable, disable, restart, port.
//! Each records the desire in the store (without waiting for the disk), emits
//! the event, and hands the work to the app's supervisor, whose answer goes
//! straight back to the client once the store has the change.

use tokio::sync::oneshot;

use super::notes::{now, with_note};
use super::{Core, Outcome, once_saved, saved_then};
use crate::apps::App;
use crate::protocol::state::EventKind;
use crate::protocol::{ErrorKind, ErrorReply, Reply};
use crate::supervisor::AppCommand;

impl Core {
    /// `enable APP` without `--takeover` (with it: `request_enable_takeover`).
    /// A file Switchyard holds is handed back: the flag is the desired state.
    pub(super) async fn request_enable(&mut self, app: App) -> Outcome {
        let Some(state) = self.app_state(app) else {
            return unknown(app);
        };
        let (enabled, running, had, port) = (
            state.enabled,
            state.pid.is_some(),
            state.takeover,
            state.port,
        );
        // A worker without a provider answers every request with 502: that is
        // no enable to report as done.
        if !enabled && self.worker_config(app).providers.is_empty() {
            return Outcome::Now(Err(self.no_usable_provider(app)));
        }
        let note = self.takeover_release(app);
        if enabled && running && !had {
            let text = format!("{app} is already enabled on 127.0.0.1:{port}");
            return Outcome::Later(with_note(now(Ok(Reply::Done(text))), note, app));
        }
        let saved = self.store.set_enabled(app, true, false);
        self.set_awaiting(app, None);
        if enabled && had {
            self.emit(EventKind::AppEnabled {
                app,
                takeover: false,
            });
        }
        let started = waiting_is_enabled(app, self.enable(app, false));
        Outcome::Later(with_note(once_saved(saved, started), note, app))
    }

    /// Marks `app` enabled and asks its supervisor to bring a worker up.
    pub(super) fn enable(
        &mut self,
        app: App,
        takeover: bool,
    ) -> oneshot::Receiver<Result<Reply, ErrorReply>> {
        let already = self.app_state(app).is_some_and(|s| s.enabled);
        if !already {
            self.emit(EventKind::AppEnabled { app, takeover });
        }
        let port = self.app_state(app).map_or(app.default_port(), |s| s.port);
        let config = self.worker_config(app);
        let (reply, rx) = oneshot::channel();
        self.send(
            app,
            AppCommand::Enable {
                port,
                config,
                reply,
            },
        );
        rx
    }

    pub(super) async fn request_disable(&mut self, app: App) -> Outcome {
        let Some(state) = self.app_state(app) else {
            return unknown(app);
        };
        if !state.enabled {
            // A hand-back that failed before is retried.
            let note = self.takeover_release(app);
            let text = format!("{app} is already disabled");
            return Outcome::Later(with_note(now(Ok(Reply::Done(text))), note, app));
        }
        let saved = self.store.set_enabled(app, false, false);
        self.emit(EventKind::AppDisabled { app });
        self.set_awaiting(app, None);
        // The hand-back is queued before the supervisor hears of it; it takes
        // milliseconds, while the worker drains for up to seconds.
        let note = self.takeover_release(app);
        let (reply, rx) = oneshot::channel();
        self.send(app, AppCommand::Disable { reply });
        Outcome::Later(with_note(once_saved(saved, rx), note, app))
    }

    pub(super) fn request_restart(&mut self, app: App) -> Outcome {
        let Some(state) = self.app_state(app) else {
            return unknown(app);
        };
        if !state.enabled {
            return Outcome::Now(Err(ErrorReply::new(
                ErrorKind::Conflict,
                format!("{app} is disabled; enable it with `switchyard enable {app}`"),
            )));
        }
        let port = state.port;
        let config = self.worker_config(app);
        let (reply, rx) = oneshot::channel();
        self.send(
            app,
            AppCommand::Restart {
                port,
                config,
                reply,
            },
        );
        Outcome::Later(rx)
    }

    pub(super) async fn request_port(&mut self, app: App, port: u16) -> Outcome {
        let Some(state) = self.app_state(app) else {
            return unknown(app);
        };
        if port == 0 {
            return Outcome::Now(Err(ErrorReply::new(
                ErrorKind::BadRequest,
                "port 0 is not a fixed port; choose one from 1 to 65535",
            )));
        }
        if let Some(other) = self
            .snapshot
            .apps
            .iter()
            .find(|s| s.app != app && s.port == port)
        {
            return Outcome::Now(Err(ErrorReply::new(
                ErrorKind::Conflict,
                format!(
                    "port {port} belongs to {}; choose another port for {app}",
                    other.app
                ),
            )));
        }
        if state.port == port && state.port_error.is_none() {
            return Outcome::Now(Ok(Reply::Done(format!("{app} already uses port {port}"))));
        }
        if !state.enabled {
            // Nothing is bound: remember it, and say now if another program
            // holds it (a trial bind, released at once), not only at enable.
            let saved = self.store.set_port(app, port);
            self.emit(EventKind::PortChanged { app, port });
            let text = match crate::supervisor::bind(port).await {
                Ok(_free) => format!("{app} will use port {port}"),
                Err(problem) => format!(
                    "{app} will use port {port}; note: {problem} right now (once {app} is enabled, Switchyard starts it as soon as the port is free)"
                ),
            };
            return saved_then(saved, Ok(Reply::Done(text)));
        }
        // The supervisor binds the new port before it lets the old one go, and
        // persists the change only once the new one is bound.
        let config = self.worker_config(app);
        let (reply, rx) = oneshot::channel();
        self.send(
            app,
            AppCommand::SetPort {
                port,
                config,
                store: self.store.clone(),
                reply,
            },
        );
        Outcome::Later(rx)
    }

    pub(super) fn send(&self, app: App, command: AppCommand) {
        if let Some(handle) = self.supervisors.get(&app) {
            handle.send(command);
        }
    }
}

/// The enable is done when the port is held by another program: the app is
/// enabled and Switchyard starts it once the port is free, so the answer says
/// that (exit 0), not that it failed.
fn waiting_is_enabled(
    app: App,
    rx: oneshot::Receiver<Result<Reply, ErrorReply>>,
) -> oneshot::Receiver<Result<Reply, ErrorReply>> {
    let (tx, out) = oneshot::channel();
    tokio::spawn(async move {
        let result = rx.await.unwrap_or_else(|_| Err(super::stopping()));
        let _ = tx.send(match result {
            Err(err) if err.kind == ErrorKind::Conflict => Ok(Reply::Done(waiting_text(app, &err))),
            other => other,
        });
    });
    out
}

/// `claude enabled, not serving yet: port … is in use …; Switchyard keeps trying …`.
pub(super) fn waiting_text(app: App, err: &ErrorReply) -> String {
    format!("{app} enabled, not serving yet: {}", err.message)
}

pub(super) fn unknown(app: App) -> Outcome {
    Outcome::Now(Err(ErrorReply::new(
        ErrorKind::NotFound,
        format!("{app} is not in the store; the database may be from another version"),
    )))
}
