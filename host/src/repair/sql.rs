//! The writes repair makes on the target, per dialect: an upsert of the base
//! row (MySQL `INSERT ... ON DUPLICATE KEY UPDATE`, PostgreSQL and SQLite
//! `INSERT ... ON CONFLICT (key) DO UPDATE`) and a delete by key. On
//! PostgreSQL every parameter is cast to its column's type, since values
//! travel as the contract's kinds (an unsigned 64-bit value as text into a
//! NUMERIC, a timestamp as text).

use crate::db::keyset::Dialect;
use crate::validate::schema::ColumnInfo;

fn param(dialect: Dialect, n: usize, col: &ColumnInfo) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST(${n} AS {})", col.db_type),
        _ => "?".to_owned(),
    }
}

/// Upsert every column of `cols` (the key first, `key_len` of them).
pub fn upsert(dialect: Dialect, table: &str, cols: &[ColumnInfo], key_len: usize) -> String {
    let q = |c: &ColumnInfo| dialect.quote(&c.name);
    let names: Vec<String> = cols.iter().map(q).collect();
    let params: Vec<String> = cols.iter().enumerate().map(|(i, c)| param(dialect, i + 1, c)).collect();
    let rest = &cols[key_len..];
    let head = format!("INSERT INTO {} ({}) VALUES ({})", dialect.quote(table), names.join(", "), params.join(", "));
    match dialect {
        Dialect::MySql => {
            let set: Vec<String> = if rest.is_empty() {
                vec![format!("{0} = {0}", q(&cols[0]))]
            } else {
                rest.iter().map(|c| format!("{0} = VALUES({0})", q(c))).collect()
            };
            format!("{head} ON DUPLICATE KEY UPDATE {}", set.join(", "))
        }
        _ => {
            let key: Vec<String> = cols[..key_len].iter().map(q).collect();
            if rest.is_empty() {
                return format!("{head} ON CONFLICT ({}) DO NOTHING", key.join(", "));
            }
            let set: Vec<String> = rest.iter().map(|c| format!("{0} = excluded.{0}", q(c))).collect();
            format!("{head} ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), set.join(", "))
        }
    }
}

/// Delete the row with this key.
pub fn delete(dialect: Dialect, table: &str, key: &[ColumnInfo]) -> String {
    let conds: Vec<String> = key.iter().enumerate().map(|(i, c)| format!("{} = {}", dialect.quote(&c.name), param(dialect, i + 1, c))).collect();
    format!("DELETE FROM {} WHERE {}", dialect.quote(table), conds.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::Kind;

    fn col(name: &str, db_type: &str) -> ColumnInfo {
        ColumnInfo { name: name.into(), kind: Kind::Text, db_type: db_type.into(), binary: false, json: false, byte_collation: None }
    }

    #[test]
    fn upserts_and_deletes_take_each_dialects_form() {
        let cols = [col("id", "bigint"), col("u", "numeric(20,0)"), col("j", "jsonb")];
        assert_eq!(
            upsert(Dialect::MySql, "t", &cols, 1),
            "INSERT INTO `t` (`id`, `u`, `j`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `u` = VALUES(`u`), `j` = VALUES(`j`)"
        );
        assert_eq!(
            upsert(Dialect::Postgres, "t", &cols, 1),
            "INSERT INTO \"t\" (\"id\", \"u\", \"j\") VALUES (CAST($1 AS bigint), CAST($2 AS numeric(20,0)), CAST($3 AS jsonb)) \
             ON CONFLICT (\"id\") DO UPDATE SET \"u\" = excluded.\"u\", \"j\" = excluded.\"j\""
        );
        assert!(upsert(Dialect::Sqlite, "t", &cols[..1], 1).ends_with("ON CONFLICT (\"id\") DO NOTHING"));
        assert_eq!(delete(Dialect::Postgres, "s.t", &cols[..2]), "DELETE FROM \"s\".\"t\" WHERE \"id\" = CAST($1 AS bigint) AND \"u\" = CAST($2 AS numeric(20,0))");
    }
}
