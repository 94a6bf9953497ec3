use super::*;

fn tokens(input: u64, output: u64, read: u64, write: u64, hour: u64) -> Tokens {
    Tokens {
        input: Some(input),
        output: Some(output),
        cache_read: Some(read),
        cache_write: Some(write),
        cache_write_1h: Some(hour),
        reasoning: None,
    }
}

fn builtin() -> Prices {
    Prices::load(None).unwrap()
}

#[test]
fn the_built_in_table_parses_and_names_its_sources() {
    let prices = builtin();
    let note = prices.source_note();
    assert!(
        note.contains("Anthropic pricing page of 2026-12-03"),
        "{note}"
    );
    assert!(note.contains("OpenAI"), "{note}");
}

#[test]
fn exact_arithmetic_on_a_fixed_table() {
    let prices = builtin();
    // Sonnet 4.5 (dated): 1000 in × $3 + 500 out × $15 + 2000 read × $0.30
    // + 100 5-minute writes × $3.75 + 40 1-hour writes × $6, per million.
    let t = tokens(1000, 500, 2000, 140, 40);
    let expected_pico =
        1000 * 3_000_000u64 + 500 * 15_000_000 + 2000 * 300_000 + 100 * 3_750_000 + 40 * 6_000_000;
    assert_eq!(expected_pico, 11_715_000_000);
    assert_eq!(
        prices.cost_nano_usd(Some("claude-sonnet-4-5-20250929"), &t),
        Some(11_715_000)
    );
    // OpenAI: cached input at its own price, no cache writes.
    let t = tokens(200, 300, 800, 0, 0);
    assert_eq!(
        prices.cost_nano_usd(Some("gpt-5-codex"), &t),
        Some((200 * 1_250_000 + 300 * 10_000_000 + 800 * 125_000) / 1000)
    );
    // 1 cached token at $0.005/M is 5 nano-USD.
    let t = tokens(0, 0, 1, 0, 0);
    assert_eq!(prices.cost_nano_usd(Some("gpt-5-nano"), &t), Some(5));
    // Summed in pico-USD, rounded once, half up: 499 and 500 pico-USD.
    let entry = |input| PriceEntry {
        patterns: vec!["m".into()],
        source: None,
        rates: Rates {
            input: Some(input),
            output: Some(0),
            ..Rates::default()
        },
        tiers: Vec::new(),
        user: false,
    };
    assert_eq!(cost_nano_usd(&entry(499), &tokens(1, 0, 0, 0, 0)), Some(0));
    assert_eq!(cost_nano_usd(&entry(500), &tokens(1, 0, 0, 0, 0)), Some(1));
    assert_eq!(cost_nano_usd(&entry(250), &tokens(2, 0, 0, 0, 0)), Some(1));
}

#[test]
fn long_prompts_switch_tier() {
    let prices = builtin();
    let short = tokens(200_000, 1000, 0, 0, 0);
    let long = tokens(200_001, 1000, 0, 0, 0);
    assert_eq!(
        prices.cost_nano_usd(Some("claude-sonnet-4-20250514"), &short),
        Some((200_000 * 3_000_000 + 1000 * 15_000_000) / 1000)
    );
    assert_eq!(
        prices.cost_nano_usd(Some("claude-sonnet-4-20250514"), &long),
        Some((200_001 * 6_000_000 + 1000 * 22_500_000) / 1000)
    );
    // The long tier has no cache prices: cached tokens there make it unknown.
    let cached = tokens(150_000, 10, 60_000, 0, 0);
    assert_eq!(
        prices.cost_nano_usd(Some("claude-sonnet-4-5"), &cached),
        None
    );
}

#[test]
fn unknown_is_never_zero() {
    let prices = builtin();
    let t = tokens(10, 10, 0, 0, 0);
    assert_eq!(prices.cost_nano_usd(Some("my-local-llama"), &t), None);
    assert_eq!(prices.cost_nano_usd(None, &t), None);
    let partial = Tokens { output: None, ..t };
    assert_eq!(
        prices.cost_nano_usd(Some("claude-haiku-4-5"), &partial),
        None
    );
    // Zero tokens on a known model cost exactly 0.
    assert_eq!(
        prices.cost_nano_usd(Some("claude-haiku-4-5"), &tokens(0, 0, 0, 0, 0)),
        Some(0)
    );
}

#[test]
fn patterns_exact_names_and_specificity() {
    assert!(glob("claude-opus-4-5*", "claude-opus-4-5-20251101"));
    assert!(glob("gpt-5.1-2*", "gpt-5.1-2025-11-13"));
    assert!(!glob("gpt-5.1-2*", "gpt-5.1-codex"));
    assert!(!glob("gpt-5.1", "gpt-5.1-codex"));
    assert!(glob("a*b*c", "a-x-b-y-c"));
    assert!(!glob("a*b*c", "a-x-c"));
    assert!(!glob("ab*ba", "aba"));
    let prices = builtin();
    assert!(prices.entry("gpt-5.1-codex").is_none());
    assert!(prices.entry("claude-opus-4-1-20250805").is_some());
}

#[test]
fn a_user_file_overrides_and_adds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.toml");
    std::fs::write(
        &path,
        r#"
[[source]]
id = "mine"
name = "my provider's page"
taken = "2026-11-30"

[[model]]
match = ["deepseek-chat"]
source = "mine"
input = 0.27
output = 1.1
cache_read = 0.07
cache_write = 0

[[model]]
match = ["claude-haiku-4-5*"]
input = 0.5
output = 2.5
cache_read = 0
cache_write = 0
"#,
    )
    .unwrap();
    let prices = Prices::load(Some(&path)).unwrap();
    let t = tokens(1_000_000, 1_000_000, 0, 0, 0);
    assert_eq!(
        prices.cost_nano_usd(Some("deepseek-chat"), &t),
        Some(1_370_000_000)
    );
    assert_eq!(
        prices.cost_nano_usd(Some("claude-haiku-4-5-20251001"), &t),
        Some(3_000_000_000)
    );
    assert!(prices.source_note().contains("overrides from"));
    // A missing file is no file; a broken one says which and why.
    assert!(Prices::load(Some(&dir.path().join("absent.toml"))).is_ok());
    std::fs::write(&path, "[[model]]\nmatch = [\"x\"]\ninput = -1\n").unwrap();
    let err = Prices::load(Some(&path)).unwrap_err().to_string();
    assert!(
        err.contains("prices.toml") && err.contains("not a price"),
        "{err}"
    );
    std::fs::write(&path, "[[model]]\nmatch = [\"x\"]\nimput = 1\n").unwrap();
    assert!(Prices::load(Some(&path)).is_err());
}
