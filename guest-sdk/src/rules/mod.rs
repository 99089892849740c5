//! Comparison rules: what real comparators need, ready-made. A `Rules` compares
//! two rows column by column; each rule applies to one column or to `ALL`.
//!
//! ```
//! use movex_guest::{Rules, Precision, ALL, RowBuf};
//! let rules = Rules::new()
//!     .ignore("etag")
//!     .float_tolerance(ALL, 1e-9)
//!     .time_precision("utime", Precision::Seconds)
//!     .case_insensitive("email");
//! let src = RowBuf::new().col("email", "Ada@X.io").col("utime", 1_700_000_000_123i64);
//! let dst = RowBuf::new().col("email", "ada@x.io").col("utime", 1_700_000_000_000i64);
//! assert!(rules.compare(&src.row(), &dst.row()).is_equal());
//! ```
//!
//! Without rules, values compare exactly, with three conversions that are
//! storage artefacts rather than differences: `int` and `uint` compare by
//! number, a decimal compares with an integer by value, and `bool` equals the
//! integers 0 and 1 (MySQL's `BOOLEAN` is `TINYINT(1)`). NULL equals only NULL.
//!
//! # Layout
//! - this file: the public types and the builder; each rule edits a
//!   per-column `ColumnRule`, resolved by column name.
//! - `compare`: two rows under the rules, column by column, into a verdict.
//! - `equal`: one value against another, dispatched by kind.
//! - `number`, `text`, `json`, `time`: the rule families.
//!
//! The per-column helpers are `#[inline]`: the compare loop calls them across
//! files, and each file may land in another codegen unit.

use std::cell::RefCell;

mod compare;
mod equal;
mod json;
mod number;
mod text;
mod time;

/// Which columns a rule applies to: a column name, or `ALL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Columns {
    All,
    Named(String),
}

/// Every column.
pub const ALL: Columns = Columns::All;

impl From<&str> for Columns {
    fn from(s: &str) -> Self {
        Columns::Named(s.to_owned())
    }
}

impl From<String> for Columns {
    fn from(s: String) -> Self {
        Columns::Named(s)
    }
}

/// Precision to truncate times to before comparing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Seconds,
    Millis,
    Micros,
}

impl Precision {
    fn micros(self) -> u64 {
        match self {
            Precision::Seconds => 1_000_000,
            Precision::Millis => 1_000,
            Precision::Micros => 1,
        }
    }
}

/// What an integer time column counts since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct ColumnRule {
    ignore: bool,
    float_tolerance: Option<f64>,
    time_precision: Option<Precision>,
    epoch_unit: Option<EpochUnit>,
    /// Integers in this column are epoch times.
    epoch_ints: bool,
    case_insensitive: bool,
    whitespace_insensitive: bool,
    json_semantic: bool,
    /// Text values of this column may hold JSON.
    json_text: bool,
    decimal_scale_insensitive: bool,
    stored_as_text: bool,
}

type Edit = fn(&mut ColumnRule, &RuleArg);

#[derive(Clone, Debug)]
enum RuleArg {
    None,
    Float(f64),
    Precision(Precision),
    Epoch(EpochUnit),
}

/// A set of comparison rules. Build once (in `bind`), compare many times.
#[derive(Debug, Default)]
pub struct Rules {
    edits: Vec<(Columns, Edit, RuleArg)>,
    /// Rules resolved per column for the last layout seen: rows of one batch
    /// share a layout, so this turns name matching into an index lookup.
    resolved: RefCell<Option<(u64, Vec<ColumnRule>)>>,
}

impl Clone for Rules {
    fn clone(&self) -> Self {
        Rules { edits: self.edits.clone(), resolved: RefCell::new(None) }
    }
}

