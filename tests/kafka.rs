//! Findings delivered to Kafka through a broker outage: the tansu broker
//! (an Apache-Kafka-compatible broker, ../shared/KAFKA.md) is stopped while
//! `movex validate` is finding differences and started again a few seconds
//! later. Every finding found must reach the topic: the count of distinct
//! finding ids consumed equals the count found, and none is left in the
//! outbox.
//!
//! The broker keeps its log in a SQLite file (tansu's `libsql` storage), so
//! what it acknowledged before the stop is still there after the restart;
//! with memory storage a restart would lose acknowledged messages and the
//! test could not tell movex's losses from the broker's.

use movex_tests::needs_tool;
use movex_tests::broker::{self, free_port, stop, tansu};
use movex_tests::dbs;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a wait for progress may last before the test calls it a hang.
/// Each wait ends as soon as its progress shows, so this only bounds a hang:
/// on a busy machine the module's compile alone can take minutes.
const HANG: Duration = Duration::from_secs(600);

#[needs_tool("tansu")]
#[tokio::test(flavor = "multi_thread")]
async fn no_finding_is_lost_when_the_broker_is_stopped_and_restarted_mid_run() {
    let bin = tansu();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = broker::start(&bin, port, dir.path());

    // 3000 rows, 300 differences: 100 of each type.
    let rows: Vec<String> = (0..3000).map(|i| format!("({i}, 'v{i}', 'gold')")).collect();
    let setup = format!("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, tier TEXT); INSERT INTO t VALUES {};", rows.join(", "));
    let src = dbs::sqlite(dir.path(), "src", &setup).await;
    let dst = dbs::sqlite(
        dir.path(),
        "dst",
        &format!(
            "{setup}
             DELETE FROM t WHERE id % 30 = 0;
             UPDATE t SET v = 'changed' WHERE id % 30 = 1;
             INSERT INTO t SELECT id + 100000, v, tier FROM t WHERE id % 30 = 2;"
        ),
    )
    .await;
    let topic = format!("findings_{}", std::process::id());
    let (config, state) = dbs::config(
        dir.path(),
        &src,
        &dst,
        &format!(
            "[events]\nsink = \"kafka\"\n[events.kafka]\nbrokers = \"127.0.0.1:{port}\"\ntopic = \"{topic}\"\n\
             message_timeout_ms = 1000\n[validation]\nbatch_size = 50\nmax_rows_per_sec = 500"
        ),
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n",
    );

    // About 6 s of validation; the broker is killed once the run has found
    // 30 differences, and is back 3 s later.
    let mut child = Command::new(movex_tests::movex_bin())
        .args(["validate", "--json", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + HANG;
    loop {
        if dbs::stored_findings(&state).await >= 30 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("the run ended ({status}) before it had found 30 differences: {stderr}");
        }
        assert!(Instant::now() < deadline, "no 30 differences found in {HANG:?}: the run hangs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(&mut broker);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut broker = broker::start(&bin, port, dir.path());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("no report; stderr: {stderr}"));
    assert_eq!(out.status.code(), Some(1), "differences found and all delivered: {report} {stderr}");
    assert_eq!(report["undelivered"], 0, "{report}");
    assert!(stderr.contains("Kafka delivery failed"), "the outage must have hit delivery mid-run: {stderr}");
    let found: u64 = report["findings"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(found, 300, "{report}");

    let run_id = report["tables"][0]["run_id"].as_str().unwrap();
    let expected: BTreeSet<String> = dbs::findings(&state, run_id).await.into_iter().map(|f| f.id).collect();
    assert_eq!(expected.len(), 300);

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", format!("check_{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut seen = BTreeSet::new();
    let mut messages = 0;
    let deadline = Instant::now() + HANG;
    while seen.len() < expected.len() && Instant::now() < deadline {
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await else { continue };
        messages += 1;
        let value: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
        let id = value["id"].as_str().unwrap().to_owned();
        // Key `table:key`, header `id`.
        assert_eq!(std::str::from_utf8(m.key().unwrap()).unwrap(), format!("t:{}", value["key"]));
        let header = m.headers().unwrap().iter().find(|h| h.key == "id").unwrap();
        assert_eq!(header.value.unwrap(), id.as_bytes());
        seen.insert(id);
    }
    stop(&mut broker);
    assert_eq!(seen, expected, "every finding delivered ({messages} messages for {} distinct)", seen.len());
}
