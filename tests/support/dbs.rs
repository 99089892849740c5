//! Real databases for the validator tests: a fresh MariaDB database or
//! PostgreSQL database (or schema) per test, named with the test and the
//! process id, so tests run in parallel, and dropped when the test passes
//! ([`Db`]); a modules directory with the example modules; and the `movex
//! validate` binary run as a pipeline would run it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub fn mysql_url() -> String {
    std::env::var("MOVEX_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub fn pg_url() -> String {
    std::env::var("MOVEX_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `base` with its database replaced by `db`.
fn with_database(base: &str, db: &str) -> String {
    let (head, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{head}/{db}")
}

/// A unique database name for this test and process.
pub fn unique(name: &str) -> String {
    format!("mvx_{name}_{}", std::process::id())
}

/// A database (or PostgreSQL schema) made for one test; derefs to its URL.
///
/// Dropped when the guard is, if the test passed; kept if it failed (the
/// guard is dropped while the test's panic unwinds), with its name printed,
/// so it can be looked at. Dropping does not wait on whatever still holds it
/// (a `movex` the test started, a connection it leaked): on MariaDB the
/// connections using the database are killed first and the drop waits at
/// most 10 s for a lock; on PostgreSQL `WITH (FORCE)` ends them, and for a
/// schema the sessions holding locks in it are ended and the drop waits at
/// most 10 s for a lock. A database that could not be dropped is reported
/// on stderr, not a failure: the test passed.
pub struct Db {
    url: String,
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    MariaDb,
    Postgres,
    PostgresSchema,
}

impl Db {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's (or schema's) name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::ops::Deref for Db {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

impl AsRef<str> for Db {
    fn as_ref(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?})", self.url, self.kind)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let what = if matches!(self.kind, Kind::PostgresSchema) { "schema" } else { "database" };
        if std::thread::panicking() {
            eprintln!("the test failed: kept its {what} {} to look at ({})", self.name, self.url);
            return;
        }
        // A guard is often dropped inside the test's tokio runtime, which
        // cannot be blocked on: the drop runs on a thread of its own, with a
        // runtime of its own, and is waited for.
        let (name, kind) = (self.name.clone(), self.kind);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), drop_now(&name, kind)).await.map_err(|_| "timed out after 30 s".to_owned())? })
        })
        .join()
        .unwrap_or_else(|_| Err("the thread dropping it panicked".into()));
        if let Err(e) = dropped {
            eprintln!("the test passed but its {what} {} was not dropped: {e}", self.name);
        }
    }
}

async fn drop_now(name: &str, kind: Kind) -> Result<(), String> {
    use sqlx::Connection;
    let e = |e: sqlx::Error| e.to_string();
    match kind {
        Kind::MariaDb => {
            let mut c = sqlx::MySqlConnection::connect(&mysql_url()).await.map_err(e)?;
            let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()")
                .bind(name)
                .fetch_all(&mut c)
                .await
                .map_err(e)?;
            for id in ids {
                // It may have ended meanwhile.
                let _ = sqlx::raw_sql(&format!("KILL CONNECTION {id}")).execute(&mut c).await;
            }
            sqlx::raw_sql(&format!("SET SESSION lock_wait_timeout = 10; DROP DATABASE IF EXISTS {name}")).execute(&mut c).await.map_err(e)?;
        }
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&pg_url()).await.map_err(e)?;
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await.map_err(e)?;
        }
        Kind::PostgresSchema => {
            let mut c = sqlx::PgConnection::connect(&pg_url()).await.map_err(e)?;
            // The database is shared: end only the sessions holding locks in this schema.
            // (A lock on a table in it, or on the schema itself: a session creating a table there.)
            sqlx::query(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.pid <> pg_backend_pid() AND ( \
                   l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1) \
                   OR (l.classid = 'pg_namespace'::regclass AND l.objid IN (SELECT oid FROM pg_namespace WHERE nspname = $1)))",
            )
            .bind(name)
            .execute(&mut c)
            .await
            .map_err(e)?;
            sqlx::raw_sql(&format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut c).await.map_err(e)?;
        }
    }
    Ok(())
}

/// A new, empty MariaDB database, dropped when the test passes. `setup`
/// runs in it.
pub async fn mariadb(name: &str, setup: &str) -> Db {
    use sqlx::Connection;
    let url = mysql_url();
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap_or_else(|e| panic!("MariaDB at {url}: {e}"));
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        .execute(&mut c)
        .await
        .unwrap();
    let db = Db { url: with_database(&url, name), name: name.to_owned(), kind: Kind::MariaDb };
    if !setup.is_empty() {
        let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(setup).execute(&mut c).await.unwrap_or_else(|e| panic!("setup of {name}: {e}"));
    }
    db
}

/// A new, empty PostgreSQL database, dropped when the test passes. `setup`
/// runs in it.
pub async fn postgres(name: &str, setup: &str) -> Db {
    use sqlx::Connection;
    let url = pg_url();
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut c).await.unwrap();
    let db = Db { url: with_database(&url, name), name: name.to_owned(), kind: Kind::Postgres };
    if !setup.is_empty() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(setup).execute(&mut c).await.unwrap_or_else(|e| panic!("setup of {name}: {e}"));
    }
    db
}

/// A new, empty schema in the PostgreSQL test database, dropped when the
/// test passes; the guard's URL is the database's.
pub async fn postgres_schema(name: &str) -> Db {
    use sqlx::Connection;
    let url = pg_url();
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).execute(&mut c).await.unwrap();
    Db { url, name: name.to_owned(), kind: Kind::PostgresSchema }
}

