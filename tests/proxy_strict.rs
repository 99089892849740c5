//! The MySQL front door in strict mode (`[pool] strict = true`), with real
//! clients against the running MariaDB: a write the destination cannot
//! apply reaches the client as a MySQL error, and the source keeps none of
//! it. That holds for autocommit statements and whole transactions, over
//! the text protocol (PyMySQL) and prepared statements
//! (mysql-connector-python), with the destination refusing (a CHECK
//! constraint it alone has) or cut off mid-load.

use movex_tests::needs_tool;
use movex_tests::dbs;
use movex_tests::door::{Setup, cuttable_door, db_name, door_set_up, door_with, mariadb, python, repair, secondary_failed, validates_clean};
use movex_tests::tools;
use std::collections::BTreeMap;
use std::process::Command;

const TABLE: &str = "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), n INT)";

/// A Python helper: `run(sql, *args)` prints `ok` or `error <code> <message>`.
const RUN: &str = r#"
import os, sys, pymysql
def connect():
    return pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                           database=os.environ["DB"], autocommit=True)
def run(cur, sql, *args):
    try:
        cur.execute(sql, args or None)
        return "ok"
    except pymysql.err.MySQLError as e:
        return f"error {e.args[0]} {e.args[1] if len(e.args) > 1 else ''}"
"#;

/// The destination alone has `CHECK (n < 100)`. Every write that breaks it
/// — autocommit, in a transaction, as a prepared statement, an UPDATE of
/// several rows — gets the destination's error (4025) through movex, and
/// the source keeps none of it; the rest of the writes land on both sides.
/// DDL cannot be rolled back: the client gets the error and it is journaled.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn in_strict_mode_a_write_the_destination_refuses_is_an_error_and_the_source_keeps_none_of_it() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let src_setup = format!("{TABLE};");
    let dst_setup = format!("{TABLE}; ALTER TABLE t ADD CONSTRAINT small CHECK (n < 100); CREATE TABLE u (id INT);");
    let d = door_with(dir.path(), "px_strict", &src_setup, &dst_setup, "strict = true").await;
    let db = db_name(&d.src);

    let out = python(
        d.proxy_port,
        db,
        &format!(
            r#"{RUN}
c = connect(); cur = c.cursor()
IN_TRANS = 1
print("a", run(cur, "INSERT INTO t (v, n) VALUES (%s, %s)", "a", 1), "in-tx", c.server_status & IN_TRANS)
print("big", run(cur, "INSERT INTO t (v, n) VALUES (%s, %s)", "big", 500))
c.begin()
print("tx1", run(cur, "INSERT INTO t (v, n) VALUES ('tx1', 2)"), "in-tx", c.server_status & IN_TRANS)
print("tx-big", run(cur, "INSERT INTO t (v, n) VALUES ('tx-big', 600)"))
print("after", run(cur, "COMMIT"))
c.begin()
print("tx2", run(cur, "INSERT INTO t (v, n) VALUES ('tx2', 3)"), run(cur, "INSERT INTO t (v, n) VALUES ('tx3', 4)"), run(cur, "COMMIT"))
print("update", run(cur, "UPDATE t SET n = n + 100 WHERE v IN ('a', 'tx3')"))
print("ddl", run(cur, "CREATE TABLE u (id INT)"))
"#
        ),
    );
    let lines: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(lines["a"], "ok in-tx 0", "movex's own transaction around an autocommit write is not shown to the client");
    for k in ["big", "tx-big", "update"] {
        assert!(lines[k].starts_with("error 4025 movex (strict): the destination refused it: error 4025: CONSTRAINT `small` failed"), "{k}: {out}");
    }
    assert!(lines["tx-big"].ends_with("the transaction was rolled back on both sides"), "{out}");
    assert_eq!(lines["tx1"], "ok in-tx 1");
    assert_eq!(lines["after"], "ok", "the transaction is gone, as after a deadlock: COMMIT has nothing to do");
    assert_eq!(lines["tx2"], "ok ok ok");
    assert!(lines["ddl"].starts_with("error 1050 ") && lines["ddl"].contains("journaled"), "{out}");

    // mysql-connector-python: the same through server-side prepared statements.
    let out = python(
        d.proxy_port,
        db,
        r#"
import os, mysql.connector
c = mysql.connector.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                            database=os.environ["DB"], autocommit=True)
cur = c.cursor(prepared=True)
for v, n in (("p-big", 700), ("p", 5)):
    try:
        cur.execute("INSERT INTO t (v, n) VALUES (%s, %s)", (v, n))
        print(v, "ok")
    except mysql.connector.Error as e:
        print(v, "error", e.errno)
