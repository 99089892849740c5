//! `tolerant`: equal up to what a migration legitimately changes — floats
//! within a tolerance, `utime` at a coarser precision, e-mail letter case,
//! JSON spelling, decimal scale, and values a SQLite side keeps as text.
//!
//! Settings: `tolerance` (default `1e-6`), `utime_column` (default `utime`),
//! `utime_precision` (`s` | `ms`, default `s`), `email_column` (default `email`).

use movex_guest::{
    ALL, Binding, Comparator, Description, Error, Plugin, Precision, Result, Row, Rules, Verdict,
};

pub struct Tolerant {
    rules: Rules,
}

impl Plugin for Tolerant {
    fn describe() -> Description {
        Description::new("tolerant", env!("CARGO_PKG_VERSION"))
            .summary("float tolerance, utime precision, case-insensitive email, JSON and decimal semantics")
    }

    fn bind(binding: &Binding<'_>) -> Result<Self> {
        let s = binding.settings;
        let tolerance: f64 = s.parse_or("tolerance", 1e-6)?;
        let precision = match s.get("utime_precision").unwrap_or("s") {
            "s" => Precision::Seconds,
            "ms" => Precision::Millis,
            other => return Err(Error(format!("utime_precision {other:?}: expected \"s\" or \"ms\""))),
        };
        let rules = Rules::new()
            .float_tolerance(ALL, tolerance)
            .time_precision(s.get("utime_column").unwrap_or("utime"), precision)
            .case_insensitive(s.get("email_column").unwrap_or("email"))
            .json_semantic(ALL)
            .decimal_scale_insensitive(ALL)
            .stored_as_text(ALL);
        Ok(Tolerant { rules })
    }
}

impl Comparator for Tolerant {
    fn compare(&self, src: &Row<'_>, dst: &Row<'_>) -> Verdict {
        self.rules.compare(src, dst)
    }
}

movex_guest::export!(Tolerant, comparator);

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::{RowBuf, Settings};

    fn tolerant(settings: Settings) -> Tolerant {
        Tolerant::bind(&Binding::settings(&settings)).unwrap()
    }

    fn user(score: f64, utime: i64, email: &str) -> RowBuf {
        RowBuf::new().col("id", 7).col("score", score).col("utime", utime).col("email", email)
    }

    #[test]
    fn tolerates_what_a_migration_changes() {
        let c = tolerant(Settings::default());
        let src = user(0.1 + 0.2, 1_700_000_000_123, "Ada@Example.com");
        let dst = user(0.3, 1_700_000_000_000, "ada@example.com");
        assert!(c.compare(&src.row(), &dst.row()).is_equal());
    }

    #[test]
    fn still_finds_real_differences() {
        let c = tolerant(Settings::default());
        let src = user(1.0, 1_700_000_000_000, "ada@example.com");
        let dst = user(1.5, 1_700_000_001_000, "bob@example.com");
        assert_eq!(c.compare(&src.row(), &dst.row()).columns(), ["score", "utime", "email"]);
    }

    #[test]
    fn settings_are_read_and_bad_ones_refused() {
        let c = tolerant(Settings::default().with("tolerance", "0.6"));
        assert!(c.compare(&user(1.0, 0, "a").row(), &user(1.5, 0, "a").row()).is_equal());
        let bad = Settings::default().with("utime_precision", "minutes");
        assert!(Tolerant::bind(&Binding::settings(&bad)).is_err());
        let bad = Settings::default().with("tolerance", "lots");
        let err = Tolerant::bind(&Binding::settings(&bad)).err().unwrap();
        assert!(err.0.contains("tolerance"), "{err}");
    }
}
