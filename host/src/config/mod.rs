//! movex's configuration file (TOML). Every section is a serde struct with
//! `deny_unknown_fields`: a misspelled key is an error naming it, never a
//! silent default. Defaults are the embedded ones: state in a SQLite file,
//! findings in the embedded store. A section whose keys all have defaults
//! implements `Default` and is read with `#[serde(default)]`; one with a
//! required key (`[events.kafka] brokers`, `[proxy.mysql] listen`) names
//! each of its other keys' defaults.
//!
//! ```toml
//! [source]
//! url = "mysql://root@127.0.0.1:3306/shop"
//! [destination]
//! url = "postgres://postgres@127.0.0.1:5432/shop"
//! [[tables]]
//! name = "users"
//! key = ["id"]
//! utime = { column = "utime", unit = "ms" }
//! comparator = "tolerant"
//! ```
//!
//! Here: the [`Config`] root (load, environment overrides, the checks that
//! span sections) and its errors. One file per group of sections, each
//! re-exported here:
//! - `databases.rs`: `[source]`, `[destination]` ([`Database`]) and
//!   `[state]` ([`StateStore`]).
//! - `tables.rs`: `[[tables]]` ([`Table`], [`UpdateTime`], [`TimeUnit`]).
//! - `modules.rs`: `[modules]` ([`Modules`]).
//! - `validation.rs`: `[validation]` ([`Validation`]).
//! - `events.rs`: `[events]`, `[events.kafka]` ([`Events`], [`Sink`], [`Kafka`]).
//! - `policy.rs`: `[policy]` ([`Policy`]).
//! - `repair.rs`: `[repair]` ([`Repair`]).
//! - `copy.rs`: `[copy]` ([`Copy`], [`ZeroDates`]).
//! - `http.rs`: `[http]` ([`Http`]).
//! - `proxy.rs`: `[proxy]`, `[proxy.mysql]`, `[proxy.postgres]` ([`Proxy`], [`MysqlProxy`], [`PostgresProxy`], [`ProxyUser`]).
//! - `[sandbox]` and `[pool]` live with their layers: [`crate::wasm::Limits`],
//!   [`crate::pool::PoolConfig`].

mod copy;
mod databases;
mod events;
mod http;
mod modules;
mod policy;
mod proxy;
mod repair;
mod tables;
mod validation;

pub use copy::{Copy, ZeroDates};
pub use databases::{Database, StateStore};
pub use events::{Events, Kafka, Sink};
pub use http::Http;
pub use modules::Modules;
pub use policy::Policy;
pub use proxy::{MysqlProxy, PgAuth, PostgresProxy, Proxy, ProxyUser};
pub use repair::Repair;
pub use tables::{Table, TimeUnit, UpdateTime};
pub use validation::Validation;

use crate::wasm::Limits;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub source: Database,
    pub destination: Database,
    /// `[state]`: the state store (the key keeps its short name).
    #[serde(default)]
    pub state: StateStore,
    #[serde(default)]
    pub modules: Modules,
    #[serde(default)]
    pub events: Events,
    /// Bounds every module runs under.
    #[serde(default)]
    pub sandbox: Limits,
    #[serde(default)]
    pub validation: Validation,
    #[serde(default)]
    pub pool: crate::pool::PoolConfig,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub http: Http,
    #[serde(default)]
    pub repair: Repair,
    #[serde(default)]
    pub copy: Copy,
    #[serde(default)]
    pub proxy: Proxy,
    /// `[fleet]`: many instances writing for one migration.
    #[serde(default)]
    pub fleet: crate::fleet::FleetConfig,
    #[serde(default)]
    pub tables: Vec<Table>,
}

