//! The MySQL front door with real clients against the running MariaDB:
//! `movex serve` with `[proxy.mysql]`, the source and destination two
//! MariaDB databases (the destination reached through a TCP forwarder the
//! test can cut, to stop it mid-load).
//!
//! - The `mariadb` command-line client: DDL, DML, a transaction; a wrong
//!   password is refused with MySQL's error 1045.
//! - PyMySQL: parameters, a rolled-back transaction, several statements in
//!   one query with their result sets.
//! - mysql-connector-python with `prepared=True`: server-side prepared
//!   statements (COM_STMT_PREPARE / EXECUTE), auto-increment ids.
//! - `NOW(6)` and `RAND()` in writes: the same values on both sides.
//! - a Go program with go-sql-driver/mysql; sysbench across pattern switches.
//!
//! Afterwards `movex validate` reports no differences. With the
//! destination cut, clients keep succeeding and the journal holds every
//! write the destination missed; `movex repair` then settles it.

use movex_tests::needs_tool;
use movex_tests::broker::free_port;
use movex_tests::dbs;
use movex_tests::door::{Setup, cuttable_door, db_name, door, door_set_up, door_with, mariadb, python, repair, secondary_failed, validate, validates_clean};
use movex_tests::server::{http, serve_logging};
use movex_tests::tools;
use sqlx::Connection;
use std::process::Command;
use std::time::Instant;

const TABLE: &str = "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), n INT, at DATETIME(6), b VARBINARY(8))";

#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn real_clients_write_through_the_front_door_to_both_sides() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "px", "", "").await;
    let (http_port, proxy_port, cfg) = (d.http_port, d.proxy_port, d.cfg.clone());
    let db = db_name(&d.src);

    // The mariadb CLI: DDL, DML, a transaction. The client names the
    // source's database; the destination's own database is used there.
    let (code, out) = mariadb(
        proxy_port,
        "app-secret",
        db,
        &format!(
            "{TABLE}; INSERT INTO t (v, n) VALUES ('a', 1), ('b', 2), ('c', 3);
             BEGIN; UPDATE t SET n = n + 10 WHERE v = 'b'; INSERT INTO t (v) VALUES ('in-tx'); COMMIT;
             DELETE FROM t WHERE v = 'c'; SELECT v, n FROM t ORDER BY id;
             INSERT INTO t (v, n, at) VALUES ('clock', FLOOR(RAND() * 1000000000), NOW(6));
             UPDATE t SET at = CURRENT_TIMESTAMP(6) WHERE v = 'a';"
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "v\tn\na\t1\nb\t12\nin-tx\tNULL\n", "the primary's result set, as the client sees it");
    let (code, out) = mariadb(proxy_port, "wrong", db, "SELECT 1");
    assert_eq!(code, 1);
    assert!(out.contains("ERROR 1045 (28000): Access denied for user 'app'"), "{out}");

    // PyMySQL: parameters, a rolled-back transaction, multiple statements.
    let out = python(
        proxy_port,
        db,
        r#"
import os, pymysql
from pymysql.constants import CLIENT
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                    database=os.environ["DB"], autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS)
cur = c.cursor()
cur.execute("INSERT INTO t (v, n, at) VALUES (%s, %s, %s)", ("py", 7, "2024-02-29 23:59:59.123456"))
print("id", cur.lastrowid)
c.begin()
cur.execute("INSERT INTO t (v) VALUES (%s)", ("rolled back",))
c.rollback()
cur.execute("UPDATE t SET n = 8 WHERE v = 'py'; SELECT count(*) FROM t; SELECT v FROM t WHERE n = 8")
print("affected", cur.rowcount)
cur.nextset(); print("count", cur.fetchall()[0][0])
cur.nextset(); print("rows", cur.fetchall())
"#,
    );
    assert_eq!(out, "id 6\naffected 1\ncount 5\nrows (('py',),)\n", "{out}");

    // mysql-connector-python: server-side prepared statements.
    let out = python(
        proxy_port,
        db,
        r#"
import os, mysql.connector
c = mysql.connector.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                            database=os.environ["DB"], autocommit=True)
cur = c.cursor(prepared=True)
for i in range(5):
    cur.execute("INSERT INTO t (v, n, b) VALUES (%s, %s, %s)", (f"prep{i}", i, bytes([0, 255, i])))
