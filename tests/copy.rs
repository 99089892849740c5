//! `movex copy` against real servers: every value kind across MariaDB,
//! PostgreSQL and SQLite with composite, string and non-positive keys, each
//! destination validating clean afterwards; a copy killed with SIGKILL
//! resumes from its checkpoint; bad input stops with an error naming the
//! table and column, and leaves what a rerun can finish; a chunk the
//! destination was too busy to take is tried again.

use movex_tests::dbs;
use serde_json::Value as Json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// `movex copy --json --config CONFIG ARGS...`: exit code, report, stderr.
fn copy(cfg: &Path, args: &[&str]) -> (i32, Json, String) {
    let out = Command::new(movex_tests::movex_bin()).args(["copy", "--json", "--config"]).arg(cfg).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Json::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// MariaDB's side: a composite key (string, then an integer that runs
/// negative), unsigned 64-bit, DECIMAL(65,30), DATETIME(6), JSON, bytes,
/// NULLs.
const ITEMS_MARIADB: &str = "CREATE TABLE items (
    region VARCHAR(8) NOT NULL, id BIGINT NOT NULL, u BIGINT UNSIGNED, d DECIMAL(65,30), dt DATETIME(6),
    j JSON, b VARBINARY(16), n VARCHAR(20) NULL, PRIMARY KEY (region, id));";

const ITEMS_POSTGRES: &str = "CREATE TABLE items (
    region VARCHAR(8) NOT NULL, id BIGINT NOT NULL, u NUMERIC(20), d NUMERIC(65,30), dt TIMESTAMP(6),
    j JSONB, b BYTEA, n VARCHAR(20), PRIMARY KEY (region, id));";

/// SQLite keeps what it is given: numbers past 64 bits and exact decimals
/// as text.
const ITEMS_SQLITE: &str = "CREATE TABLE items (
    region TEXT NOT NULL, id INTEGER NOT NULL, u TEXT, d TEXT, dt TEXT, j TEXT, b BLOB, n TEXT,
    PRIMARY KEY (region, id));";

/// `rows` rows per region in three regions, ids from -50 up, in MariaDB's
/// SQL (`pg`: PostgreSQL's).
fn items_rows(rows: i64, pg: bool) -> String {
    let mut v = Vec::new();
    for region in ["", "eu", "us-west"] {
        for id in -50..(rows - 50) {
            let n = if id % 7 == 0 { "NULL".to_owned() } else { format!("'n{id}'") };
            let u = u64::MAX - id.unsigned_abs();
            let d = format!("{}{}.{:030}", if id < 0 { "-" } else { "" }, "9".repeat(35), id.unsigned_abs());
            let b = if pg { format!("'\\x00ff{:02x}'", id.rem_euclid(256)) } else { format!("X'00ff{:02x}'", id.rem_euclid(256)) };
            let dt = format!("'2024-02-29 23:59:{:02}.{:06}'", id.rem_euclid(60), id.rem_euclid(1_000_000));
            v.push(format!("('{region}', {id}, {u}, {d}, {dt}, '{{\"a\": {id}, \"b\": [1, 2]}}', {b}, {n})"));
        }
    }
    format!("INSERT INTO items VALUES {};", v.join(", "))
}

const ITEMS_TABLE: &str = "[[tables]]\nname = \"items\"\nkey = [\"region\", \"id\"]\ncomparator = \"exact\"\n";

