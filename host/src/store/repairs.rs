//! What repair did with each finding: `repaired`, `already_consistent`,
//! `skipped_newer`, `skipped` or `failed`, with a detail and a time. A
//! finding with an outcome other than `failed` is not taken again, so
//! running repair twice is harmless.

use super::{Store, now, text};
use crate::validate::Finding;
use anyhow::Result;
use sqlx::Row;
use std::collections::BTreeMap;

impl Store {
    /// Findings repair has not settled yet (no outcome, or `failed`), after
    /// position `after`, oldest first; with their positions.
    pub async fn findings_to_repair(&self, after: i64, limit: u32) -> Result<Vec<(i64, Finding)>> {
        let rows = sqlx::query(&self.sql(
            "SELECT f.seq, f.body FROM movex_findings f LEFT JOIN movex_repairs r ON r.finding_id = f.id
             WHERE (r.finding_id IS NULL OR r.outcome = 'failed') AND f.seq > ? ORDER BY f.seq LIMIT ?",
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, serde_json::from_str(&text(r, 1)?)?))).collect()
    }

    pub async fn record_repair(&self, finding_id: &str, outcome: &str, detail: &str) -> Result<()> {
        sqlx::query(&self.sql(
            "INSERT INTO movex_repairs (finding_id, at, outcome, detail) VALUES (?, ?, ?, ?)
             ON CONFLICT (finding_id) DO UPDATE SET at = excluded.at, outcome = excluded.outcome, detail = excluded.detail",
        ))
        .bind(finding_id)
        .bind(now())
        .bind(outcome)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Outcomes so far, counted.
    pub async fn repair_counts(&self) -> Result<BTreeMap<String, u64>> {
        let rows = sqlx::query(&self.sql("SELECT outcome, count(*) FROM movex_repairs GROUP BY outcome")).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((text(r, 0)?, r.try_get::<i64, _>(1)? as u64))).collect()
    }
}

impl Store {
    /// Keep a finding that came from Kafka and could not be repaired, so a
    /// later pass over the store takes it again. Marked delivered: it is
    /// on the topic already.
    pub async fn keep_for_repair(&self, f: &Finding) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        super::findings::insert_marked(self, &mut conn, std::slice::from_ref(f), Some(&now())).await?;
        Ok(())
    }
}
