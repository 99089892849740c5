//! Pinning a failure on a row. A batch runs as one guest call; when that call
//! fails, the items are re-run one by one on fresh instances so the error can
//! name the row that caused it and every other row still gets its answer.

use super::batch::Batch;
use super::error::{FailureKind, GuestError};
use super::limits::Limits;

/// After this many items of one batch break the module on their own, it is
/// taken to break on everything (a bomb that ignores its input): the rest are
/// reported as not processed. A timeout counts as all of them at once, since
/// every retry of a loop spends time. Errors the module answers with (bad
/// data, a refused binding) do not count: the other rows are still run.
pub const MAX_ISOLATED_FAILURES: usize = 3;

/// What one call runs: the whole batch, or item `i` alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Batch,
    Item(usize),
}

impl Part {
    /// The deadline: the configured call timeout for a batch, a tenth of it
    /// for one item (`Limits::item_deadline_ticks`).
    pub fn ticks(self, limits: &Limits) -> u64 {
        match self {
            Part::Batch => limits.deadline_ticks(),
            Part::Item(_) => limits.item_deadline_ticks(),
        }
    }

    /// The key of answer `j` of this call.
    pub fn key(self, batch: &Batch, j: usize) -> String {
        match self {
            Part::Batch => batch.key(j).to_owned(),
            Part::Item(i) => batch.key(i).to_owned(),
        }
    }
}

/// Run `call` on the whole batch; on failure, item by item. `call` returns one
/// answer per item of the bytes it was given; `failed` turns an error pinned
/// on one item into that item's answer. The whole-batch answer is returned as
/// is: the hot path builds no second vector.
pub(crate) fn run<T>(
    batch: &Batch,
    call: impl Fn(&[u8], Part) -> Result<Vec<T>, GuestError>,
    failed: impl Fn(GuestError) -> T,
) -> Vec<T> {
    let first = match call(batch.bytes(), Part::Batch) {
        Ok(answers) => return answers,
        Err(e) => e,
    };
    if batch.len() == 1 {
        return vec![failed(GuestError { key: Some(batch.key(0).to_owned()), ..first })];
    }
    let mut breakages = 0;
    (0..batch.len())
        .map(|i| {
            let key = Some(batch.key(i).to_owned());
            if breakages >= MAX_ISOLATED_FAILURES {
                return failed(GuestError {
                    key,
                    detail: format!(
                        "not processed: the module broke on {breakages} rows of this batch on their own (first: {})",
                        first.detail
                    ),
                    ..first.clone()
                });
            }
            match call(&batch.single(i), Part::Item(i)) {
                Ok(mut one) => one.pop().expect("one answer for one item"),
                Err(e) => {
                    if e.kind == FailureKind::Timeout {
                        breakages = MAX_ISOLATED_FAILURES;
                    } else if e.kind.is_breakage() {
                        breakages += 1;
                    }
                    failed(GuestError { key, ..e })
                }
            }
        })
        .collect()
}
