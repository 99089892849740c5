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
/// answer per item of the bytes it was given.
pub(crate) fn run<T>(
    batch: &Batch,
    call: impl Fn(&[u8]) -> Result<Vec<T>, GuestError>,
) -> Vec<Result<T, GuestError>> {
    let first = match call(batch.bytes()) {
        Ok(answers) => return answers.into_iter().map(Ok).collect(),
        Err(e) => e,
    };
    if batch.len() == 1 {
        return vec![Err(GuestError { key: Some(batch.key(0).to_owned()), ..first })];
    }
    let mut failures = 0;
    (0..batch.len())
        .map(|i| {
            let key = Some(batch.key(i).to_owned());
            if failures >= MAX_ISOLATED_FAILURES {
                return Err(GuestError {
                    key,
                    detail: format!(
                        "not processed: the module failed on {failures} rows of this batch on their own (first: {})",
                        first.detail
                    ),
                    ..first.clone()
                });
            }
            match call(&batch.single(i)) {
                Ok(mut one) => Ok(one.pop().expect("one answer for one item")),
                Err(e) => {
                    failures += if e.kind == FailureKind::Timeout { MAX_ISOLATED_FAILURES } else { 1 };
                    Err(GuestError { key, ..e })
                }
            }
        })
        .collect()
}
