//! What flows into [`crate::update::update`] ([`Msg`]) and what comes out of it
//! ([`Action`]). Actions are carried out by the async loop; their results come
//! back as messages, so the model itself never waits on anything.

use crossterm::event::KeyEvent;
use switchyard_daemon::protocol::state::{Event, Snapshot};
use switchyard_daemon::protocol::{Reply, Request};

/// Everything that can change the model.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press (or auto-repeat).
    Key(KeyEvent),
    /// A mouse event (while captured), with the screen's size it happened on.
    Mouse {
        event: crossterm::event::MouseEvent,
        screen: ratatui::layout::Rect,
    },
    /// The terminal's height, at start and whenever it changes (the help
    /// scrolls no further than the screen needs).
    Resize { rows: u16 },
    /// The 1 Hz clock: uptimes, countdowns and the req/s samples move on.
    Tick { now_ms: u64 },
    /// News from the attach task.
    Conn(ConnMsg),
    /// The outcome of an [`Action::Request`].
    Reply {
        request: Request,
        result: Result<Reply, String>,
    },
    /// The outcome of an [`Action::StopDaemon`]: a sentence either way.
    Stopped(Result<String, String>),
    /// News for the log pane (only while it is open).
    Logs(LogsMsg),
}

/// What the log task reports (see `perform.rs`).
#[derive(Debug, Clone)]
pub enum LogsMsg {
    /// The end of the log file as the pane opened; `cut`: it starts mid-line.
    Tail { text: String, cut: bool },
    /// A live line.
    Line(switchyard_daemon::protocol::LogLine),
    /// The live stream stopped (the daemon went away); the text says why.
    Ended(String),
}

/// What the attach task reports (see `connection.rs`).
#[derive(Debug, Clone)]
pub enum ConnMsg {
    /// No daemon answered, so one is being started.
    Starting,
    /// The daemon we started answers.
    Started { pid: u32, elapsed_ms: u64 },
    /// Starting a daemon failed; the attach task keeps retrying to connect.
    StartFailed(String),
    /// A fresh snapshot on a new connection; events follow.
    Attached(Box<Snapshot>),
    /// The daemon resynced a subscriber that fell behind.
    Resync(Box<Snapshot>),
    /// One event. Those at or below the snapshot's seq are history (journal
    /// replay for the panes), the rest are applied.
    Event(Event),
    /// The connection is gone (or could not be made); next try after the delay.
    Lost { reason: String, retry_in_ms: u64 },
}

/// Side effects the model asks for.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send one request on the request connection.
    Request(Request),
    /// Carry out each of these (requests are answered one by one).
    Many(Vec<Action>),
    /// Stop the daemon (and its workers), then quit.
    StopDaemon,
    /// The log pane opened: read the log's end, then stream live lines.
    OpenLogs,
    /// The log pane closed: stop streaming.
    CloseLogs,
    /// Put this text on the clipboard (OSC 52: works over SSH and in tmux).
    Copy(String),
    /// Capture the mouse (`true`) or leave it to the terminal.
    MouseCapture(bool),
    /// Leave the dashboard.
    Quit(Exit),
}

/// How the dashboard ended, for the line printed after the terminal is restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// `q` while attached: the daemon keeps serving.
    Detached { pid: Option<u32> },
    /// `q` while the link to the daemon was lost: nobody knows it serves.
    DetachedLost { pid: Option<u32>, reason: String },
    /// `Q`: the daemon was stopped; the text says how.
    Stopped(String),
}

impl Exit {
    /// The line printed on the normal terminal after leaving.
    pub fn message(&self) -> String {
        match self {
            Exit::Detached { pid: Some(pid) } => {
                format!("switchyard: detached; the daemon (pid {pid}) keeps serving")
            }
            Exit::Detached { pid: None } => {
                "switchyard: detached; no daemon was attached".to_owned()
            }
            Exit::DetachedLost { pid, reason } => {
                let which = pid.map_or_else(
                    || "the daemon".to_owned(),
                    |pid| format!("the daemon (pid {pid})"),
                );
                format!(
                    "switchyard: detached; {which} was not answering ({reason}); `switchyard status` tells whether it runs"
                )
            }
            Exit::Stopped(text) => format!("switchyard: {text}"),
        }
    }
}
