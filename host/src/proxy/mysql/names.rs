//! Database names written in the SQL. The application knows one name for
//! its database (the source URL's); the destination's may differ. The
//! session's default database is mapped at login and on `USE`; a name
//! written in a statement (`INSERT INTO shop.t ...`, `CREATE PROCEDURE
//! shop.p ...`) is mapped here, before the statement goes to the
//! destination, so it never writes to another database of the same name
//! there, or fails for lack of one.
//!
//! A statement is scanned as MySQL reads it (quoted strings, backquoted
//! names, comments, and executable comments `/*! ... */`, which run), and
//! every name followed by a dot — a qualified name's first part — that is
//! the application's database becomes the side's. When the same word also
//! stands elsewhere in the statement (alone, or after a dot: a table or
//! alias of that name, as in `shop.shop` or `SELECT shop.id FROM shop`)
//! the scan cannot tell a database from a table without the schema, and
//! the statement is refused with [`Ambiguous`] rather than risk either
//! mistake. A name where only a database can stand is mapped too: after
//! `DATABASE` or `SCHEMA` (`CREATE`/`DROP`/`ALTER DATABASE [IF [NOT]
//! EXISTS] shop`), so a test suite that drops and makes its database again
//! does so on the destination under the destination's name.

use std::borrow::Cow;

/// A statement where the application's database name is both a
/// qualifier and something else: refused, never guessed at.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "movex cannot map the database name `{0}` in this statement to the destination's: `{0}` is used both as a database qualifier \
     and as another name (a table or alias called `{0}`?); write the table names without the database, or rename the table or alias"
)]
pub struct Ambiguous(pub String);

/// One name in a statement: where its text is, and what it says.
struct Name {
    at: std::ops::Range<usize>,
    value: String,
    /// A dot comes right before it / right after it (whitespace allowed,
    /// as MySQL allows).
    after_dot: bool,
    before_dot: bool,
    /// Written in backquotes: a name, never a keyword.
    quoted: bool,
}

impl Name {
    /// This unquoted word, as a keyword (any case).
    fn is(&self, keyword: &str) -> bool {
        !self.quoted && !self.after_dot && !self.before_dot && self.value.eq_ignore_ascii_case(keyword)
    }
}

/// Whether `names[i]` stands where only a database name can: right after
/// `DATABASE`/`SCHEMA`, or after their `IF EXISTS` / `IF NOT EXISTS`
/// (whitespace between, nothing else: `DATABASE(), shop` is a call).
fn names_a_database(sql: &[u8], names: &[Name], i: usize) -> bool {
    let before = |k: usize| i.checked_sub(k).map(|j| &names[j]).filter(|n| only_space(sql, n.at.end, names[i + 1 - k].at.start));
    let keyword = |n: Option<&Name>| n.is_some_and(|n| n.is("DATABASE") || n.is("SCHEMA"));
    let n = &names[i];
    if n.after_dot || n.before_dot {
        return false;
    }
    let exists = before(1).is_some_and(|n| n.is("EXISTS"));
    keyword(before(1))
        || (exists && before(2).is_some_and(|n| n.is("IF")) && keyword(before(3)))
        || (exists && before(2).is_some_and(|n| n.is("NOT")) && before(3).is_some_and(|n| n.is("IF")) && keyword(before(4)))
}

/// `sql` with every database qualifier `from` written as `to`.
pub fn map<'a>(sql: &'a str, from: &str, to: &str) -> Result<Cow<'a, str>, Ambiguous> {
    if from == to || !sql.contains(from) {
        return Ok(Cow::Borrowed(sql));
    }
    let names = scan(sql);
    let ours: Vec<(usize, &Name)> = names.iter().enumerate().filter(|(_, n)| n.value == from).collect();
    let (qualifiers, others): (Vec<_>, Vec<_>) =
        ours.into_iter().partition(|&(i, n)| (n.before_dot && !n.after_dot) || names_a_database(sql.as_bytes(), &names, i));
    if qualifiers.is_empty() {
        return Ok(Cow::Borrowed(sql));
    }
    if !others.is_empty() {
        return Err(Ambiguous(from.to_owned()));
    }
    let quoted = format!("`{}`", to.replace('`', "``"));
    let mut out = String::with_capacity(sql.len() + qualifiers.len() * quoted.len());
    let mut last = 0;
    for (_, q) in qualifiers {
        out.push_str(&sql[last..q.at.start]);
        out.push_str(&quoted);
        last = q.at.end;
    }
    out.push_str(&sql[last..]);
    Ok(Cow::Owned(out))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The names in `sql`, in order, each with whether a dot is next to it.
