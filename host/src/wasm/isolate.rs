//! Pinning a failure on a row. A batch runs as one guest call; when that call
//! fails, the items are re-run one by one on fresh instances so the error can
//! name the row that caused it and every other row still gets its answer.

use super::batch::Batch;
use super::error::{FailureKind, GuestError};

/// After this many items of one batch fail on their own, the module is taken
/// to fail on everything (a loop or bomb that ignores its input): the rest are
/// reported as not processed. A timeout counts as all of them at once, since
/// every retry of a loop spends a whole time limit.
pub const MAX_ISOLATED_FAILURES: usize = 3;

/// Run `call` on the whole batch; on failure, item by item. `call` returns one
/// answer per item of the bytes it was given; `failed` turns an error pinned
/// on one item into that item's answer. The whole-batch answer is returned as
/// is: the hot path builds no second vector.
pub(crate) fn run<T>(
    batch: &Batch,
    call: impl Fn(&[u8]) -> Result<Vec<T>, GuestError>,
    failed: impl Fn(GuestError) -> T,
) -> Vec<T> {
    let first = match call(batch.bytes()) {
        Ok(answers) => return answers,
        Err(e) => e,
    };
    if batch.len() == 1 {
        return vec![failed(GuestError { key: Some(batch.key(0).to_owned()), ..first })];
    }
    let mut failures = 0;
    (0..batch.len())
        .map(|i| {
            let key = Some(batch.key(i).to_owned());
            if failures >= MAX_ISOLATED_FAILURES {
                return failed(GuestError {
                    key,
                    detail: format!(
                        "not processed: the module failed on {failures} rows of this batch on their own (first: {})",
                        first.detail
                    ),
                    ..first.clone()
                });
            }
            match call(&batch.single(i)) {
                Ok(mut one) => one.pop().expect("one answer for one item"),
                Err(e) => {
                    failures += if e.kind == FailureKind::Timeout { MAX_ISOLATED_FAILURES } else { 1 };
                    failed(GuestError { key, ..e })
                }
            }
        })
        .collect()
}
