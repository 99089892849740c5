//! The MySQL front door behaves as MariaDB does, for the paths drivers'
//! own test suites found different (issue 17), each with a real client:
//!
//! - a secondary failure inside a transaction, then DDL (an implicit
//!   commit): the destination follows again from the DDL on;
//! - an error inside a transaction (failed DDL, a lock-wait timeout): the
//!   destination's transaction ends as the source's did, or goes on;
//! - a login the primary refuses: the client's login is refused with the
//!   server's error;
//! - clients that never log in hold few database connections;
//! - connection ids: the client's is the server's (`CONNECTION_ID()`, the
//!   process list), and `KILL [QUERY]` / `COM_PROCESS_KILL` stop the
//!   session on both sides;
//! - the compressed protocol (mysql-connector-python, the `mariadb` CLI);
//! - each result of a multi-statement query as soon as it is done;
//! - a session the server ends is closed to the client at once;
//! - a clean close (`COM_QUIT`) reaches the servers as one;
//! - database names written in statements are the destination's there.

use movex_tests::broker::free_port;
use movex_tests::dbs;
use movex_tests::door::{self, db_name, door, mariadb, secondary_failed};
use movex_tests::mariadbd::Mariadbd;
use movex_tests::needs_tool;
use movex_tests::server::{http, serve_limited};
use movex_tests::tools;
use std::process::Command;

const TABLE: &str = "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), n INT, at DATETIME(6), b VARBINARY(8))";

