//! A statement the application writes through the pool: SQL with `?`
//! placeholders and its parameters as contract values. The same statement
//! runs on both sides, so it is written once; for PostgreSQL the `?`
//! placeholders are renumbered to `$1, $2, ...` (outside quotes and
//! comments). Beyond placeholders the SQL must be valid on both databases.

use crate::db::keyset::Dialect;
use movex_guest::OwnedValue;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<OwnedValueJson>,
}

/// A parameter, kept as the contract value and shown as JSON in the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OwnedValueJson(#[serde(with = "value_serde")] pub OwnedValue);

mod value_serde {
    use movex_guest::OwnedValue;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &OwnedValue, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_some(&crate::db::key::encode(std::slice::from_ref(v))[0])
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OwnedValue, D::Error> {
        let j = serde_json::Value::deserialize(d)?;
        crate::db::key::decode(&serde_json::Value::Array(vec![j]))
            .and_then(|mut v| v.pop())
            .ok_or_else(|| serde::de::Error::custom("not a tagged value"))
    }
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Statement {
        Statement { sql: sql.into(), params: Vec::new() }
    }

    /// Add the next parameter.
    pub fn bind(mut self, v: impl Into<OwnedValue>) -> Statement {
        self.params.push(OwnedValueJson(v.into()));
        self
    }

    pub fn values(&self) -> impl Iterator<Item = &OwnedValue> {
        self.params.iter().map(|p| &p.0)
    }

    /// The parameters as the driver layer binds them.
    pub fn binds(&self) -> Vec<&OwnedValue> {
        self.values().collect()
    }

    /// The SQL as `dialect` takes it.
    pub fn sql_for(&self, dialect: Dialect) -> std::borrow::Cow<'_, str> {
        if dialect != Dialect::Postgres || !self.sql.contains('?') {
            return std::borrow::Cow::Borrowed(&self.sql);
        }
        std::borrow::Cow::Owned(numbered(&self.sql))
    }
}

/// `?` -> `$n`, skipping quoted strings and identifiers and comments.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    // A doubled quote stays inside the literal.
                    if chars.peek() == Some(&q) {
                        out.push(chars.next().expect("peeked"));
                    } else {
                        quote = None;
                    }
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    out.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    out.push(c);
                    for c in chars.by_ref() {
                        out.push(c);
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '?' => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(c),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only_outside_quotes_and_comments() {
        let s = Statement::new("UPDATE t SET a = ?, note = 'why?', \"we?ird\" = ? -- really?\nWHERE id = ?").bind(1).bind(2).bind(3);
        assert_eq!(s.sql_for(Dialect::Postgres), "UPDATE t SET a = $1, note = 'why?', \"we?ird\" = $2 -- really?\nWHERE id = $3");
        assert_eq!(s.sql_for(Dialect::MySql), s.sql);
        assert_eq!(numbered("SELECT 'it''s?', ?"), "SELECT 'it''s?', $1");
    }

    #[test]
    fn statements_show_their_parameters_as_json_and_read_back() {
        let s = Statement::new("INSERT INTO t VALUES (?, ?, ?)").bind(-1i64).bind("x").bind(OwnedValue::Uint(u64::MAX));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#"["int",-1]"#), "{json}");
        let back: Statement = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
