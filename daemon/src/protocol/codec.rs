//! Framing for every Switchyard socket: a 4-byte little-endian length, then a
//! postcard payload. Frames over [`MAX_FRAME`] are refused before any allocation.

use std::io;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LengthDelimitedCodecError};

/// The largest payload either side accepts: 1 MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame exceeds the {MAX_FRAME}-byte limit")]
    TooLarge,
    #[error("undecodable frame: {0}")]
    Undecodable(#[from] postcard::Error),
    #[error(transparent)]
    Io(io::Error),
}

impl From<io::Error> for FrameError {
    fn from(err: io::Error) -> Self {
        // LengthDelimitedCodec reports an oversized prefix as an io::Error
        // wrapping its own error type.
        let too_large = err
            .get_ref()
            .is_some_and(|inner| inner.is::<LengthDelimitedCodecError>());
        if too_large {
            FrameError::TooLarge
        } else {
            FrameError::Io(err)
        }
    }
}

/// Decodes `In` and encodes `Out`, each as one length-prefixed postcard frame.
pub struct FrameCodec<In, Out> {
    frames: LengthDelimitedCodec,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out> FrameCodec<In, Out> {
    pub fn new() -> Self {
        FrameCodec {
            frames: LengthDelimitedCodec::builder()
                .little_endian()
                .length_field_length(LENGTH_FIELD)
                .max_frame_length(MAX_FRAME)
                .new_codec(),
            _types: PhantomData,
        }
    }
}

impl<In, Out> Default for FrameCodec<In, Out> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In: DeserializeOwned, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        match self.frames.decode(src)? {
            Some(frame) => Ok(Some(postcard::from_bytes(&frame)?)),
            None => Ok(None),
        }
    }
}

impl<In, Out: Serialize> Encoder<Out> for FrameCodec<In, Out> {
    type Error = FrameError;

    fn encode(&mut self, item: Out, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode_ref(&item, dst)
    }
}

/// A message already framed (length prefix included), for sending one message
/// to many peers: the daemon encodes each event once, not once per subscriber.
#[derive(Debug, Clone)]
pub struct Encoded(Bytes);

impl Encoded {
    pub fn new<Out: Serialize>(msg: &Out) -> Result<Encoded, FrameError> {
        let mut dst = BytesMut::new();
        FrameCodec::<(), Out>::new().encode_ref(msg, &mut dst)?;
        Ok(Encoded(dst.freeze()))
    }
}

impl<In, Out> Encoder<Encoded> for FrameCodec<In, Out> {
    type Error = FrameError;

    fn encode(&mut self, item: Encoded, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.extend_from_slice(&item.0);
        Ok(())
    }
}

impl<In, Out: Serialize> FrameCodec<In, Out> {
    /// Serializes straight into `dst` behind a length placeholder, then fills the
    /// length in: no intermediate buffer, no copy. (The same layout the
    /// length-delimited decoder reads.)
    fn encode_ref(&mut self, item: &Out, dst: &mut BytesMut) -> Result<(), FrameError> {
        let start = dst.len();
        dst.put_u32_le(0);
        if let Err(err) = postcard::serialize_with_flavor(item, AppendTo(dst)) {
            dst.truncate(start);
            return Err(err.into());
        }
        let len = dst.len() - start - LENGTH_FIELD;
        if len > MAX_FRAME {
            dst.truncate(start);
            return Err(FrameError::TooLarge);
        }
        // `len` ≤ MAX_FRAME, so it fits the 4-byte field.
        dst[start..start + LENGTH_FIELD].copy_from_slice(&(len as u32).to_le_bytes());
        Ok(())
    }
}

/// Bytes of the length prefix.
const LENGTH_FIELD: usize = 4;

/// A postcard output that appends to a `BytesMut`.
struct AppendTo<'a>(&'a mut BytesMut);

impl postcard::ser_flavors::Flavor for AppendTo<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.put_u8(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Codec = FrameCodec<Vec<String>, Vec<String>>;

    #[test]
    fn round_trips_a_frame() {
        let mut codec = Codec::new();
        let mut buf = BytesMut::new();
        let msg = vec!["hello".to_owned(), "world".to_owned()];
        codec.encode(msg.clone(), &mut buf).unwrap();
        assert_eq!(&buf[..4], &((buf.len() - 4) as u32).to_le_bytes());
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(msg));
    }

    #[test]
    fn frames_encoded_behind_others_decode_in_order() {
        let mut codec = Codec::new();
        let mut buf = BytesMut::new();
        let first = vec!["a".to_owned()];
        let second = vec!["b".repeat(300), "c".to_owned()];
        codec.encode(first.clone(), &mut buf).unwrap();
        codec.encode(second.clone(), &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(first));
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(second));
        assert!(buf.is_empty());
    }

    #[test]
    fn refuses_to_encode_an_oversized_frame_and_leaves_the_buffer_as_it_was() {
        let mut codec = Codec::new();
        let mut buf = BytesMut::from(&b"queued"[..]);
        let err = codec
            .encode(vec!["x".repeat(MAX_FRAME + 1)], &mut buf)
            .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge), "{err}");
        assert_eq!(&buf[..], b"queued");
    }

    #[test]
    fn a_pre_encoded_frame_decodes_like_any_other() {
        let msg = vec!["once".to_owned()];
        let encoded = Encoded::new(&msg).unwrap();
        let mut codec = Codec::new();
        let mut buf = BytesMut::new();
        codec.encode(encoded, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(msg));
    }

    #[test]
    fn refuses_a_two_gib_prefix_without_allocating() {
        let mut codec = Codec::new();
        let mut buf = BytesMut::from(&(2u32 << 30).to_le_bytes()[..]);
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge), "{err}");
        assert!(buf.capacity() < MAX_FRAME);
    }

    #[test]
    fn a_truncated_frame_waits_for_more() {
        let mut codec = Codec::new();
        let mut buf = BytesMut::from(&[10u8, 0, 0, 0, 1, 2][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_or_overallocate(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut codec = Codec::new();
            let mut buf = BytesMut::new();
            let mut fed = 0usize;
            for chunk in chunks {
                fed += chunk.len();
                buf.extend_from_slice(&chunk);
                while let Ok(Some(_)) = codec.decode(&mut buf) {}
                // The decoder may reserve room for one announced frame, never more.
                prop_assert!(buf.capacity() <= MAX_FRAME + 4 + fed);
            }
        }
    }
}
