//! The one place the model changes: `update(model, msg) -> Option<Action>`.
//! Pure: no I/O, no clock; actions are carried out by the loop and their
//! results come back as messages. Keys are handled in `keys.rs`.

use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::state::{Event, EventKind, Snapshot, apply};
use switchyard_daemon::protocol::{Reply, Request};

use crate::format;
use crate::keys;
use crate::model::{Link, LogEntry, Model, RATE_SAMPLES, STATUS_TTL_MS, Severity, TrafficEntry};
use crate::msg::{Action, ConnMsg, Exit, LogsMsg, Msg};

pub fn update(model: &mut Model, msg: Msg) -> Option<Action> {
    match msg {
        Msg::Key(key) => keys::on_key(model, key),
        Msg::Mouse { event, screen } => {
            keys::on_mouse(model, event, screen);
            None
        }
        Msg::Resize { rows } => {
            model.screen_rows = rows;
            None
        }
        Msg::Tick { now_ms } => {
            tick(model, now_ms);
            None
        }
        Msg::Conn(conn) => on_conn(model, conn),
        Msg::Reply { request, result } => on_reply(model, request, result),
        Msg::Stopped(Ok(text)) => Some(Action::Quit(Exit::Stopped(text))),
        Msg::Logs(msg) => {
            on_logs(model, msg);
            None
        }
        Msg::Stopped(Err(err)) => {
            model.stopping = false;
            model.set_status(Severity::Bad, format!("could not stop the daemon: {err}"));
            None
        }
    }
}

/// The clock moves on: take a req/s sample per app and let old status fade.
fn tick(model: &mut Model, now_ms: u64) {
    model.now_ms = model.now_ms.max(now_ms);
    for rate in &mut model.rates {
        let elapsed = model.now_ms.saturating_sub(rate.last_sample_ms);
        if elapsed < 500 {
            continue;
        }
        let per_s = rate.pending as f64 * 1000.0 / elapsed as f64;
        if rate.samples.len() == RATE_SAMPLES {
            rate.samples.pop_front();
        }
        rate.samples.push_back(per_s);
        rate.pending = 0;
        rate.last_sample_ms = model.now_ms;
    }
    if model
        .status
        .as_ref()
        .is_some_and(|s| model.now_ms.saturating_sub(s.at_ms) >= STATUS_TTL_MS)
    {
        model.status = None;
    }
}

fn on_conn(model: &mut Model, msg: ConnMsg) -> Option<Action> {
    match msg {
        ConnMsg::Starting => model.link = Link::Starting,
        ConnMsg::Started { pid, elapsed_ms } => {
            model.set_status(
                Severity::Good,
                format!(
                    "started the daemon (pid {pid}) in {}",
                    format::latency(elapsed_ms)
                ),
            );
        }
        ConnMsg::StartFailed(err) => model.start_error = Some(err),
        ConnMsg::Lost {
            reason,
            retry_in_ms,
        } => {
            if model.lost_at_ms.is_none() && model.snapshot.is_some() {
                model.lost_at_ms = Some(model.now_ms);
            }
            model.link = Link::Lost {
                reason,
                retry_in_ms,
            };
        }
        ConnMsg::Attached(snapshot) => attach(model, *snapshot),
        ConnMsg::Resync(snapshot) => resync(model, *snapshot),
        ConnMsg::Event(event) => return on_event(model, event),
    }
    None
}

fn attach(model: &mut Model, snapshot: Snapshot) {
    let new_run = model
        .logged
        .is_some_and(|(epoch, _)| epoch != snapshot.epoch);
    if new_run {
        let text = format!("── a new daemon run (pid {}) ──", snapshot.daemon.pid);
        let at_ms = snapshot.daemon.started_at_ms;
        model.push_log(LogEntry {
            at_ms,
            text,
            severity: Severity::Warn,
        });
    }
    if model.snapshot.is_some() && model.link != Link::Connected {
        let pid = snapshot.daemon.pid;
        model.set_status(
            Severity::Good,
            format!("reattached to the daemon (pid {pid})"),
        );
    }
    model.link = Link::Connected;
    model.lost_at_ms = None;
    model.start_error = None;
    resync(model, snapshot);
}

/// Adopts a snapshot wholesale; rates continue from its counters.
fn resync(model: &mut Model, snapshot: Snapshot) {
    for state in &snapshot.apps {
        model.rates[state.app.index()].last_requests = Some(state.traffic.requests);
    }
    model.selected = model.selected.min(snapshot.apps.len().saturating_sub(1));
    model.snapshot = Some(snapshot);
}