fn scan(sql: &str) -> Vec<Name> {
    let b = sql.as_bytes();
    let mut names: Vec<Name> = Vec::new();
    // Whether the last token was a dot.
    let mut dot = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                i = skip_quoted(b, i, c);
                dot = false;
            }
            b'`' => {
                let end = skip_quoted(b, i, b'`');
                let inner = &sql[i + 1..end.saturating_sub(1).max(i + 1)];
                names.push(Name { at: i..end, value: inner.replace("``", "`"), after_dot: dot, before_dot: false, quoted: true });
                i = end;
                dot = false;
            }
            b'#' => i = skip_line(b, i),
            b'-' if b.get(i + 1) == Some(&b'-') && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // `/*! ... */` and `/*M! ... */` run: read on inside them
                // (their closing `*/` is punctuation below).
                let rest = &b[i + 2..];
                let exec = rest.first() == Some(&b'!') || rest.starts_with(b"M!");
                if exec {
                    i += 2 + if rest[0] == b'M' { 2 } else { 1 };
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                }
            }
            b'.' => {
                if let Some(last) = names.last_mut().filter(|_| !dot) {
                    last.before_dot |= only_space(b, last.at.end, i);
                }
                dot = true;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            c if is_name_byte(c) => {
                let start = i;
                while i < b.len() && is_name_byte(b[i]) {
                    i += 1;
                }
                // A number (`1.5`, `1e3`) is not a name.
                if !b[start].is_ascii_digit() || !sql[start..i].bytes().all(|c| c.is_ascii_digit() || c == b'e' || c == b'E') {
                    names.push(Name { at: start..i, value: sql[start..i].to_owned(), after_dot: dot, before_dot: false, quoted: false });
                }
                dot = false;
            }
            _ => {
                dot = false;
                i += 1;
            }
        }
    }
    names
}

/// Whether only whitespace lies between `from` and `to`.
fn only_space(b: &[u8], from: usize, to: usize) -> bool {
    from <= to && b[from..to].iter().all(u8::is_ascii_whitespace)
}

/// The end of a quoted string or name opened at `i` by `q` (doubled `q`
/// and, in strings, backslash escapes stay inside).
fn skip_quoted(b: &[u8], mut i: usize, q: u8) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' if q != b'`' => i += 2,
            c if c == q && b.get(i + 1) == Some(&q) => i += 2,
            c if c == q => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_line(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |e| i + e + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(sql: &str) -> Result<String, Ambiguous> {
        map(sql, "shop", "shop_v2").map(Cow::into_owned)
    }

    #[test]
    fn qualified_names_of_the_application_database_are_mapped() {
        assert_eq!(m("INSERT INTO shop.t VALUES (1)").unwrap(), "INSERT INTO `shop_v2`.t VALUES (1)");
        assert_eq!(m("UPDATE `shop`.`t` SET v = 1").unwrap(), "UPDATE `shop_v2`.`t` SET v = 1");
        assert_eq!(m("CREATE PROCEDURE shop.p() INSERT INTO shop . t VALUES (2)").unwrap(), "CREATE PROCEDURE `shop_v2`.p() INSERT INTO `shop_v2` . t VALUES (2)");
        assert_eq!(m("/*!50001 CREATE VIEW shop.v AS SELECT 1 */").unwrap(), "/*!50001 CREATE VIEW `shop_v2`.v AS SELECT 1 */");
        assert_eq!(m("INSERT INTO shop.t SELECT * FROM other.t").unwrap(), "INSERT INTO `shop_v2`.t SELECT * FROM other.t");
    }

    #[test]
    fn a_database_named_after_database_or_schema_is_mapped() {
        assert_eq!(m("CREATE DATABASE shop").unwrap(), "CREATE DATABASE `shop_v2`");
        assert_eq!(m("drop schema if exists `shop`").unwrap(), "drop schema if exists `shop_v2`");
        assert_eq!(m("CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4").unwrap(), "CREATE DATABASE IF NOT EXISTS `shop_v2` CHARACTER SET utf8mb4");
        assert_eq!(m("ALTER DATABASE shop COLLATE utf8mb4_bin").unwrap(), "ALTER DATABASE `shop_v2` COLLATE utf8mb4_bin");
        assert_eq!(m("CREATE DATABASE shopping").unwrap(), "CREATE DATABASE shopping");
        assert_eq!(m("CREATE TABLE `database` (shop INT)").unwrap(), "CREATE TABLE `database` (shop INT)", "a column is not a database");
        assert_eq!(m("CREATE TABLE t (`database` INT, shop INT)").unwrap(), "CREATE TABLE t (`database` INT, shop INT)", "a quoted `database` is no keyword");
        assert_eq!(m("SELECT DATABASE(), shop FROM t").unwrap(), "SELECT DATABASE(), shop FROM t");
        assert_eq!(m("DROP DATABASE shop; CREATE TABLE shop.t (id INT)").unwrap(), "DROP DATABASE `shop_v2`; CREATE TABLE `shop_v2`.t (id INT)");
    }

    #[test]
    fn strings_comments_and_other_names_are_left_alone() {
        for sql in [
            "INSERT INTO t VALUES ('shop.t')",
            "INSERT INTO t VALUES (\"it's shop.t\")",
            "INSERT INTO t VALUES (1) -- shop.t\n",
            "INSERT INTO t VALUES (1) /* shop.t */",
            "INSERT INTO shopping.t VALUES (1)",
            "INSERT INTO myshop.t VALUES (1)",
            "INSERT INTO shop VALUES (1)",
            "SELECT 1.5 FROM t",
        ] {
            assert_eq!(m(sql).unwrap(), sql);
        }
        assert_eq!(map("INSERT INTO shop.t VALUES (1)", "shop", "shop").unwrap(), "INSERT INTO shop.t VALUES (1)", "the same name");
    }

    #[test]
    fn a_table_or_alias_named_like_the_database_makes_it_ambiguous() {
        for sql in ["INSERT INTO shop.shop VALUES (1)", "SELECT shop.id FROM shop FOR UPDATE", "UPDATE shop.t JOIN shop ON 1 SET v = 1"] {
            assert_eq!(m(sql), Err(Ambiguous("shop".into())), "{sql}");
        }
    }
}
