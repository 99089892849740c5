//! `--create-tables`: the destination table made from the source's columns
//! and key, for a copy into a database that does not have it yet. Between
//! databases of one kind each column keeps its type as the source spells it;
//! across kinds the type map below applies. Only the columns, their types
//! and the primary key are made: secondary indexes, defaults, checks and
//! foreign keys are left to the operator (`--dry-run` prints the DDL to
//! start from).
//!
//! | source (MySQL/MariaDB) | PostgreSQL | SQLite |
//! |---|---|---|
//! | `tinyint`, `smallint`, `year` | `smallint` | `INTEGER` |
//! | `mediumint`, `int` | `integer` (`bigint` if unsigned) | `INTEGER` |
//! | `bigint` | `bigint` (`numeric(20)` if unsigned) | `INTEGER` (`TEXT` if unsigned) |
//! | `decimal(p,s)` | `numeric(p,s)` | `TEXT` (exact) |
//! | `float`, `double` | `real`, `double precision` | `REAL` |
//! | `char(n)`, `varchar(n)` | `char(n)`, `varchar(n)` | `TEXT` |
//! | `*text`, `enum`, `set` | `text` | `TEXT` |
//! | `binary`, `varbinary`, `*blob`, `bit` | `bytea` | `BLOB` |
//! | `date` | `date` | `TEXT` |
//! | `datetime(p)`, `timestamp(p)` | `timestamp(p)` | `TEXT` |
//! | `time(p)` | `interval` (MySQL's spans ±838 hours) | `TEXT` |
//! | `json` | `jsonb` | `TEXT` |
//!
//! | source (PostgreSQL) | MySQL/MariaDB | SQLite |
//! |---|---|---|
//! | `smallint`, `integer`, `bigint` | the same | `INTEGER` |
//! | `boolean` | `tinyint(1)` | `INTEGER` |
//! | `numeric(p,s)` | `decimal(p,s)` (`decimal(65,30)` unconstrained) | `TEXT` |
//! | `real`, `double precision` | `float`, `double` | `REAL` |
//! | `character varying(n)`, `character(n)` | `varchar(n)`, `char(n)` | `TEXT` |
//! | `text`, `uuid` | `longtext` (`varchar(255)` in a key), `char(36)` | `TEXT` |
//! | `bytea` | `longblob` (`varbinary(255)` in a key) | `BLOB` |
//! | `date`, `time(p)`, `timestamp(p)`, `timestamptz` | `date`, `time(p)`, `datetime(p)`, `datetime(6)` (UTC) | `TEXT` |
//! | `json`, `jsonb` | `json` | `TEXT` |
//!
//! From SQLite, by each column's kind: integers `bigint`, reals `double`,
//! text `text` (`varchar(255)` in a MySQL key), blobs `bytea`/`longblob`.

use crate::db::keyset::Dialect;
use crate::db::schema::ColumnInfo;
use anyhow::{Result, bail};
use movex_guest::Kind;

/// `CREATE TABLE` for `table` on `to`, from the source's `cols` (on
/// `from`), the first `key_len` of them the primary key.
pub fn create_table(from: Dialect, to: Dialect, table: &str, cols: &[ColumnInfo], key_len: usize) -> Result<String> {
    let mut lines = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        let key = i < key_len;
        let ty = column_type(from, to, c, key)?;
        lines.push(format!("{} {ty}{}", to.quote(&c.name), if key { " NOT NULL" } else { "" }));
    }
    let key: Vec<String> = cols[..key_len].iter().map(|c| to.quote(&c.name)).collect();
    lines.push(format!("PRIMARY KEY ({})", key.join(", ")));
    Ok(format!("CREATE TABLE {} (\n  {}\n)", to.quote(table), lines.join(",\n  ")))
}