print("last id", cur.lastrowid)
cur.execute("UPDATE t SET v = %s, n = NULL WHERE id = %s", ("changed", 8))
print("updated", cur.rowcount)
cur.execute("SELECT id, v, n FROM t WHERE id >= %s ORDER BY id", (8,))
print(cur.fetchall())
"#,
    );
    // Id 7 went to the rolled-back insert: InnoDB does not give ids back.
    assert!(out.starts_with("last id 12\nupdated 1\n[(8, 'changed', None), (9, 'prep1', 1)"), "{out}");

    // Both sides hold the same rows, ids included.
    validates_clean(&cfg);
    let (journaled, status) = secondary_failed(http_port);
    assert_eq!(journaled, 0, "{status}");
}

#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn with_the_destination_cut_clients_keep_writing_and_the_journal_holds_every_missed_write() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let mut d = cuttable_door(dir.path(), "px_cut", &format!("{TABLE};"), "").await;
    let (http_port, proxy_port, cfg, src) = (d.http_port, d.proxy_port, d.cfg.clone(), d.src.to_string());
    let db = db_name(&src).to_owned();
    let script = r#"
import os, sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                    database=os.environ["DB"], autocommit=True)
cur = c.cursor()
for i in range(int(sys.argv[1]), int(sys.argv[2])):
    cur.execute("INSERT INTO t (v, n) VALUES (%s, %s)", (f"w{i}", i))
print("ok")
"#;
    let run = |from: u32, to: u32| {
        let out = Command::new("python3")
            .args(["-c", script, &from.to_string(), &to.to_string()])
            .env("PORT", proxy_port.to_string())
            .env("DB", &db)
            .output()
            .unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    assert_eq!(run(0, 20), (true, "ok\n".to_owned()));
    // Cut the destination: the forwarder stops, its connections drop.
    d.cut().await;
    let t0 = Instant::now();
    let (ok, out) = run(20, 30);
    assert!(ok, "non-strict: the clients keep succeeding with the destination down: {out}");
    eprintln!("10 writes with the destination cut took {:?}", t0.elapsed());
    let (journaled, status) = secondary_failed(http_port);
    assert_eq!(journaled, 10, "every missed write journaled: {status}");

    // The destination comes back (reached directly now); repair settles the journal.
    d.stop();
    let (code, summary) = repair(&cfg);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!((&summary["journal"]["entries"], &summary["outcomes"]["repaired"]), (&serde_json::json!(10), &serde_json::json!(10)), "{summary}");
    validates_clean(&cfg);
}

/// A transaction the destination fails part-way (a CHECK constraint it
/// alone has): the source commits all of it, the destination none of it
/// (its part is rolled back, not committed half), the journal holds the
/// whole transaction, and `movex repair` brings the destination level.
#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_the_secondary_fails_part_way_is_rolled_back_there_and_journaled_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = door(dir.path(), "px_tx", &format!("{TABLE};"), &format!("{TABLE}; ALTER TABLE t ADD CONSTRAINT small CHECK (n < 100);")).await;
    let (src, dst, http_port, proxy_port, cfg) = (d.src.to_string(), d.dst.clone(), d.http_port, d.proxy_port, d.cfg.clone());
    let (code, out) = mariadb(
        proxy_port,
        "app-secret",
        db_name(&src),
        "INSERT INTO t (v, n) VALUES ('before', 1);
         BEGIN; INSERT INTO t (v, n) VALUES ('tx1', 2); INSERT INTO t (v, n) VALUES ('tx-big', 500); UPDATE t SET n = 3 WHERE v = 'tx1'; COMMIT;
         INSERT INTO t (v, n) VALUES ('after', 4);",
    );
    assert_eq!(code, 0, "the client sees the source's success: {out}");
    assert_eq!(dbs::query_strings(&src, "SELECT v, n FROM t ORDER BY id").await, ["before 1", "tx1 3", "tx-big 500", "after 4"]);
    assert_eq!(dbs::query_strings(&dst, "SELECT v, n FROM t ORDER BY id").await, ["before 1", "after 4"], "none of the transaction on the destination");
    let (journaled, status) = secondary_failed(http_port);
    assert_eq!(journaled, 2, "the failure, and the write after it (not the COMMIT: it writes nothing there): {status}");
    // Stop serve; the databases live on with `d`, dropped when the test passes.
    d.stop();

    // Without the constraint, repair brings the destination level.
    dbs::exec(&dst, "ALTER TABLE t DROP CONSTRAINT small").await;
    let (code, summary) = repair(&cfg);
    assert_eq!((code, &summary["outcomes"]), (Some(0), &serde_json::json!({"repaired": 2})), "{summary}");
    validates_clean(&cfg);
}

