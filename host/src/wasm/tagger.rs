//! Calling a tagger: a batch of rows in, a tag (or none) per row out.

use super::batch::Batch;
use super::binding::Binding;
use super::comparator::count_of;
use super::error::{Capability, FailureKind, GuestError};
use super::isolate;
use super::module::{Module, SLOT_TAGGER};

impl Module {
    /// Tag a batch of rows. A row the tagger fails on gets an error naming it.
    pub fn tag(&self, binding: &Binding, batch: &Batch) -> Result<Vec<Result<Option<String>, GuestError>>, GuestError> {
        self.require(Capability::Tagger)?;
        let limits = self.runtime().limits.clone();
        Ok(isolate::run(batch, |bytes| {
            let tags = self.with_instance(Capability::Tagger, |inst| {
                let h = inst.handle(&limits, (SLOT_TAGGER, binding.id()), |p, s| {
                    p.movex_plugin_tagger().call_bind(s, &binding.to_wit())
                })?;
                inst.call(&limits, |p, s| p.movex_plugin_tagger().call_tag(s, h, bytes))
            })?;
            if tags.len() != count_of(bytes) {
                return Err(GuestError {
                    module: self.name().to_owned(),
                    version: self.version,
                    capability: Capability::Tagger,
                    key: None,
                    kind: FailureKind::Refused,
                    detail: format!("returned {} tags for {} rows", tags.len(), count_of(bytes)),
                });
            }
            Ok(tags.into_iter().map(Ok).collect())
        }, Err))
    }
}
