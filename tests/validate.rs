//! The validator against the real databases, through `movex validate` as a
//! pipeline runs it: seeded differences of every type are found exactly (no
//! more, no fewer), on MariaDB, PostgreSQL and SQLite and across them, with
//! composite and string keys, keys <= 0, rows sharing an update time, NULLs,
//! unsigned max, DECIMAL, DATETIME, JSON and binary values; exit codes 0/1/2.

use movex_tests::dbs::{self, config, keys_of};
use serde_json::json;

fn counts(report: &serde_json::Value) -> serde_json::Value {
    report["findings"].clone()
}

/// `items` with every value kind the issue names; ids -20..=180.
const ITEMS_MYSQL: &str = "CREATE TABLE items (
    id BIGINT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(30,10), dt DATETIME(6), j JSON,
    b VARBINARY(16), n VARCHAR(20) NULL, tier VARCHAR(8), utime BIGINT);";

fn items_rows() -> String {
    let rows: Vec<String> = (-20..=180i64)
        .map(|id| {
            let n = if id % 5 == 0 { "NULL".to_owned() } else { format!("'n{id}'") };
            let tier = if id.rem_euclid(2) == 0 { "gold" } else { "free" };
            format!(
                "({id}, {}, '{id}.0000000001', TIMESTAMP '2024-02-29 23:59:59.123456' + INTERVAL {id} MINUTE, \
                 '{{\"a\": {id}, \"b\": [1, 2]}}', X'00ff{:02x}', {n}, '{tier}', {})",
                u64::MAX - id.unsigned_abs(),
                id.rem_euclid(256),
                1_700_000_000_000i64 + id
            )
        })
        .collect();
    format!("INSERT INTO items VALUES {};", rows.join(", "))
}

/// The differences seeded into the destination's `items`, by type.
const SEED_ITEMS: &str = "
    DELETE FROM items WHERE id IN (-20, 0, 77);
    INSERT INTO items (id, u, tier, utime) VALUES (500, 1, 'gold', 0), (-500, 2, 'gold', 0);
    UPDATE items SET u = u - 1 WHERE id = 1;
    UPDATE items SET d = d + 0.0000000001 WHERE id = 2;
    UPDATE items SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = 3;
    UPDATE items SET j = '{\"a\": 4, \"b\": [2, 1]}' WHERE id = 4;
    UPDATE items SET b = X'00ff06' WHERE id = 5;
    UPDATE items SET n = 'x' WHERE id = 10;
    UPDATE items SET n = NULL WHERE id = 6;
";

/// MySQL zero dates are values like any other: equal when both sides hold one.
const ZERO_DATE: &str = "UPDATE items SET dt = '0000-00-00 00:00:00' WHERE id = 7;";

const ITEMS_TABLE: &str = r#"
[[tables]]
name = "items"
key = ["id"]
comparator = "exact"
tagger = "tag-by-column"
"#;

