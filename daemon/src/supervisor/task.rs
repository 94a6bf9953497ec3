//! The per-app supervisor task: a small state machine over one worker process.
//!
//! Idle → (enable) → Running → (exit) → Waiting (backoff) → Running …
//!                                    ↘ Parked (crash loop or exit 78)
//! The task alone touches the process, the listener and the backoff state.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::ExitStatus;

use futures::{SinkExt, StreamExt};
use nix::sys::signal::Signal;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::policy::{self, Backoff, Decision, EXIT_CONFIG, Policy};
use super::process::{self, Spawned};
use super::{AppCommand, ReplyTx, listener, responder};
use crate::apps::App;
use crate::core::CoreMsg;
use crate::protocol::state::{
    BreakerState, BreakerStatus, EventKind, ExitInfo, ExitReason, Health, Parked, Traffic,
};
use crate::protocol::worker::{DaemonToWorker, WorkerConfig, WorkerMessage};
use crate::protocol::{ErrorKind, ErrorReply, FrameCodec, Reply};
use crate::store::{Store, now_ms};

type Control = Framed<tokio::net::UnixStream, FrameCodec<WorkerMessage, DaemonToWorker>>;

/// What the client asked for, as its answer says it: "enabled", "restarted", "moved".
type Verb = &'static str;

struct Worker {
    child: tokio::process::Child,
    pid: u32,
    control: Control,
    control_open: bool,
    stderr: tokio::task::JoinHandle<Vec<String>>,
    run_id: Option<i64>,
    started: Instant,
    ready: bool,
    /// When the worker must next be heard from (ready, then heartbeats).
    deadline: Instant,
    hung: bool,
}

enum Phase {
    Idle,
    Running(Box<Worker>),
    Waiting { until: Instant },
    Parked,
}

enum Wake {
    Exited(std::io::Result<ExitStatus>),
    Control(Option<Result<WorkerMessage, crate::protocol::FrameError>>),
    Deadline,
    RetryDue,
    Command(Option<AppCommand>),
    Shutdown,
}

pub(super) struct AppTask {
    app: App,
    policy: Policy,
    core: mpsc::UnboundedSender<CoreMsg>,
    store: Store,
    epoch: u64,
    commands: mpsc::UnboundedReceiver<AppCommand>,
    shutdown: CancellationToken,
    phase: Phase,
    port: u16,
    listener: Option<TcpListener>,
    config: Option<WorkerConfig>,
    backoff: Backoff,
    /// Clients waiting for the next worker to become ready.
    waiters: Vec<(ReplyTx, Verb)>,
    responder: Option<CancellationToken>,
    last_traffic: Traffic,
    last_breakers: Vec<BreakerStatus>,
    health: Health,
    /// Binds that failed in a row because the port is taken. They are retried
    /// with backoff and never park the app: nothing of ours is crashing, and
    /// the app should start as soon as the other program lets the port go.
    bind_failures: u32,
    /// The port problem last reported, so retries that fail the same way stay quiet.
    port_problem: Option<String>,
    /// When each provider's last `Failover` event went out: at most one a
    /// second per provider, so an outage is a line, not a flood.
    failovers_noted: HashMap<String, std::time::Instant>,
}

impl AppTask {
    pub(super) fn new(
        app: App,
        policy: Policy,
        core: mpsc::UnboundedSender<CoreMsg>,
        store: Store,
        epoch: u64,
        commands: mpsc::UnboundedReceiver<AppCommand>,
        shutdown: CancellationToken,
    ) -> Self {
        AppTask {
            app,
            policy,
            core,
            store,
            epoch,
            commands,
            shutdown,
            phase: Phase::Idle,
            port: app.default_port(),
            listener: None,
            config: None,
            backoff: Backoff::default(),
            waiters: Vec::new(),
            responder: None,
            last_traffic: Traffic::default(),
            last_breakers: Vec::new(),
            health: Health::Unknown,
            bind_failures: 0,
            port_problem: None,
            failovers_noted: HashMap::new(),
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            let wake = match &mut self.phase {
                Phase::Running(worker) => tokio::select! {
                    status = worker.child.wait() => Wake::Exited(status),
                    msg = worker.control.next(), if worker.control_open => Wake::Control(msg),
                    () = sleep_until(worker.deadline), if !worker.hung => Wake::Deadline,
                    cmd = self.commands.recv() => Wake::Command(cmd),
                    () = self.shutdown.cancelled() => Wake::Shutdown,
                },
                Phase::Waiting { until } => tokio::select! {
                    () = sleep_until(*until) => Wake::RetryDue,
                    cmd = self.commands.recv() => Wake::Command(cmd),
                    () = self.shutdown.cancelled() => Wake::Shutdown,
                },
                Phase::Idle | Phase::Parked => tokio::select! {
                    cmd = self.commands.recv() => Wake::Command(cmd),
                    () = self.shutdown.cancelled() => Wake::Shutdown,
                },
            };
            match wake {
                Wake::Exited(status) => self.on_exit(status).await,
                Wake::Control(Some(Ok(msg))) => self.on_message(msg),
                Wake::Control(other) => {
                    if let Some(Err(err)) = other {
                        tracing::warn!(app = %self.app, %err, "bad frame from worker");
                    }
                    if let Phase::Running(worker) = &mut self.phase {
                        worker.control_open = false;
                    }
                }
                Wake::Deadline => self.on_silence(),
                Wake::RetryDue => self.spawn().await,
                Wake::Command(Some(cmd)) => self.on_command(cmd).await,
                Wake::Command(None) | Wake::Shutdown => break,
            }
        }
        self.stop_worker().await;
        self.stop_responder();
        self.listener = None;
    }

