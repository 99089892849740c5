//! movex's configuration file (TOML). Every section is a serde struct with
//! `deny_unknown_fields`: a misspelled key is an error naming it, never a
//! silent default. Defaults are the embedded ones: state in a SQLite file,
//! findings in the embedded store.
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

use crate::wasm::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub source: Database,
    pub destination: Database,
    #[serde(default)]
    pub state: State,
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
    pub proxy: Proxy,
    #[serde(default)]
    pub tables: Vec<Table>,
}

/// `[proxy]`: front doors applications connect to.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Proxy {
    /// The MySQL wire protocol (source and destination must be MySQL/MariaDB).
    pub mysql: Option<MysqlProxy>,
}

/// `[proxy.mysql]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MysqlProxy {
    pub listen: String,
    /// Who may connect to movex (backends are reached with the source and
    /// destination URLs' credentials).
    #[serde(default)]
    pub users: Vec<ProxyUser>,
    /// Threads that run client sessions, each a single-threaded runtime
    /// (sessions are dealt to them in turn). 0: one per core, at most 4.
    #[serde(default)]
    pub threads: usize,
    /// A client that has not logged in this long after connecting is sent
    /// ER_HANDSHAKE_ERROR and dropped: idle unauthenticated connections
    /// must not hold the door's connections and files for ever.
    #[serde(default = "MysqlProxy::default_handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// Client connections at once, logged in or not; past it a new client
    /// gets ER_CON_COUNT_ERROR ("Too many connections"). Each client holds
    /// up to three files (its socket, one per database): keep it well
    /// under the process's file limit.
    #[serde(default = "MysqlProxy::default_max_connections")]
    pub max_connections: usize,
    /// The largest command a logged-in client may send, in bytes (MySQL's
    /// `max_allowed_packet`); a larger one gets ER_NET_PACKET_TOO_LARGE
    /// and the connection is closed, as the server does. The default is
    /// MariaDB's; raise it with the databases' own.
    #[serde(default = "MysqlProxy::default_max_packet_bytes")]
    pub max_packet_bytes: usize,
}

