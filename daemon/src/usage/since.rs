//! `--since` for `switchyard requests` and `switchyard usage`: a duration
//! back from now (`90s`, `15m`, `24h`, `7d`, `2w`), an RFC 3339 time
//! (`2026-12-01T09:00:00Z`), a local date and time (`2026-12-01 09:00`), or a
//! local date (`2026-12-01`, from midnight).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};

const FORMS: &str = "a duration such as 15m, 24h or 7d, a date (2026-12-01), a local time (2026-12-01 09:30) or an RFC 3339 time (2026-12-01T09:30:00Z)";

/// The start (unix ms) that `text` names, relative to `now_ms`.
pub fn parse_since(text: &str, now_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    if let Some(ms) = duration_ms(text) {
        return Ok(now_ms.saturating_sub(ms));
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
    };
    let ms = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        Some(t.timestamp_millis())
    } else if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).and_then(local)
    } else {
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .and_then(local)
    };
    match ms {
        Some(ms) => u64::try_from(ms).map_err(|_| format!("{text:?} is before 1970")),
        None => Err(format!("cannot read {text:?} as a time: use {FORMS}")),
    }
}

/// `15m` and the like, in ms; `None` if `text` is not a duration.
fn duration_ms(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit_ms: u64 = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// The local time zone's offset from UTC at `at_ms`, in seconds.
pub fn local_offset_s(at_ms: u64) -> i32 {
    i64::try_from(at_ms)
        .ok()
        .and_then(|ms| Local.timestamp_millis_opt(ms).single())
        .map_or(0, |t| t.offset().local_minus_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_800_000_000;

    #[test]
    fn durations_go_back_from_now() {
        assert_eq!(parse_since("15m", NOW), Ok(NOW - 15 * 60_000));
        assert_eq!(parse_since("24h", NOW), Ok(NOW - 86_400_000));
        assert_eq!(parse_since(" 7d ", NOW), Ok(NOW - 7 * 86_400_000));
        assert_eq!(parse_since("90s", NOW), Ok(NOW - 90_000));
        assert_eq!(parse_since("99999999w", NOW), Ok(0));
    }

    #[test]
    fn times_and_dates() {
        assert_eq!(
            parse_since("2025-12-03T22:13:20Z", NOW),
            Ok(1_764_800_000_000)
        );
        assert_eq!(
            parse_since("2025-12-04T00:13:20+02:00", NOW),
            Ok(1_764_800_000_000)
        );
        let midnight = parse_since("2025-12-03", NOW).unwrap();
        let offset = i64::from(local_offset_s(midnight)) * 1000;
        assert_eq!(
            (midnight as i64 + offset).rem_euclid(86_400_000),
            0,
            "local midnight"
        );
        assert_eq!(
            parse_since("2025-12-03 01:00", NOW),
            Ok(midnight + 3_600_000)
        );
    }

    #[test]
    fn nonsense_says_what_is_accepted() {
        for bad in ["", "yesterday", "15", "15y", "m15", "2025-13-01", "-5m"] {
            let err = parse_since(bad, NOW).unwrap_err();
            assert!(
                err.contains("15m") && err.contains("RFC 3339"),
                "{bad}: {err}"
            );
        }
    }
}
