//! The repairer: settles one finding at a time (see the module header), and
//! passes over the state store's unsettled findings, oldest first.
//! Idempotent: a finding repaired twice finds the key already consistent.
//! In a dry run it reports the SQL it would run and changes nothing.
//!
//! Racing the application: with an update-time column the writes are
//! guarded in SQL ([`super::sql`]); with or without one, the key is read
//! again after each write, and written again (up to [`WRITES`] times) while
//! it still differs — the base is read anew each time, so the last write
//! carries the application's latest row.

use super::sql;
use crate::config;
use crate::model::{Direction, Finding, FindingType};
use crate::validate::judge::Judge;
use crate::db::key::{cmp_keys, key_from_json, value_json};
use crate::validate::pace::Pace;
use crate::validate::prepare::Prepared;
use crate::db::{Row, Rows};
use crate::engine::Engine;
use crate::validate::Validator;
use anyhow::{Context, Result};
use movex_guest::OwnedValue;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// What became of one finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    Repaired,
    AlreadyConsistent,
    /// The target row is newer than the base row: not overwritten.
    SkippedNewer,
    /// The target row stayed newer than an unchanged base across passes,
    /// in a state where the base is the primary: overwritten from the
    /// base, guarded by the update time read (`[repair] settle_newer_after`).
    OverwroteNewer(String),
    /// Not repaired on purpose (deletes forbidden, a comparator error).
    Skipped(String),
    Failed(String),
    /// Dry run: the SQL that would run.
    WouldRun(Vec<String>),
}

impl Outcome {
    /// Every outcome's name, for metrics and statistics.
    pub const NAMES: [&'static str; 7] = ["repaired", "already_consistent", "skipped_newer", "overwrote_newer", "skipped", "failed", "would_run"];

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Repaired => "repaired",
            Outcome::AlreadyConsistent => "already_consistent",
            Outcome::SkippedNewer => "skipped_newer",
            Outcome::OverwroteNewer(_) => "overwrote_newer",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
            Outcome::WouldRun(_) => "would_run",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Outcome::Skipped(d) | Outcome::Failed(d) | Outcome::OverwroteNewer(d) => d.clone(),
            Outcome::WouldRun(sql) => sql.join("; "),
            _ => String::new(),
        }
    }
}

/// What a repair pass did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Findings taken, by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Dry run: each finding's planned SQL.
    pub plan: Vec<serde_json::Value>,
    /// The findings that failed, with why (the first 100).
    pub failures: Vec<serde_json::Value>,
    /// Journal entries of failed double-writes settled in this pass.
    pub journal: Option<super::journal::JournalSummary>,
    pub duration_ms: u64,
}

impl Summary {
    pub fn add(&mut self, f: &Finding, outcome: &Outcome) {
        *self.outcomes.entry(outcome.name().to_owned()).or_default() += 1;
        match outcome {
            Outcome::Failed(why) if self.failures.len() < 100 => {
                self.failures.push(serde_json::json!({"finding": f.id, "table": f.table, "key": f.key, "error": why}))
            }
            Outcome::WouldRun(sql) => self.plan.push(serde_json::json!({"finding": f.id, "table": f.table, "key": f.key, "sql": sql})),
            _ => {}
        }
    }

    /// Add another pass's counts and failures to this one's.
    pub fn absorb(&mut self, other: Summary) {
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
        self.failures.extend(other.failures);
        self.duration_ms += other.duration_ms;
    }

    pub fn failed(&self) -> u64 {
        self.outcomes.get("failed").copied().unwrap_or(0)
    }
}

/// Told of every settled finding (the control plane's status and metrics).
pub type Observer = Arc<dyn Fn(&Finding, &Outcome) + Send + Sync>;

/// Writes per finding before it is reported as still differing.
pub const WRITES: usize = 3;

pub struct Repairer {
    validator: Arc<Validator>,
    dry_run: bool,
    prepared: HashMap<(String, Direction), (Prepared, Arc<Judge>)>,
    observer: Option<Observer>,
}

/// The findings to take per read from the store.
const PAGE: u32 = 500;

/// What to do with a key, given both rows as they are now.
enum Step {
    Consistent,
    /// The target row is newer: both rows as read.
    Newer(Row, Row),
    Skip(String),
    Write(String, Vec<OwnedValue>),
}

impl Repairer {
    pub fn new(validator: Arc<Validator>, dry_run: bool) -> Repairer {
        Repairer { validator, dry_run, prepared: HashMap::new(), observer: None }
    }

    pub fn observe(mut self, observer: Observer) -> Repairer {
        self.observer = Some(observer);
        self
    }

