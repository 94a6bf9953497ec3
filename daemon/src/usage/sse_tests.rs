use super::*;
use crate::usage::format::Format;
use crate::usage::found::Scanned;

fn read(format: Format, parts: &[&str], complete: bool) -> Scanned {
    let mut sse = Sse::new(format.sse());
    for part in parts {
        sse.feed(part.as_bytes());
    }
    sse.finish(complete).finish(format)
}

fn output(s: &Scanned) -> Option<u64> {
    s.tokens.and_then(|t| t.output)
}

const START: &str = "event: message_start\ndata: {\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";

#[test]
fn crlf_lines_and_fields_split_anywhere() {
    let delta = "event: message_delta\r\ndata:{\"usage\":{\"output_tokens\":8}}\r\n\r\n";
    let stream = format!("{}{delta}", START.replace('\n', "\r\n"));
    let whole = read(Format::Anthropic, &[&stream], true);
    assert_eq!(output(&whole), Some(8));
    assert_eq!(whole.model.as_deref(), Some("claude-haiku-4-5"));
    for cut in 0..stream.len() {
        let got = read(Format::Anthropic, &[&stream[..cut], &stream[cut..]], true);
        assert_eq!(got, whole, "cut at {cut}");
    }
}

#[test]
fn multi_line_data_joins_with_newlines() {
    let stream =
        "event: message_delta\ndata: {\"usage\":\ndata: {\"output_tokens\":\ndata: 4}}\n\n";
    assert_eq!(
        output(&read(Format::Anthropic, &[START, stream], true)),
        Some(4)
    );
}

#[test]
fn unnamed_events_are_read_only_with_a_usage_value() {
    // Chat: `"usage": null` chunks are skipped; the last chunk is read.
    let chunks = concat!(
        "data: {\"model\":\"gpt-4o\",\"usage\": null}\n\n",
        "data: {\"model\":\"gpt-4o\",\"usage\" : {\"prompt_tokens\":2,\"completion_tokens\":1}}\n\n",
        "data: [DONE]\n\n",
    );
    let got = read(Format::OpenAiChat, &[chunks], true);
    assert_eq!(output(&got), Some(1));
    // Anthropic names every event it sends: unnamed ones are never read.
    let unnamed = "data: {\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}\n\n";
    assert_eq!(read(Format::Anthropic, &[unnamed], true).tokens, None);
}

#[test]
fn a_data_line_split_across_frames_is_read_without_the_filter() {
    let line = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5}}\n\n";
    for cut in 6..line.len() - 2 {
        let got = read(Format::OpenAiChat, &[&line[..cut], &line[cut..]], true);
        assert_eq!(output(&got), Some(5), "cut at {cut}");
    }
    // Split non-usage chunks are read too, and harmlessly find nothing.
    let done = "data: [DONE]\n\n";
    let got = read(Format::OpenAiChat, &[line, &done[..8], &done[8..]], true);
    assert_eq!(output(&got), Some(5));
}

#[test]
fn long_and_unknown_names() {
    let long = format!(
        "event: {}\ndata: {{\"usage\":{{\"output_tokens\":1}}}}\n\n",
        "x".repeat(100)
    );
    assert_eq!(
        read(Format::Anthropic, &[START, &long], true)
            .tokens
            .map(|t| t.output),
        Some(None)
    );
    // `id`, `retry` and comments are fine; an unknown field makes it unknown.
    let fine = "id: 7\nretry: 100\n: keep-alive\n\n";
    assert!(
        read(Format::Anthropic, &[START, fine], false)
            .tokens
            .is_some()
    );
    let odd = "dat: {}\n\n";
    assert_eq!(read(Format::Anthropic, &[START, odd], false).tokens, None);
}

#[test]
fn the_end_of_a_stream() {
    let partial = "event: message_delta\ndata: {\"usage\":{\"output_tokens\":8}}";
    // Cut by the upstream: the unfinished event is dropped, the rest stands.
    let got = read(Format::Anthropic, &[START, partial], false);
    assert_eq!(got.tokens.and_then(|t| t.input), Some(3));
    assert_eq!(output(&got), None);
    // Ended "normally" inside a usage event: malformed, so unknown.
    assert_eq!(
        read(Format::Anthropic, &[START, partial], true).tokens,
        None
    );
    // A usage event whose data is not JSON.
    let bad = "event: message_delta\ndata: usage\n\n";
    assert_eq!(read(Format::Anthropic, &[START, bad], true).tokens, None);
}
