//! The Switchyard dashboard: `switchyard` with no arguments.
//!
//! It attaches to the daemon (starting it, detached, if none answers), shows the
//! daemon's live state, and turns keys into requests. The shape follows the Elm
//! architecture: a [`model::Model`], a pure `update(model, msg) -> Option<Action>`,
//! a `draw(frame, model)` view, and an async loop that performs the actions and
//! feeds their results back as messages.
//!
//! - `connection` attaches, resyncs and reconnects; `perform` runs requests.
//! - `event_loop` is the `select!` loop, generic over the terminal backend.
//! - `update` and `keys` change the model; `view` draws it; `format` words it.

mod connection;
mod event_loop;
mod format;
mod keys;
mod logs;
mod model;
mod msg;
mod perform;
mod update;
mod usage_view;
mod view;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use color_eyre::eyre::bail;

use crossterm::event::EventStream;
use switchyard_daemon::paths::Paths;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::Model;
use crate::perform::Performer;

/// Runs the dashboard until the user detaches (`q`) or stops the daemon (`Q`),
/// then prints what happened on the restored terminal.
///
/// The terminal is restored on every way out: a normal return, an error, and a
/// panic (through the hook `ratatui::init` installs).
pub async fn run(paths: Paths) -> color_eyre::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let mut model = Model::new(now_ms(), color_wanted());
    model.utc_offset_s = chrono::Local::now().offset().local_minus_utc();

    if !std::io::stdout().is_terminal() {
        bail!("the dashboard needs a terminal; try `switchyard status` instead");
    }
    // Like `ratatui::init`, which also installs the panic hook that restores
    // the terminal, but failing with an error instead of a panic.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(err) => {
            ratatui::restore();
            return Err(err.into());
        }
    };
    let attach = tokio::spawn(connection::attach(
        paths.clone(),
        tx.clone(),
        cancel.clone(),
    ));
    // ratatui's panic hook restores the screen, not the mouse: give the
    // terminal its mouse back too, or a crash leaves it reporting clicks.
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        restore(info);
    }));
    let mut performer = Performer::new(paths, tx);
    // The mouse is captured from the start (the wheel, clicks); `m` gives it
    // back to the terminal for selecting text.
    performer.perform(msg::Action::MouseCapture(true));
    model.mouse = true;
    let result = event_loop::run_loop(
        &mut terminal,
        &mut model,
        EventStream::new(),
        &mut rx,
        |action| performer.perform(action),
        now_ms,
    )
    .await;
    performer.perform(msg::Action::MouseCapture(false));
    ratatui::restore();

    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), attach).await;
    let exit = result?;
    println!("{}", exit.message());
    Ok(())
}

/// Colours unless NO_COLOR is set to anything non-empty (no-color.org).
fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
