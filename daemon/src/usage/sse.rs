//! Server-sent events, read for usage as they stream past.
//!
//! Lines are found with `memchr`; an event is read only if its `event:` name
//! is one that carries usage, or (unnamed events) if its data holds the usage
//! key with a non-null value. All other data is skipped without being looked
//! at. A chosen event's data goes through [`JsonScan`] piece by piece, so no
//! line is ever buffered, however long (`response.completed` repeats the whole
//! response) or however it is split across frames; the only copies are the
//! captured values (bounded) and an event name (at most [`MAX_NAME`] bytes).
//!
//! An event that was chosen but whose data is not one complete JSON value
//! makes the whole answer unknown; an event left unfinished when the stream
//! ends is dropped, as the SSE standard says.

use memchr::memchr;

use super::format::{Role, SseRules, Unnamed, holds_value};
use super::found::Found;
use super::json::JsonScan;

/// Longer event names are none of ours.
const MAX_NAME: usize = 32;
/// Longer field names are none of ours (`event`, `data`).
const MAX_FIELD: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At a line's start, or reading its field name (`field`).
    Start,
    EventName {
        lead: bool,
    },
    Data {
        lead: bool,
        started: bool,
    },
    Ignore,
}

/// The event being read.
#[derive(Debug, Default)]
struct Event {
    name: [u8; MAX_NAME],
    name_len: usize,
    name_bad: bool,
    decided: bool,
    role: Option<Role>,
    /// An unnamed event whose first data line had no usage.
    filtered: bool,
    data_lines: u32,
}

#[derive(Debug)]
pub(crate) struct Sse {
    rules: &'static SseRules,
    scan: JsonScan,
    line: Line,
    field: [u8; MAX_FIELD],
    field_len: usize,
    field_bad: bool,
    event: Event,
    found: Found,
}

fn strip_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

impl Sse {
    pub(crate) fn new(rules: &'static SseRules) -> Self {
        Sse {
            rules,
            scan: JsonScan::new(&[], false),
            line: Line::Start,
            field: [0; MAX_FIELD],
            field_len: 0,
            field_bad: false,
            event: Event::default(),
            found: Found::default(),
        }
    }

    pub(crate) fn feed(&mut self, mut rest: &[u8]) {
        while !rest.is_empty() {
            if self.line == Line::Start && self.field_len == 0 && !self.field_bad {
                // The usual case: a whole line in this frame.
                if let Some(end) = memchr(b'\n', rest) {
                    self.whole_line(&rest[..end]);
                    rest = &rest[end + 1..];
                    continue;
                }
            }
            let used = self.partial(rest);
            rest = &rest[used..];
        }
    }

