//! The writes repair makes on the target, per dialect: an upsert of the base
//! row (MySQL `INSERT ... ON DUPLICATE KEY UPDATE`, PostgreSQL and SQLite
//! `INSERT ... ON CONFLICT (key) DO UPDATE`) and a delete by key.
//!
//! With an update-time column both are guarded in the statement itself, so
//! an application write that lands between repair's read and its write is
//! never undone: the upsert changes an existing row only if the row's
//! update time is not newer than the one written (`IF(...)` per column on
//! MySQL, the update time assigned last since MySQL assigns left to right;
//! `DO UPDATE ... WHERE` elsewhere), and the delete removes the row only if
//! its update time is still the one repair read.
//!
//! On PostgreSQL every parameter is cast to its column's type, since values
//! travel as the contract's kinds (an unsigned 64-bit value as text into a
//! NUMERIC, a timestamp as text).

use crate::db::keyset::Dialect;
use crate::db::schema::ColumnInfo;

fn param(dialect: Dialect, n: usize, col: &ColumnInfo) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST(${n} AS {})", col.db_type),
        _ => "?".to_owned(),
    }
}

/// The alias PostgreSQL's upsert gives the target table, so its guard can
/// name the existing row whatever the table's (schema-qualified) name.
const ALIAS: &str = "movex_t";

/// Upsert every column of `cols` (the key first, `key_len` of them); with
/// `utime` (an index into `cols`), only over a row that is not newer.
pub fn upsert(dialect: Dialect, table: &str, cols: &[ColumnInfo], key_len: usize, utime: Option<usize>) -> String {
    let q = |c: &ColumnInfo| dialect.quote(&c.name);
    let names: Vec<String> = cols.iter().map(q).collect();
    let params: Vec<String> = cols.iter().enumerate().map(|(i, c)| param(dialect, i + 1, c)).collect();
    let rest: Vec<&ColumnInfo> = cols[key_len..].iter().collect();
    let alias = if dialect == Dialect::Postgres { format!(" AS {ALIAS}") } else { String::new() };
    let head = format!("INSERT INTO {}{alias} ({}) VALUES ({})", dialect.quote(table), names.join(", "), params.join(", "));
    match dialect {
        Dialect::MySql => {
            let set: Vec<String> = match utime.map(|u| &cols[u]) {
                _ if rest.is_empty() => vec![format!("{0} = {0}", q(&cols[0]))],
                None => rest.iter().map(|c| format!("{0} = VALUES({0})", q(c))).collect(),
                Some(u) => {
                    let u = q(u);
                    let newer_or_same = format!("{u} IS NULL OR {u} <= VALUES({u})");
                    let mut set: Vec<String> =
                        rest.iter().map(|c| q(c)).filter(|c| *c != u).map(|c| format!("{c} = IF({newer_or_same}, VALUES({c}), {c})")).collect();
                    set.push(format!("{u} = IF({newer_or_same}, VALUES({u}), {u})"));
                    set
                }
            };
            format!("{head} ON DUPLICATE KEY UPDATE {}", set.join(", "))
        }
        _ => {
            let key: Vec<String> = cols[..key_len].iter().map(q).collect();
            if rest.is_empty() {
                return format!("{head} ON CONFLICT ({}) DO NOTHING", key.join(", "));
            }
            let set: Vec<String> = rest.iter().map(|c| format!("{0} = excluded.{0}", q(c))).collect();
            let guard = match utime.map(|u| q(&cols[u])) {
                None => String::new(),
                Some(u) if dialect == Dialect::Postgres => format!(" WHERE {ALIAS}.{u} IS NULL OR {ALIAS}.{u} <= excluded.{u}"),
                Some(u) => format!(" WHERE {u} IS NULL OR {u} <= excluded.{u}"),
            };
            format!("{head} ON CONFLICT ({}) DO UPDATE SET {}{guard}", key.join(", "), set.join(", "))
        }
    }
}

/// Delete the row with this key; with `utime`, only while its update time
/// is still the one bound after the key (null-safe).
pub fn delete(dialect: Dialect, table: &str, key: &[ColumnInfo], utime: Option<&ColumnInfo>) -> String {
    let mut conds: Vec<String> = key.iter().enumerate().map(|(i, c)| format!("{} = {}", dialect.quote(&c.name), param(dialect, i + 1, c))).collect();
    if let Some(u) = utime {
        let p = param(dialect, key.len() + 1, u);
        let u = dialect.quote(&u.name);
        conds.push(match dialect {
            Dialect::MySql => format!("{u} <=> {p}"),
            Dialect::Postgres => format!("{u} IS NOT DISTINCT FROM {p}"),
            Dialect::Sqlite => format!("{u} IS {p}"),
        });
    }
    format!("DELETE FROM {} WHERE {}", dialect.quote(table), conds.join(" AND "))
}

