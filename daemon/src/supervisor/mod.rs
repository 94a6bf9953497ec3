//! Supervision: one task per app owns that app's listener, worker process and
//! restart state. It reports every transition to the core as an event and
//! answers the client that asked for a change once the change has happened.

mod listener;
mod policy;
mod process;
mod reconcile;
mod responder;
mod task;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::apps::App;
use crate::core::CoreMsg;
use crate::protocol::worker::WorkerConfig;
use crate::protocol::{ErrorReply, Reply};
use crate::store::Store;

pub use listener::{bind, port_owner};
pub use policy::{Backoff, Decision, EXIT_CONFIG, Policy, delay_for};
pub use process::{CONTROL_FD, DAEMON_PID_ENV, LISTENER_FD, start_time};
pub use reconcile::kill_leftover_workers;

/// Where a supervisor sends the answer to the client's request.
pub type ReplyTx = oneshot::Sender<Result<Reply, ErrorReply>>;

/// What the core asks of an app's supervisor.
pub enum AppCommand {
    /// Bind the port (if not yet) and bring a worker up; answer when it is ready.
    Enable {
        port: u16,
        config: WorkerConfig,
        reply: ReplyTx,
    },
    /// Drain and stop the worker, release the port.
    Disable { reply: ReplyTx },
    /// Stop the worker gracefully (if any) and start a fresh one; unparks.
    Restart {
        port: u16,
        config: WorkerConfig,
        reply: ReplyTx,
    },
    /// Bind `port`, then move the worker there and release the old port.
    SetPort {
        port: u16,
        config: WorkerConfig,
        store: Store,
        reply: ReplyTx,
    },
    /// New providers for the running worker.
    Config(WorkerConfig),
}

/// The core's handle on one app's supervisor task.
pub struct AppHandle {
    commands: mpsc::UnboundedSender<AppCommand>,
    done: watch::Receiver<bool>,
    shutdown: CancellationToken,
}

impl AppHandle {
    pub fn spawn(
        app: App,
        policy: Policy,
        core: mpsc::UnboundedSender<CoreMsg>,
        store: Store,
        epoch: u64,
        shutdown: CancellationToken,
    ) -> AppHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = watch::channel(false);
        let task = task::AppTask::new(app, policy, core, store, epoch, rx, shutdown.clone());
        tokio::spawn(async move {
            task.run().await;
            let _ = done_tx.send(true);
        });
        AppHandle {
            commands,
            done,
            shutdown,
        }
    }

    pub fn send(&self, command: AppCommand) {
        let _ = self.commands.send(command);
    }

    /// Stops the app's worker and waits until the task has finished.
    pub fn stop(&self) -> impl Future<Output = ()> + use<> {
        self.shutdown.cancel();
        let mut done = self.done.clone();
        async move {
            let _ = done.wait_for(|done| *done).await;
        }
    }
}
