//! The repairer: takes unsettled findings from the state store, oldest
//! first, and settles each (see the module header). Idempotent: a finding
//! repaired twice finds the key already consistent. Paced by
//! `[repair] max_rows_per_sec`. In a dry run it reports the SQL it would
//! run and changes nothing.

use super::sql;
use crate::config;
use crate::validate::finding::{Direction, Finding, FindingType};
use crate::validate::judge::{Judge, Pending};
use crate::validate::key::{cmp_keys, key_from_json};
use crate::validate::pace::Pace;
use crate::validate::run::Prepared;
use crate::validate::side::Row;
use crate::validate::Validator;
use anyhow::{Context, Result};
use movex_guest::OwnedValue;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// What became of one finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    Repaired,
    AlreadyConsistent,
    /// The target row is newer than the base row: not overwritten.
    SkippedNewer,
    /// Not repaired on purpose (deletes forbidden, a comparator error).
    Skipped(String),
    Failed(String),
    /// Dry run: the SQL that would run.
    WouldRun(Vec<String>),
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Repaired => "repaired",
            Outcome::AlreadyConsistent => "already_consistent",
            Outcome::SkippedNewer => "skipped_newer",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
            Outcome::WouldRun(_) => "would_run",
        }
    }

    fn detail(&self) -> String {
        match self {
            Outcome::Skipped(d) | Outcome::Failed(d) => d.clone(),
            Outcome::WouldRun(sql) => sql.join("; "),
            _ => String::new(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Findings taken, by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Dry run: each finding's planned SQL.
    pub plan: Vec<serde_json::Value>,
    /// The findings that failed, with why.
    pub failures: Vec<serde_json::Value>,
    pub duration_ms: u64,
}

pub struct Repairer {
    validator: Arc<Validator>,
    dry_run: bool,
    prepared: HashMap<(String, Direction), (Prepared, Arc<Judge>)>,
}

/// The findings to take per read from the store.
const PAGE: u32 = 500;

impl Repairer {
    pub fn new(validator: Arc<Validator>, dry_run: bool) -> Repairer {
        Repairer { validator, dry_run, prepared: HashMap::new() }
    }

    /// Settle every unsettled finding (of `table`, if given) once.
    pub async fn run_once(&mut self, table: Option<&str>, max_rows_per_sec: Option<u64>) -> Result<Summary> {
        let t0 = Instant::now();
        let mut summary = Summary::default();
        let mut pace = Pace::new(max_rows_per_sec);
        let mut after = 0;
        loop {
            let page = self.validator.store().findings_to_repair(after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, f) in page {
                if table.is_some_and(|t| t != f.table) {
                    continue;
                }
                let outcome = self.settle(&f).await.unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
                *summary.outcomes.entry(outcome.name().to_owned()).or_default() += 1;
                if let Outcome::Failed(why) = &outcome {
                    summary.failures.push(serde_json::json!({"finding": f.id, "table": f.table, "key": f.key, "error": why}));
                }
                match &outcome {
                    Outcome::WouldRun(sql) => summary.plan.push(serde_json::json!({"finding": f.id, "table": f.table, "key": f.key, "sql": sql})),
                    // A dry run records nothing: the real run takes every finding again.
                    _ if self.dry_run => {}
                    o => self.validator.store().record_repair(&f.id, o.name(), &o.detail()).await?,
                }
                let wait = pace.after(1, t0.elapsed());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        summary.duration_ms = t0.elapsed().as_millis() as u64;
        Ok(summary)
    }

    async fn prepared(&mut self, table: &str, direction: Direction) -> Result<(Prepared, Arc<Judge>, config::Table)> {
        let t = self
            .validator
            .config()
            .tables
            .iter()
            .find(|t| t.name == table)
            .with_context(|| format!("finding for table {table:?}, which is no longer configured"))?
            .clone();
        let k = (table.to_owned(), direction);
        if !self.prepared.contains_key(&k) {
            let p = self.validator.prepare(&t, direction).await?;
            let judge = self.validator.judge(&t, &p, direction, "repair");
            self.prepared.insert(k.clone(), (p, judge));
        }
        let (p, j) = &self.prepared[&k];
        Ok((p.clone(), j.clone(), t))
    }

    /// Read both rows of `key` now.
    async fn rows(p: &Prepared, key: &[OwnedValue]) -> Result<(Option<Row>, Option<Row>)> {
        let keys = [key.to_vec()];
        let (b, t) = tokio::try_join!(p.base.lookup(&keys), p.target.lookup(&keys))?;
        let find = |rows: Vec<Row>| rows.into_iter().find(|r| cmp_keys(&r[..p.key_len], key) == Ordering::Equal);
        Ok((find(b), find(t)))
    }

    /// Whether both rows are equal by the table's comparator.
    async fn equal(judge: &Arc<Judge>, key: &[OwnedValue], base: Row, target: Row) -> Result<bool> {
        let judge = judge.clone();
        let pending = Pending { pairs: vec![(key.to_vec(), base, target)], found: vec![] };
        let found = tokio::task::spawn_blocking(move || judge.settle(pending)).await??;
        Ok(found.is_empty())
    }

    async fn settle(&mut self, f: &Finding) -> Result<Outcome> {
        if f.kind == FindingType::ComparatorError {
            return Ok(Outcome::Skipped(format!("comparator_error ({}): the comparator could not decide; look at it", f.reason.clone().unwrap_or_default())));
        }
        let (p, judge, table) = self.prepared(&f.table, f.direction).await?;
        let key = key_from_json(&f.key, p.key_len).with_context(|| format!("key {} does not fit the table's key", f.key))?;
        let (base, target) = Self::rows(&p, &key).await?;
        let cols = p.target.columns();
        let dialect = p.target.db.dialect();
        let (sql, values): (String, Vec<OwnedValue>) = match (&base, &target) {
            (None, None) => return Ok(Outcome::AlreadyConsistent),
            (Some(b), Some(t)) => {
                if let Some((u, _)) = p.utime
                    && cmp_keys(std::slice::from_ref(&t[u]), std::slice::from_ref(&b[u])) == Ordering::Greater
                {
                    return Ok(Outcome::SkippedNewer);
                }
                if Self::equal(&judge, &key, b.clone(), t.clone()).await? {
                    return Ok(Outcome::AlreadyConsistent);
                }
                (sql::upsert(dialect, &p.target.table, cols, p.key_len), b.clone())
            }
            (Some(b), None) => (sql::upsert(dialect, &p.target.table, cols, p.key_len), b.clone()),
            (None, Some(_)) if table.forbid_deletes => {
                return Ok(Outcome::Skipped(format!("the base no longer has this key, and table {:?} forbids deletes", table.name)));
            }
            (None, Some(_)) => (sql::delete(dialect, &p.target.table, &cols[..p.key_len]), key.clone()),
        };
        if self.dry_run {
            let shown: Vec<String> = values.iter().map(|v| crate::validate::key::value_json(v).to_string()).collect();
            return Ok(Outcome::WouldRun(vec![format!("{sql} -- with ({})", shown.join(", "))]));
        }
        let binds: Vec<&OwnedValue> = values.iter().collect();
        p.target.execute(&sql, &binds).await?;
        // Compare the key again: the outcome is what the databases hold now.
        let (base, target) = Self::rows(&p, &key).await?;
        Ok(match (base, target) {
            (None, None) => Outcome::Repaired,
            (Some(b), Some(t)) if Self::equal(&judge, &key, b.clone(), t.clone()).await? => Outcome::Repaired,
            (b, t) => Outcome::Failed(format!(
                "still differs after repair (base {}, target {}); the application may be writing this key",
                if b.is_some() { "present" } else { "absent" },
                if t.is_some() { "present" } else { "absent" }
            )),
        })
    }
}
