//! What a statement is, for routing: a read (the primary only), a session
//! setting (both sides, replayed on a reconnected side), transaction
//! control, or a write (both sides by the pattern). A query string may hold
//! several statements; it is tokenized by `sqlparser` (PostgreSQL's quoting,
//! dollar quotes and comments) and split at its semicolons.
//!
//! Plain reads never reach the secondary, in a transaction or not: the
//! writes that follow carry their values. Locking reads (`FOR UPDATE`,
//! `FOR SHARE`...) and reads that change something (`nextval`, `SELECT
//! INTO`, data-modifying `WITH`) are writes.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer, Word};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    /// SET, RESET, DISCARD, PREPARE, DEALLOCATE: on both sides, replayed
    /// on a side that reconnects.
    Session,
    Begin,
    Commit,
    Rollback,
    /// SAVEPOINT, RELEASE, ROLLBACK TO: on both sides, in the transaction.
    Savepoint,
    Write,
}

impl Kind {
    /// Whether the secondary gets it.
    pub fn both(self) -> bool {
        self != Kind::Read
    }
}

/// One statement of a query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub kind: Kind,
    /// `COPY ... FROM STDIN`: the client streams rows after the answer.
    pub copy_in: bool,
    /// It calls a function whose value each side would make differently
    /// (now(), random(), nextval(), gen_random_uuid()...).
    pub volatile: bool,
    /// INSERT, UPDATE or COPY: the table written (as written, maybe qualified),
    /// and whether the statement has its own RETURNING.
    pub target: Option<Target>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub verb: Verb,
    pub table: String,
    pub returning: bool,
    /// INSERT ... ON CONFLICT.
    pub on_conflict: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Insert,
    Update,
    /// COPY ... FROM STDIN.
    Copy,
}

/// Functions whose value differs between the two sides.
const VOLATILE: &[&str] = &[
    "now",
    "random",
    "nextval",
    "setval",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "txid_current",
    "pg_backend_pid",
    "inet_client_addr",
];

/// Keywords that read the clock without parentheses.
const CLOCK_WORDS: &[Keyword] = &[Keyword::CURRENT_TIMESTAMP, Keyword::CURRENT_DATE, Keyword::CURRENT_TIME, Keyword::LOCALTIME, Keyword::LOCALTIMESTAMP];

/// The statements of `sql`, classified. A string the tokenizer cannot read
/// is one write (the server says what is wrong with it).
pub fn classify(sql: &str) -> Vec<Class> {
    let tokens = match Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() {
        Ok(t) => t,
        Err(_) => return vec![Class { kind: Kind::Write, copy_in: false, volatile: true, target: None }],
    };
    let words: Vec<Token> = tokens.into_iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    words.split(|t| *t == Token::SemiColon).filter(|s| !s.is_empty()).map(statement).collect()
}

fn word(t: &Token) -> Option<&Word> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w),
        _ => None,
    }
}

fn kw(t: Option<&Token>) -> Keyword {
    t.and_then(word).map_or(Keyword::NoKeyword, |w| w.keyword)
}

fn has(ts: &[Token], k: Keyword) -> bool {
    ts.iter().any(|t| kw(Some(t)) == k)
}

fn statement(ts: &[Token]) -> Class {
    let volatile = ts.iter().enumerate().any(|(i, t)| match word(t) {
        Some(w) if CLOCK_WORDS.contains(&w.keyword) => true,
        Some(w) => ts.get(i + 1) == Some(&Token::LParen) && VOLATILE.iter().any(|f| w.value.eq_ignore_ascii_case(f)),
        None => false,
    });
    let first = ts.iter().position(|t| *t != Token::LParen).map_or(&ts[..0], |i| &ts[i..]);
    let (mut copy_in, mut target) = (false, None);
    let kind = match kw(first.first()) {
        Keyword::SELECT | Keyword::VALUES | Keyword::TABLE | Keyword::WITH => {
            let locking = first.windows(2).any(|w| kw(Some(&w[0])) == Keyword::FOR && matches!(kw(Some(&w[1])), Keyword::UPDATE | Keyword::SHARE | Keyword::NO | Keyword::KEY));
            let modifying = [Keyword::INSERT, Keyword::UPDATE, Keyword::DELETE, Keyword::MERGE, Keyword::INTO].iter().any(|k| has(first, *k));
            if locking || modifying || volatile { Kind::Write } else { Kind::Read }
        }
        Keyword::SHOW | Keyword::FETCH | Keyword::LISTEN | Keyword::UNLISTEN | Keyword::DECLARE | Keyword::CLOSE => Kind::Read,
        Keyword::EXPLAIN if !has(first, Keyword::ANALYZE) => Kind::Read,
        Keyword::SET | Keyword::RESET | Keyword::DISCARD | Keyword::DEALLOCATE => Kind::Session,
        Keyword::PREPARE if kw(first.get(1)) != Keyword::TRANSACTION => Kind::Session,
        Keyword::BEGIN | Keyword::START => Kind::Begin,
        Keyword::COMMIT | Keyword::END => Kind::Commit,
        Keyword::ROLLBACK | Keyword::ABORT if !has(first, Keyword::TO) => Kind::Rollback,
        Keyword::ROLLBACK | Keyword::SAVEPOINT | Keyword::RELEASE => Kind::Savepoint,
        Keyword::COPY => {
            let from = first.iter().position(|t| kw(Some(t)) == Keyword::FROM);
            match from {
                Some(i) => {
                    copy_in = kw(first.get(i + 1)) == Keyword::STDIN;
                    target = dml_target(first, Verb::Copy);
                    Kind::Write
                }
                None => Kind::Read,
            }
        }
        Keyword::INSERT => {
            target = dml_target(first, Verb::Insert);
            Kind::Write
        }
        Keyword::UPDATE => {
            target = dml_target(first, Verb::Update);
            Kind::Write
        }
        _ => Kind::Write,
    };
    Class { kind, copy_in, volatile, target }
}