    /// Each provider a request failed over from becomes a `Failover` event
    /// (at most one a second per provider).
    fn note_failovers(&mut self, records: &[crate::protocol::requests::RequestRecord]) {
        let now = std::time::Instant::now();
        for failover in records.iter().flat_map(|r| &r.failovers) {
            let due = self
                .failovers_noted
                .get(&failover.provider)
                .is_none_or(|at| now.duration_since(*at) >= std::time::Duration::from_secs(1));
            if due {
                self.failovers_noted.insert(failover.provider.clone(), now);
                self.emit(EventKind::Failover {
                    app: self.app,
                    provider: failover.provider.clone(),
                    reason: failover.reason.clone(),
                });
            }
        }
    }

    fn finished(&self, records: Vec<crate::protocol::requests::RequestRecord>) {
        let _ = self.core.send(CoreMsg::Requests {
            app: self.app,
            records,
        });
    }

    fn emit(&self, kind: EventKind) {
        let _ = self.core.send(CoreMsg::Emit(kind));
    }

    async fn on_command(&mut self, cmd: AppCommand) {
        match cmd {
            AppCommand::Enable {
                port,
                config,
                reply,
            } => {
                self.config = Some(config);
                if self.listener.is_none() {
                    self.port = port;
                }
                match &self.phase {
                    Phase::Running(worker) if worker.ready => {
                        let _ = reply.send(Ok(self.serving_message("enabled", worker.pid)));
                    }
                    // Waiting for a port another program holds: asking again
                    // means "try it now", not "wait for the next retry".
                    Phase::Waiting { .. } if self.listener.is_none() => {
                        self.waiters.push((reply, "enabled"));
                        self.spawn().await;
                    }
                    Phase::Running(_) | Phase::Waiting { .. } => {
                        self.waiters.push((reply, "enabled"));
                    }
                    Phase::Idle | Phase::Parked => {
                        self.waiters.push((reply, "enabled"));
                        self.backoff.reset();
                        self.spawn().await;
                    }
                }
            }
            AppCommand::Disable { reply } => {
                self.stop_worker().await;
                self.stop_responder();
                self.phase = Phase::Idle;
                self.backoff.reset();
                self.bind_failures = 0;
                self.port_problem = None;
                let released = self.listener.take().is_some();
                self.fail_waiters(&format!("{} was disabled", self.app));
                tracing::info!(app = %self.app, port = self.port, "disabled; port released");
                let msg = if released {
                    format!("{} disabled; port {} released", self.app, self.port)
                } else {
                    format!("{} disabled", self.app)
                };
                let _ = reply.send(Ok(Reply::Done(msg)));
            }
            AppCommand::Restart {
                port,
                config,
                reply,
            } => {
                self.config = Some(config);
                if self.listener.is_none() {
                    self.port = port;
                }
                tracing::info!(app = %self.app, "restart requested");
                self.stop_worker().await;
                self.backoff.reset();
                self.waiters.push((reply, "restarted"));
                self.spawn().await;
            }
            AppCommand::SetPort {
                port,
                config,
                store,
                reply,
            } => self.move_port(port, config, store, reply).await,
            AppCommand::Config(config) => {
                if let Phase::Running(worker) = &mut self.phase {
                    let _ = worker
                        .control
                        .send(DaemonToWorker::Config(config.clone()))
                        .await;
                }
                self.config = Some(config);
            }
        }
    }

    /// Binds the new port first, so a failure leaves the old one serving.
    async fn move_port(&mut self, port: u16, config: WorkerConfig, store: Store, reply: ReplyTx) {
        let new = match listener::bind(port).await {
            Ok(new) => new,
            Err(problem) => {
                let message = format!("{problem}; {} stays on port {}", self.app, self.port);
                let _ = reply.send(Err(ErrorReply::new(ErrorKind::Conflict, message)));
                return;
            }
        };
        if let Err(err) = store.set_port(self.app, port).await {
            let _ = reply.send(Err(ErrorReply::new(ErrorKind::Failed, err.to_string())));
            return;
        }
        let old = self.port;
        self.stop_worker().await;
        self.stop_responder();
        self.listener = Some(new);
        self.port = port;
        self.config = Some(config);
        self.emit(EventKind::PortChanged {
            app: self.app,
            port,
        });
        tracing::info!(app = %self.app, old, port, "port moved");
        self.backoff.reset();
        self.bind_failures = 0;
        self.port_problem = None;
        self.waiters.push((reply, "moved"));
        self.spawn().await;
    }

    fn serving_message(&self, verb: Verb, pid: u32) -> Reply {
        Reply::Done(format!(
            "{} {verb}: proxy on http://127.0.0.1:{} (worker pid {pid})",
            self.app, self.port
        ))
    }

    fn fail_waiters(&mut self, message: &str) {
        for (waiter, _) in self.waiters.drain(..) {
            let _ = waiter.send(Err(ErrorReply::new(ErrorKind::Failed, message)));
        }
    }
}

mod lifecycle;
