//! Settling a batch: every row pair goes through the table's comparator
//! module in one call, and every finding of the batch through its tagger.
//! The module is looked up by name at each batch, so one swapped during a
//! run serves from the next batch on. Guest calls are CPU work: they run on
//! the blocking pool, never on the async reactor. Every finding of a table
//! leaves through here, so this is where a `redact_values` table's findings
//! lose their values, before the store, Kafka, logs or HTTP see them.

use crate::model::{Direction, Finding, FindingType};
use crate::db::key::Key;
use crate::db::{Row, RowRef, Rows};
use crate::wasm::{Batch, Binding, PairOutcome, Registry};
use anyhow::{Result, anyhow};
use std::sync::Arc;

/// What the batch holds before settling: pairs to compare, already in the
/// comparator's batch encoding (copied from the pages as read), and findings
/// already known (missing rows) with the row to tag them by. Made by
/// [`Judge::pending`], which knows the column layout and the direction.
pub struct Pending {
    pairs: Batch,
    /// Comparators see (source, destination), whichever is the base.
    direction: Direction,
    /// Values per row the comparator sees (the compared columns lead).
    compared: usize,
    pub found: Vec<(Key, Finding, Row)>,
}

impl Pending {
    /// A pair of rows with equal keys, from the pages they were read into.
    pub fn push_pair(&mut self, base: RowRef<'_>, target: RowRef<'_>) {
        let (base, target) = (base.prefix(self.compared), target.prefix(self.compared));
        match self.direction {
            Direction::Src => self.pairs.push_encoded_pair(base, target),
            Direction::Dst => self.pairs.push_encoded_pair(target, base),
        }
    }

    /// A pair of rows held as values (rows read again by key).
    pub fn push_row_pair(&mut self, base: &Row, target: &Row) {
        let page = Rows::from_rows([base, target]);
        self.push_pair(page.row(0), page.row(1));
    }

    pub fn len(&self) -> usize {
        self.pairs.len() + self.found.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A comparator compiled into the host, outside the sandbox: the same
/// contract as a wasm comparator (a batch of pairs in, an outcome per pair
/// out). For built-ins, and for measuring what the sandbox costs
/// (BENCHMARKS.md).
pub trait NativeComparator: Send + Sync {
    fn compare(&self, binding: &Binding, batch: &Batch) -> Vec<PairOutcome>;
}

pub struct Judge {
    pub registry: Arc<Registry>,
    /// Used instead of the registry's module when set.
    pub native: Option<Arc<dyn NativeComparator>>,
    pub comparator: String,
    pub tagger: Option<String>,
    /// Compared columns (the leading ones of each row), bound with the
    /// comparator's settings; and the same layout for the tagger.
    pub binding: Binding,
    pub tag_binding: Option<Binding>,
    pub direction: Direction,
    /// Key columns: the leading ones of each row.
    pub key_len: usize,
    pub run_id: String,
    pub table: String,
    /// `[[tables]] redact_values`: findings keep no row values.
    pub redact: bool,
}

impl Judge {
    fn names(&self) -> Vec<String> {
        self.binding.columns.iter().map(|(n, _)| n.clone()).collect()
    }

    /// An empty batch for this table's pairs.
    pub fn pending(&self) -> Pending {
        let compared = self.binding.columns.len();
        // The batch reads each pair's key from its base row.
        let skip = match self.direction {
            Direction::Src => 0,
            Direction::Dst => compared,
        };
        Pending { pairs: Batch::keyed_by_columns(skip, self.key_len), direction: self.direction, compared, found: Vec::new() }
    }

    /// Compare the pairs and tag every finding, each with its key.
    /// Blocking (guest calls). Only pairs found different are decoded
    /// into values, for their findings.
    pub fn rule(&self, pending: Pending) -> Result<Vec<(Key, Finding)>> {
        let n = pending.compared;
        let mut found = pending.found;
        let batch = pending.pairs;
        if !batch.is_empty() {
            let outcomes = match &self.native {
                Some(native) => native.compare(&self.binding, &batch),
                None => {
                    let module = self.registry.get(&self.comparator).ok_or_else(|| {
                        anyhow!("comparator module {:?} is not loaded (was it unloaded during the run?)", self.comparator)
                    })?;
                    module.compare(&self.binding, &batch).map_err(|e| anyhow!("{e}"))?
                }
            };
            let names = self.names();
            for (i, outcome) in outcomes.into_iter().enumerate() {
                // Whether the reason is the module's own text, which may
                // quote the values it saw; the host's account of a module
                // failing (a timeout, a trap) does not.
                let (kind, reason, columns, written_by_module) = match outcome {
                    PairOutcome::Equal => continue,
                    PairOutcome::Different { columns, reason } => (FindingType::Neq, reason, columns, true),
                    PairOutcome::Error { reason } => (FindingType::ComparatorError, reason, Vec::new(), true),
                    PairOutcome::Failed(e) => (FindingType::ComparatorError, e.to_string(), Vec::new(), false),
                };
                let values = RowRef::from_bytes(batch.item(i)).to_row();
                let (src, dst) = values.split_at(n);
                let (base, target) = match self.direction {
                    Direction::Src => (src, dst),
                    Direction::Dst => (dst, src),
                };
                let key: Key = base[..self.key_len].to_vec();
                let mut f = Finding::new(&self.run_id, &self.table, self.direction, kind, &key)
                    .with_columns(&columns, &names, base, target);
                f.reason = (!(self.redact && written_by_module)).then_some(reason);
                found.push((key, f, base.to_vec()));
            }
        }
        self.tag(&mut found);
        let redact = self.redact;
        Ok(found.into_iter().map(|(k, f, _)| (k, if redact { f.without_values() } else { f })).collect())
    }

    /// Attach the tagger's tag to each finding; a tagger that fails leaves
    /// the finding untagged (logged), never drops it.
    fn tag(&self, found: &mut [(Key, Finding, Row)]) {
        let (Some(name), Some(binding)) = (&self.tagger, &self.tag_binding) else { return };
        if found.is_empty() {
            return;
        }
        let Some(module) = self.registry.get(name) else {
            tracing::warn!(tagger = %name, "tagger module is not loaded; findings stay untagged");
            return;
        };
        let n = binding.columns.len();
        let mut batch = Batch::new();
        for (_, f, row) in found.iter() {
            batch.push_row(f.key.to_string(), row[..n].iter().map(|v| v.as_value()));
        }
        match module.tag(binding, &batch) {
            Ok(tags) => {
                for ((_, f, _), t) in found.iter_mut().zip(tags) {
                    match t {
                        Ok(tag) => f.tag = tag,
                        Err(e) => tracing::warn!(error = %e, "tagger failed on a row; finding stays untagged"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "tagger refused the batch; findings stay untagged"),
        }
    }
}