/// Run a Python script with `env` set; its stdout (it must succeed).
fn py(env: &[(&str, String)], script: &str) -> String {
    let out = Command::new("python3").args(["-c", script]).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
    assert!(out.status.success(), "python failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Python's way to the door, as user `app`.
const CONNECT: &str = r#"
import os, sys, time, threading, select
P = int(os.environ["PORT"]); DB = os.environ["DB"]
def door(**kw):
    import pymysql
    return pymysql.connect(host="127.0.0.1", port=P, user="app", password="app-secret", database=DB, autocommit=True, **kw)
"#;

/// A `movex serve` killed when the test ends (before its private server).
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `movex serve` with the front door between two databases given by URL
/// (one may be on a private server), in `src_first`: the child, its HTTP
/// and front-door ports, and the config.
fn serve_between(dir: &std::path::Path, src: &str, dst: &str) -> (Serve, u16, u16, std::path::PathBuf) {
    let (http_port, proxy_port) = (free_port(), free_port());
    let cfg = door::config(dir, src, dst, http_port, proxy_port, "", "");
    let server = serve_limited(&cfg, http_port, Some(&dir.join("serve.log")), None);
    for route in ["/src_only", "/src_first"] {
        assert_eq!(http(http_port, "POST", route).0, 200);
    }
    (Serve(server), http_port, proxy_port, cfg)
}

/// A private server holding both sides, `app` (the source) and `app_v2`,
/// each with `t (id INT PRIMARY KEY)`, and a `movex serve` in `src_first`
/// between them: the server, the serve, the front door's port. (Bind them
/// in this order: the serve is stopped before its server.)
fn both_on_private(dir: &std::path::Path) -> (Mariadbd, Serve, u16) {
    let server = Mariadbd::start(dir);
    on_private(server.port, "CREATE DATABASE app; CREATE DATABASE app_v2; CREATE TABLE app.t (id INT PRIMARY KEY); CREATE TABLE app_v2.t (id INT PRIMARY KEY)");
    let base = format!("mysql://root@127.0.0.1:{}", server.port);
    let (serve, _, proxy_port, _) = serve_between(dir, &format!("{base}/app"), &format!("{base}/app_v2"));
    (server, serve, proxy_port)
}

/// A private server's `mariadb` client as root: its output.
fn on_private(port: u16, sql: &str) -> String {
    let out = Command::new("mariadb").args(["-h127.0.0.1", &format!("-P{port}"), "-uroot", "-N", "--batch", "-e", sql]).output().unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The destination fails a write in a transaction (a key it alone
/// holds); then DDL commits the transaction implicitly on both servers.
/// The destination's part was rolled back and journaled; from the DDL on
/// it follows again: it gets the table and the rows written after. So
/// with a BEGIN, or a COMMIT, that ends such a lost transaction. Reads,
/// savepoints and the COMMIT of a lost transaction are no missed writes:
/// one journal entry per failed statement.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_secondary_failure_in_a_transaction_the_ddl_that_commits_it_reaches_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let table = "CREATE TABLE bt_a (id INT PRIMARY KEY);";
    let d = door(dir.path(), "pf_ddl", table, &format!("{table} INSERT INTO bt_a VALUES (1), (11), (21);")).await;
    let (src, dst) = (d.src.to_string(), d.dst.clone());
    let (code, out) = mariadb(
        d.proxy_port,
        "app-secret",
        db_name(&src),
        "BEGIN; INSERT INTO bt_a VALUES (1); SELECT COUNT(*) FROM bt_a; SAVEPOINT s; CREATE TABLE bt_b (id INT); INSERT INTO bt_b VALUES (7);
         BEGIN; INSERT INTO bt_a VALUES (11); BEGIN; INSERT INTO bt_a VALUES (2); COMMIT;
         BEGIN; INSERT INTO bt_a VALUES (21); COMMIT; INSERT INTO bt_a VALUES (3);",
    );
    assert_eq!(code, 0, "{out}");
    for url in [&src, &dst] {
        assert_eq!(dbs::query_strings(url, "SELECT id FROM bt_b").await, ["7"], "{url}");
        assert_eq!(dbs::query_strings(url, "SELECT id FROM bt_a ORDER BY id").await, ["1", "2", "3", "11", "21"], "{url}");
    }
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 3, "the three duplicate keys, each with its transaction so far: {status}");
}

/// An error inside a transaction ends the destination's transaction as
/// it ended the source's, though an ERR packet does not say how: DDL that
/// fails has committed the transaction first (a ROLLBACK after it undoes
/// nothing), and a lock-wait timeout undoes only its statement (MariaDB's
/// default): the transaction goes on and commits. Either way both sides
/// end with the same rows and nothing is journaled.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn an_error_inside_a_transaction_ends_the_destination_s_transaction_as_it_ended_the_source_s() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let table = "CREATE TABLE t (id INT PRIMARY KEY);";
    let d = door(dir.path(), "pf_txerr", table, table).await;
    let env = [("PORT", d.proxy_port.to_string()), ("DB", db_name(&d.src).to_owned())];
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
import pymysql
c = door(); cur = c.cursor()
cur.execute("BEGIN"); cur.execute("INSERT INTO t VALUES (1)")
try:
    cur.execute("CREATE TABLE t (id INT)")
except pymysql.err.MySQLError as e:
    print("ddl", e.args[0])
cur.execute("ROLLBACK")
o = door(); oc = o.cursor(); oc.execute("BEGIN"); oc.execute("SELECT id FROM t WHERE id = 1 FOR UPDATE")
cur.execute("SET SESSION innodb_lock_wait_timeout = 1")
cur.execute("BEGIN"); cur.execute("INSERT INTO t VALUES (2)")
try:
    cur.execute("UPDATE t SET id = 10 WHERE id = 1")
except pymysql.err.MySQLError as e:
    print("wait", e.args[0])
cur.execute("INSERT INTO t VALUES (3)"); cur.execute("COMMIT"); oc.execute("ROLLBACK")
"#
        ),
    );
    assert_eq!(out, "ddl 1050\nwait 1205\n", "{out}");
    for url in [&d.src.to_string(), &d.dst] {
        assert_eq!(dbs::query_strings(url, "SELECT id FROM t ORDER BY id").await, ["1", "2", "3"], "{url}");
    }
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 0, "{status}");
    door::validates_clean(&d.cfg);
}

