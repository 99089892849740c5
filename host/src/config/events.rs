//! `[events]` and `[events.kafka]`: where findings go besides the state
//! store. The embedded sink (a table in the state store, queryable over
//! HTTP) always holds them; with `sink = "kafka"` they are also delivered to
//! a topic, at least once, from the store's outbox.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    /// A table in the state store, queryable over HTTP.
    #[default]
    Embedded,
    Kafka,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    pub sink: Sink,
    pub kafka: Option<Kafka>,
}

/// `[events.kafka]`. `brokers` is required, so this section has no
/// `Default` (a struct-wide `#[serde(default)]` would accept it missing);
/// its other keys take their defaults one by one.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    pub brokers: String,
    #[serde(default = "Kafka::default_topic")]
    pub topic: String,
    /// Partitions when movex creates the topic (it does when missing).
    #[serde(default = "Kafka::default_partitions")]
    pub partitions: i32,
    /// How long the producer tries one send before movex retries it from
    /// the outbox.
    #[serde(default = "Kafka::default_message_timeout_ms")]
    pub message_timeout_ms: u64,
    /// How long `movex validate` waits, after the run, for the outbox to
    /// drain before it exits 2 (the findings stay stored and are delivered
    /// by the next run).
    #[serde(default = "Kafka::default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
}

impl Kafka {
    fn default_topic() -> String {
        "dbMove".into()
    }
    fn default_partitions() -> i32 {
        3
    }
    fn default_message_timeout_ms() -> u64 {
        30_000
    }
    fn default_drain_timeout_ms() -> u64 {
        60_000
    }
}
