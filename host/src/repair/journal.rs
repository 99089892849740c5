//! Settling the pool's journal of failed double-writes. A journal entry
//! says one side missed some statements; replaying them as they were could
//! undo a later write that did reach that side, so they are not replayed.
//! Instead the tables they wrote (found by parsing each statement with
//! `sqlparser`, matched against the configured tables by the missing
//! side's table names) are validated in full — a missed delete is invisible
//! to incremental mode — and the findings are repaired like any others,
//! toward the base the current pattern implies. Entries are settled in
//! order: `journal_settled_through` in the state store moves past them only
//! once that validation ran without error. A statement that cannot be
//! parsed, or writes no configured table, is listed as unmatched (it stays
//! in the journal for a person to look at).

use crate::config::{Config, Table};
use crate::store::journal::JournalEntry;
use crate::validate::{Board, Request, RunMode, Validator};
use anyhow::Result;
use serde::Serialize;
use sqlparser::dialect::{Dialect as SqlDialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use tokio_util::sync::CancellationToken;

/// What settling the journal did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JournalSummary {
    /// Entries taken in this pass.
    pub entries: u64,
    /// The configured tables they wrote, validated in full.
    pub tables: Vec<String>,
    /// Entries whose statements matched no configured table, with why.
    pub unmatched: Vec<serde_json::Value>,
    /// The last entry settled (the store's `journal_settled_through`).
    pub settled_through: i64,
    /// Why the entries were not settled (the validation failed), if so.
    pub error: Option<String>,
    /// A dry run: `tables` would be validated; nothing was.
    pub dry_run: bool,
}

const META: &str = "journal_settled_through";

/// The configured tables a journal entry's statements name, or why none.
pub fn tables_touched<'c>(config: &'c Config, entry: &JournalEntry) -> Result<Vec<&'c Table>, String> {
    let url = if entry.side == "source" { &config.source.url } else { &config.destination.url };
    // The pool's statements use `?` whatever the database: the generic
    // dialect reads those; the side's own dialect reads its own syntax.
    let own: Box<dyn SqlDialect> = match crate::db::keyset::Dialect::of_url(url) {
        Some(crate::db::keyset::Dialect::MySql) => Box::new(MySqlDialect {}),
        Some(crate::db::keyset::Dialect::Postgres) => Box::new(PostgreSqlDialect {}),
        Some(crate::db::keyset::Dialect::Sqlite) => Box::new(SQLiteDialect {}),
        None => Box::new(GenericDialect {}),
    };
    let mut names = BTreeSet::new();
    for s in &entry.statements {
        if let Some(table) = loaded_table(&s.sql) {
            names.insert(table);
            continue;
        }
        let parsed = Parser::parse_sql(&GenericDialect {}, &s.sql)
            .or_else(|_| Parser::parse_sql(own.as_ref(), &s.sql))
            .map_err(|e| format!("cannot parse {:?}: {e}", s.sql))?;
        let _ = sqlparser::ast::visit_relations(&parsed, |name| {
            let parts: Vec<String> = name.0.iter().filter_map(|p| p.as_ident()).map(|i| i.value.clone()).collect();
            names.insert(parts.join("."));
            ControlFlow::<()>::Continue(())
        });
    }
    let side_name = |t: &'c Table| if entry.side == "source" { t.source_table() } else { t.destination_table() };
    // A statement may name the table with its schema or without.
    let matches = |configured: &str, named: &str| configured == named || configured.rsplit('.').next() == Some(named) || named.rsplit('.').next() == Some(configured);
    let found: Vec<&Table> = config.tables.iter().filter(|t| names.iter().any(|n| matches(side_name(t), n))).collect();
    if found.is_empty() {
        return Err(format!("its statements write {names:?}, none of them a configured table"));
    }
    Ok(found)
}

/// The table a MySQL `LOAD DATA ... INTO TABLE name` or a PostgreSQL
/// `COPY name [(columns)] FROM STDIN` fills (the front doors journal the
/// loads they could not double-write; sqlparser does not read a LOAD, and
/// names no relation in a COPY).
fn loaded_table(sql: &str) -> Option<String> {
    let upper = sql.to_ascii_uppercase();
    let start = upper.trim_start();
    let at = if start.starts_with("LOAD ") {
        const INTO: &str = " INTO TABLE ";
        upper.find(INTO)? + INTO.len()
    } else if start.starts_with("COPY ") {
        upper.find("COPY ")? + "COPY ".len()
    } else {
        return None;
    };
    let name = sql.get(at..)?.split(|c: char| c.is_whitespace() || c == '(').find(|w| !w.is_empty())?;
    Some(name.split('.').map(|p| p.trim_matches(['`', '"'])).collect::<Vec<_>>().join("."))
}

