//! Crash and resume: `movex validate` is killed (SIGKILL, no chance to
//! clean up) in the middle of a full run on MariaDB. The next run resumes
//! the same run from the checkpoint: it reads only the rows after the
//! checkpointed key, and the run as a whole reports exactly the seeded
//! differences, none twice.

use movex_tests::dbs::{self, keys_of};
use sqlx::{Connection, Row};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: i64 = 20_000;

/// The checkpoint the killed run left: (run id, rows covered on the base,
/// on the target, cursor).
async fn checkpoint(state: &str) -> Option<(String, i64, i64, String)> {
    let path = state.trim_start_matches("sqlite://");
    if !std::path::Path::new(path).exists() {
        return None;
    }
    let mut c = sqlx::SqliteConnection::connect(state).await.ok()?;
    let r = sqlx::query("SELECT run_id, rows_base, rows_target, position FROM movex_checkpoints").fetch_optional(&mut c).await.ok()??;
    Some((r.get(0), r.get(1), r.get(2), r.get(3)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_resumes_from_its_checkpoint_without_rereading() {
    let dir = tempfile::tempdir().unwrap();
    // Even keys on the source; the destination loses some, changes some and
    // gains odd keys between them, all along the key range.
    let rows: Vec<String> = (0..ROWS).map(|i| format!("({}, 'v{i}')", 2 * i)).collect();
    let setup = format!("CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES {};", rows.join(", "));
    let src = dbs::mariadb(&dbs::unique("resume_src"), &setup).await;
    let dst = dbs::mariadb(
        &dbs::unique("resume_dst"),
        &format!(
            "{setup}
             DELETE FROM t WHERE id % 200 = 20;
             UPDATE t SET v = 'changed' WHERE id % 200 = 40;
             INSERT INTO t SELECT id + 1, v FROM t WHERE id % 200 = 60;"
        ),
    )
    .await;
    let table = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let write_config =
        |limit: u64| dbs::config(dir.path(), &src, &dst, &format!("[validation]\nbatch_size = 500\nmax_rows_per_sec = {limit}"), table);
    // Slow enough to be caught in the middle: 4000 rows/s.
    let (config, state) = write_config(4000);
    let mut child = Command::new(movex_tests::movex_bin())
        .args(["validate", "--json", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (run_id, ..) = loop {
        assert!(Instant::now() < deadline, "no checkpoint past 6000 rows");
        match checkpoint(&state).await {
            Some(cp) if cp.1 >= 6000 => break cp,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // The kill may land after a later commit than the one we read.
    let (run_id2, covered_base, covered_target, cursor) = checkpoint(&state).await.unwrap();
    assert_eq!(run_id, run_id2);
    assert!(covered_base < ROWS, "killed before the end ({covered_base} rows covered)");

    // Everything found so far lies at or before the checkpoint's key.
    let last_key: i64 = serde_json::from_str::<serde_json::Value>(&cursor).unwrap()[0][1].as_i64().unwrap();
    let before = dbs::findings(&state, &run_id).await;
    assert!(!before.is_empty());
    assert!(before.iter().all(|f| f.key.as_i64().unwrap() <= last_key), "findings past the checkpoint {last_key}");

    // Resume, unthrottled.
    write_config(0);
    let run = dbs::validate(&config, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let table = &run.json["tables"][0];
    assert_eq!(table["resumed"], true, "{run:?}");
    assert_eq!(table["run_id"], run_id.as_str());
    // Only the rows after the checkpoint were read, on both sides.
    // The destination lost 200 rows and gained 200.
    let target_rows = ROWS;
    assert_eq!(table["rows_read"]["base"], ROWS - covered_base, "{run:?}");
    assert_eq!(table["rows_read"]["target"], target_rows - covered_target, "{run:?}");

    // The run as a whole found exactly the seeded differences.
    let found = dbs::findings(&state, &run_id).await;
    let expect = |rem: i64, offset: i64| -> Vec<String> {
        let mut k: Vec<String> = (0..ROWS).map(|i| 2 * i).filter(|id| id % 200 == rem).map(|id| (id + offset).to_string()).collect();
        k.sort();
        k
    };
    assert_eq!(keys_of(&found, "target_missing"), expect(20, 0));
    assert_eq!(keys_of(&found, "neq"), expect(40, 0));
    assert_eq!(keys_of(&found, "base_missing"), expect(60, 1));
    assert_eq!(found.len(), 600, "200 of each type, none twice");
    assert_eq!(run.json["findings"]["neq"], 200);

    // A completed run leaves no checkpoint: the next run starts over.
    assert!(checkpoint(&state).await.is_none());
    let run = dbs::validate(&config, &[]);
    assert_eq!((run.json["tables"][0]["resumed"].clone(), run.json["rows_read"]["base"].clone()), (serde_json::json!(false), serde_json::json!(ROWS)));
}
