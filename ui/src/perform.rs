//! Carries out the model's actions off the UI loop: each request runs in its
//! own task on a pooled request connection (so a slow `enable` never holds up
//! a `restart`), and its outcome comes back as a [`Msg`].

use std::sync::{Arc, Mutex};

use switchyard_daemon::client::{Client, ClientError};
use switchyard_daemon::lifecycle::{self, Stopped};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{Reply, Request};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::connection::{CLIENT_NAME, describe};
use crate::msg::{Action, LogsMsg, Msg};

/// Spawns one task per action; owns the idle request connections.
pub struct Performer {
    paths: Paths,
    tx: UnboundedSender<Msg>,
    pool: Arc<Mutex<Vec<Client>>>,
    /// Stops the log pane's task, while the pane is open.
    logs: Option<CancellationToken>,
}

impl Performer {
    pub fn new(paths: Paths, tx: UnboundedSender<Msg>) -> Self {
        Performer {
            paths,
            tx,
            pool: Arc::default(),
            logs: None,
        }
    }

    /// Starts `action`; `Quit` is the loop's own business and ignored here.
    pub fn perform(&mut self, action: Action) {
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
            Action::Many(actions) => {
                for action in actions {
                    self.perform(action);
                }
            }
            Action::OpenLogs => {
                let cancel = CancellationToken::new();
                if let Some(old) = self.logs.replace(cancel.clone()) {
                    old.cancel();
                }
                tokio::spawn(async move {
                    tokio::select! {
                        () = cancel.cancelled() => {}
                        () = stream_logs(&paths, &tx) => {}
                    }
                });
            }
            Action::CloseLogs => {
                if let Some(cancel) = self.logs.take() {
                    cancel.cancel();
                }
            }
            Action::MouseCapture(on) => {
                use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
                let mut out = std::io::stdout();
                let _ = if on {
                    crossterm::execute!(out, EnableMouseCapture)
                } else {
                    crossterm::execute!(out, DisableMouseCapture)
                };
            }
            Action::Copy(text) => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out
                    .write_all(osc52(&text).as_bytes())
                    .and_then(|()| out.flush());
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

/// The log pane's task: the log file's end (read once, off the loop), then
/// the daemon's live lines until the stream ends or the pane closes.
async fn stream_logs(paths: &Paths, tx: &UnboundedSender<Msg>) {
    let file = paths.log_file();
    let tail = tokio::task::spawn_blocking(move || read_tail(&file)).await;
    if let Ok(Ok((text, cut))) = tail {
        let _ = tx.send(Msg::Logs(LogsMsg::Tail { text, cut }));
    }
    let ended = match Client::connect(paths, CLIENT_NAME).await {
        Err(err) => describe(&err),
        Ok(client) => match client.subscribe_logs().await {
            Err(err) => describe(&err),
            Ok(mut lines) => loop {
                match lines.next().await {
                    Some(Ok(switchyard_daemon::protocol::ServerMessage::Log(line))) => {
                        if tx.send(Msg::Logs(LogsMsg::Line(line))).is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => break describe(&err),
                    None => break "the daemon closed the log stream".to_owned(),
                }
            },
        },
    };
    let _ = tx.send(Msg::Logs(LogsMsg::Ended(ended)));
}

/// The last [`crate::logs::BACKLOG_BYTES`] of the log file, and whether that
/// starts mid-line.
fn read_tail(file: &std::path::Path) -> std::io::Result<(String, bool)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(crate::logs::BACKLOG_BYTES);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), start > 0))
}

/// The OSC 52 sequence that asks the terminal to put `text` on the
/// clipboard: terminals honour it over SSH too, and tmux passes it on
/// (`set-clipboard on`, its default for terminals that support it).
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{encoded}\x07")
}
