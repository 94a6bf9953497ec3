//! The core's part in usage: each batch of finished requests a worker sends is
//! priced, handed to the store (one transaction per batch, on the store's
//! thread) and announced as one [`EventKind::RequestsFinished`], which the
//! reducer folds into each app's [`UsageToday`]. Today's totals are read back
//! from the database when the daemon starts; a timer at local midnight starts
//! a new day; old rows are pruned hourly, off the core.
//!
//! Settings: `config.toml` in the data directory (`[requests]
//! retention_days`, default 90; 0 keeps every row) and the user's
//! `prices.toml` beside it, on top of the built-in table. A file that does not
//! parse is reported in the log and left out; it never stops the daemon, which
//! must keep serving.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{Days, Local, TimeZone};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::Core;
use crate::apps::App;
use crate::paths::Paths;
use crate::protocol::requests::{GroupBy, RequestRecord, Tokens, UsageQuery};
use crate::protocol::state::{EventKind, UsageToday};
use crate::store::requests::DEFAULT_RETENTION_DAYS;
use crate::store::{Store, now_ms};
use crate::usage::Prices;
use crate::usage::prices::{self, PriceEntry};

/// How often old request rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const DAY_MS: u64 = 86_400_000;

/// What the daemon reads once at start about usage.
#[derive(Debug, Default)]
pub struct UsageSettings {
    pub prices: Prices,
    /// Request rows older than this many days are pruned; 0: never.
    pub retention_days: u64,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    requests: RequestsSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsSection {
    #[serde(default = "default_retention")]
    retention_days: u64,
}

impl Default for RequestsSection {
    fn default() -> Self {
        RequestsSection {
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

fn default_retention() -> u64 {
    DEFAULT_RETENTION_DAYS
}

impl UsageSettings {
    /// `config.toml` in the data directory.
    pub fn config_file(paths: &Paths) -> PathBuf {
        paths.data_dir.join("config.toml")
    }

    /// The user's price file, `prices.toml` in the data directory.
    pub fn prices_file(paths: &Paths) -> PathBuf {
        paths.data_dir.join("prices.toml")
    }

    /// Reads both files; what cannot be read is logged and left at its default.
    pub fn load(paths: &Paths) -> UsageSettings {
        let config = Self::config_file(paths);
        let retention_days = match std::fs::read_to_string(&config) {
            Ok(text) => match toml::from_str::<ConfigFile>(&text) {
                Ok(file) => file.requests.retention_days,
                Err(err) => {
                    tracing::error!(file = %config.display(), %err,
                        "config file not understood; keeping requests for {DEFAULT_RETENTION_DAYS} days: fix the file and restart the daemon");
                    DEFAULT_RETENTION_DAYS
                }
            },
            Err(_) => DEFAULT_RETENTION_DAYS,
        };
        let prices_file = Self::prices_file(paths);
        let prices = Prices::load(Some(&prices_file)).unwrap_or_else(|err| {
            tracing::error!(%err, "using the built-in price table only: fix the file and restart the daemon");
            Prices::load(None).unwrap_or_default()
        });
        UsageSettings {
            prices,
            retention_days,
        }
    }

    /// The built-in prices and the default retention (tests, tools).
    pub fn built_in() -> UsageSettings {
        UsageSettings {
            prices: Prices::load(None).unwrap_or_default(),
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// The local midnight (unix ms) that began the day of `at_ms`.
pub fn day_start_ms(at_ms: u64) -> u64 {
    let Some(at) = Local.timestamp_millis_opt(at_ms as i64).earliest() else {
        return at_ms - at_ms % DAY_MS;
    };
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(Local).earliest())
        .map_or(at_ms - at_ms % DAY_MS, |m| m.timestamp_millis() as u64)
}

/// The local midnight that ends the day begun at `day_start_ms`.
fn next_day_ms(day_start_ms: u64) -> u64 {
    Local
        .timestamp_millis_opt(day_start_ms as i64)
        .earliest()
        .and_then(|day| day.date_naive().checked_add_days(Days::new(1)))
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .and_then(|midnight| midnight.and_local_timezone(Local).earliest())
        .map_or(day_start_ms + DAY_MS, |m| m.timestamp_millis() as u64)
}

/// Models whose price entry is remembered, at most (then it starts afresh).
const PRICE_CACHE: usize = 1024;

/// The core's usage state: the prices and the day being counted.
#[derive(Debug)]
pub(super) struct Book {
    pub(super) prices: Prices,
    /// Each model's entry as last looked up: the table's patterns are matched
    /// once per model, not once per request.
    entries: HashMap<String, Option<PriceEntry>>,
    day_start_ms: u64,
    next_day_ms: u64,
}

impl Book {
    pub(super) fn new(prices: Prices, now_ms: u64) -> Book {
        let day = day_start_ms(now_ms);
        Book {
            prices,
            entries: HashMap::new(),
            day_start_ms: day,
            next_day_ms: next_day_ms(day),
        }
    }

    pub(super) fn day_start_ms(&self) -> u64 {
        self.day_start_ms
    }

    /// How long until the day ends (for the core's midnight timer).
    pub(super) fn until_next_day(&self) -> Duration {
        Duration::from_millis(self.next_day_ms.saturating_sub(now_ms()))
    }

    /// The cost of `tokens` on `model` in nano-USD; `None` when the model, a
    /// count or a needed price is unknown.
    fn cost(&mut self, model: Option<&str>, tokens: &Tokens) -> Option<u64> {
        let model = model?;
        if !self.entries.contains_key(model) {
            if self.entries.len() >= PRICE_CACHE {
                self.entries.clear();
            }
            let entry = self.prices.entry(model).cloned();
            self.entries.insert(model.to_owned(), entry);
        }
        prices::cost_nano_usd(self.entries.get(model)?.as_ref()?, tokens)
    }

    /// Whether a new day has begun by `now`; moves on to it if so.
    fn roll(&mut self, now: u64) -> bool {
        if now < self.next_day_ms {
            return false;
        }
        self.day_start_ms = day_start_ms(now);
        self.next_day_ms = next_day_ms(self.day_start_ms);
        true
    }
}

/// Today's totals per app, from the database.
pub(super) async fn restore(store: &Store, day_start_ms: u64) -> HashMap<App, UsageToday> {
    let query = UsageQuery {
        since_ms: Some(day_start_ms),
        by: GroupBy::App,
        utc_offset_s: 0,
    };
    let report = match store.usage(query, String::new()).await {
        Ok(report) => report,
        Err(err) => {
            tracing::error!(%err, "cannot read today's usage back; it counts from zero");
            return HashMap::new();
        }
    };
    report
        .rows
        .into_iter()
        .filter_map(|row| {
            let app = row.key.as_deref()?.parse::<App>().ok()?;
            let usage = UsageToday {
                day_start_ms,
                requests: row.requests,
                errors: row.errors,
                input_tokens: row.input_tokens.value,
                output_tokens: row.output_tokens.value,
                cache_read_tokens: row.cache_read_tokens.value,
                cache_write_tokens: row.cache_write_tokens.value,
                reasoning_tokens: row.reasoning_tokens.value,
                tokens_unknown: row.input_tokens.unknown,
                cost_nano_usd: row.cost_nano_usd.value,
                cost_unknown: row.cost_nano_usd.unknown,
            };
            Some((app, usage))
        })
        .collect()
}

/// Prunes rows older than the retention now and then every hour, on the
/// store's thread in small steps, until `shutdown`.
pub(super) fn spawn_pruning(store: Store, retention_days: u64, shutdown: CancellationToken) {
    if retention_days == 0 {
        return;
    }
    tokio::spawn(async move {
        loop {
            let before = now_ms().saturating_sub(retention_days.saturating_mul(DAY_MS));
            match store.prune_requests(before).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(rows = n, "pruned requests older than {retention_days} days")
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot prune old requests; trying again in an hour")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(PRUNE_EVERY) => {}
                () = shutdown.cancelled() => return,
            }
        }
    });
}

impl Core {
    /// A worker's batch: priced, stored, announced.
    pub(super) fn requests_finished(&mut self, app: App, mut records: Vec<RequestRecord>) {
        if records.is_empty() {
            return;
        }
        self.new_day_if_due();
        for record in &mut records {
            // The provider bills the model it ran: the mapped one when a
            // model map rewrote the client's (Claude Code on gpt-4o-mini is
            // priced as gpt-4o-mini, or unknown — never as Claude).
            let billed = record.mapped_model.as_deref().or(record.model.as_deref());
            record.cost_nano_usd = self.usage.cost(billed, &record.tokens);
        }
        // The headers go to the store only: events stay small, and the
        // inspector asks for them (`RequestDetail`).
        let announced = records
            .iter_mut()
            .map(|record| {
                let headers = record.headers.take();
                let copy = record.clone();
                record.headers = headers;
                copy
            })
            .collect();
        self.store.record_requests(records);
        self.emit(EventKind::RequestsFinished {
            app,
            day_start_ms: self.usage.day_start_ms(),
            requests: announced,
        });
    }

    /// At local midnight: today's totals start again.
    pub(super) fn new_day_if_due(&mut self) {
        if self.usage.roll(now_ms()) {
            self.emit(EventKind::UsageDay {
                day_start_ms: self.usage.day_start_ms(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_begin_at_local_midnight_and_follow_each_other() {
        let now = now_ms();
        let start = day_start_ms(now);
        assert!(start <= now && now - start < DAY_MS + 3_600_000);
        let next = next_day_ms(start);
        assert!(next > now);
        assert_eq!(day_start_ms(next), next);
        assert_eq!(day_start_ms(next - 1), start);
    }

    #[test]
    fn costs_come_from_the_table_once_per_model_and_unknown_models_cost_nothing_known() {
        let mut book = Book::new(Prices::load(None).unwrap(), now_ms());
        let tokens = Tokens {
            input: Some(1_000_000),
            output: Some(0),
            cache_read: Some(0),
            cache_write: Some(0),
            cache_write_1h: Some(0),
            reasoning: None,
        };
        let direct = book
            .prices
            .cost_nano_usd(Some("claude-sonnet-4-5"), &tokens);
        assert!(direct.is_some_and(|c| c > 0));
        for _ in 0..2 {
            assert_eq!(book.cost(Some("claude-sonnet-4-5"), &tokens), direct);
            assert_eq!(book.cost(Some("no-such-model"), &tokens), None);
        }
        assert_eq!(book.cost(None, &tokens), None);
        assert_eq!(book.entries.len(), 2);
    }

    #[test]
    fn the_config_file_sets_the_retention_and_bad_ones_keep_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path().to_owned());
        assert_eq!(UsageSettings::load(&paths).retention_days, 90);
        std::fs::write(
            UsageSettings::config_file(&paths),
            "[requests]\nretention_days = 7\n",
        )
        .unwrap();
        assert_eq!(UsageSettings::load(&paths).retention_days, 7);
        std::fs::write(
            UsageSettings::config_file(&paths),
            "[requests]\nretention = 7\n",
        )
        .unwrap();
        assert_eq!(UsageSettings::load(&paths).retention_days, 90);
    }
}