#[tokio::test]
async fn mariadb_finds_exactly_the_seeded_differences_of_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let setup = format!("{ITEMS_MYSQL}{}{ZERO_DATE}", items_rows());
    let src = dbs::mariadb(&dbs::unique("every_src"), &setup).await;
    let seeds = format!("{SEED_ITEMS} UPDATE items SET dt = '0000-00-00 00:00:00' WHERE id = 8;");
    let dst = dbs::mariadb(&dbs::unique("every_dst"), &format!("{setup}{seeds}")).await;
    // Pages of 16 rows: the merge crosses many page boundaries.
    let (cfg, state) = config(dir.path(), &src, &dst, "[validation]\nbatch_size = 16", ITEMS_TABLE);

    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 1, "differences found exit 1: {run:?}");
    assert_eq!(counts(&run.json), json!({"target_missing": 3, "base_missing": 2, "neq": 8, "comparator_error": 0}));
    assert_eq!(run.json["rows_read"], json!({"base": 201, "target": 200}));
    let run_id = run.json["tables"][0]["run_id"].as_str().unwrap();
    let found = dbs::findings(&state, run_id).await;
    assert_eq!(keys_of(&found, "target_missing"), ["-20", "0", "77"]);
    assert_eq!(keys_of(&found, "base_missing"), ["-500", "500"]);
    assert_eq!(keys_of(&found, "neq"), ["1", "10", "2", "3", "4", "5", "6", "8"]);
    // Each neq names the one column changed, with both values, without loss.
    let column_of = |id: i64| {
        let f = found.iter().find(|f| f.key == json!(id) && f.kind.as_str() == "neq").unwrap();
        assert_eq!(f.columns.len(), 1, "{f:?}");
        f.columns[0].clone()
    };
    let u = column_of(1);
    assert_eq!((u.column.as_str(), &u.base, &u.target), ("u", &json!(u64::MAX - 1), &json!(u64::MAX - 2)));
    let d = column_of(2);
    assert_eq!((d.base.as_str(), d.target.as_str()), (Some("2.0000000001"), Some("2.0000000002")));
    assert_eq!(column_of(3).target, json!("2024-03-01 00:02:59.123457"));
    assert_eq!(column_of(4).column, "j");
    assert_eq!(column_of(5).target, json!({"hex": "00ff06"}));
    assert_eq!((column_of(10).base.clone(), column_of(10).target.clone()), (json!(null), json!("x")));
    assert_eq!(column_of(6).column, "n");
    assert_eq!(column_of(8).target, json!("0000-00-00 00:00:00"));
    // The tagger's tag is on every finding: the tier of the row found.
    for f in &found {
        let id = f.key.as_i64().unwrap();
        let tier = if id.rem_euclid(2) == 0 { "gold" } else { "free" };
        assert_eq!(f.tag.as_deref(), Some(tier), "{f:?}");
        assert_eq!(f.direction.as_str(), "SRC");
    }

    // Validated again in the other direction (the destination as base), the
    // missing sides swap.
    let run = dbs::validate(&cfg, &["--direction", "DST"]);
    assert_eq!(counts(&run.json), json!({"target_missing": 2, "base_missing": 3, "neq": 8, "comparator_error": 0}), "{run:?}");

    // Identical tables: exit 0.
    dbs::exec(&dst, &format!("DELETE FROM items; {}{ZERO_DATE}", items_rows())).await;
    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(counts(&run.json), json!({"target_missing": 0, "base_missing": 0, "neq": 0, "comparator_error": 0}));
}

