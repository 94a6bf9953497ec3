//! The daemon's core: one task owns the [`Snapshot`], the store handle and the
//! per-app supervisors. Every state change goes through [`Core::emit`], which
//! numbers the event, applies it with the shared reducer, journals it and
//! broadcasts it — so each transition is seen exactly once, whatever caused it.
//!
//! Requests that only read (`Ping`, `Status`, `ProviderList`), `Shutdown` and
//! subscriptions never queue behind the core: [`CoreHandle`] answers them from
//! what the core publishes after each change. Nor does the core wait on the
//! disk: it keeps the providers in memory, and its writes go to the store
//! thread, whose outcome only the reply waits for.

mod apps;
mod history;
mod notes;
mod provider_cache;
mod providers;
mod takeover;
pub mod usage;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::apps::App;
use crate::presets::Presets;
use crate::protocol::state::{
    AppState, DaemonHealth, DaemonInfo, Event, EventKind, NotRecording, Snapshot, apply,
};
use crate::protocol::{
    CallerEnv, Encoded, ErrorKind, ErrorReply, ProviderInfo, Reply, Request, ServerMessage,
};
use crate::store::{Pending, Saved, Store, now_ms};
use crate::supervisor::{AppCommand, AppHandle, Policy};
use crate::takeover::Takeovers;
use provider_cache::Providers;

/// How many events a subscriber may fall behind before it is resynced.
pub const SUBSCRIBER_BUFFER: usize = 4096;

/// Messages into the core.
pub enum CoreMsg {
    Request {
        request: Request,
        reply: oneshot::Sender<Result<Reply, ErrorReply>>,
    },
    /// A supervisor (or the socket server) reports a transition.
    Emit(EventKind),
    /// Takeover file work finished; the core carries on from it.
    Takeover(takeover::TakeoverDone),
    /// A worker's batch of finished requests.
    Requests {
        app: App,
        records: Vec<crate::protocol::requests::RequestRecord>,
    },
}

/// The state at one instant plus every event after it.
pub struct Subscription {
    pub snapshot: Snapshot,
    /// Each event's seq and its ready-to-send `ServerMessage::Event` frame;
    /// those up to `snapshot.seq` may come first and are to be skipped.
    pub events: broadcast::Receiver<(u64, Encoded)>,
}

/// A cheap, cloneable way to talk to the core.
#[derive(Clone)]
pub struct CoreHandle {
    tx: mpsc::UnboundedSender<CoreMsg>,
    pub store: Store,
    /// The state after the latest event, published by the core.
    snapshot: watch::Receiver<Arc<Snapshot>>,
    /// Every provider as clients see it, published by the core.
    providers: watch::Receiver<Arc<Vec<ProviderInfo>>>,
    events: broadcast::Sender<(u64, Encoded)>,
    shutdown: CancellationToken,
}

