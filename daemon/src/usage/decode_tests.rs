use super::*;
use crate::usage::format::Format;

fn body_framer() -> Framer {
    Framer::Body(Box::new(Body::new(Format::OpenAiChat)))
}

const JSON: &[u8] = br#"{"model":"gpt-4.1","usage":{"prompt_tokens":9,"completion_tokens":2}}"#;

fn output(found: Found) -> Option<u64> {
    found
        .finish(Format::OpenAiChat)
        .tokens
        .and_then(|t| t.output)
}

#[test]
fn plain_and_identity_pass_straight_through() {
    for encoding in [None, Some(&b"identity"[..]), Some(b" Identity ")] {
        let mut decode = Decode::new(encoding, body_framer());
        decode.feed(JSON);
        decode.feed(b"");
        assert_eq!(output(decode.finish(true)), Some(2));
    }
}

#[test]
fn zstd_frames_may_follow_each_other_and_empty_frames_change_nothing() {
    // Two frames: the body split in two, each compressed on its own.
    let (a, b) = JSON.split_at(30);
    let mut packed = zstd::stream::encode_all(a, 1).unwrap();
    packed.extend(zstd::stream::encode_all(b, 1).unwrap());
    let mut decode = Decode::new(Some(b"zstd"), body_framer());
    for byte in &packed {
        decode.feed(std::slice::from_ref(byte));
        decode.feed(b"");
    }
    assert_eq!(output(decode.finish(true)), Some(2));
    // Ending inside the second frame: not complete.
    let mut decode = Decode::new(Some(b"zstd"), body_framer());
    decode.feed(&packed[..packed.len() - 3]);
    assert_eq!(output(decode.finish(true)), None);
}

#[test]
fn output_past_the_bound_breaks_the_decoder() {
    let mut sink = Sink {
        framer: body_framer(),
        left: 4,
    };
    assert!(sink.write(b"abcd").is_ok());
    assert!(sink.write(b"e").is_err());
}