/// A read in a transaction goes to the secondary too, but the client does
/// not wait for it: the secondary's answer is read before its next
/// statement. One it refuses (a table the destination lacks) breaks the
/// transaction there exactly as a refused write does: rolled back there,
/// journaled whole with every statement after it, and `movex repair`
/// brings the destination level.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_the_secondary_refuses_in_a_transaction_is_found_at_its_next_statement() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = door(dir.path(), "px_rd", &format!("{TABLE}; CREATE TABLE only_src (id INT);"), &format!("{TABLE};")).await;
    let (src, dst, http_port, proxy_port, cfg) = (d.src.to_string(), d.dst.clone(), d.http_port, d.proxy_port, d.cfg.clone());
    let (code, out) = mariadb(
        proxy_port,
        "app-secret",
        db_name(&src),
        "BEGIN; INSERT INTO t (v, n) VALUES ('tx1', 1); SELECT count(*) AS seen FROM only_src; UPDATE t SET n = 2 WHERE v = 'tx1'; COMMIT;
         INSERT INTO t (v, n) VALUES ('after', 3);",
    );
    assert_eq!((code, out.as_str()), (0, "seen\n0\n"), "the client gets the source's answer to the read");
    assert_eq!(dbs::query_strings(&src, "SELECT v, n FROM t ORDER BY id").await, ["tx1 2", "after 3"]);
    assert_eq!(dbs::query_strings(&dst, "SELECT v, n FROM t ORDER BY id").await, ["after 3"], "none of the transaction on the destination");
    let (journaled, status) = secondary_failed(http_port);
    assert_eq!(journaled, 2, "the read, and the write after it (the COMMIT of a transaction the destination lost writes nothing): {status}");
    // Stop serve; the databases live on with `d`, dropped when the test passes.
    d.stop();

    let (code, summary) = repair(&cfg);
    assert_eq!(code, Some(0), "repair: {summary}");
    validates_clean(&cfg);
}

/// A read in a transaction whose secondary answer is still owed when that
/// connection dies (killed on the destination mid-`SLEEP`): the loss is
/// found before the transaction's next statement is sent there, so that
/// statement is journaled, not run on a fresh connection outside the
/// transaction.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn a_secondary_connection_that_dies_under_a_deferred_read_loses_the_transaction_there_whole() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let mut d = door(dir.path(), "px_kill", &format!("{TABLE};"), &format!("{TABLE};")).await;
    let script = r#"
import os, time, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                    database=os.environ["DB"], autocommit=True)
admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
cur, a = c.cursor(), admin.cursor()
c.begin()
cur.execute("INSERT INTO t (v) VALUES ('a')")
cur.execute("SELECT SLEEP(2)")
# movex sends the destination its copy just after relaying the source's
# answer: wait for it to show.
ids = []
for _ in range(75):
    a.execute("SELECT id FROM information_schema.processlist WHERE db = %s AND info LIKE 'SELECT SLEEP%%'", ("DST_DB",))
    ids = [r[0] for r in a.fetchall()]
    if ids:
        break
    time.sleep(0.02)
for i in ids:
    a.execute("KILL %d" % i)
