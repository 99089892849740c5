//! A module bound to a table: the layout (compared columns in order, one name
//! for both sides) and the settings from config. Bound once per instance,
//! lazily, then referred to by handle in every batch.

use super::wit::types;
use movex_guest::Kind;
use std::hash::{Hash, Hasher};

#[derive(Clone, Debug)]
pub struct Binding {
    /// Identity by content: two bindings with the same table, layout and
    /// settings share the guest's bound state, so creating a `Binding` per run
    /// does not make instances bind (and keep) the same layout again.
    id: u64,
    pub table: String,
    pub columns: Vec<(String, Kind)>,
    pub settings: Vec<(String, String)>,
}

impl Binding {
    pub fn new(table: impl Into<String>, columns: Vec<(String, Kind)>, settings: Vec<(String, String)>) -> Self {
        let table = table.into();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&table, &columns, &settings).hash(&mut h);
        Binding { id: h.finish(), table, columns, settings }
    }

    /// Settings only: what a policy is bound with.
    pub fn settings(settings: Vec<(String, String)>) -> Self {
        Self::new("", Vec::new(), settings)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn to_wit(&self) -> types::Binding {
        types::Binding {
            table: self.table.clone(),
            columns: self.columns.iter().map(|(name, k)| types::Column { name: name.clone(), kind: kind(*k) }).collect(),
            settings: self.settings.clone(),
        }
    }
}

fn kind(k: Kind) -> types::ValueKind {
    use types::ValueKind as V;
    match k {
        Kind::Null => V::Null,
        Kind::Bool => V::Boolean,
        Kind::Int => V::Int,
        Kind::Uint => V::Uint,
        Kind::Float => V::Float,
        Kind::Decimal => V::Decimal,
        Kind::Text => V::Text,
        Kind::Bytes => V::Bytes,
        Kind::Date => V::Date,
        Kind::Time => V::Time,
        Kind::Timestamp => V::Timestamp,
        Kind::Json => V::Json,
    }
}
