//! Repair from Kafka as a consumer group (tansu broker, ../shared/KAFKA.md):
//! `movex validate` puts 300 findings on a 4-partition topic; two
//! `movex repair --from kafka --follow` workers share them; one is stopped
//! (SIGTERM) mid-run, its partitions move to the other, and the work
//! converges: every finding has an outcome, none failed, the group's
//! committed offsets reach the end of every partition, and `movex validate`
//! exits 0. A second group then takes every finding again (each delivered
//! twice): all already consistent, nothing changed.
//!
//! Source MariaDB, destination PostgreSQL; the workers share a state store
//! on MariaDB, as instances of one deployment would.
//!
//! Stopped, not killed: tansu 0.6.0 notices a killed member's missed
//! heartbeats and rebalances, but hands the survivor only its old
//! partitions (measured: `[0, 1]` before and after), so a SIGKILLed
//! worker's partitions are orphaned until the next rebalance. Apache Kafka
//! reassigns them after `session.timeout.ms`; movex's side of that
//! (uncommitted findings are taken again, harmlessly) is the same code path
//! as the second group's pass below.

use movex_tests::needs_tool;
use movex_tests::broker::{self, free_port, tansu};
use movex_tests::dbs;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use sqlx::Connection;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn movex(cfg: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(movex_tests::movex_bin()).args(args).arg("--json").arg("--config").arg(cfg).output().unwrap();
    (out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout).unwrap_or_default(), String::from_utf8_lossy(&out.stderr).into())
}