impl CoreHandle {
    /// Answers `request`: reads and `Shutdown` at once, the rest by the core.
    pub async fn request(&self, request: Request) -> Result<Reply, ErrorReply> {
        match request {
            Request::Ping => return Ok(Reply::Pong),
            Request::Status => {
                let snapshot = Snapshot::clone(&self.snapshot.borrow());
                return Ok(Reply::Status(Box::new(snapshot)));
            }
            Request::ProviderList { app } => {
                let all = Arc::clone(&self.providers.borrow());
                let infos = all
                    .iter()
                    .filter(|info| app.is_none_or(|app| info.app == app))
                    .cloned()
                    .collect();
                return Ok(Reply::Providers(infos));
            }
            Request::Shutdown => {
                tracing::info!("shutdown requested by a client");
                self.shutdown.cancel();
                return Ok(Reply::Done("daemon stopping".into()));
            }
            _ => {}
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(CoreMsg::Request { request, reply })
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }

    /// The current snapshot and every event from it on.
    pub fn subscribe(&self) -> Subscription {
        // Subscribe first, then read: an event in between arrives twice
        // (in the snapshot and on the channel) rather than not at all.
        let events = self.events.subscribe();
        let snapshot = Snapshot::clone(&self.snapshot.borrow());
        Subscription { snapshot, events }
    }

    /// Reports a transition that is not a request's (the socket server's).
    pub fn report(&self, kind: EventKind) {
        let _ = self.tx.send(CoreMsg::Emit(kind));
    }
}

fn stopping() -> ErrorReply {
    ErrorReply::new(ErrorKind::Failed, "the daemon is stopping")
}

pub struct Core {
    snapshot: Snapshot,
    /// Where `snapshot` is published after each event, for [`CoreHandle`].
    published: watch::Sender<Arc<Snapshot>>,
    store: Store,
    providers: Providers,
    /// Where the provider list is published after each change.
    provider_infos: watch::Sender<Arc<Vec<ProviderInfo>>>,
    events: broadcast::Sender<(u64, Encoded)>,
    supervisors: HashMap<App, AppHandle>,
    shutdown: CancellationToken,
    /// Edits the CLIs' files, off the core.
    takeovers: Takeovers,
    /// The core's own queue, for work that finishes elsewhere.
    myself: mpsc::WeakUnboundedSender<CoreMsg>,
    /// Apps whose CLI files wait for the proxy to serve the port another
    /// program holds (with the caller's environment of a pending `enable`).
    awaiting_port: HashMap<App, Option<CallerEnv>>,
    /// Provider presets, read and checked at start.
    presets: Arc<Presets>,
    /// Prices and the day today's usage counts.
    usage: usage::Book,
}

impl Core {
    /// Builds the core from the store's desired state and starts one supervisor
    /// per app. Returns the handle and the task to run.
    pub async fn start(
        store: Store,
        takeovers: Takeovers,
        daemon: DaemonInfo,
        policy: Policy,
        presets: Arc<Presets>,
        settings: usage::UsageSettings,
        shutdown: CancellationToken,
    ) -> Result<(CoreHandle, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        let rows = store.apps().await?;
        let book = usage::Book::new(settings.prices, now_ms());
        let mut today = usage::restore(&store, book.day_start_ms()).await;
        usage::spawn_pruning(
            store.clone(),
            settings.retention_days,
            shutdown.child_token(),
        );
        let providers = Providers::new(store.providers(None).await?);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut policies = HashMap::new();
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
                policies.insert(row.app, policy.info());
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
            .map(|row| {
                let mut state = AppState::new(row.app, false, row.port);
                state.usage = today.remove(&row.app).unwrap_or_default();
                state.usage.day_start_ms = book.day_start_ms();
                state.policy = policies.remove(&row.app).unwrap_or_default();
                state
            })
            .collect();
        let snapshot = Snapshot {
            epoch: daemon.started_at_ms,
            seq: 0,
            daemon,
            apps,
            health: DaemonHealth::default(),
        };

        let (events, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let (published, snapshot_rx) = watch::channel(Arc::new(snapshot.clone()));
        let (provider_infos, providers_rx) = watch::channel(Arc::new(providers.infos()));
        let handle = CoreHandle {
            tx: tx.clone(),
            store: store.clone(),
            snapshot: snapshot_rx,
            providers: providers_rx,
            events: events.clone(),
            shutdown: shutdown.clone(),
        };
        let mut core = Core {
            snapshot,
            published,
            store,
            providers,
            provider_infos,
            events,
            supervisors,
            shutdown,
            takeovers,
            myself: tx.downgrade(),
            awaiting_port: HashMap::new(),
            presets,
            usage: book,
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
            core.emit(EventKind::ProvidersChanged {
                app: row.app,
                providers: core.providers.infos_of(row.app),
            });
            core.emit(EventKind::ProviderSelected {
                app: row.app,
                provider: core.first_provider(row.app),
            });
            if row.enabled {
                core.enable(row.app, row.takeover);
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
        let mut recording = self.store.recording();
        self.recording_changed(&mut recording);
        let midnight = tokio::time::sleep(self.usage.until_next_day());
        tokio::pin!(midnight);
        loop {
            tokio::select! {
                biased;
                Ok(()) = recording.changed() => self.recording_changed(&mut recording),
                () = &mut midnight => {
                    self.new_day_if_due();
                    midnight.as_mut().reset(tokio::time::Instant::now() + self.usage.until_next_day());
                }
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
                    Some(CoreMsg::Emit(kind)) => {
                        let follow = takeover::Follow::of(&kind);
                        self.emit(kind);
                        if let Some(follow) = follow {
                            self.takeover_follow(follow);
                        }
                    }
                    Some(CoreMsg::Takeover(done)) => self.takeover_done(done).await,
                    Some(CoreMsg::Requests { app, records }) => self.requests_finished(app, records),
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
                Some(msg) = rx.recv() => self.while_stopping(msg),
            }
        }
        while let Ok(msg) = rx.try_recv() {
            self.while_stopping(msg);
        }
    }

    /// Transitions and finished requests still count while workers drain.
    fn while_stopping(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Emit(kind) => self.emit(kind),
            CoreMsg::Requests { app, records } => self.requests_finished(app, records),
            CoreMsg::Request { .. } | CoreMsg::Takeover(_) => {}
        }
    }

    /// The store started or stopped writing: a fact for every client.
    fn recording_changed(&mut self, recording: &mut watch::Receiver<Option<NotRecording>>) {
        let now = recording.borrow_and_update().clone();
        if now != self.snapshot.health.not_recording {
            self.emit(EventKind::RecordingChanged { not_recording: now });
        }
    }

    /// The one way state changes: number, apply, journal, broadcast.
    fn emit(&mut self, kind: EventKind) {
        let event = Event {
            seq: self.snapshot.seq + 1,
            at_ms: now_ms(),
            kind,
        };
        apply(&mut self.snapshot, &event);
        self.published.send_replace(Arc::new(self.snapshot.clone()));
        if let EventKind::PortChanged { .. } = event.kind {
            // Every worker refuses providers that point at any app's port.
            for app in App::ALL {
                let config = self.worker_config(app);
                self.send(app, AppCommand::Config(config));
            }
        }
        let finished = matches!(event.kind, EventKind::RequestsFinished { .. });
        if !finished && !matches!(event.kind, EventKind::Traffic { .. }) {
            tracing::debug!(seq = event.seq, kind = ?event.kind, "event");
        }
        // Finished requests are rows of their own table: the journal keeps the
        // event (so that it stays gapless) without them.
        let journaled = match &event.kind {
            EventKind::RequestsFinished {
                app, day_start_ms, ..
            } => Event {
                kind: EventKind::RequestsFinished {
                    app: *app,
                    day_start_ms: *day_start_ms,
                    requests: Vec::new(),
                },
                ..event
            },
            _ => event.clone(),
        };
        self.store
            .append_events(self.snapshot.epoch, vec![journaled]);
        // No subscribers is fine (nothing to encode then); a lagging one
        // resyncs on its own. Encoded once here, not once per subscriber:
        // fan-out is a write each.
        if self.events.receiver_count() == 0 {
            return;
        }
        let seq = event.seq;
        match Encoded::new(&ServerMessage::Event(event)) {
            Ok(frame) => {
                let _ = self.events.send((seq, frame));
            }
            Err(err) => tracing::error!(%err, "cannot encode an event for subscribers"),
        }
    }

    async fn handle(&mut self, request: Request) -> Outcome {
        match request {
            Request::Enable {
                app,
                takeover: true,
                env,
            } => self.request_enable_takeover(app, env),
            Request::Enable { app, .. } => self.request_enable(app).await,
            Request::Disable { app } => self.request_disable(app).await,
            Request::Restart { app } => self.request_restart(app),
            Request::SetPort { app, port } => self.request_port(app, port).await,
            Request::ProviderAdd(spec) => self.provider_add(spec),
            Request::ProviderRemove { app, name } => self.provider_remove(app, name),
            Request::ProviderUse { app, name } => self.provider_use(app, name),
            Request::ProviderPresets { app } => {
                Outcome::Now(Ok(Reply::Presets(self.preset_infos(app))))
            }
            Request::Requests(query) => history::requests(&self.store, query),
            Request::RequestDetail(key) => history::detail(&self.store, key),
            Request::Usage(query) => history::usage(&self.store, query, &self.usage.prices),
            // Answered by `CoreHandle::request` and the connection.
            Request::Ping
            | Request::Status
            | Request::Shutdown
            | Request::ProviderList { .. }
            | Request::Subscribe { .. }
            | Request::SubscribeLogs => Outcome::Now(Err(ErrorReply::new(
                ErrorKind::BadRequest,
                "this request is answered by the connection, not the core",
            ))),
        }
    }

    fn app_state(&self, app: App) -> Option<&AppState> {
        self.snapshot.apps.iter().find(|s| s.app == app)
    }

    /// `app`'s files start (`Some`) or stop (`None`) waiting for its port;
    /// clients hear of it as [`EventKind::TakeoverWaiting`].
    fn set_awaiting(&mut self, app: App, env: Option<Option<CallerEnv>>) {
        match env {
            Some(env) => {
                let entry = self.awaiting_port.entry(app).or_insert(None);
                if env.is_some() {
                    *entry = env;
                }
            }
            None => {
                self.awaiting_port.remove(&app);
            }
        }
        let waiting = self.awaiting_port.contains_key(&app);
        if self
            .app_state(app)
            .is_some_and(|s| s.takeover_waiting != waiting)
        {
            self.emit(EventKind::TakeoverWaiting { app, waiting });
        }
    }
}

/// A reply now, or one a supervisor will send when its worker is up.
pub(super) enum Outcome {
    Now(Result<Reply, ErrorReply>),
    Later(oneshot::Receiver<Result<Reply, ErrorReply>>),
}

/// Maps a store failure to a reply that says what to do.
fn store_failed(err: crate::store::StoreError) -> ErrorReply {
    tracing::error!(%err, "store request failed");
    ErrorReply::new(ErrorKind::Failed, format!("{err}; see `switchyard logs`"))
}

/// `reply` once the store has written the change it made (or holds it in
/// memory, which the reply then says); the core does not wait for either.
pub(super) fn once_saved(
    saved: Pending,
    reply: oneshot::Receiver<Result<Reply, ErrorReply>>,
) -> oneshot::Receiver<Result<Reply, ErrorReply>> {
    let (tx, out) = oneshot::channel();
    tokio::spawn(async move {
        let saved = saved.await;
        let result = reply.await.unwrap_or_else(|_| Err(stopping()));
        let _ = tx.send(with_saved(result, saved));
    });
    out
}

/// An answer ready now, sent once the store has its change.
pub(super) fn saved_then(saved: Pending, result: Result<Reply, ErrorReply>) -> Outcome {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(result);
    Outcome::Later(once_saved(saved, rx))
}

fn with_saved(
    result: Result<Reply, ErrorReply>,
    saved: Result<Saved, crate::store::StoreError>,
) -> Result<Reply, ErrorReply> {
    let note = match saved {
        Ok(Saved::Written) => return result,
        Ok(Saved::Held(reason)) => format!(
            "note: not saved to the database yet ({reason}); Switchyard holds the change in memory and writes it once it can"
        ),
        Ok(Saved::Refused(reason)) | Err(crate::store::StoreError::Refused(reason)) => {
            return Err(ErrorReply::new(
                ErrorKind::Failed,
                format!(
                    "done, but not saved ({reason}): it is lost when the daemon stops; see `switchyard logs`"
                ),
            ));
        }
        Err(err) => format!("note: not saved: {err}"),
    };
    match result {
        Ok(Reply::Done(text)) => Ok(Reply::Done(format!("{text}; {note}"))),
        Err(mut err) => {
            err.message = format!("{}; {note}", err.message);
            Err(err)
        }
        other => other,
    }
}
