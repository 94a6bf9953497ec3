//! Live log lines for clients that asked for them (the dashboard's log pane):
//! a `tracing` layer that hands each line of the daemon's log — the workers'
//! lines included, as the daemon logs them — to a broadcast channel, but only
//! while somebody listens. With no listener it returns before formatting
//! anything, so a closed log pane costs one atomic load per log line.

use std::fmt::Write as _;
use std::sync::OnceLock;

use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::protocol::LogLine;

/// How many lines a listener may fall behind before it misses some.
const BUFFER: usize = 1024;

fn channel() -> &'static broadcast::Sender<LogLine> {
    static TAP: OnceLock<broadcast::Sender<LogLine>> = OnceLock::new();
    TAP.get_or_init(|| broadcast::channel(BUFFER).0)
}

/// Every log line from now on (a listener that lags misses lines: `Lagged`).
pub fn subscribe() -> broadcast::Receiver<LogLine> {
    channel().subscribe()
}

/// The layer to install beside the file's.
pub fn layer<S: tracing::Subscriber>() -> impl Layer<S> {
    Tap
}

struct Tap;

impl<S: tracing::Subscriber> Layer<S> for Tap {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let tx = channel();
        if tx.receiver_count() == 0 {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let _ = tx.send(LogLine {
            at_ms: crate::store::now_ms(),
            level: meta.level().as_str().to_owned(),
            worker: meta.target() == "worker",
            app: fields.app,
            text: fields.text,
        });
    }
}

/// The message, then `key=value` for the other fields (as the file has them);
/// `app` is also kept apart so a client can show one app's lines.
#[derive(Default)]
struct Fields {
    text: String,
    app: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
            return;
        }
        let value = format!("{value:?}");
        if field.name() == "app" {
            self.app = Some(value.clone());
        }
        let _ = write!(self.text, " {}={value}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            if field.name() == "app" {
                self.app = Some(value.to_owned());
            }
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }
}
