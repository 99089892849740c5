//! Times: `time_precision` truncation of times and timestamps, and integer
//! epoch columns (`epoch_unit`, or a column named in `time_precision`)
//! compared with timestamps as microseconds since the epoch. Zero dates and
//! infinities are no point in time: they compare as stored, never moved to a
//! calendar day. Day numbers come from [`crate::civil`].

use super::{ColumnRule, EpochUnit, Precision};
use crate::civil::days_from_civil;
use crate::value::{MICROS_PER_DAY, Time, Timestamp, Value};

/// Microseconds since the epoch for time-like values under `rule`.
#[inline]
pub(super) fn epoch_micros(v: &Value<'_>, rule: &ColumnRule) -> Option<i128> {
    let unit = match rule.epoch_unit.unwrap_or(EpochUnit::Millis) {
        EpochUnit::Seconds => 1_000_000,
        EpochUnit::Millis => 1_000,
    };
    match *v {
        Value::Int(i) => Some(i128::from(i) * unit),
        Value::Uint(u) => Some(i128::from(u) * unit),
        // Zero dates and infinities are no point in time: compared as stored.
        Value::Timestamp(t) if t.date.is_calendar_day() => Some(timestamp_micros(t)),
        _ => None,
    }
}

/// Two times, truncated to `precision` if one is set.
#[inline]
pub(super) fn times_equal(x: Time, y: Time, precision: Option<Precision>) -> bool {
    match precision {
        Some(p) => x.micros.div_euclid(p.micros() as i64) == y.micros.div_euclid(p.micros() as i64),
        None => x == y,
    }
}

/// Two timestamps, truncated to `precision` if one is set: as points in
/// time when both are calendar days, else date and time of day as stored.
#[inline]
pub(super) fn timestamps_equal(x: Timestamp, y: Timestamp, precision: Option<Precision>) -> bool {
    match precision {
        Some(p) if x.date.is_calendar_day() && y.date.is_calendar_day() => {
            timestamp_micros(x).div_euclid(p.micros().into()) == timestamp_micros(y).div_euclid(p.micros().into())
        }
        Some(p) => x.date == y.date && x.micros_of_day / p.micros() == y.micros_of_day / p.micros(),
        None => x == y,
    }
}

fn timestamp_micros(t: Timestamp) -> i128 {
    i128::from(days_from_civil(t.date)) * i128::from(MICROS_PER_DAY) + i128::from(t.micros_of_day)
}

#[cfg(test)]
mod tests {
    use crate::rules::{ALL, Precision, Rules, cmp};
    use crate::row::RowBuf;
    use crate::value::{Date, Timestamp};

    #[test]
    fn time_precision_truncates_epoch_ms_and_timestamps() {
        let r = Rules::new().time_precision("utime", Precision::Seconds);
        let ms = |x: i64| RowBuf::new().col("utime", x);
        assert!(cmp(&r, ms(1_700_000_000_999), ms(1_700_000_000_000)).is_equal());
        assert!(!cmp(&r, ms(1_700_000_001_000), ms(1_700_000_000_999)).is_equal());
        // 2023-11-14 22:13:20 UTC is epoch 1_700_000_000 s.
        let ts = Timestamp {
            date: Date { year: 2023, month: 11, day: 14 },
            micros_of_day: (22 * 3600 + 13 * 60 + 20) * 1_000_000 + 250_000,
        };
        assert!(cmp(&r, ms(1_700_000_000_000), RowBuf::new().col("utime", ts)).is_equal());
    }

    #[test]
    fn time_precision_for_all_columns_leaves_integers_alone() {
        let r = Rules::new().time_precision(ALL, Precision::Seconds);
        assert!(!cmp(&r, RowBuf::new().col("id", 1000i64), RowBuf::new().col("id", 1001i64)).is_equal());
        let ts = |us: u64| RowBuf::new().col("t", Timestamp { date: Date { year: 2024, month: 1, day: 1 }, micros_of_day: us });
        assert!(cmp(&r, ts(5_000_001), ts(5_999_999)).is_equal());
        assert!(!cmp(&r, ts(5_999_999), ts(6_000_000)).is_equal());
    }

    #[test]
    fn zero_dates_are_not_moved_to_january_first() {
        let ts = |m: u8, d: u8| {
            RowBuf::new().col("utime", Timestamp { date: Date { year: 0, month: m, day: d }, micros_of_day: 0 })
        };
        let r = Rules::new().time_precision("utime", Precision::Seconds);
        assert!(!cmp(&r, ts(0, 0), ts(1, 1)).is_equal());
        assert!(cmp(&r, ts(0, 0), ts(0, 0)).is_equal());
        let inf = RowBuf::new().col("utime", Timestamp { date: Date::INFINITY, micros_of_day: 0 });
        assert!(!cmp(&r, inf, ts(1, 1)).is_equal());
    }
}