/// A login the primary refuses is refused to the client, at login, with
/// the server's error, as directly: here an unknown database (1049). The
/// client never holds a session that cannot run a command (a pool's
/// health check relies on it); the door serves on.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_the_primary_refuses_is_the_client_s_login_refused_with_the_server_s_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "pf_login", "CREATE TABLE t (id INT);", "CREATE TABLE t (id INT);").await;
    let missing = format!("{}_missing", db_name(&d.src));
    let (code, out) = mariadb(d.proxy_port, "app-secret", &missing, "SELECT 1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("ERROR 1049 (42000): Unknown database '{missing}'")), "{out}");
    let (code, out) = mariadb(d.proxy_port, "app-secret", db_name(&d.src), "INSERT INTO t VALUES (1)");
    assert_eq!((code, out.as_str()), (0, ""));
    assert_eq!(dbs::query_strings(&d.dst, "SELECT id FROM t").await, ["1"]);
}

/// The client's connection id is the primary's own: the greeting,
/// `CONNECTION_ID()` and the process list agree. `KILL QUERY <id>` from
/// another client stops the statement on both sides (here an UPDATE the
/// destination holds back behind a lock: stopped there, the source's
/// answer reaches the client and the destination's miss is journaled).
/// `COM_PROCESS_KILL` ends a connection; an id the door does not know,
/// or another user's session, is refused as the server refuses it.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn connection_ids_are_the_servers_and_kill_stops_the_session_on_both_sides() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0);";
    let d = door::door_set_up(
        dir.path(),
        "pf_kill",
        setup,
        door::Setup { proxy: "[[proxy.mysql.users]]\nname = \"other\"\npassword = \"other-secret\"", ..Default::default() },
    )
    .await;
    let env = [("PORT", d.proxy_port.to_string()), ("DB", db_name(&d.src).to_owned()), ("DST", db_name(&d.dst).to_owned())];
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
import pymysql, mysql.connector
a = door(); cur = a.cursor()
cur.execute("SELECT CONNECTION_ID()"); cid = cur.fetchone()[0]
print("greeting id is CONNECTION_ID():", cid == a.thread_id())
b = door(); bc = b.cursor()
bc.execute("SHOW PROCESSLIST"); print("listed:", any(r[0] == cid for r in bc.fetchall()))
# A lock on the destination alone, held by a direct connection.
lock = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=os.environ["DST"]); lc = lock.cursor()
lc.execute("BEGIN"); lc.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")
cur.execute("SET SESSION innodb_lock_wait_timeout = 1000")
done = {{}}
def update():
    try:
        cur.execute("UPDATE t SET v = 1 WHERE id = 1"); done["a"] = "ok %d" % cur.rowcount
    except Exception as e:
        done["a"] = "error %s" % e
th = threading.Thread(target=update); th.start()
watch = pymysql.connect(host="127.0.0.1", port=3306, user="root"); wc = watch.cursor()
blocked = False
for _ in range(1200):
    wc.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE 'UPDATE t SET v = 1%%'", (os.environ["DST"],))
    if wc.fetchone()[0] > 0:
        blocked = True; break
    time.sleep(0.05)
print("waiting on the destination:", blocked)
bc.execute("KILL QUERY %d" % cid)
th.join(300)
print("the update:", done.get("a"))
lock.rollback()
# KILL of an unknown id, and of another user's session.
try:
    bc.execute("KILL 999999999")
except pymysql.err.MySQLError as e:
    print("unknown:", e.args[0])
o = pymysql.connect(host="127.0.0.1", port=P, user="other", password="other-secret", database=DB)
try:
    o.cursor().execute("KILL QUERY %d" % cid)
except pymysql.err.MySQLError as e:
    print("not theirs:", e.args[0])
# COM_PROCESS_KILL, as mysql-connector-python sends it.
c1 = mysql.connector.connect(host="127.0.0.1", port=P, user="app", password="app-secret", database=DB)
c2 = mysql.connector.connect(host="127.0.0.1", port=P, user="app", password="app-secret", database=DB)
c2.cmd_process_kill(c1.connection_id)
try:
    c1.cmd_query("SELECT 1"); print("c1 alive")
except mysql.connector.Error as e:
    print("c1 killed")
"#
        ),
    );
    assert_eq!(
        out,
        "greeting id is CONNECTION_ID(): True\nlisted: True\nwaiting on the destination: True\nthe update: ok 1\nunknown: 1094\nnot theirs: 1095\nc1 killed\n",
        "{out}"
    );
    assert_eq!(dbs::query_strings(d.src.url(), "SELECT v FROM t").await, ["1"]);
    assert_eq!(dbs::query_strings(&d.dst, "SELECT v FROM t").await, ["0"], "stopped on the destination");
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 1, "the destination's interrupted update: {status}");
}

