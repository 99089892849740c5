//! Kafka delivery from the outbox. Findings are already committed in the
//! state store; this worker sends the undelivered ones (oldest first, many
//! in flight) with an idempotent, `acks=all` producer, marks what the broker
//! acknowledged, and retries the rest with backoff for as long as it takes.
//! A broker outage delays findings; it never drops one. Delivery is
//! at-least-once: a consumer de-duplicates by the finding's `id`.
//!
//! Messages: topic from config (default `dbMove`), key `table:key`, value
//! the finding as JSON, header `id`.

use crate::store::Store;
use crate::config::Kafka;
use anyhow::{Context, Result, anyhow};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Findings sent per round.
const ROUND: u32 = 2000;

pub struct Outbox {
    store: Store,
    /// Replaced after a failed round: an idempotent producer whose messages
    /// timed out carries sequence state a restarted broker may refuse.
    producer: Mutex<FutureProducer>,
    admin: AdminClient<DefaultClientContext>,
    client_config: ClientConfig,
    config: Kafka,
}

impl Outbox {
    pub fn new(store: Store, config: &Kafka) -> Result<Outbox> {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &config.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", config.message_timeout_ms.to_string())
            .set("linger.ms", "5");
        let producer: FutureProducer = cc.create().context("creating the Kafka producer")?;
        let admin: AdminClient<DefaultClientContext> = cc.create().context("creating the Kafka admin client")?;
        Ok(Outbox { store, producer: Mutex::new(producer), admin, client_config: cc, config: config.clone() })
    }

    fn producer(&self) -> FutureProducer {
        self.producer.lock().expect("producer lock").clone()
    }

    fn renew_producer(&self) {
        match self.client_config.create::<FutureProducer>() {
            Ok(p) => *self.producer.lock().expect("producer lock") = p,
            Err(e) => tracing::warn!(error = %e, "could not create a new Kafka producer; keeping the old one"),
        }
    }

    /// Create the topic if the broker does not have it (brokers without
    /// auto-creation); an existing topic is fine.
    pub async fn ensure_topic(&self) -> Result<()> {
        let producer = self.producer();
        let topic_name = self.config.topic.clone();
        let exists = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(Some(&topic_name), Duration::from_secs(5)).map(|m| {
                m.topics().iter().any(|t| t.name() == topic_name && t.error().is_none() && !t.partitions().is_empty())
            })
        })
        .await
        .context("metadata task")?
        .context("reading the broker's metadata")?;
        if exists {
            return Ok(());
        }
        let topic = NewTopic::new(&self.config.topic, self.config.partitions, TopicReplication::Fixed(1));
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = self.admin.create_topics([&topic], &opts).await.context("creating the findings topic")?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => return Err(anyhow!("creating topic {t:?}: {code}")),
            }
        }
        Ok(())
    }

    /// Send one round of undelivered findings; how many were acknowledged.
    /// Fails (after marking what did get through) if any send failed.
    pub async fn deliver_round(&self) -> Result<usize> {
        let batch = self.store.undelivered(ROUND).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let topic = self.config.topic.as_str();
        let producer = self.producer();
        let producer = &producer;
        let sends = batch.iter().map(|(seq, f)| async move {
            let key = f.message_key();
            let value = serde_json::to_string(f).expect("finding serializes");
            let headers = OwnedHeaders::new().insert(Header { key: "id", value: Some(f.id.as_str()) });
            let record = FutureRecord::to(topic).key(&key).payload(&value).headers(headers);
            (*seq, producer.send(record, Timeout::After(Duration::from_secs(5))).await)
        });
        let results = futures::future::join_all(sends).await;
        let delivered: Vec<i64> = results.iter().filter(|(_, r)| r.is_ok()).map(|(s, _)| *s).collect();
        self.store.mark_delivered(&delivered).await?;
        if let Some((_, Err((e, _)))) = results.iter().find(|(_, r)| r.is_err()) {
            return Err(anyhow!(
                "{} of {} findings not delivered to Kafka at {} ({e}); they stay in the outbox and are retried",
                results.len() - delivered.len(),
                results.len(),
                self.config.brokers
            ));
        }
        Ok(delivered.len())
    }

    /// Deliver until the outbox is empty and `finish` is set, or `stop`.
    /// Errors are logged and retried with backoff (0.2 s doubling to 10 s).
    pub async fn run(&self, finish: CancellationToken, stop: CancellationToken) -> u64 {
        let mut delivered = 0u64;
        let mut backoff = Duration::from_millis(200);
        let mut topic_ready = false;
        loop {
            if stop.is_cancelled() {
                return delivered;
            }
            let round = async {
                if !topic_ready {
                    self.ensure_topic().await?;
                }
                self.deliver_round().await
            }
            .await;
            let wait = match round {
                Ok(n) => {
                    topic_ready = true;
                    backoff = Duration::from_millis(200);
                    delivered += n as u64;
                    if n > 0 {
                        continue;
                    }
                    if finish.is_cancelled() && self.store.undelivered_count().await.unwrap_or(1) == 0 {
                        return delivered;
                    }
                    Duration::from_millis(100)
                }
                Err(e) => {
                    // A broker that came back empty needs the topic again;
                    // a fresh producer starts a clean idempotence session.
                    topic_ready = false;
                    self.renew_producer();
                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?backoff, "Kafka delivery failed; retrying");
                    let w = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    w
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => return delivered,
            }
        }
    }
}