/// The destination's type for one column.
fn column_type(from: Dialect, to: Dialect, c: &ColumnInfo, key: bool) -> Result<String> {
    let t = c.db_type.to_ascii_lowercase();
    if from == to {
        return Ok(c.db_type.clone());
    }
    let args = t.find('(').map(|i| &t[i..t.find(')').map_or(t.len(), |j| j + 1)]).unwrap_or("");
    let unsigned = t.contains("unsigned");
    let base = t.split(['(', ' ']).next().unwrap_or("");
    Ok(match (from, to) {
        (Dialect::MySql, Dialect::Postgres) => match base {
            "tinyint" | "smallint" | "year" => "smallint".into(),
            "mediumint" | "int" | "integer" if unsigned => "bigint".into(),
            "mediumint" | "int" | "integer" => "integer".into(),
            "bigint" if unsigned => "numeric(20)".into(),
            "bigint" => "bigint".into(),
            "decimal" | "numeric" => format!("numeric{args}"),
            "float" => "real".into(),
            "double" | "real" => "double precision".into(),
            "char" => format!("char{args}"),
            "varchar" => format!("varchar{args}"),
            "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => "text".into(),
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => "bytea".into(),
            "date" => "date".into(),
            "datetime" | "timestamp" => format!("timestamp{args}"),
            "time" => "interval".into(),
            "json" => "jsonb".into(),
            _ => bail!("column {:?}: no PostgreSQL type for MySQL's {:?}; create the table yourself", c.name, c.db_type),
        },
        (Dialect::Postgres, Dialect::MySql) => match base {
            "smallint" | "integer" | "bigint" => base.into(),
            "boolean" => "tinyint(1)".into(),
            "numeric" if args.is_empty() => "decimal(65,30)".into(),
            "numeric" => format!("decimal{args}"),
            "real" => "float".into(),
            "double" => "double".into(),
            "character" if t.starts_with("character varying") => format!("varchar{args}"),
            "character" => format!("char{args}"),
            "text" if key => "varchar(255)".into(),
            "text" => "longtext".into(),
            "uuid" => "char(36)".into(),
            "bytea" if key => "varbinary(255)".into(),
            "bytea" => "longblob".into(),
            "date" => "date".into(),
            "time" => format!("time{}", if args.is_empty() { "(6)" } else { args }),
            "timestamp" if t.contains("with time zone") => "datetime(6)".into(),
            "timestamp" => format!("datetime{}", if args.is_empty() { "(6)" } else { args }),
            "json" | "jsonb" => "json".into(),
            _ => bail!("column {:?}: no MySQL type for PostgreSQL's {:?}; create the table yourself", c.name, c.db_type),
        },
        (_, Dialect::Sqlite) => match c.kind {
            Kind::Int | Kind::Bool => "INTEGER",
            Kind::Uint if t.contains("bigint") || base == "numeric" => "TEXT",
            Kind::Uint => "INTEGER",
            Kind::Float => "REAL",
            Kind::Bytes => "BLOB",
            _ => "TEXT",
        }
        .into(),
        (Dialect::Sqlite, _) => match (c.kind, to) {
            (Kind::Int | Kind::Uint | Kind::Bool, _) => "bigint".into(),
            (Kind::Float, Dialect::Postgres) => "double precision".into(),
            (Kind::Float, _) => "double".into(),
            (Kind::Bytes, Dialect::Postgres) => "bytea".into(),
            (Kind::Bytes, _) if key => "varbinary(255)".into(),
            (Kind::Bytes, _) => "longblob".into(),
            (_, Dialect::MySql) if key => "varchar(255)".into(),
            (_, Dialect::MySql) => "longtext".into(),
            _ => "text".into(),
        },
        _ => unreachable!("same dialect handled above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, kind: Kind, db_type: &str) -> ColumnInfo {
        ColumnInfo { name: name.into(), kind, db_type: db_type.into(), binary: false, json: false, byte_collation: None }
    }

    #[test]
    fn mysql_types_map_to_postgres_without_loss() {
        let cols = [
            col("region", Kind::Text, "varchar(8)"),
            col("id", Kind::Int, "bigint(20)"),
            col("u", Kind::Uint, "bigint(20) unsigned"),
            col("d", Kind::Decimal, "decimal(65,30)"),
            col("dt", Kind::Timestamp, "datetime(6)"),
            col("j", Kind::Json, "json"),
            col("b", Kind::Bytes, "varbinary(16)"),
        ];
        assert_eq!(
            create_table(Dialect::MySql, Dialect::Postgres, "items", &cols, 2).unwrap(),
            "CREATE TABLE \"items\" (\n  \"region\" varchar(8) NOT NULL,\n  \"id\" bigint NOT NULL,\n  \"u\" numeric(20),\n  \
             \"d\" numeric(65,30),\n  \"dt\" timestamp(6),\n  \"j\" jsonb,\n  \"b\" bytea,\n  PRIMARY KEY (\"region\", \"id\")\n)"
        );
        let sqlite = create_table(Dialect::MySql, Dialect::Sqlite, "items", &cols, 2).unwrap();
        assert!(sqlite.contains("\"u\" TEXT") && sqlite.contains("\"id\" INTEGER NOT NULL") && sqlite.contains("\"b\" BLOB"), "{sqlite}");
    }

    #[test]
    fn postgres_types_map_to_mysql_with_keys_mysql_can_index() {
        let cols = [col("k", Kind::Text, "text"), col("n", Kind::Decimal, "numeric"), col("at", Kind::Timestamp, "timestamp with time zone")];
        let ddl = create_table(Dialect::Postgres, Dialect::MySql, "t", &cols, 1).unwrap();
        assert!(ddl.contains("`k` varchar(255) NOT NULL") && ddl.contains("`n` decimal(65,30)") && ddl.contains("`at` datetime(6)"), "{ddl}");
    }

    #[test]
    fn the_same_kind_of_database_keeps_the_types_and_an_unknown_type_is_named() {
        let cols = [col("id", Kind::Int, "bigint(20) unsigned")];
        assert!(create_table(Dialect::MySql, Dialect::MySql, "t", &cols, 1).unwrap().contains("`id` bigint(20) unsigned NOT NULL"));
        let odd = [col("id", Kind::Int, "int"), col("g", Kind::Bytes, "geometry")];
        let err = create_table(Dialect::MySql, Dialect::Postgres, "t", &odd, 1).unwrap_err().to_string();
        assert!(err.contains("\"g\"") && err.contains("geometry"), "{err}");
    }
}
