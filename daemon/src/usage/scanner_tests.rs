//! The scanner against responses in each vendor's real wire shape, whole, split
//! at random points, compressed, truncated and garbled.

use super::*;
use crate::protocol::requests::Tokens;
use proptest::prelude::*;
use std::io::Write;

pub(crate) const ANTHROPIC_SSE: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":60,"ephemeral_1h_input_tokens":40},"output_tokens":1,"service_tier":"standard"}}}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
    ": a comment\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \"usage\":{\"output_tokens\":9}"}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"usage\": 3"}}"#,
    "\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
    "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

const ANTHROPIC_JSON: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-1-20250805",
  "content":[{"type":"tool_use","id":"t1","name":"x","input":{"usage":{"input_tokens":1},"model":"fake"}},{"type":"text","text":"\"usage\": {}"}],
  "stop_reason":"end_turn","stop_sequence":null,
  "usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}}"#;

pub(crate) const RESPONSES_SSE: &str = concat!(
    "event: response.created\n",
    r#"data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-5-codex","output":[],"usage":null}}"#,
    "\n\nevent: response.output_text.delta\n",
    r#"data: {"type":"response.output_text.delta","sequence_number":1,"item_id":"m1","output_index":0,"content_index":0,"delta":"Hi \"usage\""}"#,
    "\n\nevent: response.completed\n",
    r#"data: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","status":"completed","model":"gpt-5-codex","output":[{"type":"reasoning","encrypted_content":"gAAAA\"usage\":{}=="},{"type":"message","content":[{"type":"output_text","text":"Hi","annotations":[]}]}],"usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":800},"output_tokens":300,"output_tokens_details":{"reasoning_tokens":250},"total_tokens":1300}}}"#,
    "\n\n",
);

const RESPONSES_JSON: &str = r#"{"id":"resp_2","object":"response","status":"completed","model":"o4-mini-2025-04-16","output":[],"usage":{"input_tokens":40,"input_tokens_details":{"cached_tokens":0},"output_tokens":9,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":49},"user":null}"#;

pub(crate) const CHAT_SSE: &str = concat!(
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"\"usage\": {"},"finish_reason":"stop"}],"usage": null}"#,
    "\n\n",
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":{"reasoning_tokens":0}}}"#,
    "\n\ndata: [DONE]\n\n",
);

const CHAT_JSON: &str = r#"{"id":"c2","object":"chat.completion","model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":3,"total_tokens":23}}"#;

pub(crate) const GEMINI_SSE: &str = concat!(
    r#"data: {"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 1200,"candidatesTokenCount": 2,"totalTokenCount": 1202,"cachedContentTokenCount": 1000},"modelVersion": "gemini-2.5-pro","responseId": "r1"}"#,
    "\r\n\r\n",
    r#"data: {"candidates": [{"content": {"parts": [{"text": "lo"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 1200,"candidatesTokenCount": 80,"totalTokenCount": 1400,"cachedContentTokenCount": 1000,"thoughtsTokenCount": 100,"toolUsePromptTokenCount": 20},"modelVersion": "gemini-2.5-pro","responseId": "r1"}"#,
    "\r\n\r\n",
);

const GEMINI_ARRAY: &str = concat!(
    "[{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\"}]}}],\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\": 1},\"modelVersion\": \"gemini-2.0-flash\"}\r\n",
    ",\r\n{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"b\"}]}}],\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\": 5,\"totalTokenCount\": 12},\"modelVersion\": \"gemini-2.0-flash\"}\r\n",
    "]",
);

const CODE_ASSIST_SSE: &str = concat!(
    r#"data: {"response": {"candidates": [{"content": {"parts": [{"text": "x"}]}}],"usageMetadata": {"promptTokenCount": 30,"candidatesTokenCount": 4,"thoughtsTokenCount": 6},"modelVersion": "gemini-2.5-flash"},"traceId": "t"}"#,
    "\n\n",
);

fn tokens(
    input: u64,
    output: Option<u64>,
    read: u64,
    write: u64,
    hour: u64,
    reasoning: Option<u64>,
) -> Tokens {
    Tokens {
        input: Some(input),
        output,
        cache_read: Some(read),
        cache_write: Some(write),
        cache_write_1h: Some(hour),
        reasoning,
    }
}

