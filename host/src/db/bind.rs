//! Binding contract values as query parameters, per driver: what the
//! validator binds for keyset pages and lookups, and what the double-write
//! pool binds for application statements. Dates and times go as their text,
//! which each database converts (PostgreSQL through a `CAST` the query adds).

use movex_guest::{OwnedValue, Value};

/// Text for values bound as strings (dates and times; the SQL casts them).
pub(crate) fn text(v: &OwnedValue) -> String {
    match v {
        OwnedValue::Text(s) | OwnedValue::Decimal(s) | OwnedValue::Json(s) => s.clone(),
        other => other.as_value().to_string(),
    }
}

pub type MyQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;
pub type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
pub type LiteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

pub fn bind_mysql<'q>(q: MyQuery<'q>, v: &OwnedValue) -> MyQuery<'q> {
    match v {
        OwnedValue::Null => q.bind(None::<i64>),
        OwnedValue::Bool(b) => q.bind(*b),
        OwnedValue::Int(i) => q.bind(*i),
        OwnedValue::Uint(u) => q.bind(*u),
        OwnedValue::Float(x) => q.bind(*x),
        OwnedValue::Bytes(b) => q.bind(b.clone()),
        other => q.bind(text(other)),
    }
}

/// PostgreSQL and SQLite have no unsigned 64-bit type: an unsigned value
/// is bound as a signed one when it fits, as text otherwise.
macro_rules! bind_signed_only {
    ($name:ident, $query:ty) => {
        pub fn $name<'q>(q: $query, v: &OwnedValue) -> $query {
            match v {
                OwnedValue::Null => q.bind(None::<i64>),
                OwnedValue::Bool(b) => q.bind(*b),
                OwnedValue::Int(i) => q.bind(*i),
                OwnedValue::Uint(u) => match i64::try_from(*u) {
                    Ok(i) => q.bind(i),
                    Err(_) => q.bind(u.to_string()),
                },
                OwnedValue::Float(x) => q.bind(*x),
                OwnedValue::Bytes(b) => q.bind(b.clone()),
                other => q.bind(text(other)),
            }
        }
    };
}

bind_signed_only!(bind_postgres, PgQuery<'q>);
bind_signed_only!(bind_sqlite, LiteQuery<'q>);


/// PostgreSQL writes whose SQL casts every parameter to its column's type
/// (repair's upserts): every value goes as text, NULL too. sqlx caches a
/// prepared statement per SQL text with the parameter types of its first
/// use, so a column bound as an integer once and as NULL (or text) later
/// must always be bound the same way.
pub fn bind_postgres_as_text<'q>(q: PgQuery<'q>, v: &OwnedValue) -> PgQuery<'q> {
    q.bind(postgres_text(&v.as_value()).map(std::borrow::Cow::into_owned))
}

/// Borrowed values of a page, for writes that copy rows: text and bytes
/// bound in place, dates and times as text.
pub fn bind_value_mysql<'q>(q: MyQuery<'q>, v: &Value<'q>) -> MyQuery<'q> {
    match *v {
        Value::Null => q.bind(None::<i64>),
        Value::Bool(b) => q.bind(b),
        Value::Int(i) => q.bind(i),
        Value::Uint(u) => q.bind(u),
        Value::Float(x) => q.bind(x),
        Value::Bytes(b) => q.bind(b),
        Value::Text(s) | Value::Decimal(s) | Value::Json(s) => q.bind(s),
        other => q.bind(other.to_string()),
    }
}

/// As [`bind_value_mysql`]; an unsigned value past `i64::MAX` as text.
pub fn bind_value_sqlite<'q>(q: LiteQuery<'q>, v: &Value<'q>) -> LiteQuery<'q> {
    match *v {
        Value::Null => q.bind(None::<i64>),
        Value::Bool(b) => q.bind(b),
        Value::Int(i) => q.bind(i),
        Value::Uint(u) => match i64::try_from(u) {
            Ok(i) => q.bind(i),
            Err(_) => q.bind(u.to_string()),
        },
        Value::Float(x) => q.bind(x),
        Value::Bytes(b) => q.bind(b),
        Value::Text(s) | Value::Decimal(s) | Value::Json(s) => q.bind(s),
        other => q.bind(other.to_string()),
    }
}

/// A value as PostgreSQL's text input for its column's type (`None` for
/// NULL): text as it is, bytes as `\x` hex, the rest as the contract prints
/// it.
pub fn postgres_text<'v>(v: &Value<'v>) -> Option<std::borrow::Cow<'v, str>> {
    use std::borrow::Cow;
    Some(match *v {
        Value::Null => return None,
        Value::Text(s) | Value::Decimal(s) | Value::Json(s) => Cow::Borrowed(s),
        Value::Bytes(b) => Cow::Owned(format!("\\x{}", hex::encode(b))),
        other => Cow::Owned(other.to_string()),
    })
}

/// As [`bind_postgres_as_text`], borrowed: every value as text (NULL too)
/// for SQL that casts each parameter to its column's type.
pub fn bind_value_postgres_as_text<'q>(q: PgQuery<'q>, v: &Value<'q>) -> PgQuery<'q> {
    match postgres_text(v) {
        None => q.bind(None::<&str>),
        Some(std::borrow::Cow::Borrowed(s)) => q.bind(s),
        Some(std::borrow::Cow::Owned(s)) => q.bind(s),
    }
}
