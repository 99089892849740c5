//! `exact`: every compared column must hold the same value on both sides.
//! Settings: `ignore` — a comma-separated list of columns not to compare.

use movex_guest::{Binding, Comparator, Description, Plugin, Result, Row, Rules, Verdict};

pub struct Exact {
    rules: Rules,
}

impl Plugin for Exact {
    fn describe() -> Description {
        Description::new("exact", env!("CARGO_PKG_VERSION"))
            .summary("every compared column equal, value for value")
    }

    fn bind(binding: &Binding<'_>) -> Result<Self> {
        let mut rules = Rules::new();
        for col in binding.settings.get("ignore").unwrap_or("").split(',').map(str::trim) {
            if !col.is_empty() {
                rules = rules.ignore(col);
            }
        }
        Ok(Exact { rules })
    }
}

impl Comparator for Exact {
    fn compare(&self, src: &Row<'_>, dst: &Row<'_>) -> Verdict {
        self.rules.compare(src, dst)
    }
}

movex_guest::export!(Exact, comparator);

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::{RowBuf, Settings};

    fn exact(settings: Settings) -> Exact {
        Exact::bind(&Binding::settings(&settings)).unwrap()
    }

    #[test]
    fn equal_rows_are_equal_and_any_difference_is_named() {
        let c = exact(Settings::default());
        let a = RowBuf::new().col("id", 1).col("email", "a@x.io");
        assert!(c.compare(&a.row(), &a.row()).is_equal());
        let b = RowBuf::new().col("id", 1).col("email", "A@x.io");
        assert_eq!(c.compare(&a.row(), &b.row()).columns(), ["email"]);
    }

    #[test]
    fn ignored_columns_are_not_compared() {
        let c = exact(Settings::default().with("ignore", "utime, etag"));
        let a = RowBuf::new().col("id", 1).col("utime", 5).col("etag", "x");
        let b = RowBuf::new().col("id", 1).col("utime", 6).col("etag", "y");
        assert!(c.compare(&a.row(), &b.row()).is_equal());
    }
}
