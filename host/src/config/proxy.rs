//! `[proxy]`, `[proxy.mysql]` and `[proxy.postgres]`: the front doors
//! applications connect to instead of the database — the address, who may
//! log in, the session threads, and the limits that keep hostile or idle
//! clients from holding the door (login time, connections, message size).

use serde::Deserialize;

/// `[proxy]`: front doors applications connect to.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Proxy {
    /// The MySQL wire protocol (source and destination must be MySQL/MariaDB).
    pub mysql: Option<MysqlProxy>,
    /// The PostgreSQL wire protocol (source and destination must be PostgreSQL).
    pub postgres: Option<PostgresProxy>,
}

/// `[proxy.mysql]`. `listen` is required, so, as in `[events.kafka]`, the
/// other keys take their defaults one by one (no struct-wide default).
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
    /// and the connection is closed, as the server does. Unset, it is the
    /// source's `@@max_allowed_packet`, read when the door starts (drivers
    /// read that variable, through movex, to size what they send); a
    /// session holds up to about twice it in memory.
    #[serde(default)]
    pub max_packet_bytes: Option<usize>,
}

impl MysqlProxy {
    fn default_handshake_timeout_ms() -> u64 {
        10_000
    }
    fn default_max_connections() -> usize {
        1000
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProxyUser {
    pub name: String,
    pub password: String,
}

/// `[proxy.postgres]`: as `[proxy.mysql]`, with PostgreSQL's login methods.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PostgresProxy {
    pub listen: String,
    /// Who may connect to movex (backends are reached with the source and
    /// destination URLs' credentials).
    #[serde(default)]
    pub users: Vec<ProxyUser>,
    /// How clients prove their password: `scram-sha-256` (the default, as
    /// PostgreSQL's) or `md5` (for old drivers).
    #[serde(default)]
    pub auth: PgAuth,
    /// Threads that run client sessions (0: one per core, at most 4). One
    /// by default, as PgBouncer: under pgbench on 2 cores a second thread
    /// cost more in wake-ups than it gained (BENCHMARKS.md); raise it when
    /// the door's one thread is busy.
    #[serde(default = "PostgresProxy::default_threads")]
    pub threads: usize,
    /// A client that has not logged in this long after connecting is sent
    /// an error and dropped.
    #[serde(default = "MysqlProxy::default_handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// Client connections at once, logged in or not; past it a new client
    /// gets SQLSTATE 53300 (too_many_connections).
    #[serde(default = "MysqlProxy::default_max_connections")]
    pub max_connections: usize,
    /// The largest message a logged-in client may send, in bytes; a larger
    /// one gets SQLSTATE 54000 (program_limit_exceeded) and the connection
    /// is closed. PostgreSQL's own limit is 1 GiB; a session holds up to
    /// about twice this in memory.
    #[serde(default = "PostgresProxy::default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Answer a client's plain `BEGIN` at once and send it to the server
    /// ahead of the transaction's first statement, which runs only if the
    /// `BEGIN` did: a round trip per side and transaction saved. On by
    /// default. The transaction then starts on the server with its first
    /// statement, so `now()` and `xact_start` are that statement's time
    /// (docs/design/proxy-postgres.md); `false` sends each `BEGIN` at once.
    #[serde(default = "PostgresProxy::default_defer_begin")]
    pub defer_begin: bool,
}

impl PostgresProxy {
    fn default_threads() -> usize {
        1
    }

    fn default_max_message_bytes() -> usize {
        64 * 1024 * 1024
    }

    fn default_defer_begin() -> bool {
        true
    }
}

/// `[proxy.postgres] auth`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum PgAuth {
    #[default]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "md5")]
    Md5,
}
