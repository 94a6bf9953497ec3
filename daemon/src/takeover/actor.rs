//! One thread does every takeover's file work — reads, writes, fsyncs, the
//! record files — one job at a time, in the order the core asked. The core
//! never waits on it: each job answers on a oneshot channel, and the core
//! carries on when the answer comes back as a message. So `status` never
//! queues behind a slow disk, and two edits of one file never interleave.

use std::io;
use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use super::env::CallerEnv;
use super::record::Records;
use super::{TakeoverError, apply};
use crate::apps::App;
use crate::store::TakeoverRecord;

type Job = Box<dyn FnOnce(&Records) + Send>;

/// A cheap handle to the takeover thread.
#[derive(Clone)]
pub struct Takeovers {
    jobs: mpsc::UnboundedSender<Job>,
}

/// An answer still to come from the takeover thread.
pub type Pending<T> = oneshot::Receiver<Result<T, TakeoverError>>;

impl Takeovers {
    /// Starts the thread; records live in `dir`.
    pub fn start(dir: PathBuf) -> io::Result<Takeovers> {
        let records = Records::new(dir);
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("takeover".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&records);
                }
            })?;
        Ok(Takeovers { jobs })
    }

    /// Whether `app`'s files could be pointed at `port` (nothing is written).
    pub fn check(&self, app: App, port: u16, env: CallerEnv) -> Pending<()> {
        self.run(move |records| apply::check(records, app, port, &env))
    }

    /// Points `app`'s files at its proxy on `port`; `None`: the recorded env.
    pub fn point(&self, app: App, port: u16, env: Option<CallerEnv>) -> Pending<String> {
        self.run(move |records| apply::point(records, app, port, env))
    }

    /// Hands `app`'s files back; the note is empty when none were held.
    pub fn release(&self, app: App) -> Pending<String> {
        self.run(move |records| apply::release(records, app))
    }

    /// Moves records an older Switchyard kept in its database to files.
    pub fn import(&self, legacy: Vec<TakeoverRecord>) -> Pending<Vec<App>> {
        self.run(move |records| apply::import(records, legacy))
    }

    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Records) -> Result<T, TakeoverError> + Send + 'static,
    ) -> Pending<T> {
        let (tx, rx) = oneshot::channel();
        // A stopped thread drops `tx`, which the receiver sees as an error.
        let _ = self.jobs.send(Box::new(move |records| {
            let _ = tx.send(job(records));
        }));
        rx
    }
}

/// The answer of `pending`, with a stopped thread as an error.
pub async fn answer<T>(pending: Pending<T>) -> Result<T, TakeoverError> {
    pending.await.unwrap_or_else(|_| {
        Err(TakeoverError::Io {
            what: "edit",
            path: PathBuf::new(),
            source: io::Error::other("the takeover thread has stopped"),
        })
    })
}
