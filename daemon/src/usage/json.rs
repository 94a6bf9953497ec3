//! A streaming JSON scanner that captures the raw bytes of the values at a few
//! fixed key paths (`usage`, `message.usage`, `response.usage`, …) and parses
//! nothing else.
//!
//! It is fed the body in pieces split anywhere and keeps no copy of it: values
//! off the target paths are skipped with `memchr` inside strings and a byte
//! loop over the (short) structure between them, and only the captured values
//! (a few hundred bytes each, bounded) are copied. Objects on a target path are
//! followed key by key; everything else only has its brackets counted, so a
//! `usage` key nested anywhere else (a tool call's input, a message's text) is
//! never mistaken for the response's own.
//!
//! A root value's captures become visible ([`JsonScan::committed`]) only once
//! that root is complete, so a truncated body never yields half a value. With
//! `array_roots`, each element of a top-level array is a root of its own (Gemini's
//! `streamGenerateContent` without `alt=sse` streams such an array), and a later
//! element's capture replaces an earlier one.

use memchr::memchr2;

/// Key paths from a root object, e.g. `&[&[b"message", b"usage"]]`.
pub(crate) type Paths = &'static [&'static [&'static [u8]]];

/// At most this many paths per scan (a bit mask tracks which still match).
pub(crate) const MAX_PATHS: usize = 8;
/// A captured value longer than this is not what we look for: unusable.
pub(crate) const CAPTURE_LIMIT: usize = 4096;
/// Deeper nesting is given up on (the scan fails).
const MAX_DEPTH: u16 = 256;
/// Keys longer than this match no path.
const MAX_KEY: usize = 32;
/// Tracked objects nest at most this deep (the longest path).
const MAX_LEVELS: usize = 4;

/// What a scan found at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capture<'a> {
    Absent,
    /// The value's bytes, exactly as they were (a string keeps its quotes).
    Value(&'a [u8]),
    /// Too long, or the key appeared twice in one object: not to be trusted.
    Unusable,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    #[default]
    Empty,
    Capturing,
    Done,
    Unusable,
}

#[derive(Debug, Default)]
struct Slot {
    state: SlotState,
    buf: Vec<u8>,
}

impl Slot {
    fn append(&mut self, bytes: &[u8]) {
        if self.state != SlotState::Capturing {
            return;
        }
        if self.buf.len() + bytes.len() > CAPTURE_LIMIT {
            self.state = SlotState::Unusable;
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Skip,
    Capture(u8),
    Descend(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the root value.
    Root,
    /// In a top-level array (`array_roots`): an element, or (`first`) its end.
    Element {
        first: bool,
    },
    /// After an element of a top-level array: `,` or `]`.
    ElementNext,
    /// In a tracked object: a key, or (`first`) its end.
    Key {
        first: bool,
    },
    InKey {
        escaped: bool,
    },
    Colon,
    Value(Next),
    /// Skipping (and maybe capturing) one value.
    Skip,
    /// After a value in a tracked object: `,` or `}`.
    After,
    Done,
    Failed,
}

/// The scanner; reusable across SSE events with [`JsonScan::reset`].
#[derive(Debug)]
pub(crate) struct JsonScan {
    paths: Paths,
    array_roots: bool,
    state: State,
    in_array: bool,
    /// Candidate paths of each open tracked object, outermost first.
    levels: [u32; MAX_LEVELS],
    level: usize,
    key: [u8; MAX_KEY],
    key_len: usize,
    key_bad: bool,
    skip: Skip,
    pending: [Slot; MAX_PATHS],
    committed: [Slot; MAX_PATHS],
    roots: u32,
}

/// A scalar being skipped: a literal (and how much of it was seen) or a number.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    #[default]
    None,
    Literal(&'static [u8], usize),
    Number,
}

/// Where a skipped value stands.
#[derive(Debug, Default, Clone, Copy)]
struct Skip {
    depth: u16,
    in_string: bool,
    escaped: bool,
    scalar: Scalar,
    capture: Option<u8>,
    /// One bit per open bracket: 1 for `[`, 0 for `{`.
    brackets: [u64; 4],
}

impl Skip {
    fn open(&mut self, array: bool) -> bool {
        if self.depth >= MAX_DEPTH {
            return false;
        }
        let (word, bit) = ((self.depth / 64) as usize, self.depth % 64);
        if array {
            self.brackets[word] |= 1 << bit;
        } else {
            self.brackets[word] &= !(1 << bit);
        }
        self.depth += 1;
        true
    }

    fn close(&mut self, array: bool) -> bool {
        if self.depth == 0 {
            return false;
        }
        self.depth -= 1;
        let (word, bit) = ((self.depth / 64) as usize, self.depth % 64);
        (self.brackets[word] >> bit) & 1 == u64::from(array)
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_number(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')
}

/// What a byte outside strings means inside a skipped container.
const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const INVALID: u8 = 4;

/// Bytes that may appear between strings in JSON (loosely: any letter, for
/// the literals) and what they do; anything else fails the scan.
static CLASS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'.' | b'+' | b'-'
            )
        {
            table[b] = OTHER;
        }
        b += 1;
    }
    table[b'"' as usize] = QUOTE;
    table[b'{' as usize] = OPEN;
    table[b'[' as usize] = OPEN;
    table[b'}' as usize] = CLOSE;
    table[b']' as usize] = CLOSE;
    table
};

impl JsonScan {
    pub(crate) fn new(paths: Paths, array_roots: bool) -> Self {
        debug_assert!(paths.len() <= MAX_PATHS);
        debug_assert!(paths.iter().all(|p| !p.is_empty() && p.len() <= MAX_LEVELS));
        JsonScan {
            paths,
            array_roots,
            state: State::Root,
            in_array: false,
            levels: [0; MAX_LEVELS],
            level: 0,
            key: [0; MAX_KEY],
            key_len: 0,
            key_bad: false,
            skip: Skip::default(),
            pending: Default::default(),
            committed: Default::default(),
            roots: 0,
        }
    }

    /// Starts afresh (a new SSE event) with these paths, keeping buffers.
    pub(crate) fn reset(&mut self, paths: Paths) {
        self.paths = paths;
        self.state = State::Root;
        self.in_array = false;
        self.level = 0;
        self.roots = 0;
        for slot in self.pending.iter_mut().chain(self.committed.iter_mut()) {
            slot.state = SlotState::Empty;
            slot.buf.clear();
        }
    }

    /// Whether the input so far is not JSON (sticky until [`JsonScan::reset`]).
    pub(crate) fn failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Whether a whole root value (or top-level array) has been read and
    /// nothing but whitespace followed.
    pub(crate) fn complete(&self) -> bool {
        self.state == State::Done
    }

    /// How many root values (array elements) completed.
    #[cfg(test)]
    pub(crate) fn roots(&self) -> u32 {
        self.roots
    }

    /// The value of path `index` in the last completed root.
    pub(crate) fn committed(&self, index: usize) -> Capture<'_> {
        match self.committed.get(index) {
            Some(Slot {
                state: SlotState::Done,
                buf,
            }) => Capture::Value(buf),
            Some(Slot {
                state: SlotState::Unusable,
                ..
            }) => Capture::Unusable,
            _ => Capture::Absent,
        }
    }

    /// Moves the committed value of path `index` out (leaving it absent);
    /// `Err(())` if it was unusable.
    pub(crate) fn take_committed(&mut self, index: usize, into: &mut Vec<u8>) -> Result<bool, ()> {
        let Some(slot) = self.committed.get_mut(index) else {
            return Ok(false);
        };
        match std::mem::take(&mut slot.state) {
            SlotState::Done => {
                std::mem::swap(into, &mut slot.buf);
                slot.buf.clear();
                Ok(true)
            }
            SlotState::Unusable => Err(()),
            _ => Ok(false),
        }
    }

    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Failed => return,
                State::Skip => self.skip_some(bytes),
                state => {
                    let b = bytes[0];
                    self.step(state, b, bytes)
                }
            };
            bytes = &bytes[used..];
        }
    }

    fn fail(&mut self) -> usize {
        self.state = State::Failed;
        0
    }

    /// One step outside skipped values; returns how many bytes it used.
    fn step(&mut self, state: State, b: u8, bytes: &[u8]) -> usize {
        if is_space(b) && !matches!(state, State::InKey { .. }) {
            return 1;
        }
        match state {
            State::Root | State::Element { .. } => {
                if state == (State::Element { first: true }) && b == b']' {
                    self.state = State::Done;
                    return 1;
                }
                if b == b'{' {
                    self.start_root();
                    self.levels[0] = (1u32 << self.paths.len()) - 1;
                    self.level = 1;
                    self.state = State::Key { first: true };
                    1
                } else if b == b'[' && self.array_roots && state == State::Root {
                    self.in_array = true;
                    self.state = State::Element { first: true };
                    1
                } else {
                    self.start_root();
                    self.start_skip(b, None)
                }
            }
            State::ElementNext => match b {
                b',' => {
                    self.state = State::Element { first: false };
                    1
                }
                b']' => {
                    self.state = State::Done;
                    1
                }
                _ => self.fail(),
            },
            State::Key { first } => match b {
                b'"' => {
                    self.key_len = 0;
                    self.key_bad = false;
                    self.state = State::InKey { escaped: false };
                    1
                }
                b'}' if first => self.close_object(),
                _ => self.fail(),
            },
            State::InKey { escaped } => self.key_some(escaped, bytes),
            State::Colon => {
                if b != b':' {
                    return self.fail();
                }
                self.state = State::Value(self.decide());
                1
            }
            State::Value(Next::Descend(mask)) if b == b'{' => {
                if self.level >= MAX_LEVELS {
                    return self.start_skip(b, None);
                }
                self.levels[self.level] = mask;
                self.level += 1;
                self.state = State::Key { first: true };
                1
            }
            State::Value(Next::Capture(index)) => self.start_skip(b, Some(index)),
            State::Value(_) => self.start_skip(b, None),
            State::After => match b {
                b',' => {
                    self.state = State::Key { first: false };
                    1
                }
                b'}' => self.close_object(),
                _ => self.fail(),
            },
            State::Done => self.fail(),
            State::Skip | State::Failed => unreachable!("handled by feed"),
        }
    }

    fn start_root(&mut self) {
        for slot in &mut self.pending {
            slot.state = SlotState::Empty;
            slot.buf.clear();
        }
    }

    /// Reads key bytes until the closing quote.
    fn key_some(&mut self, mut escaped: bool, bytes: &[u8]) -> usize {
        let mut at = 0;
        loop {
            if escaped {
                // An escaped key is never one of ours; skip the escaped byte.
                let Some(&b) = bytes.get(at) else {
                    self.state = State::InKey { escaped: true };
                    return at;
                };
                if !b"\"\\/bfnrtu".contains(&b) {
                    return self.fail();
                }
                at += 1;
            }
            let rest = &bytes[at..];
            let Some(found) = memchr2(b'"', b'\\', rest) else {
                self.push_key(rest);
                if self.state != State::Failed {
                    self.state = State::InKey { escaped: false };
                }
                return bytes.len();
            };
            self.push_key(&rest[..found]);
            at += found + 1;
            if rest[found] == b'"' {
                if self.state == State::Failed {
                    return 0;
                }
                self.state = State::Colon;
                return at;
            }
            self.key_bad = true;
            escaped = true;
        }
    }

    fn push_key(&mut self, part: &[u8]) {
        // Keys we follow are read whole, so checking them is cheap: a raw
        // control character makes the document invalid, not another key.
        if part.iter().any(|&b| b < 0x20) {
            self.state = State::Failed;
            return;
        }
        let end = self.key_len + part.len();
        if end > MAX_KEY {
            self.key_bad = true;
        } else if !self.key_bad {
            self.key[self.key_len..end].copy_from_slice(part);
            self.key_len = end;
        }
    }

    /// Which paths the key just read continues, at the current level.
    fn decide(&self) -> Next {
        if self.key_bad {
            return Next::Skip;
        }
        let key = &self.key[..self.key_len];
        let position = self.level - 1;
        let mut mask = self.levels[position];
        let mut descend = 0u32;
        while mask != 0 {
            let index = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let path = self.paths[index];
            if path.get(position).is_some_and(|k| *k == key) {
                if path.len() == position + 1 {
                    return Next::Capture(index as u8);
                }
                descend |= 1 << index;
            }
        }
        if descend == 0 {
            Next::Skip
        } else {
            Next::Descend(descend)
        }
    }

    fn start_skip(&mut self, b: u8, capture: Option<u8>) -> usize {
        let capture = capture.filter(|&index| {
            let slot = &mut self.pending[index as usize];
            if slot.state == SlotState::Empty {
                slot.state = SlotState::Capturing;
                slot.buf.clear();
                true
            } else {
                // The same key twice in one object: which one counts is a guess.
                slot.state = SlotState::Unusable;
                false
            }
        });
        self.skip = Skip {
            capture,
            ..Skip::default()
        };
        self.state = State::Skip;
        match b {
            b'{' | b'[' => {
                self.skip.open(b == b'[');
                self.capture(&[b]);
                1
            }
            b'"' => {
                self.skip.in_string = true;
                self.capture(&[b]);
                1
            }
            b't' => self.start_scalar(Scalar::Literal(b"true", 0)),
            b'f' => self.start_scalar(Scalar::Literal(b"false", 0)),
            b'n' => self.start_scalar(Scalar::Literal(b"null", 0)),
            b'-' | b'0'..=b'9' => self.start_scalar(Scalar::Number),
            _ => self.fail(),
        }
    }

    fn start_scalar(&mut self, scalar: Scalar) -> usize {
        self.skip.scalar = scalar;
        0
    }

    /// How many bytes of `bytes` still belong to the current scalar; fails
    /// the scan on a misspelt literal.
    fn scalar_len(&mut self, bytes: &[u8]) -> Option<Option<usize>> {
        match &mut self.skip.scalar {
            Scalar::Literal(word, seen) => {
                for (at, &b) in bytes.iter().enumerate() {
                    if *seen == word.len() {
                        return Some(Some(at));
                    }
                    if b != word[*seen] {
                        return None;
                    }
                    *seen += 1;
                }
                Some(None)
            }
            Scalar::Number => Some(bytes.iter().position(|&b| !is_number(b))),
            Scalar::None => Some(Some(0)),
        }
    }

    fn capture(&mut self, bytes: &[u8]) {
        if let Some(index) = self.skip.capture {
            self.pending[index as usize].append(bytes);
        }
    }

    /// Skips as much of the current value as `bytes` holds.
    fn skip_some(&mut self, bytes: &[u8]) -> usize {
        let mut at = 0;
        let len = bytes.len();
        while at < len {
            if self.skip.in_string {
                if self.skip.escaped {
                    self.skip.escaped = false;
                    at += 1;
                    continue;
                }
                match memchr2(b'"', b'\\', &bytes[at..]) {
                    None => at = len,
                    Some(found) if bytes[at + found] == b'\\' => {
                        self.skip.escaped = true;
                        at += found + 1;
                    }
                    Some(found) => {
                        at += found + 1;
                        self.skip.in_string = false;
                        if self.skip.depth == 0 {
                            self.capture(&bytes[..at]);
                            self.value_done();
                            return at;
                        }
                    }
                }
            } else if self.skip.scalar != Scalar::None {
                match self.scalar_len(&bytes[at..]) {
                    None => return self.fail(),
                    Some(None) => at = len,
                    Some(Some(found)) => {
                        at += found;
                        self.skip.scalar = Scalar::None;
                        self.capture(&bytes[..at]);
                        self.value_done();
                        return at;
                    }
                }
            } else {
                let b = bytes[at];
                at += 1;
                let ok = match CLASS[b as usize] {
                    OTHER => true,
                    QUOTE => {
                        self.skip.in_string = true;
                        true
                    }
                    OPEN => self.skip.open(b == b'['),
                    CLOSE => {
                        if !self.skip.close(b == b']') {
                            return self.fail();
                        }
                        if self.skip.depth == 0 {
                            self.capture(&bytes[..at]);
                            self.value_done();
                            return at;
                        }
                        true
                    }
                    _ => false,
                };
                if !ok {
                    return self.fail();
                }
            }
        }
        self.capture(bytes);
        len
    }

    fn value_done(&mut self) {
        if let Some(index) = self.skip.capture {
            let slot = &mut self.pending[index as usize];
            if slot.state == SlotState::Capturing {
                slot.state = SlotState::Done;
            }
        }
        if self.level == 0 {
            self.root_done();
        } else {
            self.state = State::After;
        }
    }

    fn close_object(&mut self) -> usize {
        self.level -= 1;
        if self.level == 0 {
            self.root_done();
        } else {
            self.state = State::After;
        }
        1
    }

    fn root_done(&mut self) {
        self.roots += 1;
        for (pending, committed) in self.pending.iter_mut().zip(self.committed.iter_mut()) {
            if pending.state != SlotState::Empty {
                std::mem::swap(pending, committed);
                pending.state = SlotState::Empty;
                pending.buf.clear();
            }
        }
        self.state = if self.in_array {
            State::ElementNext
        } else {
            State::Done
        };
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
