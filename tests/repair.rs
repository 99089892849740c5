//! `movex repair` against the real MariaDB (source) and PostgreSQL
//! (destination): seeded differences of every type, in values that must
//! cross over without loss (unsigned max, DECIMAL, DATETIME, JSON, bytes,
//! NULL), are repaired until `movex validate` exits 0; a target row newer
//! than its base row is not overwritten; findings taken twice are harmless;
//! a dry run changes nothing; a table that forbids deletes keeps its rows.

use movex_tests::dbs::{self, config};
use serde_json::{Value, json};
use std::process::Command;

const MY: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(30,10), dt DATETIME(6),
    j JSON, b VARBINARY(16), n VARCHAR(20) NULL, utime BIGINT NOT NULL);";
const PG: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, u NUMERIC(20), d NUMERIC(30,10), dt TIMESTAMP(6),
    j JSONB, b BYTEA, n VARCHAR(20), utime BIGINT NOT NULL);";

fn rows(pg: bool) -> String {
    let rows: Vec<String> = (-5..=60i64)
        .map(|id| {
            let b = if pg { format!("'\\x00ff{:02x}'", id.rem_euclid(256)) } else { format!("X'00ff{:02x}'", id.rem_euclid(256)) };
            let n = if id % 5 == 0 { "NULL".into() } else { format!("'n{id}'") };
            format!("({id}, {}, '{id}.0000000001', '2024-02-29 23:59:59.123456', '{{\"a\": {id}}}', {b}, {n}, 1000)", u64::MAX - id.unsigned_abs())
        })
        .collect();
    format!("INSERT INTO items VALUES {};", rows.join(", "))
}

fn movex(cfg: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(movex_tests::movex_bin()).args(args).arg("--json").arg("--config").arg(cfg).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout).unwrap_or_default(), stderr)
}