/// Every fixture: format, content type, body, what it reports.
fn fixtures() -> Vec<(Format, &'static str, &'static str, Scanned)> {
    let scanned = |t: Tokens, model: &str| Scanned {
        tokens: Some(t),
        model: Some(model.to_owned()),
    };
    vec![
        (
            Format::Anthropic,
            "text/event-stream; charset=utf-8",
            ANTHROPIC_SSE,
            scanned(
                tokens(25, Some(15), 2000, 100, 40, None),
                "claude-sonnet-4-5-20250929",
            ),
        ),
        (
            Format::Anthropic,
            "application/json",
            ANTHROPIC_JSON,
            scanned(
                tokens(12, Some(6), 0, 0, 0, None),
                "claude-opus-4-1-20250805",
            ),
        ),
        (
            Format::OpenAiResponses,
            "text/event-stream",
            RESPONSES_SSE,
            scanned(tokens(200, Some(300), 800, 0, 0, Some(250)), "gpt-5-codex"),
        ),
        (
            Format::OpenAiResponses,
            "application/json",
            RESPONSES_JSON,
            scanned(tokens(40, Some(9), 0, 0, 0, Some(4)), "o4-mini-2025-04-16"),
        ),
        (
            Format::OpenAiChat,
            "text/event-stream",
            CHAT_SSE,
            scanned(tokens(40, Some(7), 10, 0, 0, Some(0)), "gpt-4o-2024-08-06"),
        ),
        (
            Format::OpenAiChat,
            "application/json",
            CHAT_JSON,
            scanned(tokens(20, Some(3), 0, 0, 0, None), "gpt-4.1-mini"),
        ),
        (
            Format::Gemini,
            "text/event-stream",
            GEMINI_SSE,
            scanned(
                tokens(220, Some(180), 1000, 0, 0, Some(100)),
                "gemini-2.5-pro",
            ),
        ),
        (
            Format::Gemini,
            "application/json; charset=UTF-8",
            GEMINI_ARRAY,
            scanned(tokens(7, Some(5), 0, 0, 0, Some(0)), "gemini-2.0-flash"),
        ),
        (
            Format::Gemini,
            "text/event-stream",
            CODE_ASSIST_SSE,
            scanned(tokens(30, Some(10), 0, 0, 0, Some(6)), "gemini-2.5-flash"),
        ),
    ]
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap()
}

/// Scans `body` fed in pieces cut at `cuts`.
fn scan_cut(
    format: Format,
    content_type: &str,
    encoding: Option<&str>,
    body: &[u8],
    cuts: &[usize],
    complete: bool,
) -> Scanned {
    let encoding = encoding.map(header);
    let mut scanner =
        UsageScanner::new(format, Some(&header(content_type)), encoding.as_ref()).unwrap();
    let mut from = 0;
    for &cut in cuts {
        let cut = cut.clamp(from, body.len());
        scanner.feed(&body[from..cut]);
        from = cut;
    }
    scanner.feed(&body[from..]);
    scanner.finish(complete)
}

fn compress(encoding: &str, body: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                e.write_all(body).unwrap();
            }
            out
        }
        "zstd" => zstd::stream::encode_all(body, 3).unwrap(),
        other => panic!("no encoder for {other}"),
    }
}

#[test]
fn every_format_reads_its_usage_at_every_split() {
    for (format, content_type, body, expected) in fixtures() {
        let body = body.as_bytes();
        assert_eq!(
            scan_cut(format, content_type, None, body, &[], true),
            expected,
            "{format:?} {content_type}"
        );
        for cut in 0..=body.len() {
            assert_eq!(
                scan_cut(format, content_type, None, body, &[cut], true),
                expected,
                "{format:?} {content_type} cut at {cut}"
            );
        }
        // One byte at a time.
        let bytes: Vec<usize> = (0..body.len()).collect();
        assert_eq!(
            scan_cut(format, content_type, None, body, &bytes, true),
            expected
        );
    }
}

#[test]
fn compressed_bodies_are_read_without_touching_them() {
    for encoding in ["gzip", "deflate", "br", "zstd", "GZIP"] {
        for (format, content_type, body, expected) in fixtures() {
            let packed = compress(&encoding.to_ascii_lowercase(), body.as_bytes());
            let cuts: Vec<usize> = (0..packed.len()).step_by(7).collect();
            assert_eq!(
                scan_cut(format, content_type, Some(encoding), &packed, &cuts, true),
                expected,
                "{encoding} {format:?} {content_type}"
            );
        }
    }
}

