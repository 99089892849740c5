//! `movex demo`, as a newcomer runs it: with no server at all it reaches
//! `completed` (well under 2 minutes), and with `--inject-diff` it finds
//! every injected difference, nothing else, repairs them and completes.

use sqlx::{Connection, Row};
use std::process::Command;
use std::time::{Duration, Instant};

fn demo(args: &[&str]) -> (i32, String, Duration, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // The example modules as the tests built them (the demo's default is
    // where `cargo build-examples` puts them).
    let examples = movex_tests::wasm("tolerant").parent().unwrap().to_path_buf();
    for p in ["tag-by-column", "promote-when-clean"] {
        assert_eq!(movex_tests::wasm(p).parent(), Some(examples.as_path()));
    }
    let t0 = Instant::now();
    let out = Command::new(movex_tests::movex_bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--examples"])
        .arg(&examples)
        .arg("--dir")
        .arg(dir.path())
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text, t0.elapsed(), dir)
}

/// The users with these ids, each row as text, in id order.
async fn users(db: &std::path::Path, ids: &[i64]) -> Vec<String> {
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT id, name, email, tier, score, utime FROM users WHERE id IN ({list}) ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(&mut c).await.unwrap();
    rows.iter()
        .map(|r| {
            let (id, name, email, tier): (i64, String, String, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
            format!("{id} {name} {email} {tier} {} {}", r.get::<f64, _>(4), r.get::<i64, _>(5))
        })
        .collect()
}

#[test]
fn the_demo_reaches_completed_writing_through_the_pool_all_along() {
    let (code, out, took, dir) = demo(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(took < Duration::from_secs(120), "{took:?}");
    for step in ["initial -> src_only", "src_only -> src_first", "src_first -> dst_first by policy:promote-when-clean", "dst_first -> dst_only", "dst_only -> completed", "auto-migrate completed"] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
    let line = out.lines().find(|l| l.starts_with("writes through the pool:")).unwrap();
    assert!(line.contains(", 0 failed;") && line.contains("discrepancies found: 0"), "{line}");
    let writes: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(writes > 50, "the workload ran during the migration: {line}");
    // The destination started empty: the copy filled it while the
    // application wrote, and the validations found it equal.
    assert!(out.contains("none yet in"), "{out}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ids = |f: &str| -> std::collections::BTreeSet<i64> {
        let url = format!("sqlite://{}", dir.path().join(f).display());
        runtime.block_on(movex_tests::dbs::query_strings(&url, "SELECT id FROM users")).iter().map(|id| id.parse().unwrap()).collect()
    };
    let (src, dst) = (ids("src.db"), ids("dst.db"));
    assert!(src.len() >= 5000, "{}", src.len());
    assert!(src.is_subset(&dst), "rows on the source only: {:?}", src.difference(&dst).collect::<Vec<_>>());
    // From `dst_only` until `completed` the application writes to the
    // destination alone, so an insert made in that window is there only.
    // Inserts take rising ids: such rows are the workload's last ones.
    let newest_on_both = src.last().copied().unwrap();
    let extra: Vec<i64> = dst.difference(&src).copied().collect();
    assert!(extra.iter().all(|&id| id > newest_on_both), "rows on the destination only, not all written after the last row both sides have ({newest_on_both}): {extra:?}");
}

#[tokio::test]
async fn with_injected_differences_the_demo_finds_each_one_repairs_it_and_completes() {
    let (code, out, _, dir) = demo(&["--inject-diff"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every injected difference found, and nothing else: yes"), "{out}");
    assert!(out.contains("repair outcomes: repaired=5"), "{out}");
    assert!(out.contains("auto-migrate completed"), "{out}");
    // The demo's table has 5000 rows; it corrupts 7, 42 and 2500, deletes
    // 4999 on the destination and adds 5100 there. The workload never
    // writes them, so both sides must now hold the source's rows exactly.
    let ids = [7, 42, 2500, 4999, 5100];
    let (src, dst) = (users(&dir.path().join("src.db"), &ids).await, users(&dir.path().join("dst.db"), &ids).await);
    assert_eq!(src.len(), 4, "the source has every id but 5100: {src:?}");
    assert_eq!(dst, src);
}
