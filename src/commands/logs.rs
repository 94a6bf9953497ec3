//! `switchyard logs [-f] [--app APP]`: prints the daemon's log (worker lines
//! included). With `-f` it prints the file, then follows the daemon's live
//! log stream (`SubscribeLogs`, as the dashboard's log pane does) when a
//! daemon answers; with none running, or once the stream ends, it follows the
//! file instead (across rotations) and says so. Control characters that
//! reached the log (a client's or an upstream's text) are printed as escapes:
//! never a raw ESC on the terminal.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use switchyard_daemon::apps::App;
use switchyard_daemon::client::{Client, ClientError, Subscription};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{LogLine, ServerMessage};
use switchyard_daemon::text::clean;

/// How often `-f` looks for new lines in the file when no daemon streams
/// them (a client-side wait; the daemon is idle).
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

type Out<'a> = std::io::StdoutLock<'a>;

/// Which lines to print: all, or those naming one app (`app=NAME`).
struct Filter(Option<String>);

impl Filter {
    fn keep(&self, line: &str) -> bool {
        self.0.as_deref().is_none_or(|f| line.contains(f))
    }

    /// Prints `line` if it passes; false when stdout is gone.
    fn print(&self, line: &str, out: &mut Out<'_>) -> bool {
        !self.keep(line) || writeln!(out, "{}", clean(line)).is_ok()
    }
}

pub async fn run(paths: &Paths, follow: bool, app: Option<App>) -> Result<ExitCode> {
    let filter = Filter(app.map(|app| format!("app={app}")));
    let path = paths.log_file();
    let mut out = std::io::stdout().lock();
    if !follow {
        match std::fs::File::open(&path) {
            Ok(file) => {
                read_to_end(&mut BufReader::new(file), &filter, &mut out, true)?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => eprintln!(
                "switchyard: no log yet at {} (the daemon has not run here)",
                path.display()
            ),
            Err(err) => {
                return Err(err).wrap_err_with(|| format!("cannot read {}", path.display()));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Subscribed before the file is read, so no line falls between the two.
    let stream = match Client::connect(paths, "switchyard-logs").await {
        Ok(client) => client.subscribe_logs().await.map_err(|err| err.to_string()),
        Err(ClientError::NotRunning { .. }) => Err("no daemon is running".to_owned()),
        Err(err) => Err(err.to_string()),
    };
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(why) => {
            eprintln!(
                "switchyard: {why}; following the log file {} instead",
                path.display()
            );
            return follow_file(&path, None, None, &filter, &mut out).await;
        }
    };
    let (reader, last_ms) = match std::fs::File::open(&path) {
        Ok(file) => {
            let mut reader = BufReader::new(file);
            let last = read_to_end(&mut reader, &filter, &mut out, false)?;
            (Some(reader), last)
        }
        Err(_) => (None, None),
    };
    let Some(last_live) = live(&mut stream, last_ms, &filter, &mut out).await else {
        return Ok(ExitCode::SUCCESS);
    };
    eprintln!(
        "switchyard: the daemon's log stream ended (it stopped or restarted); following the log file {}",
        path.display()
    );
    follow_file(&path, reader, last_live, &filter, &mut out).await
}

/// Where the file takes over from the stream: the time of the stream's last
/// line and how many lines it had of that millisecond (the file has them
/// too, in the same order).
type Handover = Option<(u64, usize)>;

/// Prints the stream's lines (those logged before `after_ms` are already
/// printed from the file) until it ends; `None` when stdout went away.
async fn live(
    stream: &mut Subscription,
    after_ms: Option<u64>,
    filter: &Filter,
    out: &mut Out<'_>,
) -> Option<Handover> {
    let mut last: Handover = None;
    while let Some(Ok(msg)) = stream.next().await {
        let ServerMessage::Log(line) = msg else {
            continue;
        };
        if after_ms.is_some_and(|after| line.at_ms < after) {
            continue;
        }
        last = match last {
            Some((ms, n)) if ms == line.at_ms => Some((ms, n + 1)),
            _ => Some((line.at_ms, 1)),
        };
        if !filter.print(&as_file_line(&line), out) || out.flush().is_err() {
            return None;
        }
    }
    Some(last)
}

/// A live line as the file has it: `2026-12-04T14:07:27.363000Z  INFO text`.
fn as_file_line(line: &LogLine) -> String {
    let at = i64::try_from(line.at_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_default();
    format!(
        "{} {:>5} {}",
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        line.level,
        line.text
    )
}

/// The unix ms of a file line's timestamp (its first word).
fn line_ms(line: &str) -> Option<u64> {
    let stamp = line.split_whitespace().next()?;
    let at = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    u64::try_from(at.timestamp_millis()).ok()
}

/// Prints every whole line from the reader's position to the end of the file
/// (a last line without its newline too when `partial`); returns the time of
/// the last line read. A line that is not UTF-8 is shown, not fatal.
fn read_to_end(
    reader: &mut BufReader<std::fs::File>,
    filter: &Filter,
    out: &mut Out<'_>,
    partial: bool,
) -> Result<Option<u64>> {
    let mut raw = Vec::new();
    let mut last = None;
    let mut start = reader.stream_position()?;
    loop {
        raw.clear();
        let read = reader.read_until(b'\n', &mut raw)?;
        if read == 0 {
            return Ok(last);
        }
        let Some(line) = raw.strip_suffix(b"\n") else {
            // Still being written: read it again whole later.
            if partial {
                filter.print(&String::from_utf8_lossy(&raw), out);
            } else {
                reader.seek(SeekFrom::Start(start))?;
            }
            return Ok(last);
        };
        start += read as u64;
        let line = String::from_utf8_lossy(line);
        last = line_ms(&line).or(last);
        if !filter.print(&line, out) {
            return Ok(last);
        }
    }
}

/// Follows the file at `path` from `reader`'s position (or its start), across
/// rotations, skipping the lines the daemon's stream already printed (up to
/// `skip`); until stdout goes away.
async fn follow_file(
    path: &Path,
    mut reader: Option<BufReader<std::fs::File>>,
    mut skip: Handover,
    filter: &Filter,
    out: &mut Out<'_>,
) -> Result<ExitCode> {
    let mut raw = Vec::new();
    loop {
        let Some(current) = reader.as_mut() else {
            reader = std::fs::File::open(path).ok().map(BufReader::new);
            if reader.is_none() {
                tokio::time::sleep(FOLLOW_INTERVAL).await;
            }
            continue;
        };
        if current.read_until(b'\n', &mut raw)? > 0 {
            if let Some(line) = raw.strip_suffix(b"\n") {
                let line = String::from_utf8_lossy(line);
                let old = match (skip, line_ms(&line)) {
                    (Some((last, _)), Some(ms)) if ms < last => true,
                    (Some((last, n)), Some(ms)) if ms == last && n > 0 => {
                        skip = Some((last, n - 1));
                        true
                    }
                    (Some(_), None) => true,
                    _ => false,
                };
                if !old {
                    skip = None;
                    if !filter.print(&line, out) {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                raw.clear();
            }
            continue;
        }
        if out.flush().is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
        // Rotated: the file at `path` is new and shorter than our position.
        let pos = current.stream_position()?;
        if std::fs::metadata(path).is_ok_and(|m| m.len() < pos)
            && let Ok(file) = std::fs::File::open(path)
        {
            reader = Some(BufReader::new(file));
            raw.clear();
        }
    }
}