/// The table of `INSERT INTO t` or `UPDATE [ONLY] t`, as written.
fn dml_target(ts: &[Token], verb: Verb) -> Option<Target> {
    let mut i = match verb {
        Verb::Insert => ts.iter().position(|t| kw(Some(t)) == Keyword::INTO)? + 1,
        Verb::Update | Verb::Copy => 1,
    };
    if kw(ts.get(i)) == Keyword::ONLY {
        i += 1;
    }
    let mut table = String::new();
    loop {
        match ts.get(i)? {
            Token::Word(w) => match w.quote_style {
                Some(q) => table.push_str(&format!("{q}{}{q}", w.value.replace(q, &format!("{q}{q}")))),
                None => table.push_str(&w.value),
            },
            _ => return None,
        }
        if ts.get(i + 1) != Some(&Token::Period) {
            break;
        }
        table.push('.');
        i += 2;
    }
    Some(Target { verb, table, returning: has(ts, Keyword::RETURNING), on_conflict: has(ts, Keyword::CONFLICT) })
}

/// Whether a query must be read even with one side in the pattern: it
/// may be a session setting (replayed when the other side joins) or a COPY
/// (streamed by its own path), or hold several statements. Reads the
/// bytes as they came (no UTF-8 check): the first word, and a `;` before
/// the end. A COPY is a statement of its own, so it is a first word or
/// follows a `;`; a query that starts with anything but a word (a comment)
/// is read whole.
pub fn matters_alone(sql: &[u8]) -> bool {
    let start = sql.iter().position(|&c| !(c.is_ascii_whitespace() || c == b'(')).unwrap_or(sql.len());
    let first = sql[start..].split(|c| !c.is_ascii_alphabetic()).next().unwrap_or_default();
    let read = ["SET", "RESET", "DISCARD", "PREPARE", "DEALLOCATE", "COPY"].iter().any(|k| first.eq_ignore_ascii_case(k.as_bytes()));
    if read || first.is_empty() {
        return true;
    }
    // The statement's end: trailing white space, then trailing `;`s.
    let mut end = sql.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |i| i + 1);
    while end > 0 && sql[end - 1] == b';' {
        end -= 1;
    }
    memchr::memchr(b';', &sql[..end]).is_some()
}

/// A `BEGIN` that cannot fail on its own: `BEGIN`, `BEGIN WORK`, `BEGIN
/// TRANSACTION` or `START TRANSACTION`, in any case, with white space and
/// trailing `;`s, and nothing else (no isolation level or access mode, no
/// comment). Its command tag as PostgreSQL gives it.
pub fn plain_begin(sql: &[u8]) -> Option<&'static str> {
    // Looked at for every query of a one-side pattern: no allocation, and
    // nothing longer than a BEGIN with some white space is read.
    if sql.len() > 64 {
        return None;
    }
    let mut end = sql.len();
    while end > 0 && (sql[end - 1].is_ascii_whitespace() || sql[end - 1] == b';') {
        end -= 1;
    }
    let mut words = sql[..end].split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
    let (a, b, c) = (words.next(), words.next(), words.next());
    let is = |w: Option<&[u8]>, k: &str| w.is_some_and(|w| w.eq_ignore_ascii_case(k.as_bytes()));
    if c.is_some() {
        None
    } else if is(a, "BEGIN") && (b.is_none() || is(b, "WORK") || is(b, "TRANSACTION")) {
        Some("BEGIN")
    } else if is(a, "START") && is(b, "TRANSACTION") {
        Some("START TRANSACTION")
    } else {
        None
    }
}