fn on_event(model: &mut Model, event: Event) -> Option<Action> {
    let snapshot = model.snapshot.as_mut()?;
    let epoch = snapshot.epoch;
    let live = event.seq > snapshot.seq;
    if live {
        apply(snapshot, &event);
        model.now_ms = model.now_ms.max(event.at_ms);
    }
    let fresh = match model.logged {
        Some((e, seq)) => e != epoch || event.seq > seq,
        None => true,
    };
    if fresh {
        model.logged = Some((epoch, event.seq));
        record(model, &event);
    }
    if !live {
        return None;
    }
    match &event.kind {
        EventKind::Traffic { app, traffic } => {
            count_requests(model, *app, traffic.requests);
            None
        }
        EventKind::RequestsFinished { app, requests, .. } => {
            let seen = &mut model.since_attach[app.index()];
            for r in requests {
                let t = &r.tokens;
                seen.requests += 1;
                seen.tokens += [t.input, t.output, t.cache_read, t.cache_write]
                    .iter()
                    .map(|n| n.unwrap_or(0))
                    .sum::<u64>();
                seen.cost_nano_usd += r.cost_nano_usd.unwrap_or(0);
            }
            None
        }
        EventKind::DaemonStopping if !model.stopping => {
            model.set_status(Severity::Warn, "the daemon is stopping");
            None
        }
        _ => None,
    }
}

/// Adds an event to the log or the traffic pane (Traffic counters go to neither).
fn record(model: &mut Model, event: &Event) {
    match &event.kind {
        EventKind::Traffic { .. } => {}
        EventKind::RequestsFinished { app, requests, .. } => {
            for request in requests {
                model.push_traffic(TrafficEntry {
                    at_ms: request.time_ms + request.latency_ms,
                    app: *app,
                    record: request.clone(),
                });
            }
        }
        kind => {
            let (text, severity) = format::event(kind);
            model.push_log(LogEntry {
                at_ms: event.at_ms,
                text,
                severity,
            });
        }
    }
}

/// Folds a Traffic event's counter into the pending req/s delta. A counter
/// that went down belongs to a new worker, which started from zero.
fn count_requests(model: &mut Model, app: App, requests: u64) {
    let rate = &mut model.rates[app.index()];
    let delta = match rate.last_requests {
        Some(last) if requests >= last => requests - last,
        Some(_) => requests,
        None => 0,
    };
    rate.pending += delta;
    rate.last_requests = Some(requests);
}

fn on_reply(model: &mut Model, request: Request, result: Result<Reply, String>) -> Option<Action> {
    if let Request::Usage(query) = &request {
        let now = model.now_ms;
        if let Some(view) = model.usage_view.as_mut() {
            let result = match result {
                Ok(Reply::Usage(report)) => Ok(*report),
                Ok(other) => Err(format!("unexpected answer: {other:?}")),
                Err(err) => Err(err),
            };
            view.answer(query, result, now);
        }
        return None;
    }
    if let Request::RequestDetail(key) = &request {
        // Only the request still inspected takes the answer.
        if let Some(crate::model::Popup::Inspect(entry)) = &model.popup
            && switchyard_daemon::protocol::requests::RequestKey::of(&entry.record) == *key
        {
            model.inspected = match result {
                Ok(Reply::RequestDetail(Some(headers))) => crate::model::Detail::Loaded(*headers),
                Ok(Reply::RequestDetail(None)) => crate::model::Detail::Missing,
                Ok(other) => crate::model::Detail::Failed(format!("unexpected answer: {other:?}")),
                Err(err) => crate::model::Detail::Failed(err),
            };
        }
        return None;
    }
    if let (Request::ProviderPresets { app: Some(app) }, Ok(Reply::Presets(items))) =
        (&request, &result)
    {
        if model.pending_presets.take() == Some(*app) {
            if items.is_empty() {
                model.set_status(Severity::Warn, format!("no preset serves {app}"));
            } else {
                model.status = None;
                model.popup = Some(crate::model::Popup::Presets {
                    app: *app,
                    items: items.clone(),
                    selected: 0,
                });
            }
        }
        return None;
    }
    match result {
        Ok(Reply::Done(text)) => model.set_status(Severity::Good, text),
        Ok(_) => {}
        Err(err) => model.set_status(
            Severity::Bad,
            format!("{} failed: {err}", format::request(&request)),
        ),
    }
    None
}

/// Log lines arrive only while the pane is open; late ones are dropped.
fn on_logs(model: &mut Model, msg: LogsMsg) {
    let offset = model.utc_offset_s;
    let Some(pane) = model.logs.as_mut() else {
        return;
    };
    match msg {
        LogsMsg::Tail { text, cut } => {
            // Live lines may have come first: the file's lines go before them.
            let live: Vec<_> = pane.lines.drain(..).collect();
            for line in crate::logs::parse_tail(&text, cut, offset) {
                pane.push(line);
            }
            for line in live {
                pane.push(line);
            }
        }
        LogsMsg::Line(line) => {
            pane.ended = None;
            pane.push(crate::logs::from_live(line, offset));
        }
        LogsMsg::Ended(reason) => pane.ended = Some(reason),
    }
}
