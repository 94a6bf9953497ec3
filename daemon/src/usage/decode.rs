//! Compressed responses, decoded for the count only.
//!
//! The client gets the compressed frames untouched; a streaming decoder is fed
//! the same frames and its output goes straight into the reader (never kept).
//! Decoding is bounded: at most [`DECODED_LIMIT`] bytes of output per response
//! (a compression bomb costs at most that much CPU), a zstd window of at most
//! 8 MiB, brotli's format-bounded 16 MiB. Anything that cannot be decoded — an
//! unknown or stacked encoding, corrupt data, a stream over the bound, a body
//! that ended without its trailer — makes the tokens unknown.

use std::io::Write;

use flate2::write::{GzDecoder, ZlibDecoder};
use zstd::stream::raw::{DParameter, Decoder as ZstdDecoder, InBuffer, Operation, OutBuffer};

use super::found::{Body, Found};
use super::sse::Sse;

/// At most this much decoded output is read per response.
pub(crate) const DECODED_LIMIT: u64 = 64 << 20;
/// zstd frames asking for a larger window (2^23 = 8 MiB) are refused.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;
/// The decoders' output chunk.
const CHUNK: usize = 16 << 10;

/// The reader of decoded bytes: a JSON body or an event stream.
#[derive(Debug)]
pub(crate) enum Framer {
    Body(Box<Body>),
    Sse(Box<Sse>),
}

impl Framer {
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        match self {
            Framer::Body(body) => body.feed(bytes),
            Framer::Sse(sse) => sse.feed(bytes),
        }
    }

    /// What was found; `complete`: the body ended normally, so an
    /// unfinished document in it is malformed, not cut.
    fn finish(&mut self, complete: bool) -> Found {
        match self {
            Framer::Body(body) => body.finish(complete),
            Framer::Sse(sse) => sse.finish(complete),
        }
    }
}

/// Feeds a decoder's output to the framer, up to the bound.
#[derive(Debug)]
pub(crate) struct Sink {
    framer: Framer,
    left: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let len = buf.len() as u64;
        if len > self.left {
            return Err(std::io::Error::other("decoded response over the bound"));
        }
        self.left -= len;
        self.framer.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) struct Zstd {
    decoder: ZstdDecoder<'static>,
    out: Box<[u8]>,
    sink: Sink,
    /// Whether the last frame ended (more may follow).
    frame_done: bool,
}

impl Zstd {
    fn new(sink: Sink) -> std::io::Result<Self> {
        let mut decoder = ZstdDecoder::new()?;
        decoder.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))?;
        Ok(Zstd {
            decoder,
            out: vec![0; CHUNK].into_boxed_slice(),
            sink,
            frame_done: false,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut input = InBuffer::around(bytes);
        loop {
            let before = input.pos();
            let mut output = OutBuffer::around(&mut self.out[..]);
            let hint = self.decoder.run(&mut input, &mut output)?;
            let produced = output.pos();
            self.sink.write_all(&self.out[..produced])?;
            // Past a frame's end the hint is the next frame's header size:
            // only new input means a frame has begun again.
            if hint == 0 {
                self.frame_done = true;
            } else if input.pos() > before {
                self.frame_done = false;
            }
            if input.pos() == bytes.len() && produced < self.out.len() {
                return Ok(());
            }
        }
    }
}

/// The body's content coding, and the decoder for it.
pub(crate) enum Decode {
    Plain(Framer),
    Gzip(Box<GzDecoder<Sink>>),
    Deflate(Box<ZlibDecoder<Sink>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Sink>>),
    Zstd(Box<Zstd>),
    /// Not decodable (any more): tokens unknown.
    Broken,
}

impl Decode {
    /// The decoder for a `Content-Encoding` value (`None`: not encoded).
    pub(crate) fn new(encoding: Option<&[u8]>, framer: Framer) -> Decode {
        let encoding = encoding.map(<[u8]>::trim_ascii).unwrap_or_default();
        let sink = || Sink {
            framer,
            left: DECODED_LIMIT,
        };
        let is = |name: &str| encoding.eq_ignore_ascii_case(name.as_bytes());
        if encoding.is_empty() || is("identity") {
            Decode::Plain(sink().framer)
        } else if is("gzip") || is("x-gzip") {
            Decode::Gzip(Box::new(GzDecoder::new(sink())))
        } else if is("deflate") {
            Decode::Deflate(Box::new(ZlibDecoder::new(sink())))
        } else if is("br") {
            Decode::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                sink(),
                CHUNK,
            )))
        } else if is("zstd") {
            Zstd::new(sink()).map_or(Decode::Broken, |z| Decode::Zstd(Box::new(z)))
        } else {
            // Stacked (`gzip, br`) or unknown codings are not worth guessing at.
            Decode::Broken
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let result = match self {
            Decode::Plain(framer) => {
                framer.feed(bytes);
                return;
            }
            Decode::Gzip(d) => d.write_all(bytes),
            Decode::Deflate(d) => d.write_all(bytes),
            Decode::Brotli(d) => d.write_all(bytes),
            Decode::Zstd(d) => d.write(bytes),
            Decode::Broken => return,
        };
        if result.is_err() {
            *self = Decode::Broken;
        }
    }

    /// What was found; `complete` says whether the body ended normally (then a
    /// compressed body must also have ended its compressed stream).
    pub(crate) fn finish(&mut self, complete: bool) -> Found {
        let (ended, sink) = match self {
            Decode::Plain(framer) => return framer.finish(complete),
            Decode::Broken => return Found::unusable(),
            Decode::Gzip(d) => (d.try_finish().is_ok(), d.get_mut()),
            Decode::Deflate(d) => (d.try_finish().is_ok(), d.get_mut()),
            Decode::Brotli(d) => (d.close().is_ok(), d.get_mut()),
            Decode::Zstd(d) => (d.frame_done, &mut d.sink),
        };
        if complete && !ended {
            return Found::unusable();
        }
        sink.framer.finish(complete)
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
