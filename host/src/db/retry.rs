//! Which database errors mean "this did not run: try it again": a pool with
//! no connection to give, a deadlock or serialization victim the database
//! rolled back, a lock it waited for too long, SQLite's busy file. The pool
//! retries an autocommit statement on these; the copy retries a chunk.

/// Whether `e` means the statement did not run and may be retried. Anything
/// else (a broken connection mid-statement, a constraint) is not: the
/// statement may have applied, or will fail again.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => {
            d.code().as_deref().is_some_and(transient_sqlstate)
                || d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some_and(|m| matches!(m.number(), 1213 | 1205))
                // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
                || (d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                    && d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6)))
        }
        _ => false,
    }
}

/// [`is_transient`] anywhere in an error's chain, for the readers that go
/// through tokio-postgres as well as sqlx.
pub fn is_transient_chain(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>().is_some_and(is_transient)
            || c.downcast_ref::<tokio_postgres::Error>().and_then(|p| p.code()).is_some_and(|s| transient_sqlstate(s.code()))
    })
}

/// Serialization failure, deadlock (PostgreSQL; MySQL's 1213 says 40001
/// too), lock not available (PostgreSQL's `lock_timeout`).
fn transient_sqlstate(code: &str) -> bool {
    matches!(code, "40001" | "40P01" | "55P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_that_did_not_run_are_transient() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient_chain(&anyhow::anyhow!("database is locked")), "a message alone says nothing");
        assert!(is_transient_chain(&anyhow::Error::from(sqlx::Error::PoolTimedOut).context("writing a chunk")));
    }
}