/// A configuration file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// Read, parse and check a configuration file; then let the
    /// environment override what should not live in a file (secrets in
    /// URLs): `MOVEX_SOURCE_URL`, `MOVEX_DESTINATION_URL`, `MOVEX_STATE_URL`,
    /// `MOVEX_KAFKA_BROKERS` (and `MOVEX_TOKEN`, read by the control plane).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: display.clone(), source })?;
        let mut config = Config::parse(&text, &display)?;
        config.override_from(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        config.check().map_err(|message| ConfigError::Invalid { path: display, message })?;
        Ok(config)
    }

    /// Apply overrides by variable name (`Config::load` passes the environment).
    pub fn override_from(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("MOVEX_SOURCE_URL") {
            self.source.url = v;
        }
        if let Some(v) = get("MOVEX_DESTINATION_URL") {
            self.destination.url = v;
        }
        if let Some(v) = get("MOVEX_STATE_URL") {
            self.state.url = v;
        }
        if let (Some(v), Some(k)) = (get("MOVEX_KAFKA_BROKERS"), self.events.kafka.as_mut()) {
            k.brokers = v;
        }
    }

    /// Parse and check a configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: origin.to_owned(), message: e.to_string() })?;
        config.check().map_err(|message| ConfigError::Invalid { path: origin.to_owned(), message })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        for (what, url) in [("source", &self.source.url), ("destination", &self.destination.url), ("state", &self.state.url)] {
            if crate::db::keyset::Dialect::of_url(url).is_none() {
                return Err(format!("[{what}] url {url:?}: expected mysql://, postgres:// or sqlite://"));
            }
        }
        if self.events.sink == Sink::Kafka && self.events.kafka.is_none() {
            return Err("[events] sink = \"kafka\" needs an [events.kafka] section with `brokers`".into());
        }
        self.sandbox.validate().map_err(|e| format!("[sandbox] {e}"))?;
        self.fleet.check()?;
        let v = &self.validation;
        if v.batch_size == 0 || v.batch_size > 100_000 {
            return Err(format!("[validation] batch_size = {}: use 1..=100000 (default 1000)", v.batch_size));
        }
        let c = &self.copy;
        if c.chunk_size == 0 || c.chunk_size > 100_000 {
            return Err(format!("[copy] chunk_size = {}: use 1..=100000 (default 5000)", c.chunk_size));
        }
        if c.tables_at_once == 0 {
            return Err("[copy] tables_at_once = 0: at least one table must run".into());
        }
        if v.concurrency == 0 {
            return Err("[validation] concurrency = 0: at least one table must run".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.tables {
            if !seen.insert(&t.name) {
                return Err(format!("[[tables]] {:?} is configured twice", t.name));
            }
            if t.key.is_empty() || t.key.iter().any(String::is_empty) {
                return Err(format!("[[tables]] {:?}: `key` needs at least one column", t.name));
            }
            if t.columns.as_ref().is_some_and(Vec::is_empty) {
                return Err(format!("[[tables]] {:?}: `columns` is empty; omit it to compare every shared column", t.name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The minimal configuration from the validator issue, as written.
    const MINIMAL: &str = r#"
[source]
url = "mysql://root@127.0.0.1:3306/shop"
[destination]
url = "postgres://postgres@127.0.0.1:5432/shop"
[state]
url = "sqlite://movex-state.db"      # default when omitted
[modules]
dir = "modules"                      # .wasm files loaded at start
[events]
sink = "embedded"                    # or "kafka"
[events.kafka]
brokers = "127.0.0.1:9092"
topic = "dbMove"
[[tables]]
name = "users"
key = ["id"]
utime = { column = "utime", unit = "ms" }   # "ms" | "s" | "datetime"
comparator = "tolerant"                     # module name
tagger = "tag-by-column"                    # optional
"#;

    #[test]
    fn the_minimal_configuration_works_as_written() {
        let c = Config::parse(MINIMAL, "movex.toml").unwrap();
        assert_eq!(c.source.url, "mysql://root@127.0.0.1:3306/shop");
        assert_eq!(c.events.sink, Sink::Embedded);
        assert_eq!(c.events.kafka.as_ref().unwrap().topic, "dbMove");
        let t = &c.tables[0];
        assert_eq!((t.source_table(), t.destination_table()), ("users", "users"));
        assert_eq!(t.utime, Some(UpdateTime { column: "utime".into(), unit: TimeUnit::Ms }));
        assert_eq!(t.tagger.as_deref(), Some("tag-by-column"));
        assert_eq!(c.sandbox, Limits::default());
    }

    #[test]
    fn the_environment_overrides_urls_and_brokers() {
        let mut c = Config::parse(MINIMAL, "t").unwrap();
        c.override_from(|k| match k {
            "MOVEX_SOURCE_URL" => Some("mysql://app:secret@db1/shop".into()),
            "MOVEX_KAFKA_BROKERS" => Some("k1:9092,k2:9092".into()),
            _ => None,
        });
        assert_eq!(c.source.url, "mysql://app:secret@db1/shop");
        assert_eq!(c.destination.url, "postgres://postgres@127.0.0.1:5432/shop", "untouched");
        assert_eq!(c.events.kafka.unwrap().brokers, "k1:9092,k2:9092");
    }

    #[test]
    fn omitted_sections_take_the_embedded_defaults() {
        let c = Config::parse("[source]\nurl = \"sqlite://a.db\"\n[destination]\nurl = \"sqlite://b.db\"\n", "t").unwrap();
        assert_eq!(c.state.url, "sqlite://movex-state.db");
        assert_eq!(c.modules.dir, PathBuf::from("modules"));
        assert_eq!(c.events.sink, Sink::Embedded);
        assert!(c.tables.is_empty());
    }

    /// The defaults the documentation states, for a configuration with only
    /// the required keys (and the one required key of `[events.kafka]` and
    /// of `[proxy.mysql]`, to see theirs). Every expected value is read from
    /// the place cited, not from the code: a change to a default must change
    /// the documentation too. Keys whose default the documentation does not
    /// state are not checked here.
    #[test]
    fn a_configuration_of_only_required_keys_takes_the_documented_defaults() {
        let required = "[source]\nurl = \"mysql://root@127.0.0.1:3306/shop\"\n[destination]\nurl = \"postgres://postgres@127.0.0.1:5432/shop\"\n";
        let c = Config::parse(required, "t").unwrap();
        // README, Validating a table: "`[state] url`: default `sqlite://movex-state.db`".
        assert_eq!(c.state.url, "sqlite://movex-state.db");
        // README: "With `[events] sink = \"kafka\"` it is also delivered"; findings are
        // always in the state store (docs/design/validator.md: "the embedded sink").
        assert_eq!(c.events.sink, Sink::Embedded);
        assert!(c.events.kafka.is_none() && c.proxy.mysql.is_none() && c.tables.is_empty());
        // README: "Load control: `[validation] batch_size` (1000), `max_rows_per_sec`
        // (per table; 0 = no limit), `concurrency` (tables at once, 2),
        // `max_validation_errors` (100)"; "(`recheck`, on by default)".
        let v = &c.validation;
        assert_eq!((v.batch_size, v.max_rows_per_sec, v.concurrency, v.max_validation_errors, v.recheck), (1000, 0, 2, 100, true));
        // README, Repairing: "`[repair] settle_newer_after` passes (2),
        // `settle_newer_after_ms` (10 s)"; "`[repair] max_rounds` (3)".
        assert_eq!((c.repair.settle_newer_after, c.repair.settle_newer_after_ms, c.repair.max_rounds), (2, 10_000, 3));
        // README, Serving a migration: `listen = "127.0.0.1:8080"   # default`.
        assert_eq!(c.http.listen, "127.0.0.1:8080");
        // README, Serving a migration: `module = ...   # default: promote after a clean
        // full validation` (no module: the built-in rule); `auto_promote = true`,
        // `soak_ms = 0`, `resume_auto_migrate = true` (docs/design/faults.md: "or,
        // with `[policy] resume_auto_migrate = false`, reports `interrupted`").
        let p = &c.policy;
        assert_eq!((p.module.as_deref(), p.auto_promote, p.soak_ms, p.resume_auto_migrate), (None, true, 0, true));
        // README, Serving a migration: `strict = false`, `retry_attempts = 3`;
        // docs/design/faults.md: "The store gets `[pool] journal_timeout_ms` (1 s)".
        assert_eq!((c.pool.strict, c.pool.retry_attempts, c.pool.journal_timeout_ms), (false, 3, 1000));
        // README, "Sandbox defaults": 64 MiB linear memory, 500 ms of CPU time per
        // guest call, 5 ms epoch tick, optional fuel, 512 KiB wasm stack.
        let s = &c.sandbox;
        assert_eq!((s.memory_bytes, s.call_timeout, s.epoch_tick, s.fuel_per_call, s.max_stack_bytes), (
            64 * 1024 * 1024,
            std::time::Duration::from_millis(500),
            std::time::Duration::from_millis(5),
            None,
            512 * 1024
        ));

        let c = Config::parse(&format!("{required}[events.kafka]\nbrokers = \"127.0.0.1:9092\"\n[proxy.mysql]\nlisten = \"127.0.0.1:3307\"\n"), "t").unwrap();
        // README: "delivered to the topic (default `dbMove` ...)"; docs/design/validator.md:
        // "(`partitions`, default 3)", "waits up to `drain_timeout_ms` (60 s)".
        let k = c.events.kafka.as_ref().unwrap();
        assert_eq!((k.topic.as_str(), k.partitions, k.drain_timeout_ms), ("dbMove", 3, 60_000));
        // README, The MySQL front door: `# threads = 0`, `# handshake_timeout_ms = 10000`,
        // `# max_connections = 1000`, `# max_packet_bytes = ...` (unset: the source's);
        // docs/design/proxy.md: `handshake_timeout_ms` (10000), `max_connections` (1000),
        // `max_packet_bytes` (the source's `max_allowed_packet`).
        let m = c.proxy.mysql.as_ref().unwrap();
        assert_eq!((m.threads, m.handshake_timeout_ms, m.max_connections, m.max_packet_bytes), (0, 10_000, 1000, None));
        assert!(m.users.is_empty());

        // README, The PostgreSQL front door: `# auth = "scram-sha-256"`, `# threads = 1`,
        // `# handshake_timeout_ms = 10000`, `# max_connections = 1000`,
        // `# max_message_bytes = 67108864`, `# defer_begin = true`.
        let c = Config::parse(&format!("{required}[proxy.postgres]\nlisten = \"127.0.0.1:6433\"\n"), "t").unwrap();
        let p = c.proxy.postgres.as_ref().unwrap();
        assert_eq!((p.auth, p.threads, p.handshake_timeout_ms, p.max_connections, p.max_message_bytes), (PgAuth::ScramSha256, 1, 10_000, 1000, 64 << 20));
        assert!(p.defer_begin);
    }

    #[test]
    fn a_misspelled_key_is_an_error_naming_it_and_its_line() {
        let bad = MINIMAL.replace("comparator = \"tolerant\"", "comparater = \"tolerant\"");
        let err = Config::parse(&bad, "movex.toml").unwrap_err().to_string();
        assert!(err.contains("unknown field `comparater`"), "{err}");
        assert!(err.contains("movex.toml") && err.contains("line"), "{err}");
    }

    #[test]
    fn unusable_values_are_refused_with_what_to_do() {
        let cases = [
            (MINIMAL.replace("unit = \"ms\"", "unit = \"minutes\""), "minutes"),
            (MINIMAL.replace("sink = \"embedded\"", "sink = \"kafka\"").replace("[events.kafka]\nbrokers = \"127.0.0.1:9092\"\ntopic = \"dbMove\"\n", ""), "[events.kafka]"),
            (MINIMAL.replace("key = [\"id\"]", "key = []"), "`key` needs at least one column"),
            (MINIMAL.replace("mysql://root", "oracle://root"), "expected mysql://"),
            (format!("{MINIMAL}\n[sandbox]\nepoch_tick = 0\n"), "epoch_tick"),
            (format!("{MINIMAL}\n[[tables]]\nname = \"users\"\nkey = [\"id\"]\ncomparator = \"exact\"\n"), "configured twice"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(&text, "movex.toml").unwrap_err().to_string();
            assert!(err.contains(needle), "expected {needle:?} in: {err}");
        }
    }

    #[test]
    fn tables_may_differ_per_side_and_modules_take_settings() {
        let text = r#"
[source]
url = "mysql://root@127.0.0.1:3306/shop"
[destination]
url = "sqlite://shop.db"
[modules.settings.tag-by-column]
column = "tier"
[[tables]]
name = "orders"
source_name = "orders_v1"
key = ["shop", "no"]
columns = ["total"]
comparator = "exact"
"#;
        let c = Config::parse(text, "t").unwrap();
        assert_eq!(c.modules.settings["tag-by-column"]["column"], "tier");
        let orders = &c.tables[0];
        assert_eq!((orders.source_table(), orders.destination_table()), ("orders_v1", "orders"));
        assert_eq!(orders.key, ["shop", "no"]);
        assert_eq!(orders.columns.as_deref(), Some(&["total".to_owned()][..]));
    }
}