    fn whole_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch();
        } else if let Some(value) = line.strip_prefix(b"data:") {
            self.data_piece(strip_space(value), true, true);
        } else if line == b"data" {
            self.data_piece(b"", true, true);
        } else if let Some(value) = line.strip_prefix(b"event:") {
            self.event.name_len = 0;
            self.event.name_bad = false;
            self.push_name(strip_space(value));
        } else {
            let field = line.split(|&b| b == b':').next().unwrap_or_default();
            self.other_field(Some(field));
        }
    }

    /// Comments (`:`), `id` and `retry` say nothing of usage. The standard
    /// says to ignore other fields too, but no API sends any: such a line is
    /// more likely a garbled `data` line, and ignoring that could leave a
    /// stale report standing as the last.
    fn other_field(&mut self, field: Option<&[u8]>) {
        if !matches!(field, Some(b"" | b"id" | b"retry")) {
            self.found.unusable = true;
        }
    }

    /// Continues a line that does not end in this frame (or began in an
    /// earlier one); returns how many bytes it used.
    fn partial(&mut self, rest: &[u8]) -> usize {
        match self.line {
            Line::Start => {
                for (at, &b) in rest.iter().enumerate() {
                    match b {
                        b'\n' => {
                            let field = self.take_field();
                            match field {
                                Some(b"") => self.dispatch(),
                                Some(b"data") => self.data_piece(b"", true, true),
                                Some(b"event") => {
                                    self.event.name_len = 0;
                                    self.event.name_bad = false;
                                }
                                other => {
                                    let other = other.map(<[u8]>::to_vec);
                                    self.other_field(other.as_deref());
                                }
                            }
                            return at + 1;
                        }
                        b':' => {
                            self.line = match self.take_field() {
                                Some(b"data") => Line::Data {
                                    lead: true,
                                    started: false,
                                },
                                Some(b"event") => {
                                    self.event.name_len = 0;
                                    self.event.name_bad = false;
                                    Line::EventName { lead: true }
                                }
                                other => {
                                    let other = other.map(<[u8]>::to_vec);
                                    self.other_field(other.as_deref());
                                    Line::Ignore
                                }
                            };
                            return at + 1;
                        }
                        b'\r' => {}
                        _ if self.field_len < MAX_FIELD => {
                            self.field[self.field_len] = b;
                            self.field_len += 1;
                        }
                        _ => self.field_bad = true,
                    }
                }
                rest.len()
            }
            Line::EventName { lead } => {
                let end = memchr(b'\n', rest);
                let mut piece = &rest[..end.unwrap_or(rest.len())];
                if lead && !piece.is_empty() {
                    piece = strip_space(piece);
                    self.line = Line::EventName { lead: false };
                }
                self.push_name(piece);
                match end {
                    Some(end) => {
                        if self.event.name_len > 0
                            && self.event.name[self.event.name_len - 1] == b'\r'
                        {
                            self.event.name_len -= 1;
                        }
                        self.line = Line::Start;
                        end + 1
                    }
                    None => rest.len(),
                }
            }
            Line::Data { lead, started } => {
                let end = memchr(b'\n', rest);
                let mut piece = &rest[..end.unwrap_or(rest.len())];
                if lead && !piece.is_empty() {
                    piece = strip_space(piece);
                }
                self.data_piece(piece, !started, end.is_some());
                match end {
                    Some(end) => {
                        self.line = Line::Start;
                        end + 1
                    }
                    None => {
                        self.line = Line::Data {
                            lead: false,
                            started: true,
                        };
                        rest.len()
                    }
                }
            }
            Line::Ignore => match memchr(b'\n', rest) {
                Some(end) => {
                    self.line = Line::Start;
                    end + 1
                }
                None => rest.len(),
            },
        }
    }

    /// The field name read so far, or `None` if it was too long; resets it.
    fn take_field(&mut self) -> Option<&[u8]> {
        let len = std::mem::take(&mut self.field_len);
        if std::mem::take(&mut self.field_bad) {
            return None;
        }
        Some(&self.field[..len])
    }

    fn push_name(&mut self, part: &[u8]) {
        let event = &mut self.event;
        let end = event.name_len + part.len();
        if end > MAX_NAME {
            event.name_bad = true;
        } else {
            event.name[event.name_len..end].copy_from_slice(part);
            event.name_len = end;
        }
    }

    /// Part of a data line: `first` if the line starts with it, `last` if it ends.
    fn data_piece(&mut self, piece: &[u8], first: bool, last: bool) {
        if first {
            if !self.event.decided {
                self.decide(piece, last);
            } else if self.event.filtered {
                // Usage might be in this line, but the event's start was not
                // read: what it holds cannot be told.
                self.found.unusable = true;
            } else if self.event.role.is_some() {
                // Data lines of one event join with a newline.
                self.scan.feed(b"\n");
            }
        }
        if self.event.role.is_some() {
            self.scan.feed(piece);
            if last {
                self.event.data_lines += 1;
            }
        }
    }

    fn decide(&mut self, first_piece: &[u8], whole_line: bool) {
        let event = &mut self.event;
        event.decided = true;
        event.role = if event.name_len > 0 || event.name_bad {
            let name = &event.name[..event.name_len];
            self.rules
                .named
                .iter()
                .find(|(n, _)| !event.name_bad && *n == name)
                .map(|(_, role)| *role)
        } else {
            match &self.rules.unnamed {
                None => None,
                // A line split across frames is read without looking first.
                Some(Unnamed { filter: None, role }) => Some(*role),
                Some(Unnamed {
                    filter: Some(finder),
                    role,
                }) if !whole_line || holds_value(finder, first_piece) => Some(*role),
                Some(_) => {
                    event.filtered = true;
                    None
                }
            }
        };
        if let Some(role) = event.role {
            self.scan.reset(role.paths);
        }
    }

    /// What the stream said. One that ended normally in the middle of an
    /// event that carries usage is malformed: an earlier report would be stale.
    pub(crate) fn finish(&mut self, complete: bool) -> Found {
        if complete && self.event.role.is_some() {
            self.found.unusable = true;
        }
        std::mem::take(&mut self.found)
    }

    /// A blank line: the event is complete.
    fn dispatch(&mut self) {
        let event = std::mem::take(&mut self.event);
        let Some(role) = event.role else {
            return;
        };
        // A scalar at the end of the data is complete only once something follows it.
        self.scan.feed(b"\n");
        if !self.scan.complete() {
            self.found.unusable = true;
            return;
        }
        self.found.take(&mut self.scan, role);
    }
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
