//! Calendar arithmetic: civil dates to and from days since 1970-01-01, in the
//! proleptic Gregorian calendar (year 0 is 1 BC and a leap year), by
//! H. Hinnant's algorithms, exact for every `i32` year.
//!
//! Both directions live here, once, because both sides need them: the rules
//! turn timestamps into epoch microseconds (`days_from_civil`), and the host's
//! decoders turn PostgreSQL day counts and epoch bounds into dates
//! (`date_from_days`). Only [`Date::is_calendar_day`] dates have a day number:
//! zero dates and infinities are for the caller to handle.

use crate::value::Date;

/// Days from 1970-01-01 to `d` (negative: before). Only for calendar days
/// (`Date::is_calendar_day`); for others the answer means nothing.
pub fn days_from_civil(d: Date) -> i64 {
    let (m, day) = (i64::from(d.month), i64::from(d.day));
    let y = i64::from(d.year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `days` days after 1970-01-01 (negative: before).
pub fn date_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date { year: year as i32, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    /// Known (date, day number) pairs, checked in both directions.
    const KNOWN: &[((i32, u8, u8), i64)] = &[
        ((1970, 1, 1), 0),
        ((1969, 12, 31), -1),
        ((2000, 1, 1), 10_957),
        ((2000, 2, 29), 11_016),
        ((2000, 3, 1), 11_017),
        ((2023, 11, 14), 19_675),
        // 1900 is not a leap year (divisible by 100), 2000 is (by 400).
        ((1900, 2, 28), -25_509),
        ((1900, 3, 1), -25_508),
        // Julian Day 0 is 24 November 4714 BC in the proleptic Gregorian
        // calendar, year -4713 (1 BC is year 0).
        ((-4713, 11, 24), -2_440_588),
        // The year 0 exists and is a leap year.
        ((0, 3, 1), -719_468),
        ((0, 2, 29), -719_469),
        ((0, 1, 1), -719_528),
    ];

    #[test]
    fn known_dates_both_ways() {
        for &((y, m, d), days) in KNOWN {
            assert_eq!(date_from_days(days), date(y, m, d), "date_from_days({days})");
            assert_eq!(days_from_civil(date(y, m, d)), days, "days_from_civil({y}-{m}-{d})");
        }
    }

    fn is_leap(year: i64) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    fn days_in_month(year: i64, month: u8) -> u8 {
        match month {
            2 if is_leap(year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Over about 5,500 years either side of 1970: each day number maps to
    /// a valid date, back to the same number, and to the day after the date
    /// of the number before (so no day is skipped or repeated, leap days
    /// included).
    #[test]
    fn round_trip_over_a_wide_range() {
        let mut prev = date_from_days(-1_000_001);
        for days in -1_000_000..1_000_000 {
            let d = date_from_days(days);
            assert!((1..=12).contains(&d.month) && d.day >= 1, "{days}: {d:?}");
            assert!(d.day <= days_in_month(i64::from(d.year), d.month), "{days}: {d:?}");
            assert_eq!(days_from_civil(d), days, "{d:?}");
            let next = if prev.day < days_in_month(i64::from(prev.year), prev.month) {
                date(prev.year, prev.month, prev.day + 1)
            } else if prev.month < 12 {
                date(prev.year, prev.month + 1, 1)
            } else {
                date(prev.year + 1, 1, 1)
            };
            assert_eq!(d, next, "{days}");
            prev = d;
        }
    }

    #[test]
    fn leap_days_exist_only_in_leap_years() {
        for year in -2000..3000 {
            let feb29 = days_from_civil(date(year, 2, 29));
            let expected = if is_leap(i64::from(year)) { date(year, 2, 29) } else { date(year, 3, 1) };
            assert_eq!(date_from_days(feb29), expected, "{year}");
        }
    }

    #[test]
    fn the_ends_of_the_i32_years_round_trip() {
        for d in [date(i32::MIN, 1, 1), date(i32::MIN, 3, 1), date(i32::MAX, 2, 28), date(i32::MAX, 12, 31)] {
            assert_eq!(date_from_days(days_from_civil(d)), d);
        }
    }
}
