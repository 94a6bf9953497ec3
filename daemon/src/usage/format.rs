//! Where each API format reports usage: the key paths in a JSON body, and
//! which server-sent events carry it.
//!
//! | format | JSON body | SSE |
//! |---|---|---|
//! | Anthropic Messages | `usage`, `model` | `message_start`: `message.usage`, `message.model`; `message_delta`: `usage` |
//! | OpenAI Responses | `usage`, `model` | `response.completed` / `.incomplete` / `.failed`: `response.usage`, `response.model` |
//! | OpenAI Chat Completions | `usage`, `model` | unnamed events holding a non-null `"usage"` (the last chunk with `stream_options.include_usage`) |
//! | Gemini (incl. Code Assist's `response` wrapper) | `usageMetadata`, `modelVersion`, also in each element of a `streamGenerateContent` array | every (unnamed) event; the last report wins |

use memchr::memmem::Finder;
use std::sync::LazyLock;

use super::json::Paths;
use crate::apps::App;

/// The API format of a response, which decides where its usage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Anthropic,
    OpenAiResponses,
    OpenAiChat,
    Gemini,
}

/// Where a scanned event's usage goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Anthropic's `message_start`, whose fields the later `message_delta` overrides.
    Start,
    /// The latest report, replacing earlier ones.
    Last,
}

/// What to capture from one document (a JSON body or one event's data). In
/// `paths`, even indexes are usage objects and odd ones model names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Role {
    pub(crate) paths: Paths,
    pub(crate) slot: Slot,
}

/// Which events of a stream to read.
#[derive(Debug)]
pub(crate) struct SseRules {
    /// Events named by an `event:` line; other named events are skipped unread.
    pub(crate) named: &'static [(&'static [u8], Role)],
    /// How unnamed events are read, if at all.
    pub(crate) unnamed: Option<Unnamed>,
}

#[derive(Debug)]
pub(crate) struct Unnamed {
    /// Read only events whose data holds this key with a non-null value
    /// (found with `memmem` before any parsing); `None`: read them all.
    pub(crate) filter: Option<&'static LazyLock<Finder<'static>>>,
    pub(crate) role: Role,
}

const USAGE: &[u8] = b"usage";
const MODEL: &[u8] = b"model";

const TOP: Role = Role {
    paths: &[&[USAGE], &[MODEL]],
    slot: Slot::Last,
};
const ANTHROPIC_START: Role = Role {
    paths: &[&[b"message", USAGE], &[b"message", MODEL]],
    slot: Slot::Start,
};
const ANTHROPIC_DELTA: Role = Role {
    paths: &[&[USAGE]],
    slot: Slot::Last,
};
const RESPONSES_FINAL: Role = Role {
    paths: &[&[b"response", USAGE], &[b"response", MODEL]],
    slot: Slot::Last,
};
const GEMINI: Role = Role {
    paths: &[
        &[b"usageMetadata"],
        &[b"modelVersion"],
        &[b"response", b"usageMetadata"],
        &[b"response", b"modelVersion"],
    ],
    slot: Slot::Last,
};

static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));

static ANTHROPIC_SSE: SseRules = SseRules {
    named: &[
        (b"message_start", ANTHROPIC_START),
        (b"message_delta", ANTHROPIC_DELTA),
    ],
    unnamed: None,
};
static RESPONSES_SSE: SseRules = SseRules {
    named: &[
        (b"response.completed", RESPONSES_FINAL),
        (b"response.incomplete", RESPONSES_FINAL),
        (b"response.failed", RESPONSES_FINAL),
    ],
    // Servers that leave out `event:` lines: only a non-null usage counts.
    unnamed: Some(Unnamed {
        filter: Some(&USAGE_KEY),
        role: RESPONSES_FINAL,
    }),
};
static CHAT_SSE: SseRules = SseRules {
    named: &[],
    unnamed: Some(Unnamed {
        filter: Some(&USAGE_KEY),
        role: TOP,
    }),
};
static GEMINI_SSE: SseRules = SseRules {
    named: &[],
    // Every chunk carries usage and the last one counts, so every chunk is
    // read: a filter would let a garbled key hide the last report and leave
    // an earlier one standing.
    unnamed: Some(Unnamed {
        filter: None,
        role: GEMINI,
    }),
};

impl Format {
    /// The format of `app`'s response to a request for `path` (no query), if
    /// it is one that reports usage. Token counting, model lists and the like
    /// report none and are not scanned.
    pub fn for_request(app: App, path: &str) -> Option<Format> {
        match app {
            App::Claude => path.ends_with("/messages").then_some(Format::Anthropic),
            App::Codex if path.ends_with("/responses") => Some(Format::OpenAiResponses),
            App::Codex if path.ends_with("/chat/completions") => Some(Format::OpenAiChat),
            App::Codex => None,
            App::Gemini => (path.ends_with(":generateContent")
                || path.ends_with(":streamGenerateContent"))
            .then_some(Format::Gemini),
        }
    }

    /// What a JSON body of this format holds, and whether its top level may
    /// be an array of responses (Gemini's streamed JSON).
    pub(crate) fn json(self) -> (Role, bool) {
        match self {
            Format::Anthropic | Format::OpenAiResponses | Format::OpenAiChat => (TOP, false),
            Format::Gemini => (GEMINI, true),
        }
    }

    pub(crate) fn sse(self) -> &'static SseRules {
        match self {
            Format::Anthropic => &ANTHROPIC_SSE,
            Format::OpenAiResponses => &RESPONSES_SSE,
            Format::OpenAiChat => &CHAT_SSE,
            Format::Gemini => &GEMINI_SSE,
        }
    }
}

/// Whether `line` holds the key `finder` looks for with a value other than
/// `null` (a Chat chunk says `"usage":null` until the last one).
pub(crate) fn holds_value(finder: &Finder<'_>, line: &[u8]) -> bool {
    let mut from = 0;
    while let Some(found) = finder.find(&line[from..]) {
        let after = from + found + finder.needle().len();
        let rest = &line[after..];
        let value = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b':'))
            .map(|at| &rest[at..]);
        match value {
            Some(v) if v.starts_with(b"null") => from = after,
            _ => return true,
        }
    }
    false
}
