//! Calling a tagger: a batch of rows in, a tag (or none) per row out.

use super::batch::Batch;
use super::binding::Binding;
use super::comparator::count_of;
use super::error::{Capability, FailureKind, GuestError};
use super::isolate;
use super::module::{Module, SLOT_TAGGER};

impl Module {
    /// Tag a batch of rows: per row a tag, none, or the error for that row
    /// (the tagger's own, or the module breaking on it).
    pub fn tag(&self, binding: &Binding, batch: &Batch) -> Result<Vec<Result<Option<String>, GuestError>>, GuestError> {
        self.require(Capability::Tagger)?;
        let limits = &self.runtime().limits;
        Ok(isolate::run(
            batch,
            |bytes, part| {
                let timeout = part.timeout(limits);
                let tags = self.with_instance(Capability::Tagger, |inst| {
                    let h = inst.handle(limits, (SLOT_TAGGER, binding.id()), |p, s| {
                        p.movex_plugin_tagger().call_bind(s, &binding.to_wit())
                    })?;
                    inst.call_within(limits, timeout, |p, s| p.movex_plugin_tagger().call_tag(s, h, bytes))
                })?;
                let error = |kind, detail| GuestError {
                    module: self.name().to_owned(),
                    version: self.version,
                    capability: Capability::Tagger,
                    key: None,
                    kind,
                    detail,
                };
                if tags.len() != count_of(bytes) {
                    let detail = format!("returned {} tags for {} rows", tags.len(), count_of(bytes));
                    return Err(error(FailureKind::InvalidResult, detail));
                }
                Ok(tags
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        t.map_err(|detail| GuestError { key: Some(part.key(batch, i)), ..error(FailureKind::Refused, detail) })
                    })
                    .collect())
            },
            Err,
        ))
    }
}
