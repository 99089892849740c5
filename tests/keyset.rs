//! Keyset pagination against the real databases: paging a table with a
//! composite (integer, string) key, including negative and zero keys, visits
//! every row exactly once in key order; on MariaDB the page query uses the
//! primary key's index as a range.

use movex::db::keyset::{Dialect, page};
use movex_tests::dbs;
use sqlx::{Connection, Row};

/// Keys (-50..=50) x ("", "a", "ab", ..., lowercase only: every database
/// here orders these byte-wise; see docs/design section 7 for other text).
fn keys() -> Vec<(i64, String)> {
    let words = ["", "a", "ab", "abc", "b", "ba", "c", "x", "xy", "z"];
    let mut k: Vec<(i64, String)> = (-50..=50).flat_map(|a| words.iter().map(move |w| (a, w.to_string()))).collect();
    k.sort();
    k
}

fn columns() -> Vec<String> {
    vec!["a".into(), "b".into(), "v".into()]
}

fn key() -> Vec<String> {
    vec!["a".into(), "b".into()]
}

fn insert_sql(table: &str) -> String {
    let rows: Vec<String> = keys().iter().map(|(a, b)| format!("({a}, '{b}', {})", a * 7)).collect();
    format!("INSERT INTO {table} (a, b, v) VALUES {}", rows.join(", "))
}

/// Page through with `limit`, binding the last key seen, for one driver.
macro_rules! page_all {
    ($conn:expr, $dialect:expr, $table:expr, $limit:expr) => {{
        let mut seen: Vec<(i64, String)> = Vec::new();
        let mut last: Option<(i64, String)> = None;
        loop {
            let p = page($dialect, $table, &columns(), &key(), last.is_some(), $limit);
            let mut q = sqlx::query(&p.sql);
            if let Some((a, b)) = &last {
                for i in &p.binds {
                    q = if *i == 0 { q.bind(*a) } else { q.bind(b.clone()) };
                }
            }
            let rows = q.fetch_all(&mut *$conn).await.unwrap();
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let a: i64 = r.try_get::<i64, _>(0).unwrap();
                seen.push((a, r.try_get::<String, _>(1).unwrap()));
            }
            last = seen.last().cloned();
        }
        seen
    }};
}

#[tokio::test]
async fn mariadb_pages_a_composite_key_once_each_using_the_index() {
    // Dropped when the test passes.
    let db = dbs::mariadb(&dbs::unique("keyset"), "").await;
    let schema = db.name();
    let mut c = sqlx::MySqlConnection::connect(&db).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE {schema}.t (a BIGINT, b VARCHAR(8), v BIGINT, PRIMARY KEY (a, b));
         {}; ANALYZE TABLE {schema}.t;",
        insert_sql(&format!("{schema}.t"))
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let table = format!("{schema}.t");
    assert_eq!(page_all!(&mut c, Dialect::MySql, &table, 7), keys(), "every key once, in order");

    // The page query after (45, "x") reads a range of the primary key.
    let p = page(Dialect::MySql, &table, &columns(), &key(), true, 7);
    let explain = format!("EXPLAIN {}", p.sql);
    let mut q = sqlx::query(&explain);
    for i in &p.binds {
        q = if *i == 0 { q.bind(45i64) } else { q.bind("x") };
    }
    let plan = q.fetch_one(&mut c).await.unwrap();
    let text = |name: &str| -> String {
        plan.try_get_unchecked::<Option<String>, _>(name).unwrap().unwrap_or_default()
    };
    assert_eq!((text("type").as_str(), text("key").as_str()), ("range", "PRIMARY"), "plan: {:?}", (text("type"), text("key"), text("Extra")));
}

#[tokio::test]
async fn postgres_pages_a_composite_key_once_each() {
    // Dropped when the test passes.
    let guard = dbs::postgres_schema(&dbs::unique("keyset")).await;
    let schema = guard.name();
    let mut c = sqlx::PgConnection::connect(&guard).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE {schema}.t (a BIGINT, b VARCHAR(8), v BIGINT, PRIMARY KEY (a, b));
         {};",
        insert_sql(&format!("{schema}.t"))
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let table = format!("{schema}.t");
    assert_eq!(page_all!(&mut c, Dialect::Postgres, &table, 7), keys());
}

#[tokio::test]
async fn sqlite_pages_a_composite_key_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE t (a INTEGER, b TEXT, v INTEGER, PRIMARY KEY (a, b)); {};",
        insert_sql("t")
    ))
    .execute(&mut c)
    .await
    .unwrap();
    assert_eq!(page_all!(&mut c, Dialect::Sqlite, "t", 7), keys());
}
