//! What repair did with each finding: `repaired`, `already_consistent`,
//! `skipped_newer`, `overwrote_newer`, `skipped` or `failed`, with a detail
//! and a time; and the target rows seen newer than their base, pass after
//! pass (`movex_newer`), which settle a row that stays so. A
//! finding with an outcome other than `failed` is not taken again, so
//! running repair twice is harmless.

use super::{Store, now, text};
use crate::model::Finding;
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

    /// The outcome recorded for each of these findings that has one, by
    /// finding id: (outcome, detail, when). What `GET /discrepancies`
    /// shows beside each finding.
    pub async fn repair_outcomes(&self, finding_ids: &[&str]) -> Result<BTreeMap<String, (String, String, String)>> {
        let mut out = BTreeMap::new();
        // A page of findings is at most 1000; in chunks all the same, under
        // every server's limit on bound parameters.
        for ids in finding_ids.chunks(500) {
            let marks = vec!["?"; ids.len()].join(", ");
            let sql = self.sql(&format!("SELECT finding_id, outcome, detail, at FROM movex_repairs WHERE finding_id IN ({marks})"));
            let mut q = sqlx::query(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(text(&r, 0)?, (text(&r, 1)?, text(&r, 2)?, text(&r, 3)?));
            }
        }
        Ok(out)
    }

    /// Outcomes so far, counted.
    pub async fn repair_counts(&self) -> Result<BTreeMap<String, u64>> {
        let rows = sqlx::query(&self.sql("SELECT outcome, count(*) FROM movex_repairs GROUP BY outcome")).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((text(r, 0)?, r.try_get::<i64, _>(1)? as u64))).collect()
    }
}

/// A target row seen newer than its base: how many times in a row it was
/// seen so with the same base and the same target update time, since when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub times: u64,
    pub first_seen_ms: i64,
}

impl Store {
    /// Count a sighting of `table`'s row `key` newer on the target than the
    /// base; the count starts over whenever the base row (its hash) or the
    /// target's update time changed since the last one. Without `record`
    /// (a dry run), what it would count, storing nothing.
    pub async fn newer_sighting(&self, table: &str, key: &str, base_hash: &str, target_utime: &str, now_ms: i64, record: bool) -> Result<Sighting> {
        use sha2::Digest;
        let id = hex::encode(&sha2::Sha256::digest(format!("{table}\0{key}").as_bytes())[..16]);
        let seen = sqlx::query(&self.sql("SELECT base_hash, target_utime, first_seen_ms, sightings FROM movex_newer WHERE id = ?"))
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
        let next = match seen {
            Some(r) if text(&r, 0)? == base_hash && text(&r, 1)? == target_utime => {
                Sighting { times: r.try_get::<i64, _>(3)? as u64 + 1, first_seen_ms: r.try_get(2)? }
            }
            _ => Sighting { times: 1, first_seen_ms: now_ms },
        };
        if !record {
            return Ok(next);
        }
        sqlx::query(&self.sql(
            "INSERT INTO movex_newer (id, table_name, row_key, base_hash, target_utime, first_seen_ms, sightings) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET base_hash = excluded.base_hash, target_utime = excluded.target_utime,
               first_seen_ms = excluded.first_seen_ms, sightings = excluded.sightings",
        ))
        .bind(&id)
        .bind(table)
        .bind(key)
        .bind(base_hash)
        .bind(target_utime)
        .bind(next.first_seen_ms)
        .bind(next.times as i64)
        .execute(&self.pool)
        .await?;
        Ok(next)
    }

    /// Keep a finding that came from Kafka and could not be repaired, so a
    /// later pass over the store takes it again. Marked delivered: it is
    /// on the topic already.
    pub async fn keep_for_repair(&self, f: &Finding) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        super::findings::insert_marked(self, &mut conn, std::slice::from_ref(f), Some(&now())).await?;
        Ok(())
    }
}
