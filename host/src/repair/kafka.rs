//! Repair from Kafka, as a consumer group: every movex instance started
//! with `--from kafka` joins the group `[repair] group`, the topic's
//! partitions are shared among them, and a worker that stops (or dies) has
//! its partitions moved to the others after `[repair] session_timeout_ms`.
//!
//! At-least-once: a message's offset is stored for commit only after its
//! repair is durable — the target write committed and the outcome recorded
//! in the state store — and librdkafka commits stored offsets in the
//! background, on a rebalance and at close. A worker killed mid-repair
//! leaves its last findings uncommitted; whoever takes the partition
//! repairs them again, which is harmless (they are already consistent).
//!
//! A finding whose repair fails is retried with backoff ([`ATTEMPTS`]
//! times), then kept in the state store for the next pass and passed over,
//! so one bad key cannot stall its partition. A message that is not a
//! finding is logged with its partition and offset, and passed over.

use super::worker::{Outcome, Repairer, Summary};
use crate::config::{Kafka, Repair};
use crate::model::Finding;
use crate::validate::pace::Pace;
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Tries per finding before it is kept in the store and passed over.
pub const ATTEMPTS: u32 = 5;

/// How long a one-shot run waits for its first finding.
const FIRST: Duration = Duration::from_secs(30);

/// How a Kafka repair ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Only when cancelled (a worker of the group).
    Cancelled,
    /// After `[repair] idle_ms` without a message (a one-shot run; for the
    /// first message it waits at least 30 s, as joining the group takes time).
    Idle,
}

/// Logs the group's moves: which partitions this worker took or gave up,
/// and commits that failed.
struct Group;

impl ClientContext for Group {}

impl ConsumerContext for Group {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => tracing::info!(partitions = ?partitions(tpl), "repair: partitions assigned"),
            Rebalance::Revoke(tpl) => tracing::info!(partitions = ?partitions(tpl), "repair: partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "repair: rebalance failed"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "repair: offset commit");
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

fn consumer(kafka: &Kafka, repair: &Repair) -> Result<StreamConsumer<Group>> {
    let consumer: StreamConsumer<Group> = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", &repair.group)
        .set("client.id", format!("movex-repair-{}", std::process::id()))
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        // Offsets are stored by hand, once a repair is durable.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", repair.session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", (repair.session_timeout_ms / 4).max(100).to_string())
        .create_with_context(Group)
        .context("creating the Kafka consumer")?;
    consumer.subscribe(&[&kafka.topic]).with_context(|| format!("subscribing to {:?}", kafka.topic))?;
    Ok(consumer)
}

/// Repair the findings the topic holds, as a member of the group.
pub async fn consume(repairer: &mut Repairer, until: Until, cancel: &CancellationToken) -> Result<Summary> {
    let config = repairer.engine().config.clone();
    let kafka = config.events.kafka.as_ref().context("repair --from kafka needs an [events.kafka] section (brokers, topic)")?;
    let consumer = consumer(kafka, &config.repair)?;
    let t0 = Instant::now();
    let mut summary = Summary::default();
    let mut pace = Pace::new(Some(config.repair.max_rows_per_sec).filter(|&n| n > 0));
    let idle = Duration::from_millis(config.repair.idle_ms);
    tracing::info!(group = %config.repair.group, topic = %kafka.topic, brokers = %kafka.brokers, "repair: consuming findings from Kafka");
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m,
            _ = cancel.cancelled() => break,
            // Joining the group takes a few seconds: the first finding gets longer.
            _ = tokio::time::sleep(if summary.outcomes.is_empty() { idle.max(FIRST) } else { idle }), if until == Until::Idle => break,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "repair: Kafka consumer error; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let finding: Option<Finding> = msg.payload().and_then(|p| serde_json::from_slice(p).ok());
        let Some(f) = finding else {
            tracing::error!(partition = msg.partition(), offset = msg.offset(), "repair: a message on the findings topic is not a finding; passed over");
            *summary.outcomes.entry("not_a_finding".into()).or_default() += 1;
            if !repairer.dry_run() {
                consumer.store_offset_from_message(&msg).context("storing the offset")?;
            }
            continue;
        };
        let mut backoff = Duration::from_secs(1);
        let mut attempt = 1;
        let outcome = loop {
            let outcome = repairer.take(&f).await;
            match outcome {
                Ok(Outcome::Failed(why)) if attempt < ATTEMPTS && !cancel.is_cancelled() => {
                    tracing::warn!(finding = %f.id, table = %f.table, key = %f.key, attempt, error = %why, "repair failed; retrying");
                }
                Ok(o) => break o,
                Err(e) if !cancel.is_cancelled() => {
                    tracing::warn!(finding = %f.id, error = format!("{e:#}"), "repair could not record its outcome; retrying");
                }
                // Stopping: leave the offset uncommitted, another worker takes it.
                Err(e) => return Err(e.context(format!("recording the repair of finding {}", f.id))),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = cancel.cancelled() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
            attempt += 1;
        };
        if cancel.is_cancelled() && matches!(outcome, Outcome::Failed(_)) {
            break;
        }
        if let Outcome::Failed(_) = &outcome
            && !repairer.dry_run()
        {
            repairer.engine().store.keep_for_repair(&f).await?;
        }
        summary.add(&f, &outcome);
        // A dry run commits nothing: the real run takes every finding again.
        if !repairer.dry_run() {
            consumer.store_offset_from_message(&msg).context("storing the offset")?;
        }
        let wait = pace.after(1, t0.elapsed());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
    // What was stored is committed before the worker leaves the group.
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "repair: final offset commit (nothing to commit is fine)");
    }
    summary.duration_ms = t0.elapsed().as_millis() as u64;
    Ok(summary)
}
