//! `movex repair` against the real MariaDB (source) and PostgreSQL
//! (destination): seeded differences of every type, in values that must
//! cross over without loss (unsigned max, DECIMAL, DATETIME, JSON, bytes,
//! NULL), are repaired until `movex validate` exits 0; a target row newer
//! than its base row is not overwritten; findings taken twice are harmless;
//! a dry run changes nothing; a table that forbids deletes keeps its rows.

use movex_tests::dbs::{self, config};
use serde_json::json;
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
