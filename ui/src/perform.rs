//! Carries out the model's actions off the UI loop: each request runs in its
//! own task on a pooled request connection (so a slow `enable` never holds up
//! a `restart`), and its outcome comes back as a [`Msg`].

use std::sync::{Arc, Mutex};

use switchyard_daemon::client::{Client, ClientError};
use switchyard_daemon::lifecycle::{self, Stopped};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Reply, Request};
use tokio::sync::mpsc::UnboundedSender;

use crate::connection::{CLIENT_NAME, describe};
use crate::msg::{Action, Msg};

/// Spawns one task per action; owns the idle request connections.
pub struct Performer {
    paths: Paths,
    tx: UnboundedSender<Msg>,
    pool: Arc<Mutex<Vec<Client>>>,
}

impl Performer {
    pub fn new(paths: Paths, tx: UnboundedSender<Msg>) -> Self {
        Performer {
            paths,
            tx,
            pool: Arc::default(),
        }
    }

    /// Starts `action`; `Quit` is the loop's own business and ignored here.
    pub fn perform(&self, action: Action) {
        let paths = self.paths.clone();
        let tx = self.tx.clone();
        match action {
            Action::Request(request) => {
                let pool = Arc::clone(&self.pool);
                tokio::spawn(async move {
                    let result = send(&paths, &pool, request.clone()).await;
                    let _ = tx.send(Msg::Reply { request, result });
                });
            }
            Action::StopDaemon => {
                tokio::spawn(async move {
                    let result = match lifecycle::stop(&paths).await {
                        Ok(Stopped::Stopped { pid }) => {
                            Ok(format!("stopped the daemon (pid {pid})"))
                        }
                        Ok(Stopped::Killed { pid }) => Ok(format!(
                            "the daemon (pid {pid}) did not stop in time and was killed"
                        )),
                        Ok(Stopped::NotRunning { .. }) => {
                            Ok("the daemon was not running".to_owned())
                        }
                        Err(err) => Err(err.to_string()),
                    };
                    let _ = tx.send(Msg::Stopped(result));
                });
            }
            Action::Quit(_) => {}
        }
    }
}

/// Sends one request on an idle pooled connection, or a new one. A pooled
/// connection may be stale (the daemon restarted): then it retries once afresh.
async fn send(paths: &Paths, pool: &Mutex<Vec<Client>>, request: Request) -> Result<Reply, String> {
    let pooled = pool.lock().ok().and_then(|mut idle| idle.pop());
    if let Some(mut client) = pooled {
        match client.request(request.clone()).await {
            Ok(reply) => {
                give_back(pool, client);
                return Ok(reply);
            }
            Err(ClientError::Daemon(err)) => return Err(err.message),
            Err(_) => {}
        }
    }
    let mut client = Client::connect(paths, CLIENT_NAME)
        .await
        .map_err(|err| describe(&err))?;
    match client.request(request).await {
        Ok(reply) => {
            give_back(pool, client);
            Ok(reply)
        }
        Err(ClientError::Daemon(err)) => Err(err.message),
        Err(err) => Err(describe(&err)),
    }
}

fn give_back(pool: &Mutex<Vec<Client>>, client: Client) {
    if let Ok(mut idle) = pool.lock() {
        idle.push(client);
    }
}
