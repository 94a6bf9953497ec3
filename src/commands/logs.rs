//! `switchyard logs [-f] [--app APP]`: prints the daemon's log (worker lines
//! included) and, with `-f`, follows it across rotations. Control characters
//! that reached the log (a client's or an upstream's text) are printed as
//! escapes: never a raw ESC on the terminal.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use switchyard_daemon::apps::App;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::text::clean;

/// How often `-f` looks for new lines (a client-side wait; the daemon is idle).
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

pub async fn run(paths: &Paths, follow: bool, app: Option<App>) -> Result<ExitCode> {
    let path = paths.log_file();
    let filter = app.map(|app| format!("app={app}"));
    let keep = |line: &str| filter.as_deref().is_none_or(|f| line.contains(f));
    let mut out = std::io::stdout().lock();
    let open = || std::fs::File::open(&path);
    let file = match open() {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !follow => {
            eprintln!(
                "switchyard: no log yet at {} (the daemon has not run here)",
                path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            while !path.exists() {
                tokio::time::sleep(FOLLOW_INTERVAL).await;
            }
            open().wrap_err_with(|| format!("cannot read {}", path.display()))?
        }
        Err(err) => return Err(err).wrap_err_with(|| format!("cannot read {}", path.display())),
    };
    let mut reader = BufReader::new(file);
    // Bytes, not a `String`: a line that is not UTF-8 is shown, not fatal.
    // A line still being written stays here until its end arrives.
    let mut raw = Vec::new();
    let print = |raw: &[u8], out: &mut std::io::StdoutLock<'_>| {
        let line = String::from_utf8_lossy(raw);
        !keep(&line) || writeln!(out, "{}", clean(&line)).is_ok()
    };
    loop {
        if reader.read_until(b'\n', &mut raw)? > 0 {
            if let Some(line) = raw.strip_suffix(b"\n") {
                if !print(line, &mut out) {
                    break;
                }
                raw.clear();
            }
            continue;
        }
        if !follow {
            if !raw.is_empty() {
                print(&raw, &mut out);
            }
            break;
        }
        let _ = out.flush();
        tokio::time::sleep(FOLLOW_INTERVAL).await;
        // Rotated: the file at `path` is new and shorter than our position.
        let pos = reader.stream_position()?;
        if std::fs::metadata(&path).is_ok_and(|m| m.len() < pos)
            && let Ok(file) = open()
        {
            reader = BufReader::new(file);
            reader.seek(SeekFrom::Start(0))?;
            raw.clear();
        }
    }
    Ok(ExitCode::SUCCESS)
}
