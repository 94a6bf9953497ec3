//! The dashboard loop, generic over the terminal backend so tests can drive it
//! with a `TestBackend`. One `select!` over terminal input, the message channel
//! (attach task and action results) and a 1 Hz tick; it redraws only after
//! something happened, so an idle dashboard wakes once a second.

use std::io;
use std::time::Duration;

use color_eyre::eyre::Result;
use crossterm::event::{Event as TermEvent, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::MissedTickBehavior;

use crate::model::Model;
use crate::msg::{Action, Exit, Msg};
use crate::update::update;
use crate::view;

/// Uptimes and countdowns move once a second.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until the model asks to quit (or the input ends, which detaches).
/// `perform` starts every other action; `clock` gives unix milliseconds.
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    mut input: S,
    rx: &mut UnboundedReceiver<Msg>,
    mut perform: impl FnMut(Action),
    clock: impl Fn() -> u64,
) -> Result<Exit>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    update(
        model,
        Msg::Resize {
            rows: terminal.size()?.height,
        },
    );
    terminal.draw(|frame| view::draw(frame, model))?;
    loop {
        let msg = tokio::select! {
            event = input.next() => match event {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => Msg::Key(key),
                Some(Ok(TermEvent::Resize(_, rows))) => Msg::Resize { rows },
                Some(Ok(TermEvent::Mouse(event))) => {
                    let size = terminal.size()?;
                    Msg::Mouse { event, screen: ratatui::layout::Rect::new(0, 0, size.width, size.height) }
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
                None => return Ok(Exit::Detached { pid: model.daemon_pid() }),
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick { now_ms: clock() },
        };
        if let Some(exit) = step(model, msg, &mut perform) {
            return Ok(exit);
        }
        // Take whatever else is already waiting, then draw once.
        while let Ok(msg) = rx.try_recv() {
            if let Some(exit) = step(model, msg, &mut perform) {
                return Ok(exit);
            }
        }
        terminal.draw(|frame| view::draw(frame, model))?;
    }
}

fn step(model: &mut Model, msg: Msg, perform: &mut impl FnMut(Action)) -> Option<Exit> {
    match update(model, msg)? {
        Action::Quit(exit) => Some(exit),
        action => {
            perform(action);
            None
        }
    }
}
