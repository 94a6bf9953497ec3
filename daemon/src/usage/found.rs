//! What a scan has found so far: the raw bytes of the latest usage objects and
//! model name, kept unparsed until the response ends (Gemini repeats its usage
//! in every chunk; only the last is ever parsed), and the JSON-body reader.

use super::format::{Format, Role, Slot};
use super::json::{Capture, JsonScan};
use super::tokens;
use crate::protocol::requests::Tokens;

/// What a finished scan says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scanned {
    /// `None` when the response reported no usage we could trust.
    pub tokens: Option<Tokens>,
    /// The model the response names, if it names one.
    pub model: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Anthropic's `message_start` usage.
    start: Option<Vec<u8>>,
    /// The latest usage report.
    last: Option<Vec<u8>>,
    model: Option<Vec<u8>>,
    /// Something that should have been read could not be: tokens unknown.
    pub(crate) unusable: bool,
}

impl Found {
    /// Nothing to be trusted: tokens unknown.
    pub(crate) fn unusable() -> Self {
        Found {
            unusable: true,
            ..Found::default()
        }
    }

    /// Takes what `scan` committed for a document read in `role`.
    pub(crate) fn take(&mut self, scan: &mut JsonScan, role: Role) {
        for index in 0..role.paths.len() {
            let is_model = index % 2 == 1;
            let target = match (is_model, role.slot) {
                (true, _) => &mut self.model,
                (false, Slot::Start) => &mut self.start,
                (false, Slot::Last) => &mut self.last,
            };
            match scan.committed(index) {
                Capture::Absent => {}
                // Chat chunks say `"usage":null` until the last one.
                Capture::Value(v) if v == b"null" => {}
                Capture::Value(_) => {
                    let buf = target.get_or_insert_with(Vec::new);
                    let _ = scan.take_committed(index, buf);
                }
                Capture::Unusable if is_model => {}
                Capture::Unusable => self.unusable = true,
            }
        }
    }

    pub(crate) fn finish(&self, format: Format) -> Scanned {
        let model = self.model.as_deref().and_then(tokens::model);
        if self.unusable {
            return Scanned {
                tokens: None,
                model,
            };
        }
        let (start, last) = (self.start.as_deref(), self.last.as_deref());
        let tokens = match format {
            Format::Anthropic if start.is_none() && last.is_none() => None,
            Format::Anthropic => tokens::anthropic(start, last),
            Format::OpenAiResponses | Format::OpenAiChat => last.and_then(tokens::openai),
            Format::Gemini => last.and_then(tokens::gemini),
        };
        Scanned { tokens, model }
    }
}

/// A JSON body (or Gemini's streamed JSON array) read for usage.
#[derive(Debug)]
pub(crate) struct Body {
    scan: JsonScan,
    role: Role,
}

impl Body {
    pub(crate) fn new(format: Format) -> Self {
        let (role, array_roots) = format.json();
        Body {
            scan: JsonScan::new(role.paths, array_roots),
            role,
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.scan.feed(bytes);
    }

    /// What the body said. A body that ended normally must be one complete
    /// document; a cut one counts what its complete elements said.
    pub(crate) fn finish(&mut self, complete: bool) -> Found {
        if self.scan.failed() || (complete && !self.scan.complete()) {
            return Found::unusable();
        }
        let mut found = Found::default();
        found.take(&mut self.scan, self.role);
        found
    }
}
