//! The worker's life as the supervisor sees it: spawn, messages, silence,
//! exit and the restart decision, and the graceful stop.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use tokio::time::Instant;

use super::*;

impl AppTask {
    /// Binds the port if needed and starts a worker on it.
    pub(in crate::supervisor) async fn spawn(&mut self) {
        self.stop_responder();
        if self.listener.is_none() {
            match listener::bind(self.port).await {
                Ok(bound) => {
                    self.listener = Some(bound);
                    self.bind_failures = 0;
                    self.port_problem = None;
                }
                Err(problem) => {
                    self.retry_bind_later(problem);
                    return;
                }
            }
        }
        let Some(listener) = &self.listener else {
            return;
        };
        self.emit(EventKind::WorkerStarting { app: self.app });
        let spawned = process::spawn_worker(self.app, listener);
        let Spawned {
            child,
            pid,
            control,
            stderr,
        } = match spawned {
            Ok(spawned) => spawned,
            Err(err) => {
                tracing::error!(app = %self.app, %err, "cannot start a worker");
                let exit = ExitInfo {
                    pid: 0,
                    code: None,
                    signal: None,
                    reason: ExitReason::Crashed,
                    at_ms: now_ms(),
                };
                self.emit(EventKind::WorkerExited {
                    app: self.app,
                    exit,
                });
                self.after_failure(
                    Duration::ZERO,
                    false,
                    vec![format!("cannot start the worker: {err}")],
                );
                return;
            }
        };
        tracing::info!(app = %self.app, pid, port = self.port, "worker spawned");
        let run_id = self
            .store
            .start_run(self.app, self.epoch, pid, process::start_time(pid))
            .await
            .map_err(|err| tracing::error!(app = %self.app, %err, "cannot record the run"))
            .ok();
        let mut control = Framed::new(control, FrameCodec::new());
        if let Some(config) = &self.config {
            let _ = control.send(DaemonToWorker::Config(config.clone())).await;
        }
        let now = Instant::now();
        self.phase = Phase::Running(Box::new(Worker {
            child,
            pid,
            control,
            control_open: true,
            stderr,
            run_id,
            started: now,
            ready: false,
            deadline: now + self.policy.ready_timeout,
            hung: false,
        }));
    }

    pub(in crate::supervisor) fn on_message(&mut self, msg: WorkerMessage) {
        let Phase::Running(worker) = &mut self.phase else {
            return;
        };
        worker.deadline = Instant::now() + self.policy.hung_after;
        match msg {
            WorkerMessage::Ready { .. } if !worker.ready => {
                worker.ready = true;
                let pid = worker.pid;
                tracing::info!(app = %self.app, pid, port = self.port, "worker ready");
                self.emit(EventKind::WorkerReady { app: self.app, pid });
                // The reducer marks a ready worker healthy; the heartbeats say otherwise if not.
                self.health = Health::Ok;
                for (waiter, verb) in std::mem::take(&mut self.waiters) {
                    let _ = waiter.send(Ok(self.serving_message(verb, pid)));
                }
            }
            WorkerMessage::Ready { .. } => {}
            WorkerMessage::Heartbeat {
                traffic, breakers, ..
            } => self.on_heartbeat(traffic, breakers),
            // Priced, stored and announced by the core.
            WorkerMessage::Requests(records) => {
                self.note_failovers(&records);
                self.finished(records);
            }
        }
    }

    /// Heartbeats arrive a few times a second; only changes become events.
    fn on_heartbeat(&mut self, traffic: Traffic, breakers: Vec<BreakerStatus>) {
        if traffic != self.last_traffic {
            self.last_traffic = traffic.clone();
            self.emit(EventKind::Traffic {
                app: self.app,
                traffic,
            });
        }
        let open = breakers
            .iter()
            .filter(|b| b.state != BreakerState::Closed)
            .count();
        // No usable provider at all (none configured, or every key missing)
        // means every request fails: that is down, not ok.
        let health = match open {
            _ if breakers.is_empty() => Health::Down,
            0 => Health::Ok,
            n if n == breakers.len() => Health::Down,
            _ => Health::Degraded,
        };
        if breakers != self.last_breakers {
            self.last_breakers = breakers.clone();
            self.emit(EventKind::BreakerChanged {
                app: self.app,
                breakers,
            });
        }
        if health != self.health {
            self.health = health;
            self.emit(EventKind::HealthChanged {
                app: self.app,
                health,
            });
        }
    }

