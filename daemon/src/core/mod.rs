//! The daemon's core: one task owns the [`Snapshot`], the store handle and the
//! per-app supervisors. Every state change goes through [`Core::emit`], which
//! numbers the event, applies it with the shared reducer, journals it and
//! broadcasts it — so each transition is seen exactly once, whatever caused it.

mod apps;
mod history;
mod notes;
mod providers;
mod takeover;

use std::collections::HashMap;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::apps::App;
use crate::protocol::state::{AppState, DaemonInfo, Event, EventKind, Snapshot, apply};
use crate::protocol::{CallerEnv, Encoded, ErrorKind, ErrorReply, Reply, Request, ServerMessage};
use crate::store::{Store, now_ms};
use crate::supervisor::{AppHandle, Policy};
use crate::takeover::Takeovers;

/// How many events a subscriber may fall behind before it is resynced.
pub const SUBSCRIBER_BUFFER: usize = 4096;

/// Messages into the core.
pub enum CoreMsg {
    Request {
        request: Request,
        reply: oneshot::Sender<Result<Reply, ErrorReply>>,
    },
    Subscribe {
        reply: oneshot::Sender<Subscription>,
    },
    /// A supervisor reports a transition of its app.
    Emit(EventKind),
    /// Takeover file work finished; the core carries on from it.
    Takeover(takeover::TakeoverDone),
}

/// The state at one instant plus every event after it.
pub struct Subscription {
    pub snapshot: Snapshot,
    /// Each event as a ready-to-send `ServerMessage::Event` frame.
    pub events: broadcast::Receiver<Encoded>,
}

/// A cheap, cloneable way to talk to the core.
#[derive(Clone)]
pub struct CoreHandle {
    tx: mpsc::UnboundedSender<CoreMsg>,
    pub store: Store,
}

impl CoreHandle {
    pub async fn request(&self, request: Request) -> Result<Reply, ErrorReply> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(CoreMsg::Request { request, reply })
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }

    pub async fn subscribe(&self) -> Result<Subscription, ErrorReply> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(CoreMsg::Subscribe { reply })
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())
    }
}

fn stopping() -> ErrorReply {
    ErrorReply::new(ErrorKind::Failed, "the daemon is stopping")
}

pub struct Core {
    snapshot: Snapshot,
    store: Store,
    events: broadcast::Sender<Encoded>,
    supervisors: HashMap<App, AppHandle>,
    shutdown: CancellationToken,
    /// Edits the CLIs' files, off the core.
    takeovers: Takeovers,
    /// The core's own queue, for work that finishes elsewhere.
    myself: mpsc::WeakUnboundedSender<CoreMsg>,
    /// Apps whose CLI files wait for the proxy to serve the port another
    /// program holds (with the caller's environment of a pending `enable`).
    awaiting_port: HashMap<App, Option<CallerEnv>>,
}