/// Overwrite the non-key columns of `cols` (the key first, `key_len` of
/// them) of one existing row, only while its update time (`utime`, an index
/// into `cols`) is still the one bound last (null-safe): the guarded write
/// that settles a target row that stayed newer than an unchanged base.
/// Parameters: the non-key values, then the key, then the update time read.
pub fn overwrite(dialect: Dialect, table: &str, cols: &[ColumnInfo], key_len: usize, utime: usize) -> String {
    let mut n = 0;
    let mut next = |c: &ColumnInfo| {
        n += 1;
        param(dialect, n, c)
    };
    let set: Vec<String> = cols[key_len..].iter().map(|c| format!("{} = {}", dialect.quote(&c.name), next(c))).collect();
    let mut conds: Vec<String> = cols[..key_len].iter().map(|c| format!("{} = {}", dialect.quote(&c.name), next(c))).collect();
    let (u, p) = (dialect.quote(&cols[utime].name), next(&cols[utime]));
    conds.push(match dialect {
        Dialect::MySql => format!("{u} <=> {p}"),
        Dialect::Postgres => format!("{u} IS NOT DISTINCT FROM {p}"),
        Dialect::Sqlite => format!("{u} IS {p}"),
    });
    format!("UPDATE {} SET {} WHERE {}", dialect.quote(table), set.join(", "), conds.join(" AND "))
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
            upsert(Dialect::MySql, "t", &cols, 1, None),
            "INSERT INTO `t` (`id`, `u`, `j`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `u` = VALUES(`u`), `j` = VALUES(`j`)"
        );
        assert_eq!(
            upsert(Dialect::Postgres, "t", &cols, 1, None),
            "INSERT INTO \"t\" AS movex_t (\"id\", \"u\", \"j\") VALUES (CAST($1 AS bigint), CAST($2 AS numeric(20,0)), CAST($3 AS jsonb)) \
             ON CONFLICT (\"id\") DO UPDATE SET \"u\" = excluded.\"u\", \"j\" = excluded.\"j\""
        );
        assert!(upsert(Dialect::Sqlite, "t", &cols[..1], 1, None).ends_with("ON CONFLICT (\"id\") DO NOTHING"));
        assert_eq!(
            delete(Dialect::Postgres, "s.t", &cols[..2], None),
            "DELETE FROM \"s\".\"t\" WHERE \"id\" = CAST($1 AS bigint) AND \"u\" = CAST($2 AS numeric(20,0))"
        );
    }

    #[test]
    fn with_an_update_time_the_writes_never_replace_a_newer_row() {
        let cols = [col("id", "bigint"), col("ut", "bigint"), col("v", "text")];
        let my = upsert(Dialect::MySql, "t", &cols, 1, Some(1));
        // Every column is guarded, and the update time is assigned last:
        // MySQL evaluates the assignments in order.
        assert!(my.ends_with(
            "`v` = IF(`ut` IS NULL OR `ut` <= VALUES(`ut`), VALUES(`v`), `v`), `ut` = IF(`ut` IS NULL OR `ut` <= VALUES(`ut`), VALUES(`ut`), `ut`)"
        ), "{my}");
        let pg = upsert(Dialect::Postgres, "s.t", &cols, 1, Some(1));
        assert!(pg.starts_with("INSERT INTO \"s\".\"t\" AS movex_t "), "{pg}");
        assert!(pg.ends_with("WHERE movex_t.\"ut\" IS NULL OR movex_t.\"ut\" <= excluded.\"ut\""), "{pg}");
        assert!(upsert(Dialect::Sqlite, "t", &cols, 1, Some(1)).ends_with("WHERE \"ut\" IS NULL OR \"ut\" <= excluded.\"ut\""));
        assert_eq!(delete(Dialect::MySql, "t", &cols[..1], Some(&cols[1])), "DELETE FROM `t` WHERE `id` = ? AND `ut` <=> ?");
        assert_eq!(
            delete(Dialect::Postgres, "t", &cols[..1], Some(&cols[1])),
            "DELETE FROM \"t\" WHERE \"id\" = CAST($1 AS bigint) AND \"ut\" IS NOT DISTINCT FROM CAST($2 AS bigint)"
        );
        assert_eq!(delete(Dialect::Sqlite, "t", &cols[..1], Some(&cols[1])), "DELETE FROM \"t\" WHERE \"id\" = ? AND \"ut\" IS ?");
    }

    #[test]
    fn an_overwrite_changes_the_row_only_while_its_update_time_is_the_one_read() {
        let cols = [col("id", "bigint"), col("ut", "bigint"), col("v", "text")];
        assert_eq!(overwrite(Dialect::MySql, "t", &cols, 1, 1), "UPDATE `t` SET `ut` = ?, `v` = ? WHERE `id` = ? AND `ut` <=> ?");
        assert_eq!(
            overwrite(Dialect::Postgres, "t", &cols, 1, 1),
            "UPDATE \"t\" SET \"ut\" = CAST($1 AS bigint), \"v\" = CAST($2 AS text) WHERE \"id\" = CAST($3 AS bigint) \
             AND \"ut\" IS NOT DISTINCT FROM CAST($4 AS bigint)"
        );
    }
}
