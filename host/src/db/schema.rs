//! What a table looks like on one side: its columns in order, the contract
//! kind of each (what a comparator is bound with), which MySQL string
//! columns hold bytes or JSON, and how each key column must be spelled so
//! the database orders it byte-wise, as the host merges it
//! (docs/design/validator-sql-decoding.md section 7).

use super::keyset::{Dialect, OrderCol};
use anyhow::{Context, Result, bail};
use movex_guest::Kind;
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct ColumnInfo {
    pub name: String,
    pub kind: Kind,
    /// The database's own name for the type.
    pub db_type: String,
    /// MySQL: a string column that holds bytes, not text.
    pub binary: bool,
    /// A text column that holds JSON (MariaDB's JSON is LONGTEXT with a
    /// `json_valid` check): read as JSON.
    pub json: bool,
    /// A collation to add so the column orders byte-wise; `None` when it
    /// already does, or is not a string.
    pub byte_collation: Option<String>,
}

impl ColumnInfo {
    /// The column as a scan orders by it.
    pub fn order_col(&self, dialect: Dialect) -> OrderCol {
        let cast = match (dialect, self.kind) {
            (Dialect::Postgres, Kind::Date | Kind::Timestamp | Kind::Time) => Some(self.db_type.clone()),
            _ => None,
        };
        OrderCol { name: self.name.clone(), collate: self.byte_collation.clone(), cast }
    }
}

/// `schema.table` or `table` into (schema, table).
pub(crate) fn split(table: &str) -> (Option<&str>, &str) {
    match table.split_once('.') {
        Some((s, t)) => (Some(s), t),
        None => (None, table),
    }
}

pub(super) async fn mysql(pool: &sqlx::MySqlPool, table: &str) -> Result<Vec<ColumnInfo>> {
    let (schema, name) = split(table);
    let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(pool).await?;
    let mariadb = version.contains("MariaDB");
    let rows = sqlx::query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COLLATION_NAME, CHARACTER_SET_NAME
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?
         ORDER BY ORDINAL_POSITION",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(pool)
    .await
    .context("reading information_schema.COLUMNS")?;
    // MariaDB's JSON columns: LONGTEXT with CHECK (json_valid(`col`)).
    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(CHECK_CLAUSE AS CHAR) FROM information_schema.CHECK_CONSTRAINTS
         WHERE CONSTRAINT_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    rows.iter()
        .map(|r| {
            let text = |i: usize| -> Result<Option<String>> {
                let b: Option<Vec<u8>> = r.try_get_unchecked(i)?;
                Ok(b.map(|b| String::from_utf8_lossy(&b).into_owned()))
            };
            let name = text(0)?.unwrap_or_default();
            let data_type = text(1)?.unwrap_or_default().to_ascii_lowercase();
            let column_type = text(2)?.unwrap_or_default().to_ascii_lowercase();
            let collation = text(3)?;
            let charset = text(4)?;
            let binary = matches!(data_type.as_str(), "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob");
            let json = data_type == "json" || checks.iter().any(|c| c.contains(&format!("json_valid(`{name}`)")));
            let unsigned = column_type.contains("unsigned");
            let kind = match data_type.as_str() {
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" if unsigned => Kind::Uint,
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => Kind::Int,
                "bit" => Kind::Uint,
                "float" | "double" | "real" => Kind::Float,
                "decimal" | "numeric" => Kind::Decimal,
                "date" => Kind::Date,
                "datetime" | "timestamp" => Kind::Timestamp,
                "time" => Kind::Time,
                _ if json => Kind::Json,
                _ if binary => Kind::Bytes,
                "geometry" | "point" | "linestring" | "polygon" => Kind::Bytes,
                _ => Kind::Text,
            };
            // Strings order byte-wise only under a NO PAD binary collation.
            let byte_collation = match (&collation, &charset) {
                (Some(coll), Some(cs)) if kind == Kind::Text || kind == Kind::Json => {
                    let want = if mariadb {
                        format!("{cs}_nopad_bin")
                    } else if cs == "utf8mb4" {
                        "utf8mb4_0900_bin".to_owned()
                    } else {
                        format!("{cs}_bin")
                    };
                    (coll != &want).then_some(want)
                }
                _ => None,
            };
            Ok(ColumnInfo { name, kind, db_type: column_type, binary, json, byte_collation })
        })
        .collect()
}

