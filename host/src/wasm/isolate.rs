//! Pinning a failure on a row. A batch runs as one guest call; when that call
//! fails, the items are re-run one by one on fresh instances so the error can
//! name the row that caused it and every other row still gets its answer.

use super::batch::Batch;
use super::error::{FailureKind, GuestError};
use super::limits::Limits;
use std::time::Duration;

/// After this many items of one batch break the module on their own, it is
/// taken to break on everything (a bomb that ignores its input): the rest are
/// reported as not processed. A timeout counts as all of them at once, since
/// every retry of a loop spends time. Errors the module answers with (bad
/// data, a refused binding) do not count: the other rows are still run.
pub const MAX_ISOLATED_FAILURES: usize = 3;

/// What one call runs: the whole batch, or one item alone after the batch
/// failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Batch,
    /// Item `index` alone; `after_timeout` when the batch ran out of CPU.
    Item { index: usize, after_timeout: bool },
}

impl Part {
    /// The CPU budget: the configured call timeout for a batch. For one item,
    /// a tenth of it (`Limits::item_timeout`) when the batch timed out: a
    /// loop is what makes re-running costly, and one row needs microseconds.
    /// After any other failure the whole budget, so a row fails the way it
    /// failed in the batch: a memory bomb on its way to the cap is not cut
    /// short and reported as a timeout.
    pub fn timeout(self, limits: &Limits) -> Duration {
        match self {
            Part::Batch | Part::Item { after_timeout: false, .. } => limits.call_timeout,
            Part::Item { after_timeout: true, .. } => limits.item_timeout(),
        }
    }

    /// The key of answer `j` of this call.
    pub fn key(self, batch: &Batch, j: usize) -> String {
        match self {
            Part::Batch => batch.key(j),
            Part::Item { index, .. } => batch.key(index),
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
        return vec![failed(GuestError { key: Some(batch.key(0)), ..first })];
    }
    let after_timeout = first.kind == FailureKind::Timeout;
    let mut breakages = 0;
    (0..batch.len())
        .map(|i| {
            let key = Some(batch.key(i));
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
            match call(&batch.single(i), Part::Item { index: i, after_timeout }) {
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