    /// The worker missed its ready deadline or its heartbeats: kill it.
    pub(in crate::supervisor) fn on_silence(&mut self) {
        let Phase::Running(worker) = &mut self.phase else {
            return;
        };
        worker.hung = true;
        let pid = worker.pid;
        let what = if worker.ready {
            "missed its heartbeats"
        } else {
            "did not become ready"
        };
        tracing::warn!(app = %self.app, pid, "worker {what}: killing it as hung");
        process::signal(pid, Signal::SIGKILL);
        self.emit(EventKind::WorkerHung { app: self.app, pid });
    }

    pub(in crate::supervisor) async fn on_exit(&mut self, status: std::io::Result<ExitStatus>) {
        let Phase::Running(worker) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let uptime = worker.started.elapsed();
        let (exit, tail) = self.record_exit(*worker, status, None).await;
        self.after_failure(uptime, exit.code == Some(EXIT_CONFIG), tail);
    }

    /// Writes the run's end and emits `WorkerExited`.
    async fn record_exit(
        &mut self,
        mut worker: Worker,
        status: std::io::Result<ExitStatus>,
        forced: Option<ExitReason>,
    ) -> (ExitInfo, Vec<String>) {
        let (code, signal) = match &status {
            Ok(status) => (status.code(), status.signal()),
            Err(_) => (None, None),
        };
        let reason = forced.unwrap_or(if worker.hung {
            ExitReason::Hung
        } else if code == Some(EXIT_CONFIG) {
            ExitReason::Config
        } else {
            ExitReason::Crashed
        });
        let tail = tokio::time::timeout(Duration::from_secs(1), &mut worker.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let exit = ExitInfo {
            pid: worker.pid,
            code,
            signal,
            reason,
            at_ms: now_ms(),
        };
        tracing::info!(app = %self.app, pid = worker.pid, ?code, ?signal, reason = reason.as_str(),
            uptime_ms = worker.started.elapsed().as_millis() as u64, "worker exited");
        if let Some(id) = worker.run_id
            && let Err(err) = self.store.end_run(id, exit.clone()).await
        {
            tracing::error!(app = %self.app, %err, "cannot record the end of a run");
        }
        // Mirror the reducer: counters stay until the next worker reports.
        self.last_traffic.in_flight = 0;
        self.emit(EventKind::WorkerExited {
            app: self.app,
            exit: exit.clone(),
        });
        (exit, tail)
    }

    /// The port is taken (or cannot be bound): report it once, answer whoever
    /// waits, and try again on the restart backoff (never parking).
    fn retry_bind_later(&mut self, problem: String) {
        let app = self.app;
        self.bind_failures += 1;
        let delay = policy::delay_for(&self.policy, self.bind_failures);
        let message = format!(
            "{problem}; Switchyard keeps trying it and starts {app} once it is free (or move {app}: `switchyard port {app} PORT`, or stop trying: `switchyard disable {app}`)"
        );
        if self.port_problem.as_deref() != Some(message.as_str()) {
            tracing::error!(%app, port = self.port, "{message}");
            self.emit(EventKind::PortConflict {
                app,
                port: self.port,
                message: message.clone(),
            });
            self.port_problem = Some(message.clone());
        }
        self.emit(EventKind::WorkerBackoff {
            app,
            attempt: self.bind_failures,
            delay_ms: delay.as_millis() as u64,
        });
        self.phase = Phase::Waiting {
            until: Instant::now() + delay,
        };
        for (waiter, _) in self.waiters.drain(..) {
            let _ = waiter.send(Err(ErrorReply::new(ErrorKind::Conflict, message.clone())));
        }
    }

    /// Decides between a delayed restart and parking.
    pub(in crate::supervisor) fn after_failure(
        &mut self,
        uptime: Duration,
        permanent: bool,
        tail: Vec<String>,
    ) {
        match self.backoff.on_failure(&self.policy, uptime, permanent) {
            Decision::Restart { attempt, delay } => {
                tracing::info!(app = %self.app, attempt, delay_ms = delay.as_millis() as u64, "restarting after backoff");
                self.emit(EventKind::WorkerBackoff {
                    app: self.app,
                    attempt,
                    delay_ms: delay.as_millis() as u64,
                });
                self.phase = Phase::Waiting {
                    until: Instant::now() + delay,
                };
                if delay > Duration::from_secs(1) {
                    let reason = format!("the worker crashed and restarts in {}s", delay.as_secs());
                    self.start_responder(&reason, Some(delay));
                }
            }
            Decision::Park { reason } => {
                tracing::error!(app = %self.app, %reason, "parked: no more restarts until `switchyard restart {}`", self.app);
                self.fail_waiters(&format!("{} is parked: {reason}", self.app));
                self.emit(EventKind::WorkerParked {
                    app: self.app,
                    parked: Parked {
                        reason: reason.clone(),
                        stderr_tail: tail,
                    },
                });
                self.phase = Phase::Parked;
                self.start_responder(&reason, None);
            }
        }
    }

    /// Drain, then SIGTERM, then SIGKILL; records the run as stopped.
    pub(in crate::supervisor) async fn stop_worker(&mut self) {
        let Phase::Running(mut worker) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let pid = worker.pid;
        self.emit(EventKind::WorkerStopping { app: self.app });
        tracing::info!(app = %self.app, pid, "draining worker");
        let drain = self.policy.drain;
        let _ = worker
            .control
            .send(DaemonToWorker::Drain {
                deadline_ms: drain.as_millis() as u64,
            })
            .await;
        // The requests it finishes while draining are still recorded.
        let finished = |records| self.finished(records);
        let mut status = wait_for_exit(&mut worker, drain + Duration::from_secs(1), finished).await;
        if status.is_none() {
            tracing::warn!(app = %self.app, pid, "worker still running after drain: SIGTERM");
            process::signal(pid, Signal::SIGTERM);
            status = wait_for_exit(&mut worker, self.policy.term_grace, finished).await;
        }
        let status = match status {
            Some(status) => status,
            None => {
                tracing::warn!(app = %self.app, pid, "worker ignored SIGTERM: SIGKILL");
                process::signal(pid, Signal::SIGKILL);
                worker.child.wait().await
            }
        };
        self.record_exit(*worker, status, Some(ExitReason::Stopped))
            .await;
    }

    pub(in crate::supervisor) fn start_responder(
        &mut self,
        reason: &str,
        retry_after: Option<Duration>,
    ) {
        self.stop_responder();
        let Some(listener) = &self.listener else {
            return;
        };
        let token = self.shutdown.child_token();
        match responder::start(self.app, listener, reason, retry_after, token.clone()) {
            Ok(()) => self.responder = Some(token),
            Err(err) => tracing::error!(app = %self.app, %err, "cannot answer the port with 503s"),
        }
    }

    pub(in crate::supervisor) fn stop_responder(&mut self) {
        if let Some(token) = self.responder.take() {
            token.cancel();
        }
    }
}

/// Waits for the worker to exit, reading its last messages so it never blocks
/// on a full socket while draining: finished requests go to `finished`, the
/// rest (heartbeats) are dropped.
async fn wait_for_exit(
    worker: &mut Worker,
    limit: Duration,
    finished: impl Fn(Vec<crate::protocol::requests::RequestRecord>),
) -> Option<std::io::Result<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        tokio::select! {
            status = worker.child.wait() => {
                // What it sent just before exiting is still in the socket.
                while let Some(Some(Ok(msg))) = worker.control.next().now_or_never() {
                    if let WorkerMessage::Requests(records) = msg {
                        finished(records);
                    }
                }
                return Some(status);
            }
            msg = worker.control.next(), if worker.control_open => match msg {
                Some(Ok(WorkerMessage::Requests(records))) => finished(records),
                Some(_) => {}
                None => worker.control_open = false,
            },
            () = tokio::time::sleep_until(deadline) => return None,
        }
    }
}
