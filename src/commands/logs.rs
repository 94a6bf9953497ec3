//! `switchyard logs [-f] [--app APP]`: prints the daemon's log (worker lines
//! included) and, with `-f`, follows it across rotations.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use switchyard_daemon::apps::App;
use switchyard_daemon::paths::Paths;

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
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n > 0 {
            if line.ends_with('\n') && keep(&line) && out.write_all(line.as_bytes()).is_err() {
                break;
            }
            continue;
        }
        if !follow {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}