#[test]
fn undecodable_bodies_are_unknown() {
    let (format, content_type, body, expected) = fixtures().remove(0);
    let packed = compress("gzip", body.as_bytes());
    // Truncated, but said to be complete: the trailer is missing.
    let cut = &packed[..packed.len() - 4];
    let scanned = scan_cut(format, content_type, Some("gzip"), cut, &[], true);
    assert_eq!(scanned.tokens, None);
    // Cut by the upstream: what was decoded still counts.
    let scanned = scan_cut(format, content_type, Some("gzip"), cut, &[], false);
    assert_eq!(scanned, expected);
    // Corrupt, stacked or unknown codings.
    let mut corrupt = packed.clone();
    corrupt[20] ^= 0xff;
    for (encoding, bytes) in [
        ("gzip", &corrupt[..]),
        ("gzip, br", &packed[..]),
        ("compress", &packed[..]),
        ("zstd", body.as_bytes()),
        ("br", b"\xff\xff\xff\xff\xff\xff"),
    ] {
        let scanned = scan_cut(format, content_type, Some(encoding), bytes, &[], true);
        assert_eq!(scanned.tokens, None, "{encoding}");
    }
}

#[test]
fn decoding_is_bounded() {
    // 80 MiB of one string in 80 KiB of zstd: read up to the bound, then unknown.
    let mut body = br#"{"usage":{"input_tokens":1,"output_tokens":1},"pad":""#.to_vec();
    body.resize(body.len() + (80 << 20), b'a');
    body.extend_from_slice(b"\"}");
    let packed = zstd::stream::encode_all(&body[..], 3).unwrap();
    drop(body);
    let scanned = scan_cut(
        Format::Anthropic,
        "application/json",
        Some("zstd"),
        &packed,
        &[],
        true,
    );
    assert_eq!(scanned.tokens, None);
}

#[test]
fn cut_streams_report_only_what_was_said() {
    for (format, content_type, body, expected) in fixtures() {
        let body = body.as_bytes();
        let full = expected.tokens.unwrap();
        // Gemini's chunks each say the usage so far: a cut after a chunk
        // reports that chunk's.
        let reports: Vec<Option<Tokens>> = (0..=body.len())
            .filter(|&at| body[..at].ends_with(b"\n\n") || body[..at].ends_with(b"}\r\n"))
            .map(|at| scan_cut(format, content_type, None, &body[..at], &[], false).tokens)
            .collect();
        for cut in 0..body.len() {
            let got = scan_cut(format, content_type, None, &body[..cut], &[], false);
            let Some(t) = got.tokens else { continue };
            if format == Format::Gemini {
                assert!(
                    reports.contains(&Some(t)),
                    "{content_type} cut at {cut}: {t:?}"
                );
                continue;
            }
            // Anthropic's input is known from message_start; nothing is ever wrong.
            for (part, whole) in [
                (t.input, full.input),
                (t.output, full.output),
                (t.cache_read, full.cache_read),
                (t.cache_write, full.cache_write),
                (t.reasoning, full.reasoning),
            ] {
                assert!(
                    part.is_none() || part == whole,
                    "{format:?} {content_type} cut at {cut}: {t:?}"
                );
            }
        }
    }
}

#[test]
fn usage_where_none_belongs_is_unknown() {
    let cases: &[(Format, &str, &str)] = &[
        // Only nested usage objects.
        (
            Format::Anthropic,
            "application/json",
            r#"{"content":[{"type":"tool_use","input":{"usage":{"input_tokens":5,"output_tokens":1}}}]}"#,
        ),
        // A chat chunk whose usage sits inside a choice.
        (
            Format::OpenAiChat,
            "text/event-stream",
            "data: {\"choices\":[{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}]}\n\ndata: [DONE]\n\n",
        ),
        // usage in an event that does not carry it.
        (
            Format::Anthropic,
            "text/event-stream",
            "event: content_block_delta\ndata: {\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}\n\n",
        ),
        // The right event, malformed.
        (
            Format::OpenAiResponses,
            "text/event-stream",
            "event: response.completed\ndata: {\"response\":{\"usage\":{\"input_tokens\":5,}}}\n\n",
        ),
        // Not JSON at all.
        (Format::OpenAiChat, "application/json", "<html>502</html>"),
        (
            Format::Gemini,
            "application/json",
            "[{\"usageMetadata\": {\"promptTokenCount\": 3}}, oops]",
        ),
        // Absurd numbers.
        (
            Format::OpenAiChat,
            "application/json",
            r#"{"usage":{"prompt_tokens":-5,"completion_tokens":1}}"#,
        ),
        (
            Format::Gemini,
            "text/event-stream",
            "data: {\"usageMetadata\": {\"promptTokenCount\": 1e400}}\n\n",
        ),
    ];
    for (format, content_type, body) in cases {
        let scanned = scan_cut(*format, content_type, None, body.as_bytes(), &[], true);
        assert_eq!(scanned.tokens, None, "{format:?}: {body}");
    }
}