print("killed", len(ids))
cur.execute("INSERT INTO t (v) VALUES ('b')")
c.commit()
print("committed")
"#
    .replace("DST_DB", db_name(&d.dst));
    let out = python(d.proxy_port, db_name(&d.src), &script);
    assert_eq!(out, "killed 1\ncommitted\n", "the destination's copy of the read was running when it was killed");
    assert_eq!(dbs::query_strings(&d.src, "SELECT v FROM t ORDER BY id").await, ["a", "b"]);
    assert_eq!(dbs::query_strings(&d.dst, "SELECT v FROM t ORDER BY id").await, Vec::<String>::new(), "no part of the transaction on the destination");
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 2, "the read with the insert before it, the insert after (not the COMMIT: it writes nothing there): {status}");
    let cfg = d.cfg.clone();
    // Stop serve; the databases live on with `d`, dropped when the test passes.
    d.stop();
    let (code, summary) = repair(&cfg);
    assert_eq!(code, Some(0), "repair: {summary}");
    validates_clean(&cfg);
}

/// A large read in a transaction is read from the secondary at once, not
/// left for its next statement: unread, it would leave that server blocked
/// writing it while the client thinks, and `net_write_timeout` (1 s here,
/// set through movex on both sides) would drop the connection and the
/// transaction with it.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn a_large_read_in_a_transaction_does_not_leave_the_secondary_blocked_while_the_client_thinks() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "px_big", &format!("{TABLE};"), &format!("{TABLE};")).await;
    let out = python(
        d.proxy_port,
        db_name(&d.src),
        r#"
import os, time, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                    database=os.environ["DB"], autocommit=True)
cur = c.cursor()
cur.execute("SET SESSION net_write_timeout = 1")
c.begin()
cur.execute("SELECT REPEAT('x', 1000) FROM seq_1_to_30000")
print("rows", len(cur.fetchall()))
time.sleep(3)
cur.execute("INSERT INTO t (v) VALUES ('after a long think')")
c.commit()
print("committed")
"#,
    );
    assert_eq!(out, "rows 30000\ncommitted\n");
    for side in [d.src.url(), d.dst.as_str()] {
        assert_eq!(dbs::query_strings(side, "SELECT v FROM t").await, ["after a long think"], "{side}");
    }
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 0, "{status}");
}

/// After a move from `src_first` to `dst_first`, a statement that opens a
/// new ticket waits for the transactions still open in the old pattern:
/// they lock rows on the source first, the new pattern on the destination
/// first, and run at once the two could deadlock across servers that
/// cannot see it. A read sent while an old transaction sleeps is answered
/// once that transaction has committed, and sees its write. (Without the
/// wait it answers at once with the value from before: checked by hand.)
#[tokio::test(flavor = "multi_thread")]
async fn after_a_move_new_statements_wait_for_the_old_pattern_s_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let seed = format!("{TABLE}; INSERT INTO t (v, n) VALUES ('a', 0);");
    // The wait's bound far past the old transaction's length, however
    // slow the machine (the default is 5 s).
    let d = door_with(dir.path(), "px_settle", &seed, &seed, "settle_ms = 120000").await;
    let (src, proxy_port, http_port) = (d.src.to_string(), d.proxy_port, d.http_port);
    let db = db_name(&src).to_owned();
    let old = std::thread::spawn({
        let db = db.clone();
        move || mariadb(proxy_port, "app-secret", &db, "BEGIN; UPDATE t SET n = 1 WHERE v = 'a'; SELECT SLEEP(2) AS slept; COMMIT;")
    });
    // Its transaction is open once its UPDATE holds the row on the source.
    let mut probe = sqlx::MySqlConnection::connect(&src).await.unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while sqlx::query("SELECT n FROM t WHERE v = 'a' FOR UPDATE NOWAIT").fetch_all(&mut probe).await.is_ok() {
        assert!(!old.is_finished() && Instant::now() < deadline, "the src_first transaction was never seen open");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(http(http_port, "POST", "/dst_first").0, 200);
    let (code, out) = mariadb(proxy_port, "app-secret", &db, "SELECT n FROM t WHERE v = 'a'");
    assert_eq!((code, out.as_str()), (0, "n\n1\n"), "the read waited for the src_first transaction to commit, and sees its write");
    assert_eq!(old.join().unwrap(), (0, "slept\n0\n".to_owned()));
}

