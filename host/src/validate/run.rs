//! The validator as a whole ([`Validator`]): over an engine (the databases,
//! the state store, the modules of a [`Config`]), it prepares each table
//! ([`super::prepare`]), runs the tables (several at once, up to
//! `concurrency`) in full or incremental mode, resuming from checkpoints,
//! delivers findings to Kafka when configured, and reports
//! ([`super::report`]).

use crate::model::Direction;
use super::judge::{Judge, NativeComparator};
use super::outbox::Outbox;
use super::prepare::Prepared;
use super::progress::Progress;
use super::report::{Report, RowsRead, TableReport, empty_counts};
use crate::engine::Engine;
use crate::store::{Checkpoint, Mode};
use super::table::{Ended, Load, TableRun};
use super::{full, incremental};
use crate::config::{self, Config, Sink};
use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What to run.
#[derive(Clone, Debug)]
pub struct Request {
    /// Table names (as configured); empty: all.
    pub tables: Vec<String>,
    pub mode: RunMode,
    /// The base; by default the one the current pattern implies.
    pub direction: Option<Direction>,
    /// Ignore checkpoints and start over.
    pub restart: bool,
}

#[derive(Clone, Copy, Debug)]
pub enum RunMode {
    Full,
    /// Rows changed since `since_ms` (epoch ms); `interval` zero runs once.
    Incr { since_ms: i64, interval: Duration },
}

impl RunMode {
    pub fn mode(self) -> Mode {
        match self {
            RunMode::Full => Mode::Full,
            RunMode::Incr { .. } => Mode::Incr,
        }
    }
}

/// Live progress of the tables of a run, for whoever displays it.
#[derive(Debug, Default)]
pub struct Board {
    pub tables: Mutex<Vec<Arc<Progress>>>,
}

pub struct Validator {
    engine: Arc<Engine>,
    natives: Mutex<BTreeMap<String, Arc<dyn NativeComparator>>>,
}

fn new_run_id(table: &str) -> String {
    use sha2::{Digest, Sha256};
    let now = std::time::SystemTime::now();
    let h = Sha256::digest(format!("{table}{now:?}{}", std::process::id()));
    let stamp = humantime::format_rfc3339_seconds(now).to_string().replace([':', '-'], "");
    format!("{}-{}", stamp.trim_end_matches('Z'), &hex::encode(h)[..8])
}

impl Validator {
    /// A validator over an engine.
    pub fn new(engine: Arc<Engine>) -> Validator {
        Validator { engine, natives: Mutex::default() }
    }