/// The strongest kind among a query string's statements.
pub fn kind_of(classes: &[Class]) -> Kind {
    // The strongest: a write anywhere makes the whole string a write.
    let rank = |k: Kind| match k {
        Kind::Read => 0,
        Kind::Session => 1,
        _ => 2,
    };
    classes.iter().map(|c| c.kind).max_by_key(|k| rank(*k)).unwrap_or(Kind::Read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<Kind> {
        classify(sql).into_iter().map(|c| c.kind).collect()
    }

    #[test]
    fn reads_writes_and_settings() {
        assert_eq!(kinds("SELECT 1"), [Kind::Read]);
        assert_eq!(kinds("  (select * from t)"), [Kind::Read]);
        assert_eq!(kinds("SELECT * FROM t FOR UPDATE"), [Kind::Write]);
        assert_eq!(kinds("select nextval('s')"), [Kind::Write]);
        assert_eq!(kinds("SELECT * INTO t2 FROM t"), [Kind::Write]);
        assert_eq!(kinds("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x"), [Kind::Write]);
        assert_eq!(kinds("SET search_path = a; BEGIN; INSERT INTO t VALUES (1); COMMIT"), [Kind::Session, Kind::Begin, Kind::Write, Kind::Commit]);
        assert_eq!(kinds("ROLLBACK TO SAVEPOINT a; ROLLBACK"), [Kind::Savepoint, Kind::Rollback]);
        assert_eq!(kinds("SELECT ';' AS x; SELECT $$;$$"), [Kind::Read, Kind::Read]);
        assert_eq!(kinds("-- a; comment\nSHOW x"), [Kind::Read]);
        assert_eq!(kinds("EXPLAIN ANALYZE DELETE FROM t"), [Kind::Write]);
    }

    #[test]
    fn what_one_side_still_reads() {
        assert!(!matters_alone(b"UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 7"));
        assert!(!matters_alone(b"BEGIN;"));
        assert!(!matters_alone(b"(SELECT 1) ;; \n"));
        // "copy" elsewhere than as a statement's first word is no COPY.
        assert!(!matters_alone(b"SELECT recopy, \"COPY\" FROM copy_log"));
        // Anything it cannot tell at a glance is read whole: a `;` inside a
        // string, a first word that is not ASCII.
        for sql in ["SET search_path = a", "  reset all", "discard all", "COPY t FROM STDIN", "SELECT 1; COPY t FROM STDIN", "-- comment\nCOPY t FROM STDIN", "SELECT 'a;b'", "\u{a0}SET x = 1", ""] {
            assert!(matters_alone(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn a_plain_begin_is_told_from_one_that_could_fail() {
        for (sql, tag) in [("BEGIN;", "BEGIN"), ("begin", "BEGIN"), (" Begin Work ;; \n", "BEGIN"), ("BEGIN\tTRANSACTION", "BEGIN"), ("start transaction;", "START TRANSACTION")] {
            assert_eq!(plain_begin(sql.as_bytes()), Some(tag), "{sql}");
        }
        for sql in ["BEGIN ISOLATION LEVEL SERIALIZABLE", "START TRANSACTION READ ONLY", "BEGIN; SELECT 1", "-- c\nBEGIN", "BEGINS", "START", "BEGIN WORK WORK", "", ";"] {
            assert_eq!(plain_begin(sql.as_bytes()), None, "{sql}");
        }
    }

    #[test]
    fn copy_and_generated_values() {
        let c = &classify("COPY t (a, b) FROM STDIN WITH (FORMAT csv)")[0];
        assert!(c.copy_in && c.kind == Kind::Write && c.target.as_ref().unwrap().table == "t");
        assert_eq!(classify("COPY t TO STDOUT")[0].kind, Kind::Read);
        let c = &classify("INSERT INTO app.\"Orders\" (at) VALUES (now()) RETURNING id")[0];
        assert!(c.volatile);
        assert_eq!(c.target, Some(Target { verb: Verb::Insert, table: "app.\"Orders\"".into(), returning: true, on_conflict: false }));
        let c = &classify("UPDATE ONLY t SET at = CURRENT_TIMESTAMP WHERE id = $1")[0];
        assert!(c.volatile && c.target.as_ref().unwrap().table == "t");
        assert!(!classify("INSERT INTO t VALUES ($1, 'now()')")[0].volatile);
    }
}