    /// The engine the validator runs on: the store and the config.
    pub fn engine(&self) -> &Arc<Engine> {
        self.validator.engine()
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Settle one finding and record the outcome in the state store (not
    /// in a dry run): once this returns, the repair is durable.
    pub async fn take(&mut self, f: &Finding) -> Result<Outcome> {
        let outcome = self.settle(f).await.unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
        if !self.dry_run {
            self.engine().store.record_repair(&f.id, outcome.name(), &outcome.detail()).await?;
        }
        if let Some(o) = &self.observer {
            o(f, &outcome);
        }
        Ok(outcome)
    }

    /// One pass as `movex repair` makes it: first the journal of failed
    /// double-writes (validating the tables it names, which stores their
    /// findings), then every unsettled finding in the state store.
    pub async fn pass(&mut self, table: Option<&str>, cancel: &CancellationToken) -> Result<Summary> {
        let t0 = Instant::now();
        let journal = Some(super::journal::settle(&self.validator, cancel, self.dry_run).await?);
        let limit = Some(self.engine().config.repair.max_rows_per_sec).filter(|&n| n > 0);
        let mut summary = self.run_once(table, limit, cancel).await?;
        summary.journal = journal.filter(|j| j.entries > 0);
        summary.duration_ms = t0.elapsed().as_millis() as u64;
        Ok(summary)
    }

    /// Settle every unsettled finding in the state store (of `table`, if
    /// given) once, oldest first, until done or `cancel`.
    pub async fn run_once(&mut self, table: Option<&str>, max_rows_per_sec: Option<u64>, cancel: &CancellationToken) -> Result<Summary> {
        let t0 = Instant::now();
        let mut summary = Summary::default();
        let mut pace = Pace::new(max_rows_per_sec);
        let mut after = 0;
        'pages: loop {
            let page = self.engine().store.findings_to_repair(after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, f) in page {
                if table.is_some_and(|t| t != f.table) {
                    continue;
                }
                if cancel.is_cancelled() {
                    break 'pages;
                }
                let outcome = self.take(&f).await?;
                summary.add(&f, &outcome);
                let wait = pace.after(1, t0.elapsed());
                if !wait.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => break 'pages,
                    }
                }
            }
        }
        summary.duration_ms = t0.elapsed().as_millis() as u64;
        Ok(summary)
    }

    async fn prepared(&mut self, table: &str, direction: Direction) -> Result<(Prepared, Arc<Judge>, config::Table)> {
        let t = self
            .engine()
            .config
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
        let find = |rows: Rows| rows.iter().find(|r| cmp_keys(&r.key(p.key_len), key) == Ordering::Equal).map(|r| r.to_row());
        Ok((find(b), find(t)))
    }

    /// Whether both rows are equal by the table's comparator.
    async fn equal(judge: &Arc<Judge>, base: Row, target: Row) -> Result<bool> {
        let judge = judge.clone();
        let mut pending = judge.pending();
        pending.push_row_pair(&base, &target);
        let found = tokio::task::spawn_blocking(move || judge.rule(pending)).await??;
        Ok(found.is_empty())
    }

    async fn step(p: &Prepared, judge: &Arc<Judge>, table: &config::Table, key: &[OwnedValue], rows: (Option<Row>, Option<Row>)) -> Result<Step> {
        let cols = p.target.columns();
        let dialect = p.target.db.dialect();
        let utime = p.utime.map(|(u, _)| u);
        Ok(match rows {
            (None, None) => Step::Consistent,
            (Some(b), Some(t)) => {
                if let Some(u) = utime
                    && cmp_keys(std::slice::from_ref(&t[u]), std::slice::from_ref(&b[u])) == Ordering::Greater
                {
                    return Ok(Step::Newer(b, t));
                }
                if Self::equal(judge, b.clone(), t).await? {
                    return Ok(Step::Consistent);
                }
                Step::Write(sql::upsert(dialect, &p.target.table, cols, p.key_len, utime), b)
            }
            (Some(b), None) => Step::Write(sql::upsert(dialect, &p.target.table, cols, p.key_len, utime), b),
            (None, Some(_)) if table.forbid_deletes => {
                Step::Skip(format!("the base no longer has this key, and table {:?} forbids deletes", table.name))
            }
            (None, Some(t)) => {
                let mut binds = key.to_vec();
                binds.extend(utime.map(|u| t[u].clone()));
                Step::Write(sql::delete(dialect, &p.target.table, &cols[..p.key_len], utime.map(|u| &cols[u])), binds)
            }
        })
    }

    /// A target row newer than its base: left alone, unless it has stayed
    /// so (same base row, same target update time) for
    /// `settle_newer_after` passes and `settle_newer_after_ms`, with the
    /// base the primary of the current pattern. That is no race with the
    /// application, whose writes reach the primary first: it is a write
    /// the two sides applied differently (a data-dependent statement, see
    /// docs/design/faults.md), and the base is right.
    async fn newer(&self, f: &Finding, p: &Prepared, judge: &Arc<Judge>, key: &[OwnedValue], base: Row, target: Row) -> Result<Outcome> {
        let r = &self.engine().config.repair;
        let Some((u, _)) = p.utime else { return Ok(Outcome::SkippedNewer) };
        if r.settle_newer_after == 0 || f.direction != self.validator.current_direction().await? {
            return Ok(Outcome::SkippedNewer);
        }
        use sha2::Digest;
        let row_json = |row: &Row| serde_json::Value::Array(row.iter().map(value_json).collect()).to_string();
        let base_hash = hex::encode(&sha2::Sha256::digest(row_json(&base).as_bytes())[..16]);
        let target_utime = value_json(&target[u]).to_string();
        let now_ms = crate::store::now_ms();
        let key_text = serde_json::Value::Array(key.iter().map(value_json).collect()).to_string();
        let seen = self.engine().store.newer_sighting(&f.table, &key_text, &base_hash, &target_utime, now_ms, !self.dry_run).await?;
        let waited = now_ms.saturating_sub(seen.first_seen_ms) as u64;
        if seen.times < u64::from(r.settle_newer_after) || waited < r.settle_newer_after_ms {
            return Ok(Outcome::SkippedNewer);
        }
        let sql = sql::overwrite(p.target.db.dialect(), &p.target.table, p.target.columns(), p.key_len, u);
        let mut values: Vec<OwnedValue> = base[p.key_len..].to_vec();
        values.extend_from_slice(key);
        values.push(target[u].clone());
        if self.dry_run {
            let shown: Vec<String> = values.iter().map(|v| value_json(v).to_string()).collect();
            return Ok(Outcome::WouldRun(vec![format!("{sql} -- with ({})", shown.join(", "))]));
        }
        let binds: Vec<&OwnedValue> = values.iter().collect();
        p.target.execute(&sql, &binds).await?;
        let detail = format!(
            "the target's row (update time {target_utime}) stayed newer than the unchanged base row ({} sightings over {} ms); overwritten from the base",
            seen.times, waited
        );
        let consistent = match Self::rows(p, key).await? {
            (Some(b), Some(t)) => Self::equal(judge, b, t).await?,
            _ => false,
        };
        // Not consistent: the row changed under the guard (the application
        // wrote it), and is left to the next pass.
        Ok(if consistent { Outcome::OverwroteNewer(detail) } else { Outcome::SkippedNewer })
    }

    /// Settle one finding without recording it.
    pub async fn settle(&mut self, f: &Finding) -> Result<Outcome> {
        if f.kind == FindingType::ComparatorError {
            return Ok(Outcome::Skipped(format!("comparator_error ({}): the comparator could not decide; look at it", f.reason.clone().unwrap_or_default())));
        }
        let (p, judge, table) = self.prepared(&f.table, f.direction).await?;
        let key = key_from_json(&f.key, p.key_len).with_context(|| format!("key {} does not fit the table's key", f.key))?;
        let mut written = 0;
        loop {
            let rows = Self::rows(&p, &key).await?;
            let present = (rows.0.is_some(), rows.1.is_some());
            match Self::step(&p, &judge, &table, &key, rows).await? {
                Step::Consistent if written > 0 => return Ok(Outcome::Repaired),
                Step::Consistent => return Ok(Outcome::AlreadyConsistent),
                Step::Newer(b, t) => return self.newer(f, &p, &judge, &key, b, t).await,
                Step::Skip(why) => return Ok(Outcome::Skipped(why)),
                Step::Write(sql, values) if self.dry_run => {
                    let shown: Vec<String> = values.iter().map(|v| value_json(v).to_string()).collect();
                    return Ok(Outcome::WouldRun(vec![format!("{sql} -- with ({})", shown.join(", "))]));
                }
                Step::Write(..) if written == WRITES => {
                    let state = |p: bool| if p { "present" } else { "absent" };
                    return Ok(Outcome::Failed(format!(
                        "still differs after {WRITES} writes (base {}, target {}); the application keeps writing this key, or the comparator \
                         finds the base row unequal to itself once written",
                        state(present.0),
                        state(present.1)
                    )));
                }
                Step::Write(sql, values) => {
                    let binds: Vec<&OwnedValue> = values.iter().collect();
                    p.target.execute(&sql, &binds).await?;
                    written += 1;
                }
            }
        }
    }
}