    /// Open an engine for `config`, connecting to both databases now: fails
    /// with what is wrong and what to do (`movex validate`).
    pub async fn open(config: Config) -> Result<Validator> {
        Ok(Validator::new(Engine::open(config).await?))
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A judge for one table: its comparator (native or module) and tagger.
    pub fn judge(&self, t: &config::Table, p: &Prepared, direction: Direction, run_id: &str) -> Arc<Judge> {
        Arc::new(Judge {
            registry: self.engine.modules.clone(),
            native: self.native(&t.comparator),
            comparator: t.comparator.clone(),
            tagger: t.tagger.clone(),
            binding: p.binding.clone(),
            tag_binding: p.tag_binding.clone(),
            direction,
            key_len: p.key_len,
            run_id: run_id.to_owned(),
            table: t.name.clone(),
            redact: t.redact_values,
        })
    }

    /// The base the current pattern implies (`pattern` in the state store,
    /// written by the control plane); SRC before any pattern is set.
    pub async fn current_direction(&self) -> Result<Direction> {
        Ok(match self.engine.store.meta("pattern").await? {
            Some(p) => Direction::of_pattern(&p).unwrap_or(Direction::Src),
            None => Direction::Src,
        })
    }

    /// Serve comparator `name` with a comparator compiled into the host
    /// instead of a wasm module.
    pub fn register_native(&self, name: &str, comparator: Arc<dyn NativeComparator>) {
        self.natives.lock().expect("natives").insert(name.to_owned(), comparator);
    }

    fn native(&self, name: &str) -> Option<Arc<dyn NativeComparator>> {
        self.natives.lock().expect("natives").get(name).cloned()
    }

    /// Prepare a configured table in one direction (what a run starts with;
    /// repair uses it too).
    pub async fn prepare(&self, t: &config::Table, direction: Direction) -> Result<Prepared> {
        Prepared::new(&self.engine, t, direction, self.native(&t.comparator).is_some()).await
    }

    async fn run_table(&self, t: &config::Table, req: &Request, direction: Direction, cancel: CancellationToken, board: &Board) -> TableReport {
        let mode = req.mode.mode();
        let progress = Arc::new(Progress::new(&t.name));
        board.tables.lock().expect("board").push(progress.clone());
        let mut report = TableReport {
            table: t.name.clone(),
            run_id: String::new(),
            mode,
            direction,
            status: "failed".into(),
            resumed: false,
            findings: empty_counts(),
            findings_by_tag: BTreeMap::new(),
            rows_read: RowsRead::default(),
            rows_per_sec: 0.0,
            duration_ms: 0,
            error: None,
        };
        let result = async {
            let p = self.prepare(t, direction).await?;
            if req.restart {
                self.engine.store.forget_checkpoint(&t.name, mode, direction).await?;
            }
            let resume = self.resume_point(&t.name, req.mode, direction).await?;
            report.resumed = resume.is_some();
            report.run_id = resume.as_ref().map_or_else(|| new_run_id(&t.name), |cp| cp.run_id.clone());
            self.engine.store.start_run(&report.run_id, &t.name, mode, direction).await?;
            let judge = self.judge(t, &p, direction, &report.run_id);
            let v = &self.engine.config.validation;
            let load = Load {
                batch_size: v.batch_size,
                max_rows_per_sec: t.max_rows_per_sec.or(Some(v.max_rows_per_sec)).filter(|&m| m > 0),
                max_validation_errors: v.max_validation_errors,
                recheck: v.recheck,
            };
            let mut run = TableRun::new(
                t.name.clone(), p.base, p.target, direction, p.key_len, p.utime, judge, self.engine.store.clone(), progress.clone(), load, cancel,
            );
            let outcome = match req.mode {
                RunMode::Full => full::run(&mut run, resume).await,
                RunMode::Incr { since_ms, interval } => incremental::run(&mut run, since_ms, interval, resume).await,
            }?;
            // What is judged and not yet committed (rechecks pending).
            run.flush().await?;
            Ok::<_, anyhow::Error>(outcome)
        }
        .await;
        let (status, error) = match &result {
            Ok(Ended::Completed) => ("completed", None),
            Ok(Ended::Stopped) => ("stopped", None),
            Err(e) => ("failed", Some(format!("{e:#}"))),
        };
        if !report.run_id.is_empty() {
            if let Err(e) = self.engine.store.finish_run(&report.run_id, &t.name, mode, direction, status, error.as_deref()).await {
                tracing::error!(error = %e, "recording the end of the run");
            }
            if let Ok(counts) = self.engine.store.counts(&report.run_id).await {
                for (k, n) in counts {
                    report.findings.insert(k.as_str(), n);
                }
            }
            report.findings_by_tag = self.engine.store.counts_by_tag(&report.run_id).await.unwrap_or_default();
        }
        let s = progress.snapshot();
        report.status = status.into();
        report.error = error;
        report.rows_read = RowsRead { base: s.rows_base, target: s.rows_target };
        report.rows_per_sec = s.rows_per_sec;
        report.duration_ms = s.elapsed_ms;
        report
    }

    /// Where a run of `table` in `mode` would resume: its checkpoint, if
    /// it has one that holds (an incremental one only for the same start
    /// time).
    pub async fn resume_point(&self, table: &str, mode: RunMode, direction: Direction) -> Result<Option<Checkpoint>> {
        let cp = self.engine.store.checkpoint(table, mode.mode(), direction).await?;
        Ok(cp.filter(|cp| match mode {
            RunMode::Incr { since_ms, .. } => cp.cursor["since_ms"] == serde_json::json!(since_ms),
            RunMode::Full => true,
        }))
    }

    async fn gated_table(
        &self,
        gate: &tokio::sync::Semaphore,
        t: &config::Table,
        req: &Request,
        direction: Direction,
        cancel: CancellationToken,
        board: &Board,
    ) -> TableReport {
        let _permit = gate.acquire().await.expect("semaphore is never closed");
        self.run_table(t, req, direction, cancel, board).await
    }

    /// Run a validation; `cancel` stops it cleanly (checkpoints kept).
    /// Table failures are in the report; an `Err` means nothing could run.
    pub async fn run(&self, req: &Request, cancel: CancellationToken, board: &Board) -> Result<Report> {
        let started = Instant::now();
        let tables: Vec<&config::Table> = if req.tables.is_empty() {
            self.engine.config.tables.iter().collect()
        } else {
            req.tables
                .iter()
                .map(|n| {
                    self.engine.config.tables.iter().find(|t| &t.name == n).ok_or_else(|| {
                        let known: Vec<&str> = self.engine.config.tables.iter().map(|t| t.name.as_str()).collect();
                        anyhow!("no table {n:?} in the config (configured: {})", known.join(", "))
                    })
                })
                .collect::<Result<_>>()?
        };
        if tables.is_empty() {
            bail!("no [[tables]] configured: nothing to validate");
        }
        let direction = match req.direction {
            Some(d) => d,
            None => self.current_direction().await?,
        };
        let delivery = match (&self.engine.config.events.sink, &self.engine.config.events.kafka) {
            (Sink::Kafka, Some(k)) => {
                let outbox = Arc::new(Outbox::new(self.engine.store.clone(), k)?);
                let (finish, stop) = (CancellationToken::new(), CancellationToken::new());
                let task = tokio::spawn({
                    let (outbox, finish, stop) = (outbox.clone(), finish.clone(), stop.clone());
                    async move { outbox.run(finish, stop).await }
                });
                Some((task, finish, stop))
            }
            _ => None,
        };
        // A plain Vec of futures gated by a semaphore (not a stream
        // combinator over a closure), so `run` stays `Send` for tokio::spawn.
        let gate = tokio::sync::Semaphore::new(self.engine.config.validation.concurrency);
        let mut runs = Vec::with_capacity(tables.len());
        for t in tables {
            runs.push(self.gated_table(&gate, t, req, direction, cancel.clone(), board));
        }
        let reports: Vec<TableReport> = futures::future::join_all(runs).await;
        let mut undelivered = 0;
        if let Some((task, finish, stop)) = delivery {
            finish.cancel();
            let deadline = Duration::from_millis(self.engine.config.events.kafka.as_ref().map_or(60_000, |k| k.drain_timeout_ms));
            let mut task = task;
            if tokio::time::timeout(deadline, &mut task).await.is_err() {
                stop.cancel();
                let _ = task.await;
            }
            undelivered = self.engine.store.undelivered_count().await?;
        }
        let mut findings = empty_counts();
        let mut rows = RowsRead::default();
        for r in &reports {
            for (k, n) in &r.findings {
                *findings.entry(k).or_default() += n;
            }
            rows.base += r.rows_read.base;
            rows.target += r.rows_read.target;
        }
        let secs = started.elapsed().as_secs_f64();
        Ok(Report {
            findings,
            rows_read: rows,
            rows_per_sec: if secs > 0.0 { (rows.base + rows.target) as f64 / secs } else { 0.0 },
            duration_ms: started.elapsed().as_millis() as u64,
            undelivered,
            tables: reports,
        })
    }
}