"#,
    );
    assert_eq!(out, "p-big error 4025\np ok\n");

    let want = ["a 1", "tx2 3", "tx3 4", "p 5"];
    assert_eq!(dbs::query_strings(&d.src, "SELECT v, n FROM t ORDER BY id").await, want, "the source keeps none of what was refused");
    assert_eq!(dbs::query_strings(&d.dst, "SELECT v, n FROM t ORDER BY id").await, want);
    validates_clean(&d.cfg);
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 1, "only the DDL is journaled: {status}");
}

/// Clients run two-row transactions and single inserts through movex in
/// strict mode while the destination is cut off mid-load. Every write the
/// client was told succeeded is on the source, whole; every one it got an
/// error for is not there at all: no half-applied transaction.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn in_strict_mode_with_the_destination_cut_mid_load_clients_get_errors_and_the_source_has_no_half_transaction() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let mut d = cuttable_door(dir.path(), "pxs_cut", &format!("{TABLE};"), "strict = true").await;
    let (proxy_port, src) = (d.proxy_port, d.src.to_string());
    // Two clients, each for 4 s from its first write: a transaction of two
    // rows, then one autocommit row, again and again; each outcome printed.
    let script = format!(
        r#"{RUN}
import time
c = connect(); cur = c.cursor()
me, k, end = sys.argv[1], 0, None
while end is None or time.time() < end:
    end = end or time.time() + 4
    k += 1
    r = "ok"
    try:
        c.begin()
        cur.execute("INSERT INTO t (v, n) VALUES (%s, 1)", (f"{{me}}-{{k}}-a",))
        cur.execute("INSERT INTO t (v, n) VALUES (%s, 2)", (f"{{me}}-{{k}}-b",))
        c.commit()
    except pymysql.err.MySQLError as e:
        r = f"error {{e.args[0]}}"
        try: c.rollback()
        except pymysql.err.MySQLError: pass
    print("tx", f"{{me}}-{{k}}", r, flush=True)
    print("one", f"{{me}}-{{k}}-one", run(cur, "INSERT INTO t (v, n) VALUES (%s, 3)", f"{{me}}-{{k}}-one").split(" ")[0], flush=True)
"#
    );
    let mut clients: Vec<_> = ["c1", "c2"]
        .iter()
        .map(|me| {
            Command::new("python3")
                .args(["-c", &script, me])
                .env("PORT", proxy_port.to_string())
                .env("DB", db_name(&src))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // The cut comes once each client has had a write succeed (not after a
    // fixed delay: on a loaded machine Python and its login can take longer
    // than one, and no write came before the cut).
    let readers: Vec<_> = clients
        .iter_mut()
        .map(|c| {
            let stdout = std::io::BufReader::new(c.stdout.take().unwrap());
            let (succeeded, first_success) = std::sync::mpsc::channel();
            let lines = std::thread::spawn(move || {
                let mut lines = Vec::new();
                for line in std::io::BufRead::lines(stdout).map_while(Result::ok) {
                    if line.ends_with(" ok") {
                        let _ = succeeded.send(());
                    }
                    lines.push(line);
                }
                lines
            });
            (lines, first_success)
        })
        .collect();
    for (_, first_success) in &readers {
        first_success.recv_timeout(std::time::Duration::from_secs(120)).expect("a write through movex succeeds before the cut");
    }
    d.cut().await;
    let mut outcomes = Vec::new();
    for (c, (lines, _)) in clients.into_iter().zip(readers) {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        outcomes.extend(lines.join().unwrap());
    }
    d.stop();

    let on_source: std::collections::BTreeSet<String> = dbs::query_strings(&src, "SELECT v FROM t").await.into_iter().collect();
    let (mut ok, mut refused) = (0, 0);
    for line in &outcomes {
        let f: Vec<&str> = line.split(' ').collect();
        let rows: Vec<String> = match f[0] {
            "tx" => vec![format!("{}-a", f[1]), format!("{}-b", f[1])],
            _ => vec![f[1].to_owned()],
        };
        let present: Vec<bool> = rows.iter().map(|r| on_source.contains(r)).collect();
        if f[2] == "ok" {
            ok += 1;
            assert!(present.iter().all(|&p| p), "{line}: the client was told it succeeded, the source must have it whole");
        } else {
            refused += 1;
            assert_eq!(f[2], "error", "{line}");
            assert!(present.iter().all(|&p| !p), "{line}: the client got an error, the source must have none of it");
        }
    }
    assert!(ok > 0 && refused > 0, "writes before and after the cut: {ok} succeeded, {refused} refused");
    let rows_told = outcomes.iter().filter(|l| l.ends_with(" ok")).map(|l| if l.starts_with("tx") { 2 } else { 1 }).sum::<usize>();
    assert_eq!(on_source.len(), rows_told, "the source holds exactly what clients were told succeeded");
    eprintln!("strict, destination cut mid-load: {ok} writes succeeded, {refused} refused with a MySQL error");

    // The destination back: what it may hold that the source lacks (a
    // commit whose answer the cut lost) is journaled, and repair settles
    // it; then both sides agree.
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "repair: {summary}");
    eprintln!("repair: {summary}");
    validates_clean(&d.cfg);
}