/// A new SQLite file in `dir`; its URL. `setup` runs in it.
pub async fn sqlite(dir: &Path, name: &str, setup: &str) -> String {
    use sqlx::Connection;
    let path = dir.join(format!("{name}.db"));
    let url = format!("sqlite://{}", path.display());
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let mut c = sqlx::SqliteConnection::connect_with(&opts.create_if_missing(true)).await.unwrap();
    sqlx::raw_sql(setup).execute(&mut c).await.unwrap_or_else(|e| panic!("setup of {name}: {e}"));
    url
}

/// Run SQL against a database URL of any of the three kinds.
pub async fn exec(url: &str, sql: &str) {
    use sqlx::Connection;
    let r = if url.starts_with("mysql") {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.map(|_| ())
    } else if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.map(|_| ())
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.map(|_| ())
    };
    r.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows of a query against any of the three kinds, each as its columns'
/// text joined by spaces (integers and strings; NULL as `NULL`).
pub async fn query_strings(url: &str, sql: &str) -> Vec<String> {
    use sqlx::{Connection, Row};
    fn text<R: Row>(r: &R) -> String
    where
        for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        usize: sqlx::ColumnIndex<R>,
    {
        (0..r.len())
            .map(|i| match (r.try_get::<Option<i64>, _>(i), r.try_get::<Option<String>, _>(i)) {
                (Ok(Some(n)), _) => n.to_string(),
                (_, Ok(Some(s))) => s,
                _ => "NULL".into(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
    if url.starts_with("mysql") {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(text).collect()
    } else if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(text).collect()
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(text).collect()
    }
}

/// A modules directory holding the example modules.
pub fn modules(dir: &Path) -> std::path::PathBuf {
    let m = dir.join("modules");
    std::fs::create_dir_all(&m).unwrap();
    for p in ["exact", "tolerant", "tag-by-column"] {
        std::fs::copy(crate::wasm(p), m.join(format!("{p}.wasm"))).unwrap();
    }
    m
}

/// What `movex validate` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    /// The `--json` report (Null when there was none).
    pub json: serde_json::Value,
    pub stderr: String,
}

/// Run `movex validate --config CONFIG --json ARGS...`.
pub fn validate(config: &Path, args: &[&str]) -> Run {
    let out = Command::new(crate::movex_bin())
        .args(["validate", "--json", "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("run movex");
    let stdout = String::from_utf8_lossy(&out.stdout);
    Run {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The findings of a run, as stored in the state store: (type, key as JSON text).
pub async fn findings(state_url: &str, run_id: &str) -> Vec<movex::model::Finding> {
    let store = movex::store::Store::open(state_url).await.unwrap();
    store.findings(run_id).await.unwrap()
}

/// Keys of the findings of one type, sorted, as JSON text.
pub fn keys_of(findings: &[movex::model::Finding], kind: &str) -> Vec<String> {
    let mut k: Vec<String> = findings.iter().filter(|f| f.kind.as_str() == kind).map(|f| f.key.to_string()).collect();
    k.sort();
    k
}

/// How many findings the state store holds so far (0 before it exists).
pub async fn stored_findings(state_url: &str) -> i64 {
    use sqlx::Connection;
    let path = state_url.trim_start_matches("sqlite://");
    if !Path::new(path).exists() {
        return 0;
    }
    let Ok(mut c) = sqlx::SqliteConnection::connect(state_url).await else { return 0 };
    sqlx::query_scalar("SELECT count(*) FROM movex_findings").fetch_one(&mut c).await.unwrap_or(0)
}

/// A config file `movex.toml` in `dir` for these databases, the example
/// modules (tag-by-column tags by `tier`) and a state store in `dir`; `extra`
/// sections and `tables` appended. The path and the state store's URL.
pub fn config(dir: &Path, src: &str, dst: &str, extra: &str, tables: &str) -> (PathBuf, String) {
    let modules = modules(dir);
    let state = format!("sqlite://{}", dir.join("state.db").display());
    let text = format!(
        r#"
[source]
url = "{src}"
[destination]
url = "{dst}"
[state]
url = "{state}"
[modules]
dir = "{}"
[modules.settings.tag-by-column]
column = "tier"
{extra}
{tables}
"#,
        modules.display()
    );
    let path = dir.join("movex.toml");
    std::fs::write(&path, text).unwrap();
    (path, state)
}

/// What `movex serve` runs on in the tests that drive it from outside
/// (schemathesis, a browser): SQLite source and destination in `dir` with
/// the same `rows` users (id, name `user<id>`, tier gold for even ids and
/// free for odd, utime), validated by `exact` and tagged by tier; the
/// control plane on `port` behind `token`; `extra` sections appended. The
/// config's path and the destination's URL.
pub async fn users_to_serve(dir: &Path, rows: i64, port: u16, token: &str, extra: &str) -> (PathBuf, String) {
    let table = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, tier TEXT, utime INTEGER);";
    let values: Vec<String> = (1..=rows).map(|i| format!("({i}, 'user{i}', '{}', {})", if i % 2 == 0 { "gold" } else { "free" }, 1000 + i)).collect();
    let setup = format!("{table}INSERT INTO users VALUES {};", values.join(", "));
    let src = sqlite(dir, "src", &setup).await;
    let dst = sqlite(dir, "dst", &setup).await;
    let (config, _) = config(
        dir,
        &src,
        &dst,
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"{token}\"\n{extra}"),
        "[[tables]]\nname = \"users\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"ms\" }\ncomparator = \"exact\"\ntagger = \"tag-by-column\"\n",
    );
    (config, dst)
}
