use super::*;

fn t(
    input: u64,
    output: Option<u64>,
    cache_read: u64,
    cache_write: u64,
    hour: u64,
    reasoning: Option<u64>,
) -> Tokens {
    Tokens {
        input: Some(input),
        output,
        cache_read: Some(cache_read),
        cache_write: Some(cache_write),
        cache_write_1h: Some(hour),
        reasoning,
    }
}

#[test]
fn anthropic_json_and_stream() {
    let json = br#"{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,
        "cache_creation":{"ephemeral_5m_input_tokens":150,"ephemeral_1h_input_tokens":50},"output_tokens":40,
        "service_tier":"standard"}"#;
    assert_eq!(
        anthropic(None, Some(json)),
        Some(t(10, Some(40), 3000, 200, 50, None))
    );
    // Stream: message_start's placeholder output is replaced by message_delta's.
    let start = br#"{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}"#;
    let delta = br#"{"output_tokens":99}"#;
    assert_eq!(
        anthropic(Some(start), Some(delta)),
        Some(t(10, Some(99), 5, 0, 0, None))
    );
    // Newer deltas repeat the input counts; theirs win.
    let delta = br#"{"input_tokens":11,"cache_read_input_tokens":6,"output_tokens":99}"#;
    assert_eq!(
        anthropic(Some(start), Some(delta)),
        Some(t(11, Some(99), 6, 0, 0, None))
    );
    // Cut before message_delta: the input is known, the output is not.
    assert_eq!(
        anthropic(Some(start), None),
        Some(t(10, None, 5, 0, 0, None))
    );
}

#[test]
fn openai_responses_and_chat() {
    let responses = br#"{"input_tokens":1000,"input_tokens_details":{"cached_tokens":800},
        "output_tokens":300,"output_tokens_details":{"reasoning_tokens":250},"total_tokens":1300}"#;
    assert_eq!(
        openai(responses),
        Some(t(200, Some(300), 800, 0, 0, Some(250)))
    );
    let chat = br#"{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,
        "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
        "completion_tokens_details":{"reasoning_tokens":0}}"#;
    assert_eq!(openai(chat), Some(t(50, Some(7), 0, 0, 0, Some(0))));
    // No details: nothing was cached; reasoning not said.
    assert_eq!(
        openai(br#"{"prompt_tokens":5,"completion_tokens":2}"#),
        Some(t(5, Some(2), 0, 0, 0, None))
    );
    assert_eq!(
        openai(br#"{"prompt_tokens":5,"prompt_tokens_details":null,"completion_tokens":2}"#),
        Some(t(5, Some(2), 0, 0, 0, None))
    );
}

#[test]
fn gemini_adds_thoughts_and_tool_prompts() {
    let raw = br#"{"promptTokenCount": 1200, "candidatesTokenCount": 80, "totalTokenCount": 1400,
        "cachedContentTokenCount": 1000, "thoughtsTokenCount": 100, "toolUsePromptTokenCount": 20,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}]}"#;
    assert_eq!(gemini(raw), Some(t(220, Some(180), 1000, 0, 0, Some(100))));
    // proto3 leaves zeros out.
    assert_eq!(
        gemini(br#"{"promptTokenCount": 3}"#),
        Some(t(3, Some(0), 0, 0, 0, Some(0)))
    );
}

#[test]
fn absurd_numbers_are_unknown() {
    for bad in [
        &br#"{"input_tokens":-1,"output_tokens":2}"#[..],
        br#"{"input_tokens":9007199254740993,"output_tokens":2}"#,
        br#"{"input_tokens":1.5,"output_tokens":2}"#,
        br#"{"input_tokens":"12","output_tokens":2}"#,
        br#"{"input_tokens":1,"input_tokens":2}"#,
        br#"{"input_tokens":1,"cache_creation_input_tokens":1,"cache_creation":{"ephemeral_1h_input_tokens":2}}"#,
        b"[1,2]",
        b"null",
        b"{",
    ] {
        assert_eq!(anthropic(None, Some(bad)), None, "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(
        openai(br#"{"input_tokens":5,"input_tokens_details":{"cached_tokens":6}}"#),
        None
    );
    assert_eq!(
        openai(br#"{"output_tokens":5,"output_tokens_details":{"reasoning_tokens":6}}"#),
        None
    );
    assert_eq!(
        gemini(br#"{"promptTokenCount": 5, "cachedContentTokenCount": 6}"#),
        None
    );
    assert_eq!(
        gemini(br#"{"candidatesTokenCount": 9007199254740992, "thoughtsTokenCount": 1}"#),
        None
    );
    // 2^53 itself is still a count.
    assert_eq!(
        openai(br#"{"input_tokens":9007199254740992}"#).and_then(|t| t.input),
        Some(1 << 53)
    );
}

#[test]
fn model_names() {
    assert_eq!(
        model(br#""claude-sonnet-4-5-20250929""#).as_deref(),
        Some("claude-sonnet-4-5-20250929")
    );
    assert_eq!(model(br#""gpt-\u0035""#).as_deref(), Some("gpt-5"));
    assert_eq!(model(br#""""#), None);
    assert_eq!(model(br#""a b""#), None);
    assert_eq!(model(b"42"), None);
    assert_eq!(model(format!("\"{}\"", "m".repeat(300)).as_bytes()), None);
}