/// A client that asks for the compressed protocol gets it: results small
/// and large (compressed frames of many packets) and writes to both sides;
/// the server's session is compressed too (`Compression` ON, as directly).
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_asks_for_compression_is_answered_compressed() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "pf_zip", &format!("{TABLE};"), &format!("{TABLE};")).await;
    let env = [("PORT", d.proxy_port.to_string()), ("DB", db_name(&d.src).to_owned())];
    let out = py(
        &env,
        r#"
import os, mysql.connector
c = mysql.connector.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                            database=os.environ["DB"], autocommit=True, compress=True, use_pure=True)
cur = c.cursor()
for i in range(50):
    cur.execute("INSERT INTO t (v, n) VALUES (%s, %s)", ("row%d" % i, i))
cur.execute("SELECT COUNT(*), SUM(n) FROM t"); print(cur.fetchall())
cur.execute("SELECT REPEAT('x', 300000), REPEAT('y', 5)"); r = cur.fetchall(); print(len(r[0][0]), r[0][1])
cur.execute("SELECT a.n FROM t a, t b ORDER BY a.n, b.n"); print(len(cur.fetchall()))
cur.execute("SHOW SESSION STATUS LIKE 'Compression'"); print(cur.fetchall())
"#,
    );
    // The primary's session is compressed as the client's is.
    assert_eq!(out, "[(50, Decimal('1225'))]\n300000 yyyyy\n2500\n[('Compression', 'ON')]\n", "{out}");
    // The mariadb CLI's --compress too.
    let out = Command::new("mariadb")
        .args(["-h127.0.0.1", &format!("-P{}", d.proxy_port), "-uapp", "-papp-secret", "--compress", "-N", "--batch", db_name(&d.src)])
        .args(["-e", "UPDATE t SET n = n + 1; SELECT SUM(n) FROM t"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1275\n", "{}", String::from_utf8_lossy(&out.stderr));
    door::validates_clean(&d.cfg);
}

/// `SELECT 'first'; SELECT GET_LOCK(...)` with the lock held elsewhere:
/// the client reads the first result while the second statement waits;
/// only then is the lock released, so the second gets it (1). Were the
/// first result held back until the whole response ended, the client
/// would see it only after GET_LOCK gave up (0).
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn each_result_of_a_multi_statement_query_reaches_the_client_as_soon_as_it_is_done() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "pf_multi", "", "").await;
    let lock = dbs::unique("pf_multi_lock");
    let env = [("PORT", d.proxy_port.to_string()), ("DB", db_name(&d.src).to_owned()), ("LOCK", lock)];
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
import pymysql, queue
from pymysql.constants import CLIENT
holder = pymysql.connect(host="127.0.0.1", port=3306, user="root"); hc = holder.cursor()
hc.execute("SELECT GET_LOCK(%s, 0)", (os.environ["LOCK"],)); assert hc.fetchone()[0] == 1
firsts = queue.Queue(); seconds = queue.Queue()
def client():
    c = door(client_flag=CLIENT.MULTI_STATEMENTS); cur = c.cursor()
    cur.execute("SELECT 'first'; SELECT GET_LOCK('%s', 120)" % os.environ["LOCK"])
    firsts.put(cur.fetchall()[0][0])
    cur.nextset(); seconds.put(cur.fetchall()[0][0])
threading.Thread(target=client, daemon=True).start()
try:
    print(firsts.get(timeout=100))
except queue.Empty:
    print("the first result was held back")
hc.execute("SELECT RELEASE_LOCK(%s)", (os.environ["LOCK"],))
print(seconds.get(timeout=200))
"#
        ),
    );
    assert_eq!(out, "first\n1\n", "{out}");
}

