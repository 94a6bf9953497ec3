//! Work for `tests/benches/usage.sh`: runs the usage scanner over one kind of
//! response, frame by frame as the proxy would feed it, N times. The script
//! counts instructions under callgrind at two N and divides the difference,
//! so building the frames and starting up cancel out.
//!
//!   usage_bench CASE ITERATIONS      (CASE: see `cases`; `--list` prints them)

use std::hint::black_box;

use bytes::Bytes;
use http::HeaderValue;
use switchyard_daemon::usage::{Format, UsageScanner};

/// Events in each stream case besides the ones that carry usage.
const EVENTS: usize = 100;

struct Case {
    name: &'static str,
    format: Format,
    content_type: &'static str,
    frames: Vec<Bytes>,
}

fn frames(parts: impl IntoIterator<Item = String>) -> Vec<Bytes> {
    parts.into_iter().map(Bytes::from).collect()
}

fn text(i: usize) -> String {
    format!("word {i} of a streamed answer, with \\\"quotes\\\" and a {{brace}}")
}

fn cases() -> Vec<Case> {
    let anthropic_json = r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hello! I can help with that. Here is a short answer that spans a few sentences, as a small non-streamed reply would, with \"quotes\" and {braces} in it."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":1800,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":503,"service_tier":"standard"}}"#;
    let mut anthropic_sse = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n".to_owned(),
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_owned(),
    ];
    anthropic_sse.extend((0..EVENTS).map(|i| format!(
        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n",
        text(i)
    )));
    anthropic_sse.push(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
            .to_owned(),
    );
    anthropic_sse.push("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":150}}\n\n".to_owned());
    anthropic_sse.push("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_owned());

    let mut responses_sse = vec![
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5-codex\",\"output\":[],\"usage\":null}}\n\n".to_owned(),
    ];
    responses_sse.extend((0..EVENTS).map(|i| format!(
        "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{i},\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"{}\"}}\n\n",
        text(i)
    )));
    let all_text: String = (0..EVENTS).map(text).collect();
    responses_sse.push(format!(
        "event: response.completed\ndata: {{\"type\":\"response.completed\",\"sequence_number\":101,\"response\":{{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5-codex\",\"output\":[{{\"type\":\"message\",\"content\":[{{\"type\":\"output_text\",\"text\":\"{all_text}\",\"annotations\":[]}}]}}],\"usage\":{{\"input_tokens\":1000,\"input_tokens_details\":{{\"cached_tokens\":800}},\"output_tokens\":300,\"output_tokens_details\":{{\"reasoning_tokens\":250}},\"total_tokens\":1300}}}}}}\n\n"
    ));

    let mut chat_sse: Vec<String> = (0..EVENTS).map(|i| format!(
        "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n",
        text(i)
    )).collect();
    chat_sse.push("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":100,\"total_tokens\":150,\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n".to_owned());
    chat_sse.push("data: [DONE]\n\n".to_owned());

    let gemini_sse: Vec<String> = (0..EVENTS).map(|i| format!(
        "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"{}\"}}],\"role\": \"model\"}},\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": 1200,\"candidatesTokenCount\": {i},\"totalTokenCount\": {},\"cachedContentTokenCount\": 1000}},\"modelVersion\": \"gemini-2.5-pro\",\"responseId\": \"abc\"}}\r\n\r\n",
        text(i), 1200 + i
    )).collect();

    vec![
        Case {
            name: "anthropic-json",
            format: Format::Anthropic,
            content_type: "application/json",
            frames: frames([anthropic_json.to_owned()]),
        },
        Case {
            name: "anthropic-sse",
            format: Format::Anthropic,
            content_type: "text/event-stream",
            frames: frames(anthropic_sse),
        },
        Case {
            name: "responses-sse",
            format: Format::OpenAiResponses,
            content_type: "text/event-stream",
            frames: frames(responses_sse),
        },
        Case {
            name: "chat-sse",
            format: Format::OpenAiChat,
            content_type: "text/event-stream",
            frames: frames(chat_sse),
        },
        Case {
            name: "gemini-sse",
            format: Format::Gemini,
            content_type: "text/event-stream",
            frames: frames(gemini_sse),
        },
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases = cases();
    if args.first().map(String::as_str) == Some("--list") {
        for case in &cases {
            let bytes: usize = case.frames.iter().map(Bytes::len).sum();
            println!("{} {} {}", case.name, case.frames.len(), bytes);
        }
        return;
    }
    let (Some(name), Some(iterations)) = (args.first(), args.get(1).and_then(|n| n.parse().ok()))
    else {
        eprintln!("usage: usage_bench CASE ITERATIONS | --list");
        std::process::exit(2);
    };
    let iterations: usize = iterations;
    // `NAME-baseline` walks the frames without scanning: the harness's share.
    let (base, scan) = match name.strip_suffix("-baseline") {
        Some(base) => (base, false),
        None => (name.as_str(), true),
    };
    let Some(case) = cases.iter().find(|c| c.name == base) else {
        eprintln!("unknown case {name}");
        std::process::exit(2);
    };
    let content_type = HeaderValue::from_static(case.content_type);
    let mut known = 0u64;
    for _ in 0..iterations {
        let frames = black_box(&case.frames);
        if scan {
            let Some(mut scanner) = UsageScanner::new(case.format, Some(&content_type), None)
            else {
                unreachable!("every case has a scanned content type");
            };
            for frame in frames {
                scanner.feed(frame);
            }
            let scanned = scanner.finish(true);
            known += u64::from(scanned.tokens.is_some());
        } else {
            for frame in frames {
                known += u64::from(black_box(frame).len() > 1 << 40);
            }
        }
    }
    if scan && known != iterations as u64 {
        eprintln!(
            "{name}: usage unknown in {} runs",
            iterations as u64 - known
        );
        std::process::exit(1);
    }
    black_box(known);
}