fn worker(cfg: &Path, dir: &Path, name: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Command::new(movex_tests::movex_bin())
        .args(["repair", "--from", "kafka", "--follow", "--json", "--config"])
        .arg(cfg)
        .env("MOVEX_LOG", "movex=info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Findings with a recorded outcome, by outcome.
async fn outcomes(state: &str) -> Vec<(String, i64)> {
    let mut c = sqlx::MySqlConnection::connect(state).await.unwrap();
    sqlx::query_as("SELECT outcome, count(*) FROM movex_repairs GROUP BY outcome ORDER BY outcome").fetch_all(&mut c).await.unwrap()
}

async fn settled(state: &str) -> i64 {
    outcomes(state).await.iter().map(|(_, n)| n).sum()
}

/// Sum over the topic's partitions of (committed offset of `group`, end offset).
fn committed_and_end(brokers: &str, group: &str, topic: &str) -> (i64, i64) {
    let c: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", group).create().unwrap();
    let meta = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let partitions = meta.topics()[0].partitions().len() as i32;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    let (mut done, mut end) = (0, 0);
    for e in committed.elements() {
        if let Offset::Offset(o) = e.offset() {
            done += o;
        }
        end += c.fetch_watermarks(topic, e.partition(), Duration::from_secs(10)).unwrap().1;
    }
    (done, end)
}

#[needs_tool("tansu")]
#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_the_findings_and_one_stopped_mid_run_loses_none() {
    let bin = tansu();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut kafka = broker::start(&bin, port, dir.path());

    let table = "CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL, utime BIGINT NOT NULL);";
    let rows: Vec<String> = (0..3000).map(|i| format!("({i}, 'v{i}', 1)")).collect();
    let setup = format!("{table} INSERT INTO t VALUES {};", rows.join(", "));
    let src = dbs::mariadb(&dbs::unique("rk_src"), &setup).await;
    // 100 missing, 100 different, 100 extra on the destination.
    let dst = dbs::postgres(
        &dbs::unique("rk_dst"),
        &format!(
            "{setup} DELETE FROM t WHERE id % 30 = 0; UPDATE t SET v = 'changed' WHERE id % 30 = 1;
             INSERT INTO t SELECT id + 100000, v, utime FROM t WHERE id % 30 = 2;"
        ),
    )
    .await;
    let state = dbs::mariadb(&dbs::unique("rk_state"), "").await;
    let topic = format!("rk_findings_{}", std::process::id());
    let brokers = format!("127.0.0.1:{port}");
    let group = format!("rk_repair_{}", std::process::id());
    let text = format!(
        "[source]\nurl = \"{src}\"\n[destination]\nurl = \"{dst}\"\n[state]\nurl = \"{state}\"\n[modules]\ndir = \"{modules}\"\n\
         [events]\nsink = \"kafka\"\n[events.kafka]\nbrokers = \"{brokers}\"\ntopic = \"{topic}\"\npartitions = 4\nmessage_timeout_ms = 5000\n\
         [repair]\nmax_rows_per_sec = 30\ngroup = \"{group}\"\nsession_timeout_ms = 6000\nidle_ms = 4000\n\
         [[tables]]\nname = \"t\"\nkey = [\"id\"]\nutime = {{ column = \"utime\", unit = \"ms\" }}\ncomparator = \"exact\"\n",
        modules = dbs::modules(dir.path()).display()
    );
    let cfg = dir.path().join("movex.toml");
    std::fs::write(&cfg, text).unwrap();

    let (code, report, err) = movex(&cfg, &["validate"]);
    assert_eq!((code, &report["undelivered"]), (1, &serde_json::json!(0)), "{report} {err}");
    let found: u64 = report["findings"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(found, 300, "{report}");

    // The first worker leads the group; the second joins, takes part of the
    // work, and is stopped (SIGTERM) mid-run: its partitions move to the first.
    let first = worker(&cfg, dir.path(), "worker-1");
    std::thread::sleep(Duration::from_millis(1500));
    let second = worker(&cfg, dir.path(), "worker-2");
    // The deadline only bounds a hang: each wait below ends as soon as its
    // progress shows, and on a busy machine the workers' start (compiling
    // the module) alone can take minutes.
    let deadline = Instant::now() + Duration::from_secs(600);
    let joined = || std::fs::read_to_string(dir.path().join("worker-2.log")).unwrap_or_default().contains("partitions assigned");
    while !joined() {
        assert!(Instant::now() < deadline, "the second worker never joined; see {}", dir.path().display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_join = settled(&state).await;
    while settled(&state).await < at_join + 40 {
        assert!(Instant::now() < deadline, "the workers stalled; see {}", dir.path().display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    let out = second.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the second worker stops cleanly");
    let by_second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stopped_at = settled(&state).await;
    while settled(&state).await < 300 || {
        let (done, end) = committed_and_end(&brokers, &group, &topic);
        done < end
    } {
        if Instant::now() > deadline {
            let kept = std::env::temp_dir().join(format!("repair-kafka-{}", std::process::id()));
            let _ = std::process::Command::new("cp").arg("-r").arg(dir.path()).arg(&kept).status();
            panic!(
                "not converged: {:?} settled, offsets {:?}; the workers' logs are in {}",
                outcomes(&state).await,
                committed_and_end(&brokers, &group, &topic),
                kept.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the first worker stops cleanly on SIGTERM");
    let by_first: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first_took: u64 = by_first["outcomes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    let log = std::fs::read_to_string(dir.path().join("worker-1.log")).unwrap();
    let moves: Vec<&str> = log.lines().filter(|l| l.contains("partitions")).collect();
    eprintln!(
        "second stopped after {stopped_at} settled, having taken {}; the first took {first_took}: {}; recorded {:?}",
        by_second["outcomes"],
        by_first["outcomes"],
        outcomes(&state).await
    );
    eprintln!("the first worker's partitions:\n{}", moves.join("\n"));
    let last = moves.iter().rev().find(|l| l.contains("assigned")).unwrap();
    assert!(last.contains("partitions=[0, 1, 2, 3]"), "the stopped worker's partitions moved to the first: {moves:?}");

    let recorded = outcomes(&state).await;
    assert!(recorded.iter().all(|(o, _)| o == "repaired" || o == "already_consistent"), "{recorded:?}");
    assert_eq!(recorded.iter().map(|(_, n)| n).sum::<i64>(), 300, "every finding has an outcome: {recorded:?}");
    let second_took: u64 = by_second["outcomes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert!(second_took > 0, "the second worker took part: {by_second}");
    assert_eq!(first_took + second_took, 300, "the stopped worker's committed work was not redone");
    let (done, end) = committed_and_end(&brokers, &group, &topic);
    assert_eq!(done, end, "the group committed every partition to its end");
    let (code, report, err) = movex(&cfg, &["validate"]);
    assert_eq!(code, 0, "validate after repair: {report} {err}");

    // Every finding delivered again, to another group: harmless.
    let again = cfg.with_file_name("again.toml");
    std::fs::write(&again, std::fs::read_to_string(&cfg).unwrap().replace(&group, &format!("{group}_again"))).unwrap();
    let (code, second, err) = movex(&again, &["repair", "--from", "kafka"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(second["outcomes"], serde_json::json!({"already_consistent": 300}), "{second}");
    let (code, report, _) = movex(&cfg, &["validate"]);
    assert_eq!(code, 0, "{report}");
    broker::stop(&mut kafka);
}