impl MysqlProxy {
    fn default_handshake_timeout_ms() -> u64 {
        10_000
    }
    fn default_max_connections() -> usize {
        1000
    }
    fn default_max_packet_bytes() -> usize {
        16 * 1024 * 1024
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProxyUser {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `mysql://`, `postgres://` or `sqlite://`.
    pub url: String,
}

/// Where movex keeps its state, checkpoints and embedded findings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default = "default_state_url")]
    pub url: String,
}

fn default_state_url() -> String {
    "sqlite://movex-state.db".into()
}

impl Default for State {
    fn default() -> Self {
        State { url: default_state_url() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modules {
    /// `.wasm` files loaded (warm-up) at start.
    #[serde(default = "default_modules_dir")]
    pub dir: PathBuf,
    /// Where compiled modules are cached; defaults to `<dir>/.cache`.
    pub cache_dir: Option<PathBuf>,
    /// Settings per module name, given when it is bound (and exercised).
    #[serde(default)]
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
}

fn default_modules_dir() -> PathBuf {
    "modules".into()
}

impl Default for Modules {
    fn default() -> Self {
        Modules { dir: default_modules_dir(), cache_dir: None, settings: BTreeMap::new() }
    }
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    /// A table in the state store, queryable over HTTP.
    #[default]
    Embedded,
    Kafka,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    #[serde(default)]
    pub sink: Sink,
    pub kafka: Option<Kafka>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    pub brokers: String,
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Partitions when movex creates the topic (it does when missing).
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// How long the producer tries one send before movex retries it from
    /// the outbox.
    #[serde(default = "default_message_timeout_ms")]
    pub message_timeout_ms: u64,
    /// How long `movex validate` waits, after the run, for the outbox to
    /// drain before it exits 2 (the findings stay stored and are delivered
    /// by the next run).
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
}

fn default_drain_timeout_ms() -> u64 {
    60_000
}

fn default_topic() -> String {
    "dbMove".into()
}

fn default_partitions() -> i32 {
    3
}

fn default_message_timeout_ms() -> u64 {
    30_000
}

/// Load control for validation runs.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Rows per page and per comparator call.
    #[serde(default = "default_batch_size")]
    pub batch_size: u64,
    /// Keys per second per table, i.e. rows per side (0: no limit).
    #[serde(default)]
    pub max_rows_per_sec: u64,
    /// Tables validated at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Comparator errors a run tolerates before it stops.
    #[serde(default = "default_max_validation_errors")]
    pub max_validation_errors: u64,
    /// Re-read each difference by key, on both sides, before reporting it,
    /// so a row the application wrote between the two sides' reads is not
    /// reported (validation under live traffic).
    #[serde(default = "default_true")]
    pub recheck: bool,
}

fn default_true() -> bool {
    true
}

fn default_batch_size() -> u64 {
    1000
}

fn default_concurrency() -> usize {
    2
}

fn default_max_validation_errors() -> u64 {
    100
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            batch_size: default_batch_size(),
            max_rows_per_sec: 0,
            concurrency: default_concurrency(),
            max_validation_errors: default_max_validation_errors(),
            recheck: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The table's name on both sides, unless one side overrides it.
    pub name: String,
    pub source_name: Option<String>,
    pub destination_name: Option<String>,
    /// Key columns, in order: one or several, integer or string.
    pub key: Vec<String>,
    /// Update-time column, for incremental validation.
    pub utime: Option<UpdateTime>,
    /// Columns to compare; by default every column both sides have.
    pub columns: Option<Vec<String>>,
    /// Comparator module name.
    pub comparator: String,
    /// Tagger module name.
    pub tagger: Option<String>,
    /// Overrides `[validation] max_rows_per_sec` for this table.
    pub max_rows_per_sec: Option<u64>,
    /// Repair never deletes target rows of this table (it reports them).
    #[serde(default)]
    pub forbid_deletes: bool,
    /// The table holds personal data: its findings keep the key, the
    /// differing columns' names, the tag and the kind of difference, but no
    /// values (in the state store, on Kafka, in logs and over HTTP); the
    /// comparator's own reason text is dropped too, as a module may quote
    /// values in it. The key stays: repair needs it to settle a finding.
    #[serde(default)]
    pub redact_values: bool,
}

impl Table {
    pub fn source_table(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    pub fn destination_table(&self) -> &str {
        self.destination_name.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateTime {
    pub column: String,
    pub unit: TimeUnit,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Epoch milliseconds.
    Ms,
    /// Epoch seconds.
    S,
    /// A DATETIME/TIMESTAMP column.
    Datetime,
}

/// `[policy]`: what moves the migration forward (or back).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// A policy module (by name); without one the built-in rule applies:
    /// promote one step only after a clean full validation.
    pub module: Option<String>,
    /// Apply the policy's decisions as they are made, after each validation
    /// and on the timer (the default). Off: they are recorded and shown in
    /// `/status`, and applied only by `/auto-migrate`.
    pub auto_promote: bool,
    /// Consult the policy on this timer too (0: only after validations).
    pub interval_ms: u64,
    /// Auto-migrate stays at least this long in each double-write state
    /// (soak time under real traffic) before validating for promotion.
    pub soak_ms: u64,
    /// An auto-migrate that was running when movex stopped (a crash, a
    /// kill) resumes when `movex serve` starts again (the default). Off: it
    /// is reported `interrupted` at its step, and `POST /auto-migrate`
    /// continues it.
    pub resume_auto_migrate: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { module: None, auto_promote: true, interval_ms: 60_000, soak_ms: 0, resume_auto_migrate: true }
    }
}

/// `[repair]`: how repair takes findings and how fast it goes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Repair {
    /// Findings repaired per second (0: no limit).
    pub max_rows_per_sec: u64,
    /// Auto-migrate repairs what a validation found, then validates again
    /// (up to `max_rounds` times) before it holds the migration.
    pub auto: bool,
    pub max_rounds: u32,
    /// The Kafka consumer group repair workers share (`--from kafka`).
    pub group: String,
    /// How long the group waits for a silent worker before its partitions
    /// move to the others.
    pub session_timeout_ms: u64,
    /// A one-shot Kafka repair ends after this long without a finding.
    pub idle_ms: u64,
    /// A target row newer than its base is left alone (`skipped_newer`),
    /// unless it stays so: seen newer with the same base row and the same
    /// target update time on `settle_newer_after` repair passes, at least
    /// `settle_newer_after_ms` apart from the first, while the base is the
    /// primary of the current pattern. Then it is overwritten from the
    /// base, guarded by the update time read (`overwrote_newer`). 0: never.
    pub settle_newer_after: u32,
    pub settle_newer_after_ms: u64,
}

impl Default for Repair {
    fn default() -> Repair {
        Repair { max_rows_per_sec: 0, auto: false, max_rounds: 3, group: "movex-repair".into(), session_timeout_ms: 10_000, idle_ms: 5_000, settle_newer_after: 2, settle_newer_after_ms: 10_000 }
    }
}

/// `[http]`: the control plane.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Loopback by default; another address needs a token.
    pub listen: String,
    /// Bearer token for mutating routes, module upload and the routes that
    /// answer with row data (`/discrepancies`, ...). `MOVEX_TOKEN`
    /// overrides it; `token_file` reads it from a file.
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    /// Largest module upload, in bytes.
    pub max_upload_bytes: usize,
}

impl Default for Http {
    fn default() -> Self {
        Http { listen: "127.0.0.1:8080".into(), token: None, token_file: None, max_upload_bytes: 16 << 20 }
    }
}

impl Http {
    /// The token in force: `MOVEX_TOKEN`, else `token_file`, else `token`.
    pub fn resolved_token(&self) -> Result<Option<String>, String> {
        if let Ok(t) = std::env::var("MOVEX_TOKEN")
            && !t.trim().is_empty()
        {
            return Ok(Some(t.trim().to_owned()));
        }
        if let Some(f) = &self.token_file {
            let t = std::fs::read_to_string(f).map_err(|e| format!("[http] token_file {}: {e}", f.display()))?;
            return Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty()));
        }
        Ok(self.token.clone().filter(|t| !t.is_empty()))
    }
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
        let v = &self.validation;
        if v.batch_size == 0 || v.batch_size > 100_000 {
            return Err(format!("[validation] batch_size = {}: use 1..=100000 (default 1000)", v.batch_size));
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