#[tokio::test]
async fn repair_drives_the_destination_back_to_the_source_without_overwriting_newer_rows() {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::mariadb(&dbs::unique("repair_src"), &format!("{MY}{}", rows(false))).await;
    let dst = dbs::postgres(
        &dbs::unique("repair_dst"),
        &format!(
            "{PG}{}
             DELETE FROM items WHERE id IN (-5, 0, 17);
             INSERT INTO items (id, u, utime) VALUES (100, 1, 0), (-100, 2, 0);
             UPDATE items SET u = u - 1 WHERE id = 1;
             UPDATE items SET d = d + 1 WHERE id = 2;
             UPDATE items SET dt = dt + INTERVAL '1 second' WHERE id = 3;
             UPDATE items SET j = '{{\"a\": 0}}' WHERE id = 4;
             UPDATE items SET b = '\\x00' WHERE id = 6;
             UPDATE items SET n = 'x' WHERE id = 10;
             UPDATE items SET n = 'newer', utime = 2000 WHERE id = 9;",
            rows(true)
        ),
    )
    .await;
    let table = "[[tables]]\nname = \"items\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"ms\" }\ncomparator = \"exact\"\n";
    let (cfg, _) = config(dir.path(), &src, &dst, "", table);
    let seeded = json!({"target_missing": 3, "base_missing": 2, "neq": 7, "comparator_error": 0});

    let (code, report, _) = movex(&cfg, &["validate"]);
    assert_eq!((code, &report["findings"]), (1, &seeded));

    // A dry run plans and changes nothing.
    let (code, plan, err) = movex(&cfg, &["repair", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!((&plan["outcomes"]["would_run"], &plan["outcomes"]["skipped_newer"]), (&json!(11), &json!(1)), "{plan}");
    assert!(plan["plan"].as_array().unwrap().iter().any(|p| p["sql"][0].as_str().unwrap().starts_with("DELETE FROM \"items\"")), "{plan}");
    let (code, report, _) = movex(&cfg, &["validate"]);
    assert_eq!((code, &report["findings"]), (1, &seeded), "the dry run changed nothing");

    // Two validations' findings: the second set finds the first repaired.
    let (code, done, err) = movex(&cfg, &["repair"]);
    assert_eq!(code, 0, "{err} {done}");
    assert_eq!(done["outcomes"], json!({"repaired": 11, "already_consistent": 11, "skipped_newer": 2}), "{done}");
    // The newer destination row is untouched.
    let (code, report, _) = movex(&cfg, &["validate"]);
    assert_eq!((code, &report["findings"]["neq"], &report["findings"]["target_missing"]), (1, &json!(1), &json!(0)), "{report}");
    // ... until the application's write reaches the source too; then clean.
    dbs::exec(&src, "UPDATE items SET n = 'newer', utime = 2000 WHERE id = 9").await;
    let (code, report, _) = movex(&cfg, &["validate"]);
    assert_eq!(code, 0, "{report}");
    let (code, again, _) = movex(&cfg, &["repair"]);
    assert_eq!((code, &again["outcomes"]), (0, &json!({"already_consistent": 1})), "only the last neq is left, consistent by now");
}

#[tokio::test]
async fn a_table_that_forbids_deletes_keeps_its_extra_rows() {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::sqlite(dir.path(), "src", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');").await;
    let dst = dbs::sqlite(dir.path(), "dst", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'extra');").await;
    let table = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\nforbid_deletes = true\n";
    let (cfg, _) = config(dir.path(), &src, &dst, "", table);
    assert_eq!(movex(&cfg, &["validate"]).0, 1);
    let (code, done, _) = movex(&cfg, &["repair"]);
    assert_eq!((code, &done["outcomes"]), (0, &json!({"skipped": 1})), "{done}");
    assert_eq!(movex(&cfg, &["validate"]).1["findings"]["base_missing"], 1, "the row stays");
}

/// The guarded statements themselves, on each real database: an upsert
/// carrying an older update time leaves a newer row alone (every column),
/// one carrying the same or a newer time writes it; a delete removes the
/// row only while its update time is still the one repair read. This is
/// what keeps a repair that raced an application write from undoing it.
#[tokio::test]
async fn the_guarded_upsert_and_delete_never_replace_a_newer_row_on_any_dialect() {
    use movex::db::keyset::Dialect;
    use movex::repair::sql::{delete, upsert};
    use movex::db::schema::ColumnInfo;
    let col = |name: &str, db_type: &str| ColumnInfo {
        name: name.into(),
        kind: movex_guest::Kind::Text,
        db_type: db_type.into(),
        binary: false,
        json: false,
        byte_collation: None,
    };
    let cols = [col("id", "bigint"), col("v", "varchar(20)"), col("ut", "bigint")];
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE g (id BIGINT PRIMARY KEY, v VARCHAR(20), ut BIGINT); INSERT INTO g VALUES (1, 'app', 5), (2, 'app', 5);";
    let (my, pg) = (dbs::mariadb(&dbs::unique("guard"), setup).await, dbs::postgres(&dbs::unique("guard"), setup).await);
    let dbs = [(Dialect::MySql, my.to_string()), (Dialect::Postgres, pg.to_string()), (Dialect::Sqlite, dbs::sqlite(dir.path(), "guard", setup).await)];
    for (dialect, url) in dbs {
        let up = upsert(dialect, "g", &cols, 1, Some(2));
        let del = delete(dialect, "g", &cols[..1], Some(&cols[2]));
        // Literal values in place of the parameters, in order.
        let fill = |sql: &str, values: &[&str]| {
            let mut out = sql.to_owned();
            for (i, v) in values.iter().enumerate().rev() {
                out = out.replace(&format!("${}", i + 1), v);
            }
            values.iter().fold(out, |s, v| s.replacen('?', v, 1))
        };
        dbs::exec(&url, &fill(&up, &["1", "'stale'", "3"])).await;
        dbs::exec(&url, &fill(&del, &["2", "4"])).await;
        assert_eq!(dbs::query_strings(&url, "SELECT id, v, ut FROM g ORDER BY id").await, ["1 app 5", "2 app 5"], "{dialect:?}: newer rows kept");
        dbs::exec(&url, &fill(&up, &["1", "'base'", "5"])).await;
        dbs::exec(&url, &fill(&up, &["3", "'new'", "1"])).await;
        dbs::exec(&url, &fill(&del, &["2", "5"])).await;
        assert_eq!(dbs::query_strings(&url, "SELECT id, v, ut FROM g ORDER BY id").await, ["1 base 5", "3 new 1"], "{dialect:?}: written");
    }
}

/// The promotion policy sees repair's outcomes: the example policy holds
/// while a finding's repair failed (here the destination refuses the row by
/// a CHECK constraint), and promotes once that finding settles and a full
/// validation is clean.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_module_holds_while_a_repair_failed_and_promotes_once_it_settles() {
    use movex::migration::Migration;
use movex::model::State;
    use tokio_util::sync::CancellationToken;
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=50).map(|i| format!("({i}, 'user{i}')")).collect();
    let insert = format!("INSERT INTO users VALUES {};", rows.join(", "));
    let src = dbs::sqlite(dir.path(), "src", &format!("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); {insert}")).await;
    let dst = dbs::sqlite(
        dir.path(),
        "dst",
        &format!(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT CHECK (name <> 'user3')); {}
             UPDATE users SET name = 'corrupt' WHERE id IN (3, 30);",
            insert.replace("(3, 'user3')", "(3, 'corrupt')")
        ),
    )
    .await;
    let modules = dbs::modules(dir.path());
    std::fs::copy(movex_tests::wasm("promote-when-clean"), modules.join("promote-when-clean.wasm")).unwrap();
    let (cfg, _) = config(
        dir.path(),
        &src,
        &dst,
        "[policy]\nmodule = \"promote-when-clean\"\ninterval_ms = 0\n[modules.settings.promote-when-clean]\nclean_runs = \"1\"\nrollback_ratio = \"0.5\"",
        "[[tables]]\nname = \"users\"\nkey = [\"id\"]\ncomparator = \"exact\"\n",
    );
    let m = Migration::open(movex::config::Config::load(&cfg).unwrap()).await.unwrap();
    m.move_to(State::SrcOnly, false, "test", "test").await.unwrap();
    m.move_to(State::SrcFirst, false, "test", "test").await.unwrap();
    let report = m.validate_now(CancellationToken::new()).await.unwrap();
    assert_eq!(report.total_findings(), 2);

    let s = m.repair.repairer(false).pass(None, &CancellationToken::new()).await.unwrap();
    assert_eq!(s.outcomes, [("failed".to_owned(), 1), ("repaired".to_owned(), 1)].into(), "{s:?}");
    assert!(s.failures[0]["error"].as_str().unwrap().contains("CHECK constraint failed"), "{s:?}");
    let d = m.consult("test", false).await.unwrap();
    assert_eq!((d.action.as_str(), d.by.as_str()), ("stay", "policy:promote-when-clean"));
    assert!(d.reason.contains("1 findings repair could not settle"), "{}", d.reason);

    // The application changes the source row; the failed finding is taken
    // again, settles, and a clean validation lets the policy promote.
    dbs::exec(&src, "UPDATE users SET name = 'corrupt' WHERE id = 3").await;
    let s = m.repair.repairer(false).pass(None, &CancellationToken::new()).await.unwrap();
    assert_eq!(s.outcomes, [("already_consistent".to_owned(), 1)].into(), "{s:?}");
    assert_eq!(m.validate_now(CancellationToken::new()).await.unwrap().total_findings(), 0);
    let d = m.consult("test", true).await.unwrap();
    assert_eq!((d.action.as_str(), d.applied), ("promote", true), "{d:?}");
    assert_eq!(m.state().await.unwrap(), State::DstFirst);
}

