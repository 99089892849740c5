//! What a statement is, for routing: a read (primary only, outside a
//! transaction), a session statement (both sides: SET, USE), a write (both
//! sides), by its first keyword after comments. Anything not known to be a
//! read counts as a write: sending a read to both sides costs time, missing
//! a write loses data.

/// How a statement is routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    /// Changes the session (both sides must follow).
    Session,
    Write,
}

/// The first keyword, upper-cased, after whitespace and comments.
pub fn first_keyword(sql: &str) -> String {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("/*") {
            // `/*! ... */` and `/*M! ... */` are executable comments: read inside.
            if rest.starts_with('!') || rest.starts_with("M!") {
                let body = rest.trim_start_matches("M").trim_start_matches('!').trim_start_matches(|c: char| c.is_ascii_digit());
                s = body.trim_start();
                continue;
            }
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if s.starts_with("--") || s.starts_with('#') {
            s = s.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix('(') {
            s = rest.trim_start();
        } else {
            break;
        }
    }
    s.chars().take_while(|c| c.is_ascii_alphabetic() || *c == '_').collect::<String>().to_ascii_uppercase()
}

pub fn kind(sql: &str) -> Kind {
    let upper = |s: &str| s.to_ascii_uppercase();
    match first_keyword(sql).as_str() {
        "SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN" | "HELP" => Kind::Read,
        // SELECT ... INTO OUTFILE/@var or FOR UPDATE writes or locks: both.
        "SELECT" | "WITH" | "VALUES" | "TABLE" => {
            let u = upper(sql);
            if u.contains(" INTO ") || u.contains("FOR UPDATE") || u.contains("LOCK IN SHARE MODE") { Kind::Write } else { Kind::Read }
        }
        "SET" | "USE" => Kind::Session,
        _ => Kind::Write,
    }
}

/// The database a `USE db` statement names (unquoted).
pub fn used_database(sql: &str) -> Option<String> {
    let rest = sql.trim().trim_end_matches(';').trim();
    let name = rest.get(3..)?.trim();
    let name = name.strip_prefix('`').and_then(|n| n.strip_suffix('`')).map(|n| n.replace("``", "`")).unwrap_or_else(|| name.to_owned());
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// Functions whose value depends on the moment a statement runs.
const CLOCK: [&str; 13] = [
    "NOW(", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "CURDATE(", "CURTIME(", "UNIX_TIMESTAMP(", "UTC_TIMESTAMP", "UTC_DATE",
    "UTC_TIME", "LOCALTIME", "LOCALTIMESTAMP", "SYSDATE(",
];

/// What a write needs pinned so both sides compute the same values, as
/// statement-based replication pins them: the clock (`SET TIMESTAMP`) if
/// it reads the time, the random seeds if it calls `RAND()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub clock: bool,
    pub rand: bool,
}

pub fn pins(sql: &str) -> Pins {
    let u = sql.to_ascii_uppercase();
    Pins { clock: CLOCK.iter().any(|f| u.contains(f)), rand: u.contains("RAND(") }
}

/// A statement that begins or ends a transaction (strict mode handles
/// these itself rather than wrapping them in one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxControl {
    Begin,
    Commit,
    Rollback,
    /// SAVEPOINT, RELEASE SAVEPOINT, XA: passed on as written.
    Other,
}

pub fn tx_control(sql: &str) -> Option<TxControl> {
    match first_keyword(sql).as_str() {
        "BEGIN" | "START" => Some(TxControl::Begin),
        "COMMIT" => Some(TxControl::Commit),
        // ROLLBACK TO SAVEPOINT keeps the transaction open.
        "ROLLBACK" if !sql.to_ascii_uppercase().contains(" TO ") => Some(TxControl::Rollback),
        "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "XA" => Some(TxControl::Other),
        _ => None,
    }
}

/// Whether a statement only opens a transaction (`BEGIN [WORK]`, `START
/// TRANSACTION ...`): it writes nothing. (MariaDB's `BEGIN NOT ATOMIC`
/// opens a compound statement that may write: not this.)
pub fn opens_transaction(sql: &str) -> bool {
    // The first keyword first: this runs for every write, however long.
    if tx_control(sql) != Some(TxControl::Begin) {
        return false;
    }
    let upper = sql.trim().trim_end_matches(';').to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    matches!(words.as_slice(), ["BEGIN"] | ["BEGIN", "WORK"] | ["START", "TRANSACTION", ..])
}

/// Whether a statement commits implicitly (DDL, account and lock
/// statements): it cannot be wrapped in a transaction or rolled back.
pub fn implicit_commit(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_str(),
        "CREATE" | "ALTER" | "DROP" | "TRUNCATE" | "RENAME" | "GRANT" | "REVOKE" | "LOCK" | "UNLOCK" | "ANALYZE" | "OPTIMIZE" | "REPAIR" | "FLUSH" | "INSTALL" | "UNINSTALL"
    )
}

/// Whether a statement ends the transaction in progress: it commits or
/// rolls back, explicitly, implicitly (DDL), or by opening another.
pub fn ends_transaction(sql: &str) -> bool {
    matches!(tx_control(sql), Some(TxControl::Begin | TxControl::Commit | TxControl::Rollback)) || implicit_commit(sql)
}

/// `KILL [HARD | SOFT] [CONNECTION | QUERY] <connection id>`: what the
/// front door carries out itself, on each side under that side's id for
/// the connection (`session/kill.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kill {
    /// `HARD` or `SOFT`, if written (MariaDB).
    pub mode: Option<&'static str>,
    /// Only the statement the connection runs, not the connection.
    pub query: bool,
    pub id: u32,
}

