//! The log pane's state (key `l`): the daemon's and its workers' log lines —
//! the tail of the log file when it opens, then live lines the daemon streams
//! only while the pane is open — per app or merged, searchable, following the
//! newest line unless scrolled back. Closed, it holds nothing and costs nothing.

use std::collections::VecDeque;

use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::LogLine;

use crate::model::{Scroll, Severity};

/// How many lines the pane keeps.
pub const LOG_PANE_MAX: usize = 2000;
/// How much of the log file's end is read when the pane opens.
pub const BACKLOG_BYTES: u64 = 64 << 10;

/// One line as the pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneLine {
    /// `HH:MM:SS`, local time.
    pub clock: String,
    pub level: String,
    pub app: Option<String>,
    pub worker: bool,
    pub text: String,
}

impl PaneLine {
    pub fn severity(&self) -> Severity {
        match self.level.as_str() {
            "ERROR" => Severity::Bad,
            "WARN" => Severity::Warn,
            "INFO" => Severity::Info,
            _ => Severity::Info,
        }
    }

    /// Debug and trace lines are drawn dim.
    pub fn quiet(&self) -> bool {
        matches!(self.level.as_str(), "DEBUG" | "TRACE")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPane {
    pub lines: VecDeque<PaneLine>,
    /// Lines back from the newest; 0 follows.
    pub scroll: Scroll,
    /// Only this app's lines; `None`: all, merged.
    pub app: Option<App>,
    pub search: String,
    /// `/` was pressed in the pane: keys go to the search.
    pub search_editing: bool,
    /// Why the live stream stopped, while it is.
    pub ended: Option<String>,
}

impl LogPane {
    pub fn push(&mut self, line: PaneLine) {
        let shown = self.shows(&line);
        if self.lines.len() == LOG_PANE_MAX {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        if self.scroll.offset > 0 && shown {
            self.scroll.offset += 1;
        }
    }

    /// Whether `line` passes the app filter and the search.
    pub fn shows(&self, line: &PaneLine) -> bool {
        let app_ok = self
            .app
            .is_none_or(|app| line.app.as_deref() == Some(app.name()));
        let needle = self.search.to_lowercase();
        app_ok && (needle.is_empty() || line.text.to_lowercase().contains(&needle))
    }

    pub fn visible(&self) -> Vec<&PaneLine> {
        self.lines.iter().filter(|l| self.shows(l)).collect()
    }

    /// All apps → claude → codex → gemini → all.
    pub fn next_app(&mut self) {
        self.app = match self.app {
            None => Some(App::ALL[0]),
            Some(app) => App::ALL
                .iter()
                .position(|a| *a == app)
                .and_then(|i| App::ALL.get(i + 1))
                .copied(),
        };
        self.scroll.offset = 0;
    }
}

/// A live line from the daemon.
pub fn from_live(line: LogLine, utc_offset_s: i32) -> PaneLine {
    PaneLine {
        clock: crate::format::clock(line.at_ms, utc_offset_s),
        level: line.level,
        app: line.app,
        worker: line.worker,
        text: switchyard_daemon::text::clean(&line.text).into_owned(),
    }
}

/// A line of the log file: `2026-12-04T14:07:27.363217Z  INFO text app=claude`;
/// a worker's line ends `app=claude worker=PID` (the daemon appends its
/// fields after the message, so the last `app=` is the daemon's, not one the
/// worker's own text carried).
pub fn from_file(line: &str, utc_offset_s: i32) -> Option<PaneLine> {
    let (stamp, rest) = line.split_once(' ')?;
    let rest = rest.trim_start();
    let (level, text) = rest.split_once(' ')?;
    if !matches!(level, "ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE") {
        return None;
    }
    let time = stamp.get(11..19)?;
    let mut parts = time.split(':').map(|p| p.parse::<i64>());
    let (Some(Ok(h)), Some(Ok(m)), Some(Ok(s))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let local = (h * 3600 + m * 60 + s + i64::from(utc_offset_s)).rem_euclid(86_400);
    let app = text
        .split_whitespace()
        .rev()
        .find_map(|w| w.strip_prefix("app="))
        .map(str::to_owned);
    let worker = text
        .split_whitespace()
        .next_back()
        .and_then(|w| w.strip_prefix("worker="))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
    Some(PaneLine {
        clock: format!(
            "{:02}:{:02}:{:02}",
            local / 3600,
            local / 60 % 60,
            local % 60
        ),
        level: level.to_owned(),
        app,
        worker,
        text: switchyard_daemon::text::clean(text.trim_start()).into_owned(),
    })
}

/// The last lines of the log file's `tail` (a partial first line dropped).
pub fn parse_tail(tail: &str, cut: bool, utc_offset_s: i32) -> Vec<PaneLine> {
    let mut lines = tail.lines();
    if cut {
        lines.next();
    }
    lines.filter_map(|l| from_file(l, utc_offset_s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines_are_read_with_their_level_app_and_local_time() {
        let line = "2026-12-04T14:07:27.363217Z  INFO takeover: pointed app=claude path=/x";
        let parsed = from_file(line, 3600).unwrap();
        assert_eq!(parsed.clock, "15:07:27");
        assert_eq!(parsed.level, "INFO");
        assert_eq!(parsed.app.as_deref(), Some("claude"));
        assert_eq!(parsed.text, "takeover: pointed app=claude path=/x");
        assert!(!parsed.worker);
        assert!(from_file("not a log line", 0).is_none());

        // A worker's line: its own text may say `app=`; the daemon's fields come last.
        let line = "2026-12-04T14:07:28.0Z DEBUG upstream said app=codex app=claude worker=4301";
        let parsed = from_file(line, 0).unwrap();
        assert!(parsed.worker, "{parsed:?}");
        assert_eq!(parsed.app.as_deref(), Some("claude"));
        let tail = "ial line\n2026-12-04T00:00:01.0Z ERROR boom\n";
        let lines = parse_tail(tail, true, -3600);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].clock.as_str(), lines[0].severity()),
            ("23:00:01", Severity::Bad)
        );
    }
}