#[tokio::test]
async fn string_and_composite_keys_merge_byte_wise_from_mariadb_to_postgres() {
    let dir = tempfile::tempdir().unwrap();
    // Case- and accent-insensitive on MariaDB (utf8mb4_general_ci), the
    // locale's order on PostgreSQL: neither is byte order.
    let names = ["", "a", "B", "c", "é", "Z", "a b", "_x", "ÿ", "Ab"];
    let mut rows = Vec::new();
    for shard in [-1, 0, 1] {
        for (i, n) in names.iter().enumerate() {
            rows.push(format!("({shard}, '{n}', {})", shard * 100 + i as i64));
        }
    }
    let insert = |t: &str| format!("INSERT INTO {t} (shard, name, v) VALUES {};", rows.join(", "));
    // A second table, identical on both sides, validated in the same run.
    let same = "CREATE TABLE same (id INT PRIMARY KEY, v VARCHAR(8)); INSERT INTO same VALUES (-1, 'a'), (0, 'b'), (1, 'c');";
    // The source table has another name, and a `note` column that differs
    // everywhere but is not among the compared `columns`.
    let src = dbs::mariadb(
        &dbs::unique("keys_src"),
        &format!(
            "CREATE TABLE t_v1 (shard INT, name VARCHAR(20), v INT, note VARCHAR(8) DEFAULT 'src', PRIMARY KEY (shard, name));
             {} {same}",
            insert("t_v1")
        ),
    )
    .await;
    let dst = dbs::postgres(
        &dbs::unique("keys_dst"),
        &format!(
            "CREATE TABLE t (shard INT, name VARCHAR(20), v INT, note VARCHAR(8) DEFAULT 'dst', PRIMARY KEY (shard, name));
             {} {same}
             DELETE FROM t WHERE shard = 0 AND name = 'B';
             INSERT INTO t VALUES (1, 'b', 7), (-1, 'Zz', 8);
             UPDATE t SET v = -1 WHERE shard = 1 AND name = 'é';",
            insert("t")
        ),
    )
    .await;
    let tables = "[[tables]]\nname = \"t\"\nsource_name = \"t_v1\"\nkey = [\"shard\", \"name\"]\ncolumns = [\"v\"]\n\
                  comparator = \"exact\"\n[[tables]]\nname = \"same\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let (cfg, state) = config(dir.path(), &src, &dst, "[validation]\nbatch_size = 4", tables);
    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(counts(&run.json), json!({"target_missing": 1, "base_missing": 2, "neq": 1, "comparator_error": 0}), "{run:?}");
    let same = &run.json["tables"][1];
    assert_eq!((same["table"].as_str(), same["status"].as_str(), same["rows_read"]["base"].as_u64()), (Some("same"), Some("completed"), Some(3)));
    let found = dbs::findings(&state, run.json["tables"][0]["run_id"].as_str().unwrap()).await;
    assert_eq!(keys_of(&found, "target_missing"), [r#"[0,"B"]"#]);
    assert_eq!(keys_of(&found, "base_missing"), [r#"[-1,"Zz"]"#, r#"[1,"b"]"#]);
    assert_eq!(keys_of(&found, "neq"), [r#"[1,"é"]"#]);
}

#[tokio::test]
async fn mariadb_and_postgres_values_compare_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::mariadb(&dbs::unique("hetero_src"), &format!("{ITEMS_MYSQL}{}", items_rows())).await;
    // The same rows in PostgreSQL's types: unsigned 64-bit needs NUMERIC(20).
    let pg_rows = items_rows()
        .replace("X'00ff", "'\\x00ff")
        .replace("TIMESTAMP '2024-02-29 23:59:59.123456' + INTERVAL ", "TIMESTAMP '2024-02-29 23:59:59.123456' + INTERVAL '1 minute' * ")
        .replace(" MINUTE,", ",");
    let dst = dbs::postgres(
        &dbs::unique("hetero_dst"),
        &format!(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, u NUMERIC(20), d NUMERIC(30,10), dt TIMESTAMP(6), j JSONB,
               b BYTEA, n VARCHAR(20), tier VARCHAR(8), utime BIGINT); {pg_rows}"
        ),
    )
    .await;
    let table = ITEMS_TABLE.replace("\"exact\"", "\"tolerant\"");
    let (cfg, state) = config(dir.path(), &src, &dst, "", &table);
    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 0, "identical data in both databases' own types: {run:?}");

    dbs::exec(
        &dst,
        "UPDATE items SET u = u - 1 WHERE id = -3; UPDATE items SET d = d + 0.0000000001 WHERE id = 8;
         UPDATE items SET b = '\\x0000'::bytea WHERE id = 9; UPDATE items SET j = '{\"a\": 0}' WHERE id = 11;
         UPDATE items SET dt = dt + INTERVAL '1 second' WHERE id = 12; DELETE FROM items WHERE id = 13;",
    )
    .await;
    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let found = dbs::findings(&state, run.json["tables"][0]["run_id"].as_str().unwrap()).await;
    assert_eq!(keys_of(&found, "neq"), ["-3", "11", "12", "8", "9"]);
    assert_eq!(keys_of(&found, "target_missing"), ["13"]);
    assert_eq!(found.len(), 6);
}

#[tokio::test]
async fn incremental_mode_checks_both_sides_and_rows_sharing_an_update_time() {
    let dir = tempfile::tempdir().unwrap();
    // 60 rows share utime 5000 (pages of 7 split them); 20 are older.
    let mut rows = Vec::new();
    for id in -10..70i64 {
        let utime = if (-10..50).contains(&id) && id % 4 != 0 { 5000 } else { 100 };
        rows.push(format!("({id}, {id}, 'gold', {utime})"));
    }
    let setup = format!("CREATE TABLE users (id INTEGER PRIMARY KEY, v INTEGER, tier TEXT, utime INTEGER); INSERT INTO users VALUES {};", rows.join(", "));
    let src = dbs::sqlite(dir.path(), "src", &setup).await;
    let dst = dbs::sqlite(
        dir.path(),
        "dst",
        &format!(
            "{setup}
             UPDATE users SET v = -3 WHERE id = 3;                 -- changed in the window on both: neq (pass 1)
             UPDATE users SET v = -40, utime = 6000 WHERE id = 40; -- changed only on the target: neq (pass 2)
             UPDATE users SET v = -44 WHERE id = 44;               -- differs, but older than T: not this run's
             DELETE FROM users WHERE id = 45;                      -- target_missing
             INSERT INTO users VALUES (900, 900, 'free', 5000);    -- base_missing"
        ),
    )
    .await;
    let table = "[[tables]]\nname = \"users\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"ms\" }\ncomparator = \"exact\"\ntagger = \"tag-by-column\"\n";
    let (cfg, state) = config(dir.path(), &src, &dst, "[validation]\nbatch_size = 7", table);
    let run = dbs::validate(&cfg, &["--mode", "incr", "--since", "1000"]);
    assert_eq!(run.code, 1, "{run:?}");
    let found = dbs::findings(&state, run.json["tables"][0]["run_id"].as_str().unwrap()).await;
    assert_eq!(keys_of(&found, "neq"), ["3", "40"], "{found:?}");
    assert_eq!(keys_of(&found, "target_missing"), ["45"]);
    assert_eq!(keys_of(&found, "base_missing"), ["900"]);
    assert_eq!(found.len(), 4, "nothing reported twice: {found:?}");
    // Since after every change: nothing.
    let run = dbs::validate(&cfg, &["--mode", "incr", "--since", "7000"]);
    assert_eq!((run.code, counts(&run.json)["neq"].clone()), (0, json!(0)), "{run:?}");
}

#[tokio::test]
async fn incremental_mode_on_datetime_columns_from_mariadb_to_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (0..30)
        .map(|id| {
            let t = if id < 20 { "2026-01-01 00:00:00" } else { "2020-01-01 00:00:00" };
            format!("({id}, {id}, 'free', '{t}')")
        })
        .collect();
    let insert = format!("INSERT INTO ev VALUES {};", rows.join(", "));
    let src = dbs::mariadb(&dbs::unique("incr_src"), &format!("CREATE TABLE ev (id INT PRIMARY KEY, v INT, tier VARCHAR(8), utime DATETIME(6)); {insert}")).await;
    let dst = dbs::postgres(
        &dbs::unique("incr_dst"),
        &format!(
            "CREATE TABLE ev (id INT PRIMARY KEY, v INT, tier VARCHAR(8), utime TIMESTAMP(6)); {insert}
             UPDATE ev SET v = 0 WHERE id = 5; UPDATE ev SET v = 0, utime = '2026-02-01' WHERE id = 25;
             DELETE FROM ev WHERE id = 6;"
        ),
    )
    .await;
    let table = "[[tables]]\nname = \"ev\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"datetime\" }\ncomparator = \"exact\"\n";
    let (cfg, state) = config(dir.path(), &src, &dst, "[validation]\nbatch_size = 6", table);
    // 2025-12-31T00:00:00Z
    let run = dbs::validate(&cfg, &["--mode", "incr", "--since", "1767139200000"]);
    assert_eq!(run.code, 1, "{run:?}");
    let found = dbs::findings(&state, run.json["tables"][0]["run_id"].as_str().unwrap()).await;
    assert_eq!(keys_of(&found, "neq"), ["25", "5"], "{found:?}");
    assert_eq!(keys_of(&found, "target_missing"), ["6"]);
    assert_eq!(found.len(), 3);
}

#[tokio::test]
async fn errors_exit_2_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::sqlite(dir.path(), "src", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").await;
    let dst = dbs::sqlite(dir.path(), "dst", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").await;
    let table = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let cases: Vec<(String, String, Vec<&str>, &str)> = vec![
        (src.clone(), dst.clone(), vec![], ""),
        ("mysql://root@127.0.0.1:1/nope".into(), dst.clone(), vec![], "cannot connect to the source database"),
        (src.clone(), format!("{}-missing", dst), vec![], "cannot connect to the destination database"),
        (src.clone(), dst.clone(), vec!["--table", "nope"], "no table \"nope\""),
        (src.clone(), dst.clone(), vec!["--mode", "incr"], "needs --since"),
    ];
    for (s, d, args, needle) in cases {
        let (cfg, _) = config(dir.path(), &s, &d, "", table);
        let run = dbs::validate(&cfg, &args);
        if needle.is_empty() {
            assert_eq!(run.code, 0, "{run:?}");
        } else {
            assert_eq!(run.code, 2, "{needle}: {run:?}");
            assert!(run.stderr.contains(needle), "expected {needle:?} in {}", run.stderr);
        }
    }
    let (cfg, _) = config(dir.path(), &src, &dst, "", &table.replace("exact", "no-such-module"));
    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 2);
    assert!(run.json["tables"][0]["error"].as_str().unwrap().contains("module \"no-such-module\" is not loaded"), "{run:?}");
    std::fs::write(&cfg, "[source]\nurl = \"sqlite://a\"\n[destination]\nurl = \"sqlite://b\"\nbogus = 1\n").unwrap();
    let run = dbs::validate(&cfg, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown field `bogus`"), "{}", run.stderr);
}
