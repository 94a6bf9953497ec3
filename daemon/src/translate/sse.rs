//! An incremental server-sent-events decoder (bytes split anywhere in, whole events
//! out, one bounded buffer) and the small writer helpers every client encoder uses.

use bytes::{BufMut, BytesMut};

/// The most one event (its lines and data together) may hold before the stream is
/// refused; a whole tool call can arrive in one event, so this is generous.
pub(crate) const MAX_EVENT_BYTES: usize = 8 << 20;

/// An event too large to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// Splits a byte stream into SSE events. Only `event:` and `data:` fields matter
/// here; comments, `id:` and `retry:` are skipped.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    /// An incomplete line carried over from the previous chunk.
    line: Vec<u8>,
    /// The data lines of the event being read, joined by `\n`.
    data: Vec<u8>,
    has_data: bool,
    event: Vec<u8>,
    /// The last chunk ended in `\r`: a `\n` starting the next one ends no line.
    after_cr: bool,
}

impl SseDecoder {
    /// Feeds bytes; `on_event(event_name, data)` runs for each complete event, in
    /// order, as soon as its blank line arrives. It returns false to stop decoding.
    pub(crate) fn feed(
        &mut self,
        mut chunk: &[u8],
        on_event: &mut impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), TooLarge> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while !chunk.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) else {
                if self.line.len() + chunk.len() + self.data.len() > MAX_EVENT_BYTES {
                    return Err(TooLarge);
                }
                self.line.extend_from_slice(chunk);
                return Ok(());
            };
            let mut next = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let keep_going = if self.line.is_empty() {
                self.line_done(&chunk[..end], on_event)?
            } else {
                self.line.extend_from_slice(&chunk[..end]);
                let line = std::mem::take(&mut self.line);
                let go = self.line_done(&line, on_event);
                self.line = line;
                self.line.clear();
                go?
            };
            if !keep_going {
                return Ok(());
            }
            chunk = &chunk[next..];
        }
        Ok(())
    }

    /// End of stream: an event that lacked its final blank line is still delivered
    /// (servers that close right after `data: [DONE]\n` are common).
    pub(crate) fn finish(&mut self, on_event: &mut impl FnMut(&[u8], &[u8]) -> bool) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if let Ok(false) = self.line_done(&line, on_event) {
                return;
            }
        }
        let _ = self.line_done(b"", on_event);
    }

    fn line_done(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<bool, TooLarge> {
        if line.is_empty() {
            if !self.has_data {
                self.event.clear();
                return Ok(true);
            }
            let go = on_event(&self.event, &self.data);
            self.data.clear();
            self.event.clear();
            self.has_data = false;
            return Ok(go);
        }
        if line[0] == b':' {
            return Ok(true);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > MAX_EVENT_BYTES {
                    return Err(TooLarge);
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(&value[..value.len().min(256)]);
            }
            _ => {}
        }
        Ok(true)
    }
}

/// Writes `event: NAME\ndata: ` — the caller writes the JSON and then [`end_event`].
pub(crate) fn start_event(out: &mut BytesMut, name: &str) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
}

pub(crate) fn end_event(out: &mut BytesMut) {
    out.put_slice(b"\n\n");
}

/// Writes a whole named event whose data is a serialisable value.
pub(crate) fn event_json(out: &mut BytesMut, name: &str, value: &impl serde::Serialize) {
    start_event(out, name);
    json(out, value);
    end_event(out);
}

/// Writes a value as JSON. Serialising our own types into memory cannot fail.
pub(crate) fn json(out: &mut BytesMut, value: &impl serde::Serialize) {
    let _ = serde_json::to_writer(out.writer(), value);
}

/// Writes a number in decimal without allocating.
pub(crate) fn write_u64(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Writes a JSON string literal (quoted and escaped).
pub(crate) fn json_str(out: &mut BytesMut, s: &str) {
    json(out, &s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(parts: &[&[u8]]) -> Vec<(String, String)> {
        let mut d = SseDecoder::default();
        let mut events = Vec::new();
        let mut push = |e: &[u8], data: &[u8]| {
            events.push((
                String::from_utf8_lossy(e).into_owned(),
                String::from_utf8_lossy(data).into_owned(),
            ));
            true
        };
        for p in parts {
            d.feed(p, &mut push).unwrap_or_default();
        }
        d.finish(&mut push);
        events
    }

    #[test]
    fn events_split_anywhere_decode_the_same() {
        let whole: &[u8] =
            b": comment\r\nevent: a\r\ndata: 1\r\ndata:2\r\n\r\ndata: {\"x\":1}\n\nid: 7\nretry: 5\n\n\rdata: last";
        let expected = vec![
            ("a".to_owned(), "1\n2".to_owned()),
            (String::new(), "{\"x\":1}".to_owned()),
            (String::new(), "last".to_owned()),
        ];
        assert_eq!(decode(&[whole]), expected);
        for i in 0..whole.len() {
            let (a, b) = whole.split_at(i);
            assert_eq!(decode(&[a, b]), expected, "split at {i}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(decode(&bytes), expected);
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut out = BytesMut::new();
        for n in [0, 7, 10, 1234567890, u64::MAX] {
            write_u64(&mut out, n);
            out.put_u8(b' ');
        }
        assert_eq!(&out[..], b"0 7 10 1234567890 18446744073709551615 ");
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut d = SseDecoder::default();
        let big = vec![b'x'; 1 << 20];
        let mut err = None;
        for _ in 0..=(MAX_EVENT_BYTES >> 20) {
            if let Err(e) = d.feed(&big, &mut |_, _| true) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(TooLarge));
    }
}