/// A forwarder to MariaDB that lets each COMMIT through, waits for the
/// server's answer (so the transaction is committed there) and then drops
/// the connection without passing the answer on: a destination whose
/// connection fails during its commit, after committing. Its port.
async fn committing_then_cut() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let server = tokio::net::TcpStream::connect("127.0.0.1:3306").await.unwrap();
                let ((mut cr, mut cw), (mut sr, mut sw)) = (client.into_split(), server.into_split());
                // Before a COMMIT goes up, the way down stops relaying (and says so).
                let (commit_next, mut commit_coming) = tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<()>>();
                // movex -> server, a packet at a time, watching for COMMIT.
                let up = tokio::spawn(async move {
                    let mut header = [0u8; 4];
                    while cr.read_exact(&mut header).await.is_ok() {
                        let mut payload = vec![0; u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize];
                        if cr.read_exact(&mut payload).await.is_err() {
                            return;
                        }
                        if payload.first() == Some(&0x03) && payload[1..].eq_ignore_ascii_case(b"COMMIT") {
                            let (stopped, relaying_stopped) = tokio::sync::oneshot::channel();
                            let _ = commit_next.send(stopped);
                            let _ = relaying_stopped.await;
                        }
                        if sw.write_all(&header).await.is_err() || sw.write_all(&payload).await.is_err() {
                            return;
                        }
                    }
                });
                // server -> movex, until the answer to a COMMIT: read (the
                // server has committed), never passed on.
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    tokio::select! {
                        biased;
                        Some(stopped) = commit_coming.recv() => {
                            let _ = stopped.send(());
                            let _ = sr.read(&mut buf).await;
                            break;
                        }
                        n = sr.read(&mut buf) => match n {
                            Ok(n) if n > 0 && cw.write_all(&buf[..n]).await.is_ok() => {}
                            _ => break,
                        },
                    }
                }
                // Dropping both halves of both sockets cuts the connection.
                up.abort();
            });
        }
    });
    port
}

/// The destination's connection fails during its COMMIT, after it has
/// committed: the client is told the destination may have it (it does),
/// not that nothing was written; the source has rolled back, and the
/// transaction is journaled, so repair settles it. (Finding 8 of issue 12:
/// the message said "nothing was written".)
#[tokio::test(flavor = "multi_thread")]
async fn in_strict_mode_a_commit_whose_answer_is_lost_says_the_destination_may_have_it() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup { pool: "strict = true", destination_port: Some(committing_then_cut().await), ..Setup::default() };
    let mut d = door_set_up(dir.path(), "pxs_commit", &format!("{TABLE};"), setup).await;
    let db = db_name(&d.src).to_owned();
    // movex's own COMMIT around an autocommit write, then the client's.
    for sql in ["INSERT INTO t (v, n) VALUES ('auto', 1)", "BEGIN; INSERT INTO t (v, n) VALUES ('tx', 2); COMMIT"] {
        let (code, out) = mariadb(d.proxy_port, "app-secret", &db, sql);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("may have committed") && out.contains("journaled") && !out.contains("nothing was written"), "{sql}: {out}");
    }
    assert_eq!(dbs::query_strings(&d.dst_direct, "SELECT v FROM t ORDER BY id").await, ["auto", "tx"], "the destination committed both");
    assert!(dbs::query_strings(&d.src, "SELECT v FROM t").await.is_empty(), "the source rolled both back");
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 2, "{status}");
    d.stop();
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "repair: {summary}");
    validates_clean(&d.cfg);
}
