//! The usage view (key `u`): tokens and cost for a chosen period — a bar per
//! day, and a table per model, provider or app — from the daemon's request
//! records (`Request::Usage`, summed by the store). Asked for when it opens
//! and when the period or grouping changes; nothing runs while it is closed.

use switchyard_daemon::protocol::Request;
use switchyard_daemon::protocol::requests::{GroupBy, UsageQuery, UsageReport};

/// How far back the view looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Today,
    Days(u32),
}

impl Period {
    pub const CYCLE: [Period; 4] = [
        Period::Today,
        Period::Days(7),
        Period::Days(30),
        Period::Days(90),
    ];

    pub fn label(self) -> String {
        match self {
            Period::Today => "today".to_owned(),
            Period::Days(n) => format!("last {n} days"),
        }
    }

    /// The local midnight that starts the period (unix ms).
    pub fn since_ms(self, now_ms: u64, utc_offset_s: i32) -> u64 {
        const DAY: i64 = 86_400_000;
        let offset = i64::from(utc_offset_s) * 1000;
        let local = i64::try_from(now_ms).unwrap_or(i64::MAX) + offset;
        let midnight = local.div_euclid(DAY) * DAY - offset;
        let back = match self {
            Period::Today => 0,
            Period::Days(n) => i64::from(n.saturating_sub(1)),
        };
        u64::try_from(midnight - back * DAY).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageView {
    pub period: Period,
    /// What the table groups by: model, provider or app.
    pub by: GroupBy,
    /// Per day, for the bars; `None` while asked.
    pub days: Option<Result<UsageReport, String>>,
    /// Per `by`, for the table.
    pub table: Option<Result<UsageReport, String>>,
}

impl Default for UsageView {
    fn default() -> Self {
        UsageView {
            period: Period::Days(7),
            by: GroupBy::Model,
            days: None,
            table: None,
        }
    }
}

impl UsageView {
    /// The two queries for the current period and grouping.
    pub fn requests(&mut self, now_ms: u64, utc_offset_s: i32) -> [Request; 2] {
        self.days = None;
        self.table = None;
        let since_ms = Some(self.period.since_ms(now_ms, utc_offset_s));
        let query = |by| {
            Request::Usage(UsageQuery {
                since_ms,
                by,
                utc_offset_s,
            })
        };
        [query(GroupBy::Day), query(self.by)]
    }

    pub fn next_period(&mut self) {
        let i = Period::CYCLE
            .iter()
            .position(|p| *p == self.period)
            .unwrap_or(0);
        self.period = Period::CYCLE[(i + 1) % Period::CYCLE.len()];
    }

    pub fn next_by(&mut self) {
        self.by = match self.by {
            GroupBy::Model => GroupBy::Provider,
            GroupBy::Provider => GroupBy::App,
            _ => GroupBy::Model,
        };
    }

    /// A reply for one of [`UsageView::requests`]; stale ones are dropped.
    pub fn answer(&mut self, query: &UsageQuery, result: Result<UsageReport, String>, now_ms: u64) {
        if query.since_ms != Some(self.period.since_ms(now_ms, query.utc_offset_s)) {
            return;
        }
        match query.by {
            GroupBy::Day => self.days = Some(result),
            by if by == self.by => self.table = Some(result),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_local_midnight() {
        // 2023-11-14T22:13:20Z; at UTC+2 it is already the 15th.
        let now = 1_700_000_000_000;
        assert_eq!(Period::Today.since_ms(now, 0), 1_699_920_000_000);
        assert_eq!(Period::Today.since_ms(now, 7200), 1_699_999_200_000);
        assert_eq!(
            Period::Days(7).since_ms(now, 0),
            1_699_920_000_000 - 6 * 86_400_000
        );
    }
}