/// A session the server ends while the client is idle — killed, or past
/// its `wait_timeout` — is closed to the client at once, after what the
/// server said, as it is directly: a pool that checks its idle
/// connections finds it dead.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn a_session_the_server_ends_is_closed_to_the_client_at_once() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let d = door(dir.path(), "pf_drop", "", "").await;
    let env = [("PORT", d.proxy_port.to_string()), ("DB", db_name(&d.src).to_owned())];
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
def closed(c):
    # Readable within 60 s, then read to the end: closed, not just readable.
    r, _, _ = select.select([c._sock], [], [], 60)
    if not r:
        return "still open"
    while True:
        try:
            data = c._sock.recv(65536)
        except (ConnectionResetError, OSError):
            return "closed"
        if not data:
            return "closed"
a = door(); a.cursor().execute("SELECT 1")
b = door(); b.cursor().execute("KILL %d" % a.thread_id())
print("killed:", closed(a))
w = door(); w.cursor().execute("SET SESSION wait_timeout = 1")
print("timed out:", closed(w))
"#
        ),
    );
    assert_eq!(out, "killed: closed\ntimed out: closed\n", "{out}");
}

/// Clients that connect and never log in hold at most 16 connections to
/// the primary between them (dialled to greet them with the server's
/// connection id): a flood of them cannot use up the server's
/// `max_connections` for everyone. Past 16 a client is greeted with
/// movex's own number, and still logs in and writes to both sides.
#[needs_tool("pymysql", "mariadbd")]
#[tokio::test(flavor = "multi_thread")]
async fn clients_that_never_log_in_hold_few_database_connections() {
    tools::require("pymysql");
    tools::require("mariadbd");
    let dir = tempfile::tempdir().unwrap();
    let (server, _serve, proxy_port) = both_on_private(dir.path());
    // 60 clients, each greeted, none logging in.
    let mut flood = Vec::new();
    for _ in 0..60 {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", proxy_port)).unwrap();
        let mut greeting = [0u8; 4];
        s.read_exact(&mut greeting).unwrap();
        flood.push(s);
    }
    let waiting = on_private(server.port, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'unauthenticated user'");
    let waiting: u32 = waiting.trim().parse().unwrap();
    assert!((1..=16).contains(&waiting), "{waiting} connections to the primary wait for a login");
    let env = [("PORT", proxy_port.to_string()), ("DB", "app".to_owned())];
    let out = py(&env, &format!("{CONNECT}\nc = door(); c.cursor().execute(\"INSERT INTO t VALUES (1)\"); c.close(); print(\"in\")\n"));
    assert_eq!(out, "in\n");
    assert_eq!(on_private(server.port, "SELECT COUNT(*) FROM app_v2.t"), "1\n");
    drop(flood);
}

/// 20 clients connect, query and close cleanly (COM_QUIT) through the
/// door, in `src_first`: the servers count no aborted client; one that
/// drops its socket counts one, as directly. (On a private server: other
/// tests' clients must not count.)
#[needs_tool("pymysql", "mariadbd")]
#[tokio::test(flavor = "multi_thread")]
async fn a_clean_close_reaches_both_servers_as_a_clean_close() {
    tools::require("pymysql");
    tools::require("mariadbd");
    let dir = tempfile::tempdir().unwrap();
    let (server, _serve, proxy_port) = both_on_private(dir.path());
    let aborted = || on_private(server.port, "SHOW GLOBAL STATUS LIKE 'Aborted_clients'").split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
    let before = aborted();
    let env = [("PORT", proxy_port.to_string()), ("DB", "app".to_owned())];
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
for i in range(20):
    c = door(); cur = c.cursor(); cur.execute("INSERT INTO t VALUES (%s)", (i,)); cur.execute("SELECT COUNT(*) FROM t"); c.close()
print("done")
"#
        ),
    );
    assert_eq!(out, "done\n");
    assert_eq!(on_private(server.port, "SELECT COUNT(*) FROM app_v2.t"), "20\n");
    assert_eq!(aborted() - before, 0, "a client's COM_QUIT is passed on to both servers");
    // A client that goes without COM_QUIT is one aborted client, as
    // directly: its primary session is dropped, the destination's (movex's
    // own) closed cleanly. Counted once both sessions are gone (every
    // session newer than the client's start).
    let newest = || on_private(server.port, "SELECT COALESCE(MAX(ID), 0) FROM information_schema.PROCESSLIST").trim().parse::<u64>().unwrap();
    let (before, since) = (aborted(), newest());
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
import socket
c = door(); c.cursor().execute("INSERT INTO t VALUES (100)")
c._sock.shutdown(socket.SHUT_RDWR); c._sock.close()
print("gone")
"#
        ),
    );
    assert_eq!(out, "gone\n");
    let left = || on_private(server.port, &format!("SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST WHERE ID > {since} AND ID <> CONNECTION_ID()"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !left().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the client's sessions are still open: {}", left());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(aborted() - before, 1, "one aborted client, on the primary");
}

/// The destination's database has another name, on another server.
/// Statements that name the application's database (`INSERT INTO
/// app.t`, a procedure created and called by its qualified name, a
/// prepared statement) write to the destination's own database there;
/// one where the name is both a database and a table is refused with a
/// clear error, on neither side.
#[needs_tool("pymysql", "mariadbd")]
#[tokio::test(flavor = "multi_thread")]
async fn database_names_written_in_statements_are_the_destination_s_on_the_destination() {
    tools::require("pymysql");
    tools::require("mariadbd");
    let dir = tempfile::tempdir().unwrap();
    let server = Mariadbd::start(dir.path());
    on_private(server.port, "CREATE DATABASE shop_v2; CREATE TABLE shop_v2.t (id INT PRIMARY KEY, v VARCHAR(20))");
    let src = dbs::mariadb(&dbs::unique("pf_names"), "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))").await;
    let app = src.name().to_owned();
    let (_serve, http_port, proxy_port, _) = serve_between(dir.path(), src.url(), &format!("mysql://root@127.0.0.1:{}/shop_v2", server.port));
    let env = [("PORT", proxy_port.to_string()), ("DB", app.clone())];
    let out = py(
        &env,
        &format!(
            r#"{CONNECT}
import pymysql, mysql.connector
c = door(); cur = c.cursor()
cur.execute("INSERT INTO {app}.t VALUES (1, 'qualified')")
cur.execute("INSERT INTO `{app}`.`t` VALUES (2, 'quoted')")
cur.execute("CREATE PROCEDURE {app}.p(i INT) INSERT INTO {app}.t VALUES (i, 'procedure')")
cur.execute("CALL {app}.p(3)")
try:
    cur.execute("INSERT INTO {app}.t SELECT id + 10, v FROM {app}.t {app}")
except pymysql.err.MySQLError as e:
    print("refused:", e.args[0], "movex cannot map" in e.args[1])
p = mysql.connector.connect(host="127.0.0.1", port=P, user="app", password="app-secret", database=DB, autocommit=True)
pc = p.cursor(prepared=True)
pc.execute("UPDATE {app}.t SET v = %s WHERE id = %s", ("prepared", 1))
print("ok")
"#
        ),
    );
    assert_eq!(out, "refused: 1105 True\nok\n", "{out}");
    let want = ["1 prepared", "2 quoted", "3 procedure"];
    assert_eq!(dbs::query_strings(src.url(), "SELECT id, v FROM t ORDER BY id").await, want);
    assert_eq!(on_private(server.port, "SELECT id, v FROM shop_v2.t ORDER BY id").replace('\t', " ").lines().collect::<Vec<_>>(), want);
    // A database named where only a database can stand: the
    // destination's is altered, dropped and made again; no database of
    // the source's name appears there.
    let (code, out) = door::mariadb(
        proxy_port,
        "app-secret",
        &app,
        &format!("ALTER DATABASE {app} COLLATE utf8mb4_bin; DROP DATABASE IF EXISTS `{app}`; CREATE DATABASE IF NOT EXISTS {app}; CREATE TABLE {app}.t2 (id INT)"),
    );
    assert_eq!(code, 0, "{out}");
    let schemas = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'test') ORDER BY 1";
    assert_eq!(on_private(server.port, schemas), "shop_v2\n");
    assert_eq!(on_private(server.port, "SHOW TABLES FROM shop_v2"), "t2\n");
    let (journaled, status) = secondary_failed(http_port);
    assert_eq!(journaled, 0, "{status}");
}

