//! The price table and the cost arithmetic.
//!
//! Prices come from `assets/prices.toml` (built in; each entry names the page
//! and date it was read from) and the user's `prices.toml` in Switchyard's
//! config directory, whose entries replace built-in ones with the same `match`
//! and are tried first. A price is held as an integer number of pico-USD per
//! token (USD per million tokens × 10⁶, exact for up to six decimals), costs
//! are summed exactly in pico-USD and rounded once per request to nano-USD,
//! so every stored cost is an integer and every sum of them exact.
//!
//! Unknown stays unknown: a model without an entry, a token count that is
//! unknown, or tokens of a kind the entry has no price for give `None`, never 0.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::protocol::requests::Tokens;

const BUILT_IN: &str = include_str!("../../../assets/prices.toml");
/// Larger prices (USD per million tokens) are typos.
const MAX_PRICE: f64 = 1_000_000.0;

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("cannot read price file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("price file {path} is not valid: {message}; fix or remove it")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTable {
    #[serde(default)]
    source: Vec<Source>,
    #[serde(default)]
    model: Vec<FileEntry>,
}

/// Where a set of prices was read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    /// The date the prices were read (`YYYY-MM-DD`).
    #[serde(default)]
    pub taken: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    #[serde(rename = "match")]
    patterns: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(flatten)]
    rates: FileRates,
    #[serde(default)]
    tier: Vec<FileTier>,
}

#[derive(Debug, Default, Deserialize)]
struct FileRates {
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTier {
    above_prompt_tokens: u64,
    #[serde(flatten)]
    rates: FileRates,
}

/// Prices in pico-USD per token; `None`: no price known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub cache_write_1h: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub above_prompt_tokens: u64,
    pub rates: Rates,
}

/// One model's (or pattern's) prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    pub patterns: Vec<String>,
    pub source: Option<String>,
    pub rates: Rates,
    pub tiers: Vec<Tier>,
    /// From the user's file.
    pub user: bool,
}

/// The table in force: the user's entries, then the built-in ones.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    entries: Vec<PriceEntry>,
    sources: Vec<Source>,
    user_file: Option<PathBuf>,
}

fn pico_per_token(usd_per_million: f64, what: &str) -> Result<u64, String> {
    if !usd_per_million.is_finite() || !(0.0..=MAX_PRICE).contains(&usd_per_million) {
        return Err(format!("{what} price {usd_per_million} is not a price"));
    }
    Ok((usd_per_million * 1e6).round() as u64)
}

fn rates(file: &FileRates) -> Result<Rates, String> {
    let convert = |v: Option<f64>, what| v.map(|v| pico_per_token(v, what)).transpose();
    Ok(Rates {
        input: convert(file.input, "input")?,
        output: convert(file.output, "output")?,
        cache_read: convert(file.cache_read, "cache_read")?,
        cache_write: convert(file.cache_write, "cache_write")?,
        cache_write_1h: convert(file.cache_write_1h, "cache_write_1h")?,
    })
}