pub(super) async fn postgres(pool: &sqlx::PgPool, table: &str) -> Result<Vec<ColumnInfo>> {
    let regclass = Dialect::Postgres.quote(table);
    let exists: Option<String> = sqlx::query_scalar("SELECT CAST(to_regclass($1) AS text)")
        .bind(&regclass)
        .fetch_one(pool)
        .await
        .context("looking up the table")?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let db_collate: String =
        sqlx::query_scalar("SELECT CAST(datcollate AS text) FROM pg_database WHERE datname = current_database()")
            .fetch_one(pool)
            .await?;
    let rows = sqlx::query(
        "SELECT CAST(a.attname AS text), format_type(a.atttypid, a.atttypmod), CAST(t.typname AS text),
                CAST(co.collname AS text)
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
         WHERE a.attrelid = CAST($1 AS regclass) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    )
    .bind(&regclass)
    .fetch_all(pool)
    .await
    .context("reading pg_attribute")?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let db_type: String = r.try_get(1)?;
            let typname: String = r.try_get(2)?;
            let collation: Option<String> = r.try_get(3)?;
            let kind = match typname.as_str() {
                "bool" => Kind::Bool,
                "int2" | "int4" | "int8" => Kind::Int,
                "float4" | "float8" => Kind::Float,
                "numeric" => Kind::Decimal,
                "text" | "varchar" | "bpchar" | "name" | "char" | "uuid" => Kind::Text,
                "bytea" => Kind::Bytes,
                "date" => Kind::Date,
                "time" => Kind::Time,
                "timestamp" | "timestamptz" => Kind::Timestamp,
                "json" | "jsonb" => Kind::Json,
                other => bail!(
                    "column {name:?} has type {other}, which has no contract kind: leave it out of the \
                     table's `columns`, or add a generated column that casts it to text"
                ),
            };
            let effective = match collation.as_deref() {
                Some("default") | None => db_collate.as_str(),
                Some(c) => c,
            };
            let byte_collation = (kind == Kind::Text && typname != "uuid" && !matches!(effective, "C" | "POSIX" | "C.UTF-8" | "C.utf8"))
                .then(|| "\"C\"".to_owned());
            Ok(ColumnInfo { name, kind, db_type, binary: false, json: false, byte_collation })
        })
        .collect()
}

pub(super) async fn sqlite(pool: &sqlx::SqlitePool, table: &str) -> Result<Vec<ColumnInfo>> {
    let rows = sqlx::query(&format!("PRAGMA table_info({})", Dialect::Sqlite.quote(table)))
        .fetch_all(pool)
        .await
        .context("reading PRAGMA table_info")?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(1)?;
            let declared: String = r.try_get(2)?;
            let t = declared.to_ascii_uppercase();
            // SQLite's type affinity rules (https://sqlite.org/datatype3.html#determination_of_column_affinity);
            // values are read by storage class, this is only the binding's hint.
            let kind = if t.contains("INT") || t.contains("BOOL") {
                Kind::Int
            } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") || t.contains("DATE") || t.contains("TIME") {
                Kind::Text
            } else if t.contains("BLOB") || t.is_empty() {
                Kind::Bytes
            } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
                Kind::Float
            } else if t.contains("JSON") {
                Kind::Json
            } else {
                Kind::Decimal
            };
            Ok(ColumnInfo { name, kind, db_type: declared, binary: false, json: kind == Kind::Json, byte_collation: None })
        })
        .collect()
}