impl Kill {
    /// The statement for a side whose id for the connection is `id`.
    pub fn sql(&self, id: u32) -> String {
        let mode = self.mode.map(|m| format!("{m} ")).unwrap_or_default();
        format!("KILL {mode}{} {id}", if self.query { "QUERY" } else { "CONNECTION" })
    }
}

/// A `KILL` of a connection by its id; `None` for other forms (`KILL
/// USER`, `KILL QUERY ID` of a query id, an expression), which the door
/// refuses rather than pass on: on the servers every session of the door
/// is movex's one user.
pub fn kill(sql: &str) -> Option<Kill> {
    let upper = sql.trim().trim_end_matches(';').to_ascii_uppercase();
    let mut words = upper.split_whitespace().skip_while(|w| *w != "KILL").skip(1).peekable();
    let mode = match words.peek().copied() {
        Some("HARD") => Some("HARD"),
        Some("SOFT") => Some("SOFT"),
        _ => None,
    };
    if mode.is_some() {
        words.next();
    }
    let query = words.peek() == Some(&"QUERY");
    if matches!(words.peek().copied(), Some("QUERY" | "CONNECTION")) {
        words.next();
    }
    let id = words.next()?.parse().ok()?;
    words.next().is_none().then_some(Kill { mode, query, id })
}

/// Whether a write produces auto-increment ids the secondary must reuse.
pub fn inserts(sql: &str) -> bool {
    matches!(first_keyword(sql).as_str(), "INSERT" | "REPLACE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_routed_by_their_first_keyword() {
        assert_eq!(kind("select 1"), Kind::Read);
        assert_eq!(kind("  /* app:42 */ SELECT * FROM t"), Kind::Read);
        assert_eq!(kind("-- why\nSHOW TABLES"), Kind::Read);
        assert_eq!(kind("(SELECT 1) UNION (SELECT 2)"), Kind::Read);
        assert_eq!(kind("SELECT * FROM t WHERE id = 1 FOR UPDATE"), Kind::Write);
        assert_eq!(kind("select a into @x from t"), Kind::Write);
        assert_eq!(kind("SET NAMES utf8mb4"), Kind::Session);
        assert_eq!(kind("use app"), Kind::Session);
        assert_eq!(kind("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */"), Kind::Session);
        assert_eq!(kind("UPDATE t SET v = 1"), Kind::Write);
        assert_eq!(kind("CREATE TABLE t (id INT)"), Kind::Write);
        assert_eq!(kind("BEGIN"), Kind::Write);
        assert_eq!(kind("CALL p()"), Kind::Write, "unknown: both sides");
        assert_eq!(pins("INSERT INTO t VALUES (1, NOW(6))"), Pins { clock: true, rand: false });
        assert_eq!(pins("update t set at = current_timestamp, n = floor(rand() * 10)"), Pins { clock: true, rand: true });
        assert_eq!(pins("UPDATE t SET v = 'now'"), Pins::default());
        assert_eq!(used_database("USE app"), Some("app".into()));
        assert_eq!(used_database("use `my db`;"), None, "a name with a space is left to the server");
        assert_eq!(used_database("USE `a``b`"), Some("a`b".into()));
        assert_eq!(tx_control("start transaction read write"), Some(TxControl::Begin));
        assert_eq!(tx_control("/* app */ COMMIT"), Some(TxControl::Commit));
        assert_eq!(tx_control("rollback"), Some(TxControl::Rollback));
        assert_eq!(tx_control("ROLLBACK TO SAVEPOINT a"), Some(TxControl::Other), "the transaction stays open");
        assert_eq!(tx_control("UPDATE t SET v = 1"), None);
        assert!(implicit_commit("alter table t add c int") && implicit_commit("TRUNCATE t") && !implicit_commit("DELETE FROM t"));
        assert!(opens_transaction("BEGIN") && opens_transaction("begin work;") && opens_transaction("START TRANSACTION READ ONLY"));
        assert!(!opens_transaction("BEGIN NOT ATOMIC INSERT INTO t VALUES (1); END") && !opens_transaction("COMMIT"));
        assert!(ends_transaction("CREATE TABLE b (id INT)") && ends_transaction("begin") && ends_transaction("COMMIT"));
        assert!(!ends_transaction("ROLLBACK TO SAVEPOINT a") && !ends_transaction("INSERT INTO t VALUES (1)"));
        assert_eq!(kill("KILL 79"), Some(Kill { mode: None, query: false, id: 79 }));
        assert_eq!(kill("kill query 79;"), Some(Kill { mode: None, query: true, id: 79 }));
        assert_eq!(kill("/* app */ KILL HARD CONNECTION 5"), Some(Kill { mode: Some("HARD"), query: false, id: 5 }));
        assert_eq!(kill("KILL SOFT QUERY 5").map(|k| k.sql(412)), Some("KILL SOFT QUERY 412".into()));
        assert_eq!(kill("KILL QUERY ID 79"), None, "a query id, not a connection id");
        assert_eq!(kill("KILL USER app"), None);
        assert_eq!(kill("KILL CONNECTION_ID()"), None);
        assert!(inserts("insert into t values (1)") && inserts(" REPLACE INTO t VALUES (1)") && !inserts("UPDATE t SET v = 1"));
    }
}
