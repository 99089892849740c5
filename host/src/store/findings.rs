//! Findings: stored once each (by their stable id), counted by type and
//! tag, read back per run, and — the outbox — listed and marked as Kafka
//! acknowledges them.

use super::{Store, now, text};
use crate::model::{Finding, FindingType};
use anyhow::Result;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

impl Store {
    /// Store findings without moving a checkpoint.
    pub async fn insert(&self, findings: &[Finding]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_findings(self, &mut tx, findings).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts of a run's findings by type.
    pub async fn counts(&self, run_id: &str) -> Result<BTreeMap<FindingType, u64>> {
        let rows = sqlx::query(&self.sql("SELECT type, count(*) FROM movex_findings WHERE run_id = ? GROUP BY type"))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            if let Some(t) = FindingType::parse(&text(&r, 0)?) {
                out.insert(t, r.try_get::<i64, _>(1)? as u64);
            }
        }
        Ok(out)
    }

    /// Counts of a run's findings by tag (untagged ones under "").
    pub async fn counts_by_tag(&self, run_id: &str) -> Result<BTreeMap<String, u64>> {
        let rows = sqlx::query(&self.sql("SELECT COALESCE(tag, ''), count(*) FROM movex_findings WHERE run_id = ? GROUP BY 1"))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((text(r, 0)?, r.try_get::<i64, _>(1)? as u64))).collect()
    }

    /// Every finding of a run, in the order found.
    pub async fn findings(&self, run_id: &str) -> Result<Vec<Finding>> {
        let rows = sqlx::query(&self.sql("SELECT body FROM movex_findings WHERE run_id = ? ORDER BY seq")).bind(run_id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&text(r, 0)?)?)).collect()
    }

    /// The outbox: up to `limit` findings not yet delivered, oldest first.
    pub async fn undelivered(&self, limit: u32) -> Result<Vec<(i64, Finding)>> {
        let rows = sqlx::query(&self.sql("SELECT seq, body FROM movex_findings WHERE delivered_at IS NULL ORDER BY seq LIMIT ?"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, serde_json::from_str(&text(r, 1)?)?))).collect()
    }

    pub async fn undelivered_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&self.sql("SELECT count(*) FROM movex_findings WHERE delivered_at IS NULL")).fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    pub async fn mark_delivered(&self, seqs: &[i64]) -> Result<()> {
        let at = now();
        let mut tx = self.begin_write().await?;
        for chunk in seqs.chunks(500) {
            let params = vec!["?"; chunk.len()].join(", ");
            let sql = self.sql(&format!("UPDATE movex_findings SET delivered_at = ? WHERE seq IN ({params})"));
            let mut q = sqlx::query(&sql).bind(&at);
            for s in chunk {
                q = q.bind(s);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn insert_findings(store: &Store, tx: &mut AnyConnection, findings: &[Finding]) -> Result<()> {
    insert_marked(store, tx, findings, None).await
}

/// Store findings, already delivered at `delivered_at` if given (so the
/// outbox does not send them).
pub(super) async fn insert_marked(store: &Store, tx: &mut AnyConnection, findings: &[Finding], delivered_at: Option<&str>) -> Result<()> {
    for f in findings {
        // A finding already stored (a redelivered batch) is kept once.
        sqlx::query(&store.sql(
            "INSERT INTO movex_findings (id, run_id, table_name, type, tag, body, detected_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        ))
        .bind(&f.id)
        .bind(&f.run_id)
        .bind(&f.table)
        .bind(f.kind.as_str())
        .bind(&f.tag)
        .bind(serde_json::to_string(f)?)
        .bind(&f.detected_at)
        .bind(delivered_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Which findings `/discrepancies` lists.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingFilter {
    pub table: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub run: Option<String>,
    /// Continue after this position (the `next` of the previous page).
    pub after: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

impl Store {
    /// A page of findings, oldest first, with the position to continue from.
    pub async fn query_findings(&self, f: &FindingFilter) -> Result<(Vec<Finding>, Option<i64>)> {
        let limit = f.limit.unwrap_or(100).clamp(1, 1000);
        let rows = sqlx::query(&self.sql("SELECT seq, body FROM movex_findings WHERE seq > ? AND (? IS NULL OR table_name = ?) AND (? IS NULL OR type = ?)
             AND (? IS NULL OR tag = ?) AND (? IS NULL OR run_id = ?) ORDER BY seq LIMIT ?"))
        .bind(f.after.unwrap_or(0))
        .bind(&f.table)
        .bind(&f.table)
        .bind(&f.kind)
        .bind(&f.kind)
        .bind(&f.tag)
        .bind(&f.tag)
        .bind(&f.run)
        .bind(&f.run)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut last = None;
        let found = rows
            .iter()
            .map(|r| {
                last = Some(r.try_get::<i64, _>(0)?);
                Ok(serde_json::from_str(&text(r, 1)?)?)
            })
            .collect::<Result<Vec<Finding>>>()?;
        let next = if found.len() as u32 == limit { last } else { None };
        Ok((found, next))
    }
}