/// Copy with chunks of 16 (many chunk boundaries, inside and across
/// regions), then validate.
async fn copies_and_validates_clean(dir: &Path, src: &str, dst: &str, comparator: &str, rows: u64) {
    let tables = ITEMS_TABLE.replace("exact", comparator);
    let (cfg, state) = dbs::config(dir, src, dst, "[copy]\nchunk_size = 16\n", &tables);
    let (code, report, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 0, "{report} {stderr}");
    assert_eq!(report["tables"][0]["state"], "done", "{report}");
    assert_eq!(report["tables"][0]["rows_copied"], rows, "{report}");
    let run = dbs::validate(&cfg, &[]);
    if run.code != 0 {
        let found = dbs::findings(&state, run.json["tables"][0]["run_id"].as_str().unwrap_or_default()).await;
        panic!("the copy validates clean: {run:?}\nfirst findings: {:?}", &found[..found.len().min(2)]);
    }
    assert_eq!(run.json["rows_read"]["target"], rows, "{run:?}");
    // Again: done tables are left alone, and a restart inserts nothing twice.
    let (code, report, _) = copy(&cfg, &["--offline"]);
    assert_eq!((code, report["already_done"][0].as_str()), (0, Some("items")), "{report}");
    let (code, report, _) = copy(&cfg, &["--offline", "--restart"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(dbs::validate(&cfg, &[]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_rows_of_every_kind_copy_to_mariadb_postgres_and_sqlite_and_validate_clean() {
    let rows = items_rows(100, false);
    let src = dbs::mariadb(&dbs::unique("copy_kinds_src"), &format!("{ITEMS_MARIADB}{rows}")).await;

    let dir = tempfile::tempdir().unwrap();
    let dst = dbs::mariadb(&dbs::unique("copy_kinds_dst"), ITEMS_MARIADB).await;
    copies_and_validates_clean(dir.path(), &src, &dst, "exact", 300).await;

    let dir = tempfile::tempdir().unwrap();
    let dst = dbs::postgres(&dbs::unique("copy_kinds_pg"), ITEMS_POSTGRES).await;
    copies_and_validates_clean(dir.path(), &src, &dst, "tolerant", 300).await;

    let dir = tempfile::tempdir().unwrap();
    let dst = dbs::sqlite(dir.path(), "dst", ITEMS_SQLITE).await;
    copies_and_validates_clean(dir.path(), &src, &dst, "tolerant", 300).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_rows_of_every_kind_copy_to_mariadb_and_validate_clean() {
    let src = dbs::postgres(&dbs::unique("copy_pg_src"), &format!("{ITEMS_POSTGRES}{}", items_rows(100, true))).await;
    let dst = dbs::mariadb(&dbs::unique("copy_pg_dst"), ITEMS_MARIADB).await;
    let dir = tempfile::tempdir().unwrap();
    copies_and_validates_clean(dir.path(), &src, &dst, "tolerant", 300).await;
}

/// The copy's checkpoint in the state store: (state, rows copied).
async fn checkpoint(state: &str) -> Option<(String, i64)> {
    if !Path::new(state.trim_start_matches("sqlite://")).exists() {
        return None;
    }
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(state).await.ok()?;
    sqlx::query_as("SELECT state, rows_copied FROM movex_copies WHERE table_name = 'big'").fetch_optional(&mut c).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_killed_mid_table_resumes_from_its_checkpoint() {
    let setup = "CREATE TABLE big (id BIGINT PRIMARY KEY, v VARCHAR(40));";
    let fill = "INSERT INTO big SELECT CAST(seq AS SIGNED) - 1000, CONCAT('row-', seq) FROM seq_1_to_20000;";
    let src = dbs::mariadb(&dbs::unique("copy_kill_src"), &format!("{setup}{fill}")).await;
    let dst = dbs::mariadb(&dbs::unique("copy_kill_dst"), setup).await;
    let dir = tempfile::tempdir().unwrap();
    let table = "[[tables]]\nname = \"big\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let (cfg, state) = dbs::config(dir.path(), &src, &dst, "[copy]\nchunk_size = 100\nmax_rows_per_sec = 4000\n", table);

    let mut child = Command::new(movex_tests::movex_bin()).args(["copy", "--offline", "--config"]).arg(&cfg).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        if let Some((_, n)) = checkpoint(&state).await.filter(|(_, n)| *n >= 2000) {
            break n;
        }
        assert!(Instant::now() < deadline, "no checkpoint past 2000 rows");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let (st, checkpointed) = checkpoint(&state).await.unwrap();
    assert_eq!(st, "running", "killed, not ended");
    assert!(checkpointed >= at_kill && checkpointed < 20_000, "{checkpointed}");
    // A batch may have committed on the destination after the last
    // checkpoint, never before it.
    let on_dst: i64 = dbs::query_strings(&dst, "SELECT count(*) FROM big").await[0].parse().unwrap();
    assert!(on_dst >= checkpointed && on_dst <= checkpointed + 100, "{on_dst} rows on the destination, checkpoint {checkpointed}");

    // The first row, copied before the kill, is taken away from the
    // destination: a copy that started over would bring it back.
    dbs::exec(&dst, "DELETE FROM big WHERE id = -999").await;
    let (code, report, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 0, "{report} {stderr}");
    assert_eq!(report["tables"][0]["rows_copied"], 20_000, "counted across both runs: {report}");
    assert_eq!(dbs::query_strings(&dst, "SELECT count(*) FROM big WHERE id = -999").await, ["0"], "finished chunks are not copied again");
    assert_eq!(dbs::query_strings(&dst, "SELECT count(*) FROM big").await, ["19999"]);
    dbs::exec(&dst, "INSERT INTO big VALUES (-999, 'row-1')").await;
    assert_eq!(dbs::validate(&cfg, &[]).code, 0, "clean after the resumed copy");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_stops_with_an_error_naming_the_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::mariadb(
        &dbs::unique("copy_bad_src"),
        "CREATE TABLE t (id INT PRIMARY KEY, v INT, extra INT); INSERT INTO t VALUES (1, 1, 1), (2, 2, 2);
         CREATE TABLE z (id INT PRIMARY KEY, d DATE); SET SESSION sql_mode = ''; INSERT INTO z VALUES (1, '2024-01-01'), (2, '0000-00-00');",
    )
    .await;
    let table = |name: &str| format!("[[tables]]\nname = \"{name}\"\nkey = [\"id\"]\ncomparator = \"exact\"\n");

    // The destination has no table t.
    let dst = dbs::mariadb(&dbs::unique("copy_bad_dst"), "").await;
    let (cfg, _) = dbs::config(dir.path(), &src, &dst, "", &table("t"));
    let (code, _, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("table \"t\"") && stderr.contains("create it first"), "{stderr}");

    // A source column the destination lacks; then a key column it lacks.
    dbs::exec(&dst, "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let (code, _, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("column \"extra\"") && stderr.contains("not on the destination"), "{stderr}");
    dbs::exec(&dst, "DROP TABLE t; CREATE TABLE t (k INT PRIMARY KEY, v INT, extra INT)").await;
    let (code, _, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("key column \"id\""), "{stderr}");

    // Without --offline, before src_first: refused, saying what to do.
    dbs::exec(&dst, "DROP TABLE t; CREATE TABLE t (id INT PRIMARY KEY, v INT, extra INT)").await;
    let (code, _, stderr) = copy(&cfg, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("src_first") && stderr.contains("--offline"), "{stderr}");
    // --dry-run plans and copies nothing.
    let out = Command::new(movex_tests::movex_bin()).args(["copy", "--dry-run", "--config"]).arg(&cfg).output().unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && plan.contains("t: t -> t, key (id), 3 columns"), "{plan}");
    assert_eq!(dbs::query_strings(&dst, "SELECT count(*) FROM t").await, ["0"]);

    // A zero date cannot go to PostgreSQL: refused naming table, column and
    // key, the rows before it kept; with zero_dates = "null" the rerun
    // finishes from there.
    let dir = tempfile::tempdir().unwrap();
    let pg = dbs::postgres(&dbs::unique("copy_bad_pg"), "CREATE TABLE z (id INT PRIMARY KEY, d DATE)").await;
    let (cfg, state) = dbs::config(dir.path(), &src, &pg, "[copy]\nchunk_size = 1\n", &table("z"));
    let (code, report, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 2, "{report} {stderr}");
    let error = report["tables"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("table \"z\" column \"d\" key 2") && error.contains("zero_dates"), "{report}");
    assert_eq!(dbs::query_strings(&pg, "SELECT count(*) FROM z").await, ["1"]);
    assert_eq!(dbs::query_strings(&state, "SELECT state FROM movex_copies").await, ["failed"]);
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap().replace("[copy]\n", "[copy]\nzero_dates = \"null\"\n")).unwrap();
    let (code, report, _) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(dbs::query_strings(&pg, "SELECT id::text, coalesce(d::text, 'NULL') FROM z ORDER BY id").await, ["1 2024-01-01", "2 NULL"]);

    // An unreachable destination.
    let (cfg, _) = dbs::config(dir.path(), &src, "mysql://root@127.0.0.1:1/nowhere", "", &table("t"));
    let (code, _, stderr) = copy(&cfg, &["--offline"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("destination"), "{stderr}");
}

/// A destination another writer keeps locked for longer than SQLite's busy
/// timeout (5 s): the chunk's write fails with "database is locked" (it did
/// not run), is tried again, and the copy finishes with every row once the
/// lock is let go.
#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_the_destination_was_too_busy_to_take_is_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);";
    let rows: Vec<String> = (1..=50).map(|i| format!("({i}, 'v{i}')")).collect();
    let src = dbs::sqlite(dir.path(), "src", &format!("{schema} INSERT INTO t VALUES {};", rows.join(", "))).await;
    let dst = dbs::sqlite(dir.path(), "dst", schema).await;
    let table = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let (cfg, _) = dbs::config(dir.path(), &src, &dst, "[copy]\nchunk_size = 20\n", table);

    let pool = sqlx::SqlitePool::connect(&dst).await.unwrap();
    let lock = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let mut run = tokio::process::Command::new(movex_tests::movex_bin())
        .args(["copy", "--json", "--offline", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The lock is let go only once the copy has said it tries again.
    let mut stderr = tokio::io::BufReader::new(run.stderr.take().unwrap()).lines();
    let mut said = String::new();
    while !said.contains("trying the chunk again") {
        let line = tokio::time::timeout(Duration::from_secs(120), stderr.next_line()).await;
        match line {
            Ok(Ok(Some(line))) => said = line,
            other => panic!("the copy ended or hung without retrying: {other:?}"),
        }
    }
    assert!(said.contains("database is locked"), "the retry says why: {said}");
    lock.commit().await.unwrap();
    let out = run.wait_with_output().await.unwrap();
    let report: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["tables"][0]["rows_copied"], 50, "{report}");
    assert_eq!(dbs::query_strings(&dst, "SELECT count(*) FROM t").await, ["50"]);
}

/// A small deterministic generator (no dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The copy in `src_first` while three clients write through the MySQL
/// front door: `n = n + 1` updates (autocommit), inserts and deletes, and
/// two-statement transactions. Then the plan's validate -> repair ->
/// validate: no difference, and every write on the source.
/// docs/design/copy.md explains the window this measures.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_under_front_door_writes_ends_with_nothing_lost() {
    use movex_tests::door::{door, mariadb_script, repair, validate, validates_clean};
    let setup = "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, n INT NOT NULL);";
    let dir = tempfile::tempdir().unwrap();
    let mut d = door(dir.path(), "cpw", &format!("{setup}INSERT INTO t SELECT seq, seq, 0 FROM seq_1_to_20000;"), setup).await;
    let db = movex_tests::door::db_name(&d.src).to_owned();
    let mut cfg = std::fs::read_to_string(&d.cfg).unwrap();
    cfg.push_str("\n[copy]\nchunk_size = 200\nmax_rows_per_sec = 4000\n");
    std::fs::write(&d.cfg, cfg).unwrap();

    // Updates hit ids 1..=15000 only, deletes 15001..=20000 only, so every
    // increment lands on a row that exists: the source's sum(n) must be
    // the number of increments sent.
    let mut rng = Lcg(7);
    let mut increments = 0u64;
    let mut scripts = vec![String::new(), String::new(), String::new()];
    for i in 0..1500u64 {
        scripts[0].push_str(&format!("UPDATE t SET n = n + 1 WHERE id = {};\n", 1 + rng.below(15_000)));
        scripts[1].push_str(&format!("INSERT INTO t VALUES ({0}, {0}, 0);\nDELETE FROM t WHERE id = {1};\n", 20_001 + i, 15_001 + rng.below(5_000)));
        scripts[2].push_str(&format!(
            "BEGIN;\nUPDATE t SET n = n + 1 WHERE id = {};\nUPDATE t SET v = v + 1 WHERE id = {};\nCOMMIT;\n",
            1 + rng.below(15_000),
            1 + rng.below(15_000)
        ));
        increments += 2;
    }
    let writers: Vec<_> = scripts
        .into_iter()
        .map(|sql| {
            let (port, db) = (d.proxy_port, db.clone());
            std::thread::spawn(move || mariadb_script(port, &db, &[], sql.into_bytes()))
        })
        .collect();
    let (code, report, stderr) = copy(&d.cfg, &[]);
    assert_eq!(code, 0, "{report} {stderr}");
    for w in writers {
        let (code, out) = w.join().unwrap();
        assert_eq!(code, 0, "every write through the door succeeds: {out}");
    }
    let sum = dbs::query_strings(&d.src, "SELECT CAST(sum(n) AS SIGNED) FROM t").await;
    assert_eq!(sum, [increments.to_string()], "every increment is on the source");

    let (journaled, _) = movex_tests::door::secondary_failed(d.http_port);
    // Both databases are on one server: compare them row by row in SQL.
    let (s, t) = (movex_tests::door::db_name(&d.src), movex_tests::door::db_name(&d.dst_direct));
    let ahead = dbs::query_strings(&d.src, &format!("SELECT count(*) FROM {s}.t a JOIN {t}.t b USING (id) WHERE b.n > a.n OR b.v > a.v")).await;
    let behind = dbs::query_strings(&d.src, &format!("SELECT count(*) FROM {s}.t a JOIN {t}.t b USING (id) WHERE b.n < a.n OR b.v < a.v")).await;
    eprintln!("after the copy: destination rows ahead of the source {ahead:?} (applied twice), behind {behind:?} (journaled misses)");
    d.stop();
    let (first, findings) = validate(&d.cfg);
    let found: Json = serde_json::from_str(&findings).unwrap_or(Json::Null);
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let why = dbs::query_strings(&state, "SELECT count(*) || ' x ' || substr(error, 1, 90) FROM movex_journal GROUP BY substr(error, 1, 90) ORDER BY count(*) DESC LIMIT 4").await;
    eprintln!("journaled, by error: {why:?}");
    let sample = dbs::findings(&state, found["tables"][0]["run_id"].as_str().unwrap_or_default()).await;
    let sample: Vec<String> = sample.iter().take(5).map(|f| format!("{} {:?}", f.key, f.columns.iter().map(|c| format!("{}: {} -> {}", c.column, c.base, c.target)).collect::<Vec<_>>())).collect();
    eprintln!("the copy's window, measured: the first validation found {} (exit {first:?}), e.g. {sample:?}; secondary failures journaled: {journaled}", found["findings"]);
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "{summary}");
    validates_clean(&d.cfg);
}

/// `--create-tables`: a destination without the table gets it from the
/// source's columns and key (types mapped), after `--dry-run` has shown
/// the DDL and changed nothing; the copy then validates clean.
#[tokio::test(flavor = "multi_thread")]
async fn create_tables_makes_a_missing_destination_table_from_the_source() {
    let src = dbs::mariadb(&dbs::unique("copy_create_src"), &format!("{ITEMS_MARIADB}{}", items_rows(20, false))).await;
    for to in ["postgres", "sqlite"] {
        let dir = tempfile::tempdir().unwrap();
        let pg;
        let dst = match to {
            "postgres" => {
                pg = dbs::postgres(&dbs::unique("copy_create_pg"), "").await;
                pg.to_string()
            }
            _ => dbs::sqlite(dir.path(), "dst", "SELECT 1").await,
        };
        let (cfg, _) = dbs::config(dir.path(), &src, &dst, "", &ITEMS_TABLE.replace("exact", "tolerant"));
        let out = Command::new(movex_tests::movex_bin()).args(["copy", "--offline", "--dry-run", "--create-tables", "--config"]).arg(&cfg).output().unwrap();
        let plan = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && plan.contains("would create it on the destination") && plan.contains("PRIMARY KEY (\"region\", \"id\")"), "{to}: {plan}");
        let (code, _, stderr) = copy(&cfg, &["--offline"]);
        assert_eq!(code, 2, "{to}: without --create-tables a missing table is an error: {stderr}");
        assert!(stderr.contains("--create-tables"), "{stderr}");
        let (code, report, stderr) = copy(&cfg, &["--offline", "--create-tables"]);
        assert_eq!(code, 0, "{to}: {report} {stderr}");
        assert_eq!(report["tables"][0]["rows_copied"], 60, "{report}");
        let run = dbs::validate(&cfg, &[]);
        assert_eq!(run.code, 0, "{to}: {run:?}");
    }
}