impl Rules {
    /// Exact comparison of every column.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, cols: Columns, edit: Edit, arg: RuleArg) -> Self {
        self.edits.push((cols, edit, arg));
        self.resolved = RefCell::new(None);
        self
    }

    /// Do not compare these columns.
    pub fn ignore(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.ignore = true, RuleArg::None)
    }

    /// Floats (and numbers compared with floats) are equal when they differ by
    /// at most `tolerance`, absolutely or relative to the larger magnitude.
    pub fn float_tolerance(self, cols: impl Into<Columns>, tolerance: f64) -> Self {
        let edit: Edit = |r, a| {
            if let RuleArg::Float(t) = a {
                r.float_tolerance = Some(*t)
            }
        };
        self.with(cols.into(), edit, RuleArg::Float(tolerance))
    }

    /// Truncate times and timestamps to `precision` before comparing (a
    /// destination that stores seconds where the source has ms). For a column
    /// named here, integers are taken as epoch times (see `epoch_unit`) and
    /// truncated too; with `ALL`, integers are left alone (ids are integers).
    pub fn time_precision(self, cols: impl Into<Columns>, precision: Precision) -> Self {
        let cols = cols.into();
        let edit: Edit = match cols {
            Columns::All => |r, a| {
                if let RuleArg::Precision(p) = a {
                    r.time_precision = Some(*p)
                }
            },
            Columns::Named(_) => |r, a| {
                if let RuleArg::Precision(p) = a {
                    r.time_precision = Some(*p);
                    r.epoch_ints = true;
                }
            },
        };
        self.with(cols, edit, RuleArg::Precision(precision))
    }

    /// These integer columns count since the epoch in `unit` (without this,
    /// milliseconds): used by `time_precision` and to compare with timestamps.
    pub fn epoch_unit(self, cols: impl Into<Columns>, unit: EpochUnit) -> Self {
        let edit: Edit = |r, a| {
            if let RuleArg::Epoch(u) = a {
                r.epoch_unit = Some(*u);
                r.epoch_ints = true;
            }
        };
        self.with(cols.into(), edit, RuleArg::Epoch(unit))
    }

    /// Text compares without regard to letter case (Unicode lowercase).
    pub fn case_insensitive(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.case_insensitive = true, RuleArg::None)
    }

    /// Text compares with leading/trailing white space dropped and inner runs
    /// of white space taken as one space.
    pub fn whitespace_insensitive(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.whitespace_insensitive = true, RuleArg::None)
    }

    /// JSON compares as parsed JSON: key order, white space and number
    /// spelling (`1`, `1.0`, `1e0`) do not matter; numbers compare exactly,
    /// never through f64. For a column named here, text holding JSON is
    /// compared the same way (MariaDB's JSON is LONGTEXT); with `ALL`, only
    /// JSON values are (a text "1.0" is not the text "1").
    pub fn json_semantic(self, cols: impl Into<Columns>) -> Self {
        let cols = cols.into();
        let edit: Edit = match cols {
            Columns::All => |r, _| r.json_semantic = true,
            Columns::Named(_) => |r, _| {
                r.json_semantic = true;
                r.json_text = true;
            },
        };
        self.with(cols, edit, RuleArg::None)
    }

    /// Decimals compare by value: `1.50` equals `1.5` and `01.5`.
    pub fn decimal_scale_insensitive(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.decimal_scale_insensitive = true, RuleArg::None)
    }

    /// A value one side keeps as text equals the other side's typed value
    /// that the text spells: SQLite stores integers past 64 bits, exact
    /// decimals, dates and times as TEXT. Numbers and decimals compare by
    /// value (`"18446744073709551615"`, `"1.50"` against 1.5), dates and
    /// times as the contract prints them (`2024-02-29 23:59:59.000001`).
    pub fn stored_as_text(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.stored_as_text = true, RuleArg::None)
    }

    fn rule_for(&self, column: &str) -> ColumnRule {
        let mut rule = ColumnRule::default();
        for (cols, edit, arg) in &self.edits {
            let hit = match cols {
                Columns::All => true,
                Columns::Named(n) => n == column,
            };
            if hit {
                edit(&mut rule, arg);
            }
        }
        rule
    }
}

/// Two rows under `rules`, for the tests of every rule family.
#[cfg(test)]
fn cmp(rules: &Rules, a: crate::row::RowBuf, b: crate::row::RowBuf) -> crate::verdict::Verdict {
    rules.compare(&a.row(), &b.row())
}
