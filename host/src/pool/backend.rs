//! One side of the double-write pool: a connection pool to the source or
//! the destination, and a transaction on it. Statements run with their
//! parameters bound per driver; reads come back as contract values.

use crate::db::keyset::Dialect;
use crate::db::{Db, Decode, Executed, Params, Row, Statement, Tx};
use crate::model::SideName;
use anyhow::Result;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Backend {
    pub name: SideName,
    pub db: Db,
}

impl Backend {
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Run one statement on its own (autocommit).
    pub async fn execute(&self, stmt: &Statement) -> Result<Executed, sqlx::Error> {
        self.db.execute(&stmt.sql_for(self.dialect()), &stmt.binds(), Params::Typed).await
    }

    /// Read rows (the pool reads from the primary only).
    pub async fn fetch(&self, stmt: &Statement) -> Result<Vec<Row>> {
        self.db.fetch(&stmt.sql_for(self.dialect()), &stmt.binds(), Decode::ByType).await
    }

    pub async fn begin(&self) -> Result<BackendTx, sqlx::Error> {
        Ok(BackendTx { dialect: self.dialect(), tx: self.db.begin().await? })
    }

    /// `SELECT 1` within `timeout`: the round trip, or why it failed.
    pub async fn ping(&self, timeout: Duration) -> Result<Duration, String> {
        let t0 = Instant::now();
        match tokio::time::timeout(timeout, self.db.ping()).await {
            Ok(Ok(())) => Ok(t0.elapsed()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

/// An open transaction on one side.
pub struct BackendTx {
    dialect: Dialect,
    tx: Tx,
}

impl BackendTx {
    pub async fn execute(&mut self, stmt: &Statement) -> Result<Executed, sqlx::Error> {
        self.tx.execute(&stmt.sql_for(self.dialect), &stmt.binds()).await
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

