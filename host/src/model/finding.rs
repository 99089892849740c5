//! Findings: what the validator reports about one key. The shape keeps the
//! Go tool's event fields (`direction`, `type`, default topic `dbMove`) and
//! adds what a consumer needs to act on it without re-reading both sides:
//! the table, the differing columns with both values, the tag, the run and
//! a stable id to de-duplicate at-least-once delivery. A table marked
//! `redact_values` gets findings without values ([`Finding::without_values`]).

use crate::db::key::{Key, key_json, value_json};
use movex_guest::OwnedValue;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// Which side is the base: `SRC` when the source is (patterns `src_only`,
/// `src_first`), `DST` when the destination is (`dst_first`, `dst_only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    #[serde(rename = "SRC")]
    Src,
    #[serde(rename = "DST")]
    Dst,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Src => "SRC",
            Direction::Dst => "DST",
        }
    }

    /// The base a migration pattern implies.
    pub fn of_pattern(pattern: &str) -> Option<Direction> {
        match pattern {
            "src_only" | "src_first" => Some(Direction::Src),
            "dst_first" | "dst_only" => Some(Direction::Dst),
            _ => None,
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "SRC" | "src" => Ok(Direction::Src),
            "DST" | "dst" => Ok(Direction::Dst),
            other => Direction::of_pattern(other)
                .ok_or_else(|| format!("{other:?}: expected SRC, DST or a pattern (src_only, src_first, dst_first, dst_only)")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingType {
    /// The key is in the base, not in the target.
    TargetMissing,
    /// The key is in the target, not in the base.
    BaseMissing,
    /// The key is on both sides and the comparator says they differ.
    Neq,
    /// The comparator could not decide (its reason, or the module failing).
    ComparatorError,
}

impl FindingType {
    pub const ALL: [FindingType; 4] =
        [FindingType::TargetMissing, FindingType::BaseMissing, FindingType::Neq, FindingType::ComparatorError];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingType::TargetMissing => "target_missing",
            FindingType::BaseMissing => "base_missing",
            FindingType::Neq => "neq",
            FindingType::ComparatorError => "comparator_error",
        }
    }

    pub fn parse(s: &str) -> Option<FindingType> {
        FindingType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One column that differs, with the base's and the target's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDiff {
    pub column: String,
    pub base: Json,
    pub target: Json,
}

/// One finding, as stored and as delivered (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable: the same run finding the same thing about the same key gets
    /// the same id, so consumers can de-duplicate redeliveries.
    pub id: String,
    pub run_id: String,
    pub table: String,
    pub direction: Direction,
    #[serde(rename = "type")]
    pub kind: FindingType,
    pub key: Json,
    pub tag: Option<String>,
    pub columns: Vec<ColumnDiff>,
    /// The comparator's reason (`neq`, `comparator_error`).
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub detected_at: String,
    /// The table is `redact_values`: `columns` name the differing columns
    /// with `base` and `target` null on purpose, and a reason the comparator
    /// wrote is left out. Absent (false) otherwise, so the shape other
    /// consumers read is unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl Finding {
    pub fn new(run_id: &str, table: &str, direction: Direction, kind: FindingType, key: &Key) -> Finding {
        let key = key_json(key);
        let id = {
            let mut h = Sha256::new();
            for part in [run_id, table, direction.as_str(), kind.as_str(), &key.to_string()] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            hex::encode(&h.finalize()[..16])
        };
        Finding {
            id,
            run_id: run_id.to_owned(),
            table: table.to_owned(),
            direction,
            kind,
            key,
            tag: None,
            columns: Vec::new(),
            reason: None,
            detected_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            redacted: false,
        }
    }

    /// The same finding with no row values: the column names stay, their
    /// values become null; the key stays (repair needs it to find the row).
    /// The caller decides about `reason` (a comparator's own text may quote
    /// values; a host-written failure does not).
    pub fn without_values(mut self) -> Self {
        for c in &mut self.columns {
            c.base = Json::Null;
            c.target = Json::Null;
        }
        self.redacted = true;
        self
    }

    /// The Kafka message key: `table:key` with the key as JSON.
    pub fn message_key(&self) -> String {
        format!("{}:{}", self.table, self.key)
    }

    /// Attach the named columns with both sides' values.
    pub fn with_columns(mut self, names: &[String], all: &[String], base: &[OwnedValue], target: &[OwnedValue]) -> Self {
        self.columns = names
            .iter()
            .filter_map(|n| {
                let i = all.iter().position(|c| c == n)?;
                Some(ColumnDiff { column: n.clone(), base: value_json(&base[i]), target: value_json(&target[i]) })
            })
            .collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_run_table_kind_and_key() {
        let k = vec![OwnedValue::Int(7)];
        let a = Finding::new("r1", "users", Direction::Src, FindingType::Neq, &k);
        let b = Finding::new("r1", "users", Direction::Src, FindingType::Neq, &k);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, Finding::new("r2", "users", Direction::Src, FindingType::Neq, &k).id);
        assert_ne!(a.id, Finding::new("r1", "users", Direction::Src, FindingType::Neq, &vec![OwnedValue::Int(8)]).id);
        assert_eq!(a.message_key(), "users:7");
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["direction"], "SRC");
        assert_eq!(json["type"], "neq");
    }

    #[test]
    fn a_finding_without_values_keeps_key_and_column_names_only() {
        let names = vec!["id".to_owned(), "email".to_owned()];
        let base = [OwnedValue::Int(7), OwnedValue::Text("alice@example.com".into())];
        let target = [OwnedValue::Int(7), OwnedValue::Text("bob@example.com".into())];
        let f = Finding::new("r1", "users", Direction::Src, FindingType::Neq, &vec![OwnedValue::Int(7)])
            .with_columns(&["email".to_owned()], &names, &base, &target);
        let plain = serde_json::to_string(&f).unwrap();
        assert!(plain.contains("alice@example.com") && !plain.contains("redacted"), "{plain}");
        let json = serde_json::to_value(f.clone().without_values()).unwrap();
        assert_eq!((&json["key"], &json["columns"][0]["column"], &json["redacted"]), (&serde_json::json!(7), &serde_json::json!("email"), &serde_json::json!(true)));
        assert!(!json.to_string().contains("example.com"), "{json}");
        assert_eq!(json["id"], serde_json::json!(f.id), "the same id: redelivery de-duplicates the same");
        let back: Finding = serde_json::from_value(json).unwrap();
        assert!(back.redacted);
    }

    #[test]
    fn patterns_pick_the_base() {
        assert_eq!("src_first".parse::<Direction>(), Ok(Direction::Src));
        assert_eq!("dst_only".parse::<Direction>(), Ok(Direction::Dst));
        assert!("sideways".parse::<Direction>().unwrap_err().contains("expected SRC"));
    }
}
