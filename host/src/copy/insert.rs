//! The copy's write: many rows in one INSERT that adds only the rows the
//! destination lacks, per dialect. A row already there was written by the
//! application's double-write (or by an earlier attempt at this chunk) and
//! is at least as new as the copy's: it is left alone. MySQL spells it
//! `ON DUPLICATE KEY UPDATE k = k` rather than `INSERT IGNORE`, which would
//! also turn a value the column cannot hold into a warning and a changed
//! value; PostgreSQL and SQLite `ON CONFLICT DO NOTHING`. On PostgreSQL
//! every value goes as text cast to its column's type, so values read from
//! another database (an unsigned 64-bit integer into NUMERIC, a DATETIME
//! into a timestamp) convert without loss.

use crate::db::keyset::Dialect;
use crate::db::schema::ColumnInfo;

/// Bound parameters per statement at most: under every database's limit
/// (MySQL and PostgreSQL 65,535; SQLite 32,766).
pub const MAX_PARAMS: usize = 30_000;

/// Rows per INSERT for `columns` columns.
pub fn rows_per_statement(columns: usize) -> usize {
    (MAX_PARAMS / columns.max(1)).max(1)
}

/// `INSERT INTO table (columns) VALUES (...) x rows`, adding only rows
/// whose key is not there. `cols` are the destination's columns in the
/// order values are bound; the key is `cols[..key_len]`.
pub fn insert_absent(dialect: Dialect, table: &str, cols: &[ColumnInfo], key_len: usize, rows: usize) -> String {
    let names: Vec<String> = cols.iter().map(|c| dialect.quote(&c.name)).collect();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", dialect.quote(table), names.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (i, c) in cols.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match dialect {
                Dialect::Postgres => sql.push_str(&format!("CAST(${n} AS {})", c.db_type)),
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    match dialect {
        Dialect::MySql => {
            let k = &names[..key_len.max(1)][0];
            sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {k} = {k}"));
        }
        _ => sql.push_str(" ON CONFLICT DO NOTHING"),
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::Kind;

    fn col(name: &str, db_type: &str) -> ColumnInfo {
        ColumnInfo { name: name.into(), kind: Kind::Text, db_type: db_type.into(), binary: false, json: false, byte_collation: None }
    }

    #[test]
    fn each_dialect_adds_only_absent_rows() {
        let cols = [col("id", "bigint"), col("v", "numeric(20,0)")];
        assert_eq!(insert_absent(Dialect::MySql, "t", &cols, 1, 2), "INSERT INTO `t` (`id`, `v`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `id` = `id`");
        assert_eq!(
            insert_absent(Dialect::Postgres, "s.t", &cols, 1, 2),
            "INSERT INTO \"s\".\"t\" (\"id\", \"v\") VALUES (CAST($1 AS bigint), CAST($2 AS numeric(20,0))), (CAST($3 AS bigint), CAST($4 AS numeric(20,0))) ON CONFLICT DO NOTHING"
        );
        assert_eq!(insert_absent(Dialect::Sqlite, "t", &cols, 1, 1), "INSERT INTO \"t\" (\"id\", \"v\") VALUES (?, ?) ON CONFLICT DO NOTHING");
    }

    #[test]
    fn statements_stay_under_every_parameter_limit() {
        assert_eq!(rows_per_statement(10), 3000);
        assert_eq!(rows_per_statement(40_000), 1);
        assert!(rows_per_statement(7) * 7 <= MAX_PARAMS);
    }
}
