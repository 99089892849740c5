//! Values each side would make differently: sequences and identity
//! columns, now(), random(), gen_random_uuid().

use super::Session;
use super::round::Round;
use crate::pool::SideName;
use anyhow::Result;

/// What the session has read of tables' generated columns.
#[derive(Default)]
pub(super) struct Catalog {}

impl Session<'_> {
    pub(super) async fn generated(&mut self, _round: &mut Round, _primary: SideName) -> Result<()> {
        Ok(())
    }
}