fn parse(text: &str, user: bool) -> Result<(Vec<PriceEntry>, Vec<Source>), String> {
    let table: FileTable = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut entries = Vec::with_capacity(table.model.len());
    for entry in &table.model {
        if entry.patterns.is_empty() || entry.patterns.iter().any(String::is_empty) {
            return Err("an entry has an empty `match`".into());
        }
        let mut tiers = entry
            .tier
            .iter()
            .map(|t| {
                Ok(Tier {
                    above_prompt_tokens: t.above_prompt_tokens,
                    rates: rates(&t.rates)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        tiers.sort_by_key(|t| t.above_prompt_tokens);
        entries.push(PriceEntry {
            patterns: entry.patterns.clone(),
            source: entry.source.clone(),
            rates: rates(&entry.rates)?,
            tiers,
            user,
        });
    }
    Ok((entries, table.source))
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// How specific a matching pattern is: exact beats any pattern, then more
/// literal characters win.
fn specificity(pattern: &str) -> (bool, usize) {
    (
        !pattern.contains('*'),
        pattern.chars().filter(|&c| c != '*').count(),
    )
}

impl Prices {
    /// The built-in table, with the user's file (if it exists) on top.
    pub fn load(user_file: Option<&Path>) -> Result<Prices, PriceError> {
        let builtin = Path::new("assets/prices.toml");
        let (mut entries, mut sources) =
            parse(BUILT_IN, false).map_err(|message| PriceError::Invalid {
                path: builtin.to_owned(),
                message,
            })?;
        let mut loaded = None;
        if let Some(path) = user_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let (user, user_sources) =
                        parse(&text, true).map_err(|message| PriceError::Invalid {
                            path: path.to_owned(),
                            message,
                        })?;
                    // A user entry replaces a built-in one with the same patterns.
                    entries.retain(|b| !user.iter().any(|u| u.patterns == b.patterns));
                    entries.splice(0..0, user);
                    sources.retain(|s| !user_sources.iter().any(|u| u.id == s.id));
                    sources.extend(user_sources);
                    loaded = Some(path.to_owned());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(PriceError::Read {
                        path: path.to_owned(),
                        source,
                    });
                }
            }
        }
        Ok(Prices {
            entries,
            sources,
            user_file: loaded,
        })
    }

    /// The entry for `model`: the user's before the built-in ones, then the
    /// most specific match.
    pub fn entry(&self, model: &str) -> Option<&PriceEntry> {
        self.entries
            .iter()
            .filter_map(|e| {
                let best = e
                    .patterns
                    .iter()
                    .filter(|p| glob(p, model))
                    .map(|p| specificity(p))
                    .max()?;
                Some((e.user, best, e))
            })
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .map(|(_, _, e)| e)
    }

    /// The cost of `tokens` on `model` in nano-USD, or `None` if the model,
    /// a count, or a needed price is unknown.
    pub fn cost_nano_usd(&self, model: Option<&str>, tokens: &Tokens) -> Option<u64> {
        cost_nano_usd(self.entry(model?)?, tokens)
    }

    /// Where the prices come from, for people: the built-in pages and dates,
    /// and the user's file if one was read.
    pub fn source_note(&self) -> String {
        let mut parts: Vec<String> = self
            .sources
            .iter()
            .map(|s| match &s.taken {
                Some(taken) => format!("{} of {taken}", s.name),
                None => s.name.clone(),
            })
            .collect();
        if let Some(path) = &self.user_file {
            parts.push(format!("overrides from {}", path.display()));
        }
        format!("prices: {}", parts.join("; "))
    }
}

/// The arithmetic: exact in pico-USD, rounded half up to nano-USD once.
pub fn cost_nano_usd(entry: &PriceEntry, tokens: &Tokens) -> Option<u64> {
    let (input, output) = (tokens.input?, tokens.output?);
    let (read, write) = (tokens.cache_read?, tokens.cache_write?);
    let hour = tokens.cache_write_1h.unwrap_or(0).min(write);
    let prompt = input.checked_add(read)?.checked_add(write)?;
    let rates = entry
        .tiers
        .iter()
        .rev()
        .find(|t| prompt > t.above_prompt_tokens)
        .map_or(entry.rates, |t| t.rates);
    // Tokens of a kind that was not used need no price.
    let part = |count: u64, price: Option<u64>| -> Option<u128> {
        match count {
            0 => Some(0),
            n => Some(u128::from(n) * u128::from(price?)),
        }
    };
    let pico = part(input, rates.input)?
        + part(output, rates.output)?
        + part(read, rates.cache_read)?
        + part(write - hour, rates.cache_write)?
        + part(hour, rates.cache_write_1h)?;
    u64::try_from((pico + 500) / 1000).ok()
}

#[cfg(test)]
#[path = "prices_tests.rs"]
mod tests;