/// sysbench `oltp_read_write` (prepared statements, transactions, 8
/// threads) through movex while the pattern moves `src_first` ->
/// `dst_first` -> `src_first`: sysbench finishes without a failed query
/// (it ignores deadlocks, as against MariaDB directly), and the tables
/// validate clean (or, where the secondary deadlocked on its own, the
/// journal holds it and repair settles it).
#[needs_tool("sysbench")]
#[tokio::test(flavor = "multi_thread")]
async fn sysbench_through_movex_across_pattern_switches_validates_clean() {
    tools::require("sysbench");
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::mariadb(&dbs::unique("px_sb_src"), "").await;
    let dst = dbs::mariadb(&dbs::unique("px_sb_dst"), "").await;
    let (http_port, proxy_port) = (free_port(), free_port());
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n[proxy.mysql]\nlisten = \"127.0.0.1:{proxy_port}\"\n\
         [[proxy.mysql.users]]\nname = \"app\"\npassword = \"app-secret\"\n"
    );
    let tables = "[[tables]]\nname = \"sbtest1\"\nkey = [\"id\"]\ncomparator = \"exact\"\n[[tables]]\nname = \"sbtest2\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let (cfg, _) = dbs::config(dir.path(), &src, &dst, &extra, tables);
    let mut server = serve_logging(&cfg, http_port, Some(&dir.path().join("serve.log")));
    for route in ["/src_only", "/src_first"] {
        assert_eq!(http(http_port, "POST", route).0, 200);
    }
    let sysbench = |args: &[&str]| {
        Command::new("sysbench")
            .args(["--db-driver=mysql", "--mysql-host=127.0.0.1", &format!("--mysql-port={proxy_port}"), "--mysql-user=app", "--mysql-password=app-secret"])
            .arg(format!("--mysql-db={}", db_name(&src)))
            .args(["--tables=2", "--table-size=2000"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = sysbench(&["oltp_read_write", "prepare"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let switches = std::thread::spawn(move || {
        for route in ["/dst_first", "/src_first"] {
            std::thread::sleep(std::time::Duration::from_secs(3));
            assert_eq!(http(http_port, "POST", route).0, 200, "{route}");
        }
    });
    let out = sysbench(&["--threads=8", "--time=9", "oltp_read_write", "run"]);
    switches.join().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !report.contains("FATAL"), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = |name: &str| report.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_default().to_owned();
    eprintln!("sysbench through movex: {} | {}", line("transactions:"), line("ignored errors:"));
    let (_, r) = http(http_port, "GET", "/history");
    assert!(r.to_string().contains("\"to\":\"dst_first\""), "the pattern moved during the run: {r}");
    // A write movex acknowledged is on both sides, or it is in the journal
    // (the secondary can deadlock where the primary did not: the two see
    // the sessions' statements interleaved differently). Then repair
    // settles it. Nothing may differ that the journal does not explain.
    let journaled = secondary_failed(http_port).0.as_u64().unwrap();
    let (code, report) = validate(&cfg);
    eprintln!("journaled secondary failures: {journaled}; validate: exit {code:?}");
    if code != Some(0) {
        assert!(journaled > 0, "differences the journal does not explain: {report}");
        server.kill().unwrap();
        server.wait().unwrap();
        let (code, summary) = repair(&cfg);
        assert_eq!(code, Some(0), "repair: {summary}");
        validates_clean(&cfg);
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// A Go program with go-sql-driver/mysql (`tests/clients/go`): its
/// parameterised queries are server-side prepared statements, in and out
/// of transactions; both sides end up with the same rows and ids.
#[needs_tool("go-sql-driver")]
#[tokio::test(flavor = "multi_thread")]
async fn a_go_program_with_go_sql_driver_writes_through_movex() {
    tools::require("go-sql-driver");
    let gopath = "/usr/share/gocode";
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("client");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&client)
        .arg(movex_tests::workspace_root().join("tests/clients/go/main.go"))
        .env("GOPATH", gopath)
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.path().join("gocache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "go build: {}", String::from_utf8_lossy(&out.stderr));

    let d = door(dir.path(), "px_go", &format!("{TABLE};"), &format!("{TABLE};")).await;
    let dsn = format!("app:app-secret@tcp(127.0.0.1:{})/{}", d.proxy_port, db_name(&d.src));
    let out = Command::new(&client).arg(&dsn).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text, "inserted 1\ninserted 2\ninserted 3\ninserted 4\ninserted 5\nrows 5 sum 210\n");
    validates_clean(&d.cfg);
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 0, "{status}");
}

/// A client that starts its login with `caching_sha2_password` (MySQL 8's
/// default) is switched to `mysql_native_password` and logs in; a wrong
/// password that way is refused with 1045.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn a_caching_sha2_password_client_is_switched_and_logs_in() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "px_sha2", "", "").await;
    let out = python(
        d.proxy_port,
        db_name(&d.src),
        r#"
import os, mysql.connector
def login(password):
    try:
        c = mysql.connector.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password=password,
                                    database=os.environ["DB"], auth_plugin="caching_sha2_password", use_pure=True)
        cur = c.cursor()
        cur.execute("SELECT CONCAT('in as ', CURRENT_USER() IS NOT NULL)")
        return cur.fetchall()[0][0]
    except mysql.connector.Error as e:
        return f"error {e.errno}"
print(login("app-secret"))
print(login("wrong"))
"#,
    );
    assert_eq!(out, "in as 1\nerror 1045\n");
}

/// Packets over 16 MiB, both ways: a 17 MiB value written through movex
/// (text protocol and a prepared statement) lands whole on both sides and
/// reads back whole.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn values_over_16_mib_cross_the_front_door_both_ways() {
    tools::require("pymysql");
    // The server's own limit must let such a packet in (MariaDB's default
    // is 16 MiB); raising it is harmless to every other test. movex's
    // (`max_packet_bytes`, the same default) is raised with it.
    dbs::exec("mysql://root@127.0.0.1:3306/test", "SET GLOBAL max_allowed_packet = 268435456").await;
    let dir = tempfile::tempdir().unwrap();
    let table = "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB);";
    let d = door_set_up(dir.path(), "px_big", table, Setup { proxy: "max_packet_bytes = 268435456", ..Setup::default() }).await;
    let out = python(
        d.proxy_port,
        db_name(&d.src),
        r#"
import os, hashlib, pymysql, mysql.connector
value = os.urandom(17 * 1024 * 1024)
c = pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                    database=os.environ["DB"], autocommit=True, max_allowed_packet=256 * 1024 * 1024)
cur = c.cursor()
cur.execute("INSERT INTO big VALUES (1, %s)", (value,))
cur.execute("SELECT b FROM big WHERE id = 1")
print("text", cur.fetchall()[0][0] == value)
p = mysql.connector.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                            database=os.environ["DB"], autocommit=True)
pc = p.cursor(prepared=True)
pc.execute("INSERT INTO big VALUES (%s, %s)", (2, value[::-1]))
# Read back with PyMySQL: mysql-connector-python's prepared cursor returns
# such a value cut to 16777204 bytes even straight from MariaDB.
cur.execute("SELECT b FROM big WHERE id = 2")
print("prepared", cur.fetchall()[0][0] == value[::-1])
print(hashlib.sha256(value).hexdigest())
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["text True", "prepared True"], "{out}");
    for url in [d.src.url(), d.dst.as_str()] {
        let got = dbs::query_strings(url, "SELECT id, LENGTH(b), SHA2(IF(id = 1, b, REVERSE(b)), 256) FROM big ORDER BY id").await;
        assert_eq!(got, [format!("1 17825792 {}", lines[2]), format!("2 17825792 {}", lines[2])], "{url}");
    }
}
