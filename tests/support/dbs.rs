//! Real databases for the validator tests: a fresh MariaDB database or
//! PostgreSQL database per test (named with the test and the process id, so
//! tests run in parallel), a modules directory with the example modules, and
//! the `movex validate` binary run as a pipeline would run it.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// A new, empty MariaDB database; its URL. `setup` runs in it.
pub async fn mariadb(name: &str, setup: &str) -> String {
    use sqlx::Connection;
    let url = mysql_url();
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap_or_else(|e| panic!("MariaDB at {url}: {e}"));
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        .execute(&mut c)
        .await
        .unwrap();
    let url = with_database(&url, name);
    if !setup.is_empty() {
        let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(setup).execute(&mut c).await.unwrap_or_else(|e| panic!("setup of {name}: {e}"));
    }
    url
}

/// A new, empty PostgreSQL database; its URL. `setup` runs in it.
pub async fn postgres(name: &str, setup: &str) -> String {
    use sqlx::Connection;
    let url = pg_url();
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut c).await.unwrap();
    let url = with_database(&url, name);
    if !setup.is_empty() {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(setup).execute(&mut c).await.unwrap_or_else(|e| panic!("setup of {name}: {e}"));
    }
    url
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

