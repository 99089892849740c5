//! A table made ready to run in one direction ([`Prepared`]): the columns
//! both sides have, aligned key first; the key columns' kinds and byte-wise
//! order checked; the update-time column found; the comparator and tagger
//! modules checked loaded and bound to the columns. A run starts with it,
//! and repair uses it to read and judge a finding's rows.
//!
//! [`Validator::prepare`](super::Validator::prepare) is the way in: it knows
//! which comparators are compiled into the host. The work is here, over the
//! engine alone, so this file does not import the validator that imports it.

use super::side::Side;
use crate::config;
use crate::db::schema::ColumnInfo;
use crate::engine::Engine;
use crate::model::Direction;
use crate::wasm::{Binding, Capability};
use anyhow::{Context, Result, bail};

/// A table ready to run in one direction: both sides with their columns
/// aligned (key first), and the comparator's binding.
#[derive(Clone)]
pub struct Prepared {
    pub base: Side,
    pub target: Side,
    pub key_len: usize,
    pub utime: Option<(usize, config::TimeUnit)>,
    pub binding: Binding,
    pub tag_binding: Option<Binding>,
}

impl Prepared {
    /// Prepare configured table `t` in `direction` over the engine's
    /// databases and modules. `native_comparator`: the table's comparator
    /// is compiled into the host, so no module of that name is needed.
    pub async fn new(engine: &Engine, t: &config::Table, direction: Direction, native_comparator: bool) -> Result<Prepared> {
        let (src_cols, dst_cols) = tokio::try_join!(
            async { engine.source.columns(t.source_table()).await.with_context(|| format!("source table {:?}", t.source_table())) },
            async {
                engine.destination.columns(t.destination_table())
                    .await
                    .with_context(|| format!("destination table {:?}", t.destination_table()))
            },
        )?;
        let has = |cols: &[ColumnInfo], n: &str| cols.iter().any(|c| c.name == n);
        let both = |n: &str| has(&src_cols, n) && has(&dst_cols, n);
        for k in &t.key {
            if !both(k) {
                bail!("table {:?}: key column {k:?} is not on both sides", t.name);
            }
        }
        let compared: Vec<String> = match &t.columns {
            Some(cols) => {
                if let Some(missing) = cols.iter().find(|c| !both(c)) {
                    bail!("table {:?}: column {missing:?} in `columns` is not on both sides", t.name);
                }
                cols.clone()
            }
            None => src_cols.iter().map(|c| c.name.clone()).filter(|n| has(&dst_cols, n)).collect(),
        };
        let mut select: Vec<String> = t.key.clone();
        select.extend(compared.into_iter().filter(|c| !t.key.contains(c)));
        let n_compared = select.len();
        let utime = match &t.utime {
            Some(u) => {
                if !both(&u.column) {
                    bail!("table {:?}: utime column {:?} is not on both sides", t.name, u.column);
                }
                let i = select.iter().position(|c| c == &u.column).unwrap_or_else(|| {
                    select.push(u.column.clone());
                    select.len() - 1
                });
                Some((i, u.unit))
            }
            None => None,
        };
        let pick = |cols: &[ColumnInfo]| -> Vec<ColumnInfo> {
            select.iter().map(|n| cols.iter().find(|c| &c.name == n).expect("checked above").clone()).collect()
        };
        let (src, dst) = (pick(&src_cols), pick(&dst_cols));
        for (side, cols) in [("source", &src), ("destination", &dst)] {
            for c in &cols[..t.key.len()] {
                use movex_guest::Kind::*;
                if !matches!(c.kind, Int | Uint | Text | Bytes | Date | Timestamp) {
                    bail!(
                        "table {:?}: key column {:?} on the {side} is {} ({:?}); keys must be integers, strings, \
                         bytes, dates or timestamps",
                        t.name,
                        c.name,
                        c.db_type,
                        c.kind
                    );
                }
                if let Some(coll) = &c.byte_collation {
                    tracing::warn!(
                        table = %t.name, column = %c.name, side,
                        "string key is ordered with COLLATE {coll} so both sides agree byte-wise; the key's index \
                         may not serve that order (see docs/design/validator-sql-decoding.md section 7)"
                    );
                }
            }
        }
        if !native_comparator {
            loaded(engine, &t.comparator, Capability::Comparator, &t.name)?;
        }
        if let Some(tagger) = &t.tagger {
            loaded(engine, tagger, Capability::Tagger, &t.name)?;
        }
        let settings = |m: &str| engine.settings(m);
        let layout: Vec<(String, movex_guest::Kind)> = src[..n_compared].iter().map(|c| (c.name.clone(), c.kind)).collect();
        let binding = Binding::new(t.name.clone(), layout.clone(), settings(&t.comparator));
        let tag_binding = t.tagger.as_ref().map(|m| Binding::new(t.name.clone(), layout, settings(m)));
        let key_len = t.key.len();
        let source = Side::new(engine.source.clone(), "source", t.source_table().to_owned(), src, key_len, utime.map(|u| u.0));
        let destination =
            Side::new(engine.destination.clone(), "destination", t.destination_table().to_owned(), dst, key_len, utime.map(|u| u.0));
        let (base, target) = match direction {
            Direction::Src => (source, destination),
            Direction::Dst => (destination, source),
        };
        Ok(Prepared { base, target, key_len, utime, binding, tag_binding })
    }
}

/// Module `name` is loaded and exports `capability`; otherwise what is
/// loaded, and what warm-up refused and why.
fn loaded(engine: &Engine, name: &str, capability: Capability, table: &str) -> Result<()> {
    let Some(m) = engine.modules.get(name) else {
        let loaded: Vec<String> = engine.modules.list().iter().map(|m| m.name().to_owned()).collect();
        let refused: Vec<String> = engine.warmup.failures.iter().map(|f| format!("{}: {}", f.file, f.error)).collect();
        bail!(
            "table {table:?}: module {name:?} is not loaded. Loaded from {}: [{}]{}",
            engine.config.modules.dir.display(),
            loaded.join(", "),
            if refused.is_empty() { String::new() } else { format!("; refused: {}", refused.join("; ")) }
        );
    };
    if !m.description.has(capability) {
        bail!("table {table:?}: module {name:?} is not a {capability} (it exports {:?})", m.description.capabilities);
    }
    Ok(())
}
