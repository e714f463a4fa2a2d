//! How far a feed row's date lies from the flow it matched, and what that does to the match.
//!
//! A feed row is a claim its source made on a day: "this name / this address was a pool's".
//! Names stay with their owners for years; addresses change hands (hosting providers reuse
//! them, CDNs share them), so an address listed long before (or after) the flow is a hint, not
//! proof. The distance is measured from the flow's own time (its first packet), not from
//! today: a 2018 capture matched against a 2018 row is fresh evidence, a 2026 capture against
//! the same row is not. With no flow time (a value given to `feed check` without `--at`) the
//! distance is taken from today.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds in a mean Gregorian year.
const YEAR: f64 = 365.2425 * 86_400.0;

/// How long a row keeps its strength, per kind of value, in years either side of its date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgePolicy {
    /// Pool and browser-mining domains: a registered name rarely changes owner while the pool
    /// runs, so a name row stays strong this long.
    pub domain_years: f64,
    /// Pool addresses (with or without a port): beyond this an address hit is a weak hint.
    pub address_years: f64,
}

impl Default for AgePolicy {
    /// Ten years for names, two for addresses.
    fn default() -> Self {
        AgePolicy {
            domain_years: 10.0,
            address_years: 2.0,
        }
    }
}

/// The moment a row's date stands for, in Unix seconds: the day itself, the 15th of a
/// `YYYY-MM` month, 1 July of a bare `YYYY`. `None` for a date that is not one of these forms
/// (the loader refuses such rows, so only hand-built entries get here).
pub fn row_time(date: &str) -> Option<f64> {
    let mut parts = date.trim().split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let (m, d) = match (parts.next(), parts.next()) {
        (None, _) => (7, 1),
        (Some(m), None) => (m.parse().ok()?, 15),
        (Some(m), Some(d)) => (m.parse().ok()?, d.parse().ok()?),
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) as f64 * 86_400.0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now, in Unix seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Years from the row's date to `at` (positive: the row is older than the flow), or `None`
/// when the date does not parse.
pub fn years_before(date: &str, at: f64) -> Option<f64> {
    row_time(date).map(|t| (at - t) / YEAR)
}

/// Why a row is too far from the flow to be proof, e.g. `listed 8.4 y before the flow`, or
/// `None` when it is within `limit` years either side.
pub fn staleness(date: &str, at: f64, limit: f64) -> Option<String> {
    let years = years_before(date, at)?;
    if years.abs() <= limit {
        return None;
    }
    let side = if years > 0.0 { "before" } else { "after" };
    Some(format!("listed {:.1} y {side} the flow", years.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_every_precision() {
        // `date -u -d 2018-05-13 +%s` = 1526169600.
        assert_eq!(row_time("2018-05-13"), Some(1_526_169_600.0));
        // `date -u -d 2017-07-01 +%s` = 1498867200.
        assert_eq!(row_time("2017"), Some(1_498_867_200.0));
        // `date -u -d 2024-02-15 +%s` = 1707955200.
        assert_eq!(row_time("2024-02"), Some(1_707_955_200.0));
        assert_eq!(row_time("1970-01-01"), Some(0.0));
        assert_eq!(row_time("2018-13-01"), None);
        assert_eq!(row_time("soon"), None);
    }

    #[test]
    fn staleness_either_side() {
        let flow_2026 = row_time("2026-12-06").unwrap();
        let why = staleness("2018-05-13", flow_2026, 2.0).unwrap();
        assert_eq!(why, "listed 8.6 y before the flow");
        assert_eq!(staleness("2025-12-06", flow_2026, 2.0), None);
        let flow_2018 = row_time("2018-03-01").unwrap();
        assert_eq!(staleness("2018-05-13", flow_2018, 2.0), None);
        assert_eq!(
            staleness("2026-08-16", flow_2018, 2.0).unwrap(),
            "listed 8.5 y after the flow"
        );
        assert_eq!(staleness("2026-08-16", flow_2018, 10.0), None);
    }
}