/// The pool's journal: writes the destination refused while the source
/// took them (an update past a CHECK constraint, a delete a trigger
/// refused, an insert into a table the destination lacks) are journaled;
/// once the destination is fixed, `movex repair` validates the tables the
/// journal names and repairs them; the statement on an unconfigured table
/// is reported as unmatched; `movex validate` then exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn the_pools_journal_of_failed_destination_writes_is_repaired() {
    use movex::model::Pattern;
    use movex::pool::{Pool, Statement};
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (1..=20).map(|i| format!("({i}, {i})")).collect();
    let setup = format!("CREATE TABLE acct (id BIGINT PRIMARY KEY, v BIGINT NOT NULL); INSERT INTO acct VALUES {};", rows.join(", "));
    let src = dbs::mariadb(&dbs::unique("journal_src"), &format!("{setup} CREATE TABLE other (id BIGINT);")).await;
    let dst = dbs::postgres(
        &dbs::unique("journal_dst"),
        &format!(
            "{setup} ALTER TABLE acct ADD CONSTRAINT small CHECK (v < 1000);
             CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER no_delete BEFORE DELETE ON acct FOR EACH ROW EXECUTE FUNCTION refuse();"
        ),
    )
    .await;
    let (cfg, state) = config(dir.path(), &src, &dst, "", "[[tables]]\nname = \"acct\"\nkey = [\"id\"]\ncomparator = \"exact\"\n");
    let config = movex::config::Config::load(&cfg).unwrap();
    let store = movex::store::Store::open(&state).await.unwrap();
    let pool = Pool::new(&src, &dst, config.pool.clone(), store.clone(), &mut Default::default()).unwrap();
    pool.set_pattern(Pattern::SrcFirst);
    for stmt in [
        Statement::new("UPDATE acct SET v = ? WHERE id = ?").bind(5000).bind(5),
        Statement::new("UPDATE acct SET v = ? WHERE id = ?").bind(7000).bind(7),
        Statement::new("DELETE FROM acct WHERE id = ?").bind(9),
        Statement::new("INSERT INTO other VALUES (?)").bind(1),
        // This one reaches both sides.
        Statement::new("UPDATE acct SET v = ? WHERE id = ?").bind(11).bind(11),
    ] {
        pool.execute(&stmt).await.expect("non-strict: the source's success is the caller's");
    }
    assert_eq!(store.journal_count().await.unwrap(), 4);
    // The destination is fixed; nothing has validated it since.
    dbs::exec(&dst, "ALTER TABLE acct DROP CONSTRAINT small; DROP TRIGGER no_delete ON acct;").await;

    let (code, done, err) = movex(&cfg, &["repair"]);
    assert_eq!(code, 0, "{err} {done}");
    assert_eq!((&done["journal"]["entries"], &done["journal"]["tables"]), (&json!(4), &json!(["acct"])), "{done}");
    let unmatched = done["journal"]["unmatched"].as_array().unwrap();
    assert_eq!(unmatched.len(), 1, "{done}");
    assert!(unmatched[0]["reason"].as_str().unwrap().contains("none of them a configured table"), "{done}");
    assert_eq!(done["outcomes"], json!({"repaired": 3}), "{done}");
    let (code, report, _) = movex(&cfg, &["validate"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(dbs::query_strings(&dst, "SELECT id, v FROM acct WHERE id IN (5, 7, 9) ORDER BY id").await, ["5 5000", "7 7000"]);
    // Settled: the next pass has nothing to do.
    let (code, again, _) = movex(&cfg, &["repair"]);
    assert_eq!((code, &again["journal"], &again["outcomes"]), (0, &Value::Null, &json!({})), "{again}");
}

/// A target row that stays newer than an unchanged base (what a
/// data-dependent statement applied differently on the two sides leaves)
/// is overwritten from the base on a later pass, guarded and recorded;
/// one whose target changed between passes is not. On MariaDB and on
/// PostgreSQL destinations.
#[tokio::test]
async fn a_target_row_that_stays_newer_than_an_unchanged_base_is_settled_by_a_guarded_overwrite() {
    const T: &str = "CREATE TABLE s (id BIGINT PRIMARY KEY, v VARCHAR(20), utime BIGINT NOT NULL);";
    let src = dbs::mariadb(&dbs::unique("newer_src"), &format!("{T}INSERT INTO s VALUES (1, 'base', 1000), (2, 'same', 1000), (3, 'base', 1000);")).await;
    let diverged = format!("{T}INSERT INTO s VALUES (1, 'diverged', 2000), (2, 'same', 1000), (3, 'diverged', 2000);");
    for dst in [dbs::mariadb(&dbs::unique("newer_dst"), &diverged).await, dbs::postgres(&dbs::unique("newer_dst"), &diverged).await] {
        let dir = tempfile::tempdir().unwrap();
        let table = "[[tables]]\nname = \"s\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"ms\" }\ncomparator = \"exact\"\n";
        let (cfg, _) = config(dir.path(), &src, &dst, "[repair]\nsettle_newer_after = 2\nsettle_newer_after_ms = 500\n", table);
        assert_eq!(movex(&cfg, &["validate"]).0, 1);
        let (code, first, err) = movex(&cfg, &["repair"]);
        assert_eq!((code, &first["outcomes"]), (0, &json!({"skipped_newer": 2})), "first sighting: left alone. {err}");
        // The application writes row 3 on the target again: its sightings start over.
        dbs::exec(&dst, "UPDATE s SET utime = 3000 WHERE id = 3").await;
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert_eq!(movex(&cfg, &["validate"]).0, 1);
        let (code, dry, _) = movex(&cfg, &["repair", "--dry-run"]);
        assert_eq!((code, &dry["outcomes"]), (0, &json!({"would_run": 1, "skipped_newer": 1})), "{dry}");
        let (code, second, err) = movex(&cfg, &["repair"]);
        assert_eq!((code, &second["outcomes"]), (0, &json!({"overwrote_newer": 1, "skipped_newer": 1})), "{err}");
        assert_eq!(dbs::query_strings(&dst, "SELECT v, utime FROM s WHERE id = 1").await, ["base 1000"], "overwritten from the base");
        assert_eq!(dbs::query_strings(&dst, "SELECT v, utime FROM s WHERE id = 3").await, ["diverged 3000"], "changed since: untouched");
        std::thread::sleep(std::time::Duration::from_millis(600));
        movex(&cfg, &["validate"]);
        let (_, third, _) = movex(&cfg, &["repair"]);
        assert_eq!(third["outcomes"], json!({"overwrote_newer": 1}), "row 3 stayed so since: {third}");
        assert_eq!(movex(&cfg, &["validate"]).0, 0, "converged");
    }
}