#[test]
fn a_malformed_late_report_is_not_replaced_by_an_earlier_one() {
    // Gemini's last chunk is garbled: the first chunk's usage is stale, not the answer.
    let body = GEMINI_SSE.replacen(
        "\"thoughtsTokenCount\": 100",
        "\"thoughtsTokenCount\": }",
        1,
    );
    let scanned = scan_cut(
        Format::Gemini,
        "text/event-stream",
        None,
        body.as_bytes(),
        &[],
        true,
    );
    assert_eq!(scanned.tokens, None);
}

#[test]
fn other_content_types_are_not_scanned() {
    let ct = header("text/plain");
    assert!(UsageScanner::new(Format::Anthropic, Some(&ct), None).is_none());
    assert!(UsageScanner::new(Format::Anthropic, None, None).is_none());
}

#[test]
fn formats_by_app_and_path() {
    use crate::apps::App;
    let f = Format::for_request;
    assert_eq!(f(App::Claude, "/v1/messages"), Some(Format::Anthropic));
    assert_eq!(f(App::Claude, "/v1/messages/count_tokens"), None);
    assert_eq!(
        f(App::Codex, "/v1/responses"),
        Some(Format::OpenAiResponses)
    );
    assert_eq!(
        f(App::Codex, "/backend-api/codex/responses"),
        Some(Format::OpenAiResponses)
    );
    assert_eq!(
        f(App::Codex, "/v1/chat/completions"),
        Some(Format::OpenAiChat)
    );
    assert_eq!(f(App::Codex, "/v1/models"), None);
    assert_eq!(
        f(
            App::Gemini,
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
        ),
        Some(Format::Gemini)
    );
    assert_eq!(
        f(App::Gemini, "/v1internal:generateContent"),
        Some(Format::Gemini)
    );
    assert_eq!(
        f(App::Gemini, "/v1beta/models/gemini-2.5-pro:countTokens"),
        None
    );
}

fn any_format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::Anthropic),
        Just(Format::OpenAiResponses),
        Just(Format::OpenAiChat),
        Just(Format::Gemini),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_splits_give_the_whole_answer(
        which in 0..9usize,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        encoding in prop_oneof![Just(None), Just(Some("gzip")), Just(Some("br")), Just(Some("zstd"))],
    ) {
        let (format, content_type, body, expected) = fixtures().swap_remove(which);
        let bytes = match encoding {
            Some(e) => compress(e, body.as_bytes()),
            None => body.as_bytes().to_vec(),
        };
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        prop_assert_eq!(scan_cut(format, content_type, encoding, &bytes, &points, true), expected);
    }

    #[test]
    fn garbage_never_panics(
        format in any_format(),
        sse in any::<bool>(),
        encoding in prop_oneof![Just(None), Just(Some("gzip")), Just(Some("br")), Just(Some("zstd")), Just(Some("deflate"))],
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        complete in any::<bool>(),
    ) {
        let content_type = if sse { "text/event-stream" } else { "application/json" };
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.sort_unstable();
        let _ = scan_cut(format, content_type, encoding, &data, &points, complete);
    }

    #[test]
    fn spliced_garbage_never_yields_a_wrong_count(
        which in 0..9usize,
        at in any::<prop::sample::Index>(),
        junk in proptest::collection::vec(
            // Bytes JSON allows nowhere (control characters, a stray quote).
            // Anything printable could spell another valid key, and a newline
            // another valid SSE line (`data\n: {…}` is an empty event and a
            // comment): that is other data, not garbage.
            prop_oneof![0u8..0x09, Just(0x0b), Just(0x0c), 0x0eu8..0x20, Just(b'"')],
            1..8,
        ),
    ) {
        // Junk spliced in anywhere: each count is unknown or right.
        let (format, content_type, body, expected) = fixtures().swap_remove(which);
        let mut bytes = body.as_bytes().to_vec();
        let at = at.index(bytes.len() + 1);
        bytes.splice(at..at, junk);
        let got = scan_cut(format, content_type, None, &bytes, &[], true);
        if let Some(t) = got.tokens {
            let e = expected.tokens.unwrap();
            for (part, whole) in [
                (t.input, e.input),
                (t.output, e.output),
                (t.cache_read, e.cache_read),
                (t.cache_write, e.cache_write),
                (t.cache_write_1h, e.cache_write_1h),
                (t.reasoning, e.reasoning),
            ] {
                prop_assert!(part.is_none() || part == whole, "{:?} vs {:?}", t, e);
            }
        }
    }
}
