//! Calendar arithmetic: days since 1970-01-01 to a civil date (proleptic
//! Gregorian; H. Hinnant's algorithm, exact for every i32 year).

use movex_guest::Date;

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

    #[test]
    fn known_dates() {
        assert_eq!(date_from_days(0), Date { year: 1970, month: 1, day: 1 });
        assert_eq!(date_from_days(-1), Date { year: 1969, month: 12, day: 31 });
        assert_eq!(date_from_days(10_957), Date { year: 2000, month: 1, day: 1 });
        assert_eq!(date_from_days(11_016), Date { year: 2000, month: 2, day: 29 });
        // Julian Day 0 is 24 November 4714 BC in the proleptic Gregorian
        // calendar, year -4713 (1 BC is year 0).
        assert_eq!(date_from_days(-2_440_588), Date { year: -4713, month: 11, day: 24 });
        // The year 0 exists and is a leap year.
        assert_eq!(date_from_days(-719_468), Date { year: 0, month: 3, day: 1 });
        assert_eq!(date_from_days(-719_469), Date { year: 0, month: 2, day: 29 });
    }
}