impl Core {
    /// Builds the core from the store's desired state and starts one supervisor
    /// per app. Returns the handle and the task to run.
    pub async fn start(
        store: Store,
        takeovers: Takeovers,
        daemon: DaemonInfo,
        policy: Policy,
        shutdown: CancellationToken,
    ) -> Result<(CoreHandle, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        let rows = store.apps().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = CoreHandle {
            tx: tx.clone(),
            store: store.clone(),
        };
        let supervisors = rows
            .iter()
            .map(|row| {
                let policy = match row.policy.as_deref() {
                    None => policy.clone(),
                    Some(json) => policy.clone().with_overrides(json).unwrap_or_else(|err| {
                        tracing::error!(app = %row.app, %err, "ignoring invalid supervision policy in the store");
                        policy.clone()
                    }),
                };
                let handle = AppHandle::spawn(
                    row.app,
                    policy,
                    tx.clone(),
                    store.clone(),
                    daemon.started_at_ms,
                    shutdown.child_token(),
                );
                (row.app, handle)
            })
            .collect();
        let apps = rows
            .iter()
            .map(|row| AppState::new(row.app, false, row.port))
            .collect();
        let snapshot = Snapshot {
            epoch: daemon.started_at_ms,
            seq: 0,
            daemon,
            apps,
        };

        let (events, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let mut core = Core {
            snapshot,
            store,
            events,
            supervisors,
            shutdown,
            takeovers,
            myself: tx.downgrade(),
            awaiting_port: HashMap::new(),
        };
        // Bring back what was enabled before, on the same ports, with each
        // CLI's configuration agreeing with the store (a crash may have left a
        // file pointed at a disabled proxy, or a hand edit undone a takeover).
        let wanted = rows
            .iter()
            .map(|row| (row.app, row.enabled && row.takeover, row.port))
            .collect();
        core.reconcile_takeover(wanted).await;
        for row in rows {
            core.emit(EventKind::ProviderSelected {
                app: row.app,
                provider: core.first_provider(row.app).await,
            });
            if row.enabled {
                core.enable(row.app, row.takeover).await;
            }
        }
        let task = tokio::spawn(core.run(rx));
        Ok((handle, task))
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<CoreMsg>) {
        // One wait for shutdown for the whole loop: a fresh one per message
        // would register with (and leave) the token's waiter list every time.
        let shutting_down = self.shutdown.clone().cancelled_owned();
        tokio::pin!(shutting_down);
        loop {
            tokio::select! {
                biased;
                msg = rx.recv() => match msg {
                    Some(CoreMsg::Request { request, reply }) => match self.handle(request).await {
                        Outcome::Now(result) => { let _ = reply.send(result); }
                        // A supervisor answers once its worker is up; the core
                        // does not wait for it.
                        Outcome::Later(pending) => { tokio::spawn(async move {
                            let result = pending.await.unwrap_or_else(|_| Err(stopping()));
                            let _ = reply.send(result);
                        }); }
                    },
                    Some(CoreMsg::Subscribe { reply }) => {
                        let _ = reply.send(Subscription {
                            snapshot: self.snapshot.clone(),
                            events: self.events.subscribe(),
                        });
                    }
                    Some(CoreMsg::Emit(kind)) => {
                        let follow = takeover::Follow::of(&kind);
                        self.emit(kind);
                        if let Some(follow) = follow {
                            self.takeover_follow(follow);
                        }
                    }
                    Some(CoreMsg::Takeover(done)) => self.takeover_done(done).await,
                    None => break,
                },
                () = &mut shutting_down => break,
            }
        }
        self.emit(EventKind::DaemonStopping);
        // Stop every worker, still recording their transitions as they happen.
        let stops: Vec<_> = self.supervisors.values().map(AppHandle::stop).collect();
        let all_stopped = futures::future::join_all(stops);
        tokio::pin!(all_stopped);
        loop {
            tokio::select! {
                _ = &mut all_stopped => break,
                Some(msg) = rx.recv() => if let CoreMsg::Emit(kind) = msg { self.emit(kind) },
            }
        }
        while let Ok(msg) = rx.try_recv() {
            if let CoreMsg::Emit(kind) = msg {
                self.emit(kind);
            }
        }
        let _ = self.store.flush().await;
    }

    /// The one way state changes: number, apply, journal, broadcast.
    fn emit(&mut self, kind: EventKind) {
        let event = Event {
            seq: self.snapshot.seq + 1,
            at_ms: now_ms(),
            kind,
        };
        apply(&mut self.snapshot, &event);
        if !matches!(event.kind, EventKind::Traffic { .. }) {
            tracing::debug!(seq = event.seq, kind = ?event.kind, "event");
        }
        self.store
            .append_events(self.snapshot.epoch, vec![event.clone()]);
        // No subscribers is fine; a lagging one resyncs on its own.
        // Encoded once here, not once per subscriber: fan-out is a write each.
        match Encoded::new(&ServerMessage::Event(event)) {
            Ok(frame) => {
                let _ = self.events.send(frame);
            }
            Err(err) => tracing::error!(%err, "cannot encode an event for subscribers"),
        }
    }

    async fn handle(&mut self, request: Request) -> Outcome {
        let now = match request {
            Request::Ping => Ok(Reply::Pong),
            Request::Status => Ok(Reply::Status(Box::new(self.snapshot.clone()))),
            Request::Shutdown => {
                tracing::info!("shutdown requested by a client");
                self.shutdown.cancel();
                Ok(Reply::Done("daemon stopping".into()))
            }
            Request::Enable {
                app,
                takeover: true,
                env,
            } => return self.request_enable_takeover(app, env),
            Request::Enable { app, .. } => return self.request_enable(app).await,
            Request::Disable { app } => return self.request_disable(app).await,
            Request::Restart { app } => return self.request_restart(app).await,
            Request::SetPort { app, port } => return self.request_port(app, port).await,
            Request::ProviderList { app } => self.provider_list(app).await,
            Request::ProviderAdd(spec) => self.provider_add(spec).await,
            Request::ProviderRemove { app, name } => self.provider_remove(app, name).await,
            Request::ProviderUse { app, name } => self.provider_use(app, name).await,
            Request::Requests(query) => return history::requests(&self.store, query),
            Request::Usage(query) => {
                return history::usage(&self.store, query, &history::built_in_prices());
            }
            Request::Subscribe { .. } => Err(ErrorReply::new(
                ErrorKind::BadRequest,
                "subscribe is handled by the connection, not the core",
            )),
        };
        Outcome::Now(now)
    }

    fn app_state(&self, app: App) -> Option<&AppState> {
        self.snapshot.apps.iter().find(|s| s.app == app)
    }
}

/// A reply now, or one a supervisor will send when its worker is up.
enum Outcome {
    Now(Result<Reply, ErrorReply>),
    Later(oneshot::Receiver<Result<Reply, ErrorReply>>),
}

/// Maps a store failure to a reply that says what to do.
fn store_failed(err: crate::store::StoreError) -> ErrorReply {
    tracing::error!(%err, "store request failed");
    ErrorReply::new(ErrorKind::Failed, format!("{err}; see `switchyard logs`"))
}
