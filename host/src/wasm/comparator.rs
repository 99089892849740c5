//! Calling a comparator: a batch of (source, destination) pairs in, one
//! outcome per pair out. Pairs the guest does not list are equal.

use super::batch::Batch;
use super::binding::Binding;
use super::wit::comparator as wc;
use super::error::{Capability, GuestError};
use super::isolate;
use super::module::{Module, SLOT_COMPARATOR};

#[derive(Clone, Debug, PartialEq)]
pub enum PairOutcome {
    Equal,
    Different { columns: Vec<String>, reason: String },
    /// The comparator could not decide this pair (its own words).
    Error { reason: String },
    /// The module failed on this pair (trap, timeout, ...) or was not run.
    /// Boxed: failures are rare and every outcome of a batch pays for the
    /// largest variant.
    Failed(Box<GuestError>),
}

impl Module {
    /// Compare a batch. Fails as a whole only when the module is not a
    /// comparator; any other failure is pinned on the pairs it concerns.
    pub fn compare(&self, binding: &Binding, batch: &Batch) -> Result<Vec<PairOutcome>, GuestError> {
        self.require(Capability::Comparator)?;
        let limits = &self.runtime().limits;
        Ok(isolate::run(batch, |bytes, part| {
            let count = count_of(bytes);
            let timeout = part.timeout(limits);
            let findings = self.with_instance(Capability::Comparator, |inst| {
                let h = inst.handle(limits, (SLOT_COMPARATOR, binding.id()), |p, s| {
                    p.movex_plugin_comparator().call_bind(s, &binding.to_wit())
                })?;
                inst.call_within(limits, timeout, |p, s| p.movex_plugin_comparator().call_compare(s, h, bytes))
            })?;
            let mut out = vec![PairOutcome::Equal; count];
            for f in findings {
                let Some(slot) = out.get_mut(f.index as usize) else { continue };
                *slot = match f.outcome {
                    wc::Outcome::Different(d) => PairOutcome::Different { columns: d.columns, reason: d.reason },
                    wc::Outcome::Error(reason) => PairOutcome::Error { reason },
                };
            }
            Ok(out)
        }, |e| PairOutcome::Failed(Box::new(e))))
    }
}

/// The item count at the head of an encoded batch.
pub(crate) fn count_of(bytes: &[u8]) -> usize {
    movex_guest::codec::Reader::new(bytes).count().map_or(0, |n| n as usize)
}