/// Validate the tables the journal's unsettled entries wrote; their
/// findings are then the repair pass's to settle. A `dry_run` only says
/// which tables it would validate.
pub async fn settle(validator: &Validator, cancel: &CancellationToken, dry_run: bool) -> Result<JournalSummary> {
    let engine = validator.engine();
    let store = &engine.store;
    let after: i64 = store.meta(META).await?.and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut summary = JournalSummary { settled_through: after, dry_run, ..Default::default() };
    let mut tables = BTreeSet::new();
    let mut last = after;
    loop {
        let page = store.journal_entries(last, 1000).await?;
        let Some(tail) = page.last() else { break };
        last = tail.id;
        for e in &page {
            summary.entries += 1;
            match tables_touched(&engine.config, e) {
                Ok(ts) => tables.extend(ts.into_iter().map(|t| t.name.clone())),
                Err(why) => summary.unmatched.push(serde_json::json!({"entry": e.id, "side": e.side, "reason": why})),
            }
        }
    }
    if summary.entries == 0 {
        return Ok(summary);
    }
    summary.tables = tables.into_iter().collect();
    if dry_run {
        return Ok(summary);
    }
    if !summary.tables.is_empty() {
        let req = Request { tables: summary.tables.clone(), mode: RunMode::Full, direction: None, restart: true };
        let report = validator.run(&req, cancel.child_token(), &Board::default()).await;
        let error = match &report {
            Err(e) => Some(format!("{e:#}")),
            Ok(r) if r.failed() => Some(r.tables.iter().filter_map(|t| t.error.clone()).collect::<Vec<_>>().join("; ")),
            Ok(r) if r.tables.iter().any(|t| t.status == "stopped") => Some("stopped before the validation finished".into()),
            Ok(_) => None,
        };
        if let Some(e) = error {
            summary.error = Some(format!("the journal's tables could not be validated: {e}"));
            return Ok(summary);
        }
    }
    store.set_meta(META, &last.to_string()).await?;
    summary.settled_through = last;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Statement;
    use crate::store::journal::JournalKind;

    fn entry(side: &str, sql: &[&str]) -> JournalEntry {
        JournalEntry {
            id: 1,
            at: String::new(),
            pattern: "src_first".into(),
            side: side.into(),
            kind: JournalKind::SecondaryFailed,
            statements: sql.iter().map(|s| Statement::new(*s)).collect(),
            error: String::new(),
        }
    }

    #[test]
    fn a_journal_entry_names_the_configured_tables_it_wrote_on_the_missing_side() {
        let config = Config::parse(
            r#"
[source]
url = "mysql://root@127.0.0.1/app"
[destination]
url = "postgres://postgres@127.0.0.1/app"
[[tables]]
name = "users"
destination_name = "public.users_v2"
key = ["id"]
comparator = "exact"
[[tables]]
name = "orders"
key = ["id"]
comparator = "exact"
"#,
            "test.toml",
        )
        .unwrap();
        let names = |e: &JournalEntry| tables_touched(&config, e).map(|ts| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>());
        let e = entry("destination", &["UPDATE public.users_v2 SET name = ? WHERE id = ?", "DELETE FROM orders WHERE id = ?"]);
        assert_eq!(names(&e).unwrap(), ["users", "orders"]);
        // The source calls the users table `users`; `users_v2` is not a source table.
        assert_eq!(names(&entry("source", &["INSERT INTO `users` (id) VALUES (?) ON DUPLICATE KEY UPDATE id = id"])).unwrap(), ["users"]);
        assert_eq!(names(&entry("destination", &["UPDATE orders SET v = $1::int WHERE id = ANY($2)"])).unwrap(), ["orders"]);
        assert!(names(&entry("source", &["INSERT INTO users_v2 (id) VALUES (?)"])).unwrap_err().contains("none of them a configured table"));
        assert!(names(&entry("source", &["UPDATE SET WHERE"])).unwrap_err().contains("cannot parse"));
        // A LOAD DATA the front door journaled, which sqlparser does not read.
        let load = "LOAD DATA LOCAL INFILE '/tmp/o.tsv' INTO TABLE `orders` (id, v)";
        assert_eq!(names(&entry("destination", &[load])).unwrap(), ["orders"]);
        // A COPY the PostgreSQL door journaled, whose table sqlparser does not name.
        assert_eq!(names(&entry("destination", &["COPY \"orders\"(id, v) FROM STDIN"])).unwrap(), ["orders"]);
        assert_eq!(names(&entry("destination", &["copy public.orders FROM STDIN WITH (FORMAT csv)"])).unwrap(), ["orders"]);
    }
}