/// `LOAD DATA LOCAL INFILE`: the client's file goes to both sides as it
/// is read (the `mariadb` CLI, 200,000 rows in many packets; PyMySQL), and
/// both hold the same rows. With LOCAL a server skips rows it cannot take
/// (a CHECK the destination alone has) with a warning: a different count,
/// journaled. A load the destination refuses (no such table there):
/// non-strict, the client succeeds and the miss is journaled; strict, the
/// client gets the destination's error and neither side keeps a row.
#[needs_tool("pymysql")]
#[tokio::test(flavor = "multi_thread")]
async fn load_data_local_streams_the_file_to_both_sides_under_strict_and_non_strict_rules() {
    tools::require("pymysql");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.tsv");
    std::fs::write(&big, (1..=200_000).map(|i| format!("{i}\trow{i}\t{}\n", i % 50)).collect::<String>()).unwrap();
    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "300001\tfine\t1\n300002\ttoo big\t500\n").unwrap();
    for strict in [false, true] {
        let pool = if strict { "strict = true" } else { "" };
        let src_setup = format!("{TABLE}; CREATE TABLE t2 (id INT PRIMARY KEY, v VARCHAR(40), n INT);");
        let dst_setup = format!("{TABLE}; ALTER TABLE t ADD CONSTRAINT small CHECK (n < 100);");
        let d = door::door_with(dir.path(), "pf_load", &src_setup, &dst_setup, pool).await;
        let db = db_name(&d.src).to_owned();
        let load = |file: &std::path::Path, table: &str| {
            let out = Command::new("mariadb")
                .args(["-h127.0.0.1", &format!("-P{}", d.proxy_port), "-uapp", "-papp-secret", "--local-infile=1", "-N", "--batch", &db])
                .arg("-e")
                .arg(format!("LOAD DATA LOCAL INFILE '{}' INTO TABLE {table} (id, v, n); SELECT ROW_COUNT()", file.display()))
                .output()
                .unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
        };
        let count = |url: String, sql: &'static str| async move { dbs::query_strings(&url, sql).await.join(" ") };
        let (src, dst) = (d.src.url().to_owned(), d.dst.clone());
        if !strict {
            assert_eq!(load(&big, "t"), (Some(0), "200000\n".to_owned()));
            std::fs::write(dir.path().join("small.tsv"), "250001,py,1\n250002,py,2\n").unwrap();
            let env = [("PORT", d.proxy_port.to_string()), ("DB", db.clone()), ("FILE", dir.path().join("small.tsv").display().to_string())];
            let out = py(
                &env,
                &format!(
                    r#"{CONNECT}
c = door(local_infile=True); cur = c.cursor()
cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE t FIELDS TERMINATED BY ',' (id, v, n)", (os.environ["FILE"],))
print(cur.rowcount)
"#
                ),
            );
            assert_eq!(out, "2\n");
            for url in [&src, &dst] {
                assert_eq!(count(url.clone(), "SELECT COUNT(*), CAST(SUM(n) AS SIGNED), MAX(id) FROM t").await, "200002 4900003 250002", "{url}");
            }
            // A row the destination skips: a different count, journaled.
            assert_eq!(load(&bad, "t"), (Some(0), "2\n".to_owned()), "the source's answer");
            assert_eq!(count(src.clone(), "SELECT COUNT(*) FROM t WHERE id > 300000").await, "2");
            assert_eq!(count(dst.clone(), "SELECT COUNT(*) FROM t WHERE id > 300000").await, "1");
        }
        let (code, out) = load(&bad, "t2");
        let (journaled, status) = secondary_failed(d.http_port);
        assert_eq!(count(src.clone(), "SELECT COUNT(*) FROM t2").await, if strict { "0" } else { "2" });
        if strict {
            assert_eq!(code, Some(1), "{out}");
            assert!(out.contains("ERROR 1146") && out.contains("movex (strict): the destination refused it"), "{out}");
            assert_eq!(journaled, 0, "{status}");
        } else {
            assert_eq!((code, out.as_str()), (Some(0), "2\n"), "the source's answer");
            assert_eq!(journaled, 2, "the skipped row, and the table the destination lacks: {status}");
        }
    }
}
