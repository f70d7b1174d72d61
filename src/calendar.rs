//! UTC calendar arithmetic: civil dates of day numbers and back, ISO weeks, and the periods
//! (hour, day, ISO week, month, year) that the period rules of retention count in. Pure
//! arithmetic on Unix seconds
//! (Howard Hinnant's civil-from-days), so it needs no time zone database and has no clock.

use std::fmt;

/// The kinds of period a rule counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A UTC hour.
    Hour,
    /// A UTC day.
    Day,
    /// An ISO 8601 week (Monday to Sunday, in the ISO week-numbering year).
    Week,
    /// A calendar month.
    Month,
    /// A calendar year.
    Year,
}

/// One period, e.g. the day 2026-11-20 or the ISO week 2026-W47. Equal keys mean the same
/// period; `Display` is how `prune --dry-run` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeriodKey {
    /// Year, month, day, hour.
    Hour(i64, u32, u32, u32),
    /// Year, month, day.
    Day(i64, u32, u32),
    /// ISO year, ISO week.
    Week(i64, u32),
    /// Year, month.
    Month(i64, u32),
    /// Year.
    Year(i64),
}

impl fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodKey::Hour(y, m, d, h) => write!(f, "{y:04}-{m:02}-{d:02}T{h:02}"),
            PeriodKey::Day(y, m, d) => write!(f, "{y:04}-{m:02}-{d:02}"),
            PeriodKey::Week(y, w) => write!(f, "{y:04}-W{w:02}"),
            PeriodKey::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            PeriodKey::Year(y) => write!(f, "{y:04}"),
        }
    }
}

/// The civil date of a day number (days since 1970-01-01): year, month (1-12), day (1-31).
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Within range by construction: 1 <= month <= 12, 1 <= day <= 31.
    (year, month as u32, day as u32)
}

/// The day number of a civil date (the inverse of [`civil_from_days`]).
#[must_use]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The ISO week of a day number: (ISO year, week 1-53).
#[must_use]
pub fn iso_week(days: i64) -> (i64, u32) {
    // 1970-01-01 was a Thursday; Monday = 0.
    let weekday = (days + 3).rem_euclid(7);
    // The week belongs to the ISO year of its Thursday.
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let ordinal = thursday - days_from_civil(year, 1, 1);
    (year, (ordinal / 7 + 1) as u32)
}

/// The period of kind `period` that the Unix time `seconds` (UTC) falls in.
#[must_use]
pub fn period_of(seconds: i64, period: Period) -> PeriodKey {
    let days = seconds.div_euclid(86_400);
    let hour = (seconds.rem_euclid(86_400) / 3600) as u32;
    let (y, m, d) = civil_from_days(days);
    match period {
        Period::Hour => PeriodKey::Hour(y, m, d, hour),
        Period::Day => PeriodKey::Day(y, m, d),
        Period::Week => {
            let (iy, w) = iso_week(days);
            PeriodKey::Week(iy, w)
        }
        Period::Month => PeriodKey::Month(y, m),
        Period::Year => PeriodKey::Year(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: u32, d: u32, h: i64) -> i64 {
        days_from_civil(y, m, d) * 86_400 + h * 3600
    }

    #[test]
    fn days_round_trip_over_four_centuries() {
        for days in (-200_000..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn known_dates_and_the_leap_day() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(
            days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(2025, 3, 1) - days_from_civil(2025, 2, 28),
            1
        );
    }

    #[test]
    fn iso_weeks_at_year_boundaries() {
        // 2020 has an ISO week 53 (2020-12-28 .. 2021-01-03).
        assert_eq!(iso_week(days_from_civil(2020, 12, 31)), (2020, 53));
        assert_eq!(iso_week(days_from_civil(2021, 1, 3)), (2020, 53));
        assert_eq!(iso_week(days_from_civil(2021, 1, 4)), (2021, 1));
        // 2024-12-30 (a Monday) is in week 1 of 2025.
        assert_eq!(iso_week(days_from_civil(2024, 12, 30)), (2025, 1));
        assert_eq!(iso_week(days_from_civil(2024, 12, 29)), (2024, 52));
        assert_eq!(iso_week(days_from_civil(2026, 11, 20)), (2026, 47));
        assert_eq!(iso_week(days_from_civil(2026, 1, 1)), (2026, 1));
    }

    #[test]
    fn periods_name_themselves_as_the_dry_run_shows_them() {
        let t = at(2026, 11, 20, 13) + 59 * 60;
        assert_eq!(period_of(t, Period::Hour).to_string(), "2026-11-20T13");
        assert_eq!(period_of(t, Period::Day).to_string(), "2026-11-20");
        assert_eq!(period_of(t, Period::Week).to_string(), "2026-W47");
        assert_eq!(period_of(t, Period::Month).to_string(), "2026-11");
        assert_eq!(period_of(t, Period::Year).to_string(), "2026");
        assert_ne!(period_of(t, Period::Hour), period_of(t + 60, Period::Hour));
    }
}
