//! The PostgreSQL front door with real clients against the running
//! PostgreSQL: `movex serve` with `[proxy.postgres]`, source and
//! destination two databases, in `src_first`.
//!
//! - psql: DDL, DML, transactions (a failed one, a savepoint), several
//!   statements in one query, `\copy`, values each side would generate
//!   (serial, identity, now(), random(), gen_random_uuid()); a wrong
//!   password refused with PostgreSQL's own error.
//! - psycopg 3: server-side prepared statements, transactions, COPY, a
//!   cancel request.
//! - node-postgres: parameterised queries (the extended protocol, unnamed
//!   and named statements), a transaction.
//! - pgbench, `-M simple` and `-M prepared`, and under a running pgbench
//!   load the pattern switched forward and back.
//! - A destination killed mid-load (a private server): non-strict, clients
//!   keep succeeding and the journal holds what it missed, `movex repair`
//!   settles it; strict, clients get an error and the source keeps nothing
//!   of the refused writes.
//! - Bad input: a client that never logs in, garbage, a message over the
//!   limit, an unknown user: each told why, the others undisturbed.
//! - An idle client (sqlx's `PgListener`) hears its notifications, and
//!   its server ending the session, without sending anything.
//! - A batch flushed before its Sync (libpq's pipeline mode) across a
//!   pattern switch: it ends in its own pattern, without waiting out the
//!   switch's settle on a client that waits on its locks.
//! - A plain `BEGIN` reaches each server with the transaction's first
//!   statement there (`defer_begin`, on by default), as the servers see;
//!   the bytes movex sends for it, against the real server: what is sent
//!   with a deferred statement the server fails does not run.
//! - A destination that dies under an idle connection, met while
//!   preparing a statement it lacks: the write is journaled, the client's
//!   session goes on.
//! - movex's own catalog question inside a client's transaction: a
//!   statement that fails there fails with its own error, and the
//!   client's savepoints are undisturbed.
//!
//! After each, `movex validate` reports no differences, and the tables'
//! whole contents are compared side by side.

use movex_tests::dbs;
use movex_tests::door::{repair, secondary_failed, validate, validates_clean};
use movex_tests::needs_tool;
use movex_tests::pgdoor::{PgDoor, Postgres, Setup, node_modules, pg_door, pg_door_to, psql, run};
use movex_tests::server::http;
use movex_tests::tools;
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

const TABLE: &str = "CREATE TABLE t (id serial PRIMARY KEY, v text, n int, at timestamptz DEFAULT now(), u uuid DEFAULT gen_random_uuid(), \
                     r float8, seq bigint GENERATED ALWAYS AS IDENTITY, twice int GENERATED ALWAYS AS (id * 2) STORED)";
/// For the repair test: `movex repair` upserts every column, which
/// identity `ALWAYS` and generated columns refuse.
const PLAIN_TABLE: &str = "CREATE TABLE t (id serial PRIMARY KEY, v text, n int, at timestamptz DEFAULT now(), u uuid DEFAULT gen_random_uuid())";
const T: &str = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";

/// Every row of `table` on a side, as text, in key order.
async fn rows(url: &str, table: &str) -> Vec<String> {
    dbs::query_strings(url, &format!("SELECT x::text FROM {table} x ORDER BY 1")).await
}

/// Both sides hold the same rows of `table` (and its sequences are as far).
async fn same_on_both(d: &PgDoor, table: &str) -> usize {
    let (s, t) = (rows(&d.src, table).await, rows(&d.dst, table).await);
    assert_eq!(s, t, "{table} differs between source and destination");
    s.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_writes_through_the_door_to_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let tables = format!("{T}[[tables]]\nname = \"s\"\nkey = [\"id\"]\ncomparator = \"exact\"\n");
    let d = pg_door(dir.path(), "pgpsql", "", Setup { tables: &tables, ..Setup::default() }).await;
    let (code, out) = psql(
        &d.url(),
        &format!(
            "{TABLE};
             INSERT INTO t (v, n) VALUES ('a', 1), ('b', 2), ('c', 3);
             BEGIN; UPDATE t SET n = n + 10 WHERE v = 'b'; INSERT INTO t (v) VALUES ('in-tx'); COMMIT;
             DELETE FROM t WHERE v = 'c'; SELECT v, n FROM t ORDER BY id;
             INSERT INTO t (v, r) VALUES ('gen', random()) RETURNING v;
             UPDATE t SET at = now() + interval '1 hour', r = random() WHERE v = 'a';
             INSERT INTO t (v) VALUES ('upsert') ON CONFLICT (id) DO UPDATE SET at = now();
             SELECT 'one' AS x; INSERT INTO t (v, at) VALUES ('multi', '2026-01-01'); SELECT 'two';
             \\set ON_ERROR_STOP 0
             BEGIN; INSERT INTO t (v) VALUES ('kept'); SAVEPOINT s; INSERT INTO t (id, v) VALUES (1, 'duplicate');
             ROLLBACK TO SAVEPOINT s; INSERT INTO t (v) VALUES ('after-savepoint'); COMMIT;
             \\set ON_ERROR_STOP 1
             SET search_path = public; SHOW search_path;
             CREATE TABLE c (id int PRIMARY KEY, v text); {};
             \\copy c (id, v) from stdin
1	copied
2	copied-too
\\.
",
            PLAIN_TABLE.replace("TABLE t", "TABLE s")
        ),
    );
    assert_eq!(code, Some(0), "{out}");
    // The primary's answers as the client sees them, then (on stderr) the
    // error the savepoint undid.
    let (answers, errors) = out.split_once("ERROR:").unwrap_or((&out, ""));
    assert_eq!(answers, "a|1\nb|12\nin-tx|\ngen\none\ntwo\npublic\n", "{out}");
    assert!(errors.contains("duplicate key value violates unique constraint \"t_pkey\""), "{out}");
    // A transaction whose statement fails: neither side keeps its writes.
    let (code, out) = psql(&d.url(), "BEGIN; INSERT INTO t (v) VALUES ('lost'); INSERT INTO t (id, v) VALUES (1, 'duplicate'); COMMIT;");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("duplicate key value violates unique constraint"), "{out}");
    // The wrong password: PostgreSQL's own words.
    let wrong = d.url().replace("app-secret", "wrong");
    let (code, out) = psql(&wrong, "SELECT 1");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("password authentication failed for user \"app\""), "{out}");

    let n = same_on_both(&d, "t").await;
    assert_eq!(n, 8, "rows written");
    assert_eq!(same_on_both(&d, "c").await, 2);
    assert_eq!(dbs::query_strings(&d.dst, "SELECT count(*) FROM t WHERE v = 'lost'").await, ["0"]);
    // The destination's sequences went past the values written: once it
    // is the primary, it makes new ids. (The source's may be further: a
    // failed insert uses a value too.)
    let seqs = "SELECT (SELECT last_value FROM t_id_seq) >= max(id) AND (SELECT last_value FROM t_seq_seq) >= max(seq) FROM t";
    assert_eq!(dbs::query_strings(&d.dst, &format!("SELECT ({seqs})::text")).await, ["true"]);
    validates_clean(&d.cfg);

    // COPY into a table whose defaults each side makes itself: COPY has no
    // RETURNING, so the secondary's values differ; the COPY is journaled,
    // and `movex repair` settles the table from the source.
    // (A plain table: `movex repair` upserts every column, which identity
    // ALWAYS and generated columns refuse.)
    let (code, out) = psql(&d.url(), "\\copy s (v, n) from stdin\ncopied\t7\ncopied-too\t8\n\\.\n");
    assert_eq!(code, Some(0), "{out}");
    // One query string that commits part-way and then fails: the primary
    // keeps the first row, the secondary was sent none of it; journaled.
    let (code, out) = run(Command::new("psql").args(["-X", "-c", "INSERT INTO s (v) VALUES ('part'); COMMIT; INSERT INTO s (id, v) VALUES (1, 'dup')", &d.url()]), "");
    assert_eq!(code, Some(1), "{out}");
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 2, "{status}");
    let mut d = d;
    d.stop();
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(same_on_both(&d, "s").await, 3);
    validates_clean(&d.cfg);
}

#[needs_tool("psycopg")]
#[tokio::test(flavor = "multi_thread")]
async fn psycopg_prepares_copies_and_cancels_through_the_door() {
    tools::require("psycopg");
    let dir = tempfile::tempdir().unwrap();
    let setup = format!("{TABLE}; CREATE TABLE c (id int PRIMARY KEY, v text)");
    let d = pg_door(dir.path(), "pgpy", &setup, Setup { tables: T, ..Setup::default() }).await;
    let script = r#"
import os, sys, threading, time, psycopg
url = os.environ["URL"]
with psycopg.connect(url) as c:
    for i in range(8):
        # prepare=True: a named server-side statement from the first execution.
        c.execute("INSERT INTO t (v, n) VALUES (%s, %s)", (f"p{i}", i), prepare=True)
    row = c.execute("INSERT INTO t (v, r) VALUES (%s, random()) RETURNING id, v", ("ret",), prepare=True).fetchone()
    print("returning", row[1], row[0] > 0)
    c.execute("UPDATE t SET at = now(), n = n + %s WHERE v = %s", (100, "p3"), prepare=True)
    c.commit()
    try:
        with c.transaction():
            c.execute("INSERT INTO t (v) VALUES (%s)", ("rolled-back",))
            raise RuntimeError("undo")
    except RuntimeError:
        pass
    with c.cursor().copy("COPY c (id, v) FROM STDIN") as cp:
        for i in range(500):
            cp.write_row((i, f"copy{i}"))
    c.commit()
    print("count", c.execute("SELECT count(*) FROM t").fetchone()[0], c.execute("SELECT count(*) FROM c").fetchone()[0])
    c.commit()
    # A cancel request, forwarded to the server running the statement.
    c.autocommit = True
    threading.Timer(0.5, c.cancel).start()
    t0 = time.time()
    try:
        c.execute("SELECT pg_sleep(20)")
        print("not cancelled")
    except psycopg.errors.QueryCanceled:
        print("cancelled", time.time() - t0 < 10)
    print("after", c.execute("SELECT 1").fetchone()[0])
"#;
    let out = Command::new("python3").args(["-c", script]).env("URL", d.url()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert_eq!(text, "returning ret True\ncount 9 500\ncancelled True\nafter 1\n");
    assert_eq!(same_on_both(&d, "t").await, 9);
    assert_eq!(same_on_both(&d, "c").await, 500);
    validates_clean(&d.cfg);
}

#[needs_tool("node-pg")]
#[tokio::test(flavor = "multi_thread")]
async fn node_postgres_writes_through_the_door() {
    tools::require("node-pg");
    let dir = tempfile::tempdir().unwrap();
    let d = pg_door(dir.path(), "pgnode", TABLE, Setup { tables: T, ..Setup::default() }).await;
    let script = r#"
const { Client } = require("pg");
(async () => {
  const c = new Client({ connectionString: process.env.URL });
  await c.connect();
  for (let i = 0; i < 5; i++) await c.query("INSERT INTO t (v, n) VALUES ($1, $2)", ["node" + i, i]);
  for (let i = 0; i < 5; i++) await c.query({ name: "ins", text: "INSERT INTO t (v, n) VALUES ($1, $2) RETURNING id", values: ["named" + i, i] });
  await c.query("BEGIN");
  await c.query("UPDATE t SET n = n * 2, at = now() WHERE v LIKE $1", ["node%"]);
  const r = await c.query("SELECT count(*)::int AS n FROM t WHERE n >= $1", [4]);
  await c.query("COMMIT");
  console.log("big", r.rows[0].n);
  const all = await c.query("SELECT count(*)::int AS n FROM t");
  console.log("count", all.rows[0].n);
  await c.end();
})().catch(e => { console.error(e); process.exit(1); });
"#;
    let out = Command::new("node").args(["-e", script]).env("URL", d.url()).env("NODE_PATH", node_modules()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert_eq!(text, "big 4\ncount 10\n");
    assert_eq!(same_on_both(&d, "t").await, 10);
    validates_clean(&d.cfg);
}

const PGBENCH_TABLES: &str = "[[tables]]\nname = \"pgbench_accounts\"\nkey = [\"aid\"]\ncomparator = \"exact\"\n\
                              [[tables]]\nname = \"pgbench_branches\"\nkey = [\"bid\"]\ncomparator = \"exact\"\n\
                              [[tables]]\nname = \"pgbench_tellers\"\nkey = [\"tid\"]\ncomparator = \"exact\"\n";

/// pgbench through the door; its output.
fn pgbench(d: &PgDoor, args: &[&str]) -> String {
    let (code, out) = run(Command::new("pgbench").args(args).arg(d.url()), "");
    assert_eq!(code, Some(0), "pgbench {args:?}: {out}");
    out
}

/// pgbench's count of failed transactions is 0.
fn no_failures(out: &str) {
    assert!(out.contains("number of failed transactions: 0 (0.000%)"), "{out}");
}

/// The history table has no key: its whole contents, side by side.
async fn history_same(d: &PgDoor) -> usize {
    same_on_both(d, "pgbench_history").await
}

#[needs_tool("pgbench")]
#[tokio::test(flavor = "multi_thread")]
async fn pgbench_simple_and_prepared_and_a_pattern_switch_under_load() {
    tools::require("pgbench");
    let dir = tempfile::tempdir().unwrap();
    let d = pg_door(dir.path(), "pgbench", "", Setup { tables: PGBENCH_TABLES, ..Setup::default() }).await;
    // -i through the door: DDL and COPY to both sides.
    pgbench(&d, &["-i", "-s", "1", "-q"]);
    for mode in ["simple", "prepared"] {
        no_failures(&pgbench(&d, &["-n", "-c", "4", "-j", "2", "-t", "150", "-M", mode]));
    }
    validates_clean(&d.cfg);
    assert_eq!(history_same(&d).await, 1200);

    // Forward to dst_first and back while pgbench runs: no client error.
    let bench = Command::new("pgbench").args(["-n", "-c", "4", "-j", "2", "-T", "8", "-M", "prepared"]).arg(d.url()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    for route in ["/dst_first", "/src_first", "/dst_first"] {
        std::thread::sleep(Duration::from_secs(2));
        let (code, body) = http(d.http_port, "POST", route);
        assert_eq!(code, 200, "{route}: {body}");
    }
    let out = bench.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    no_failures(&text);
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 0, "{status}");
    validates_clean(&d.cfg);
    history_same(&d).await;
}

/// A load of single-row inserts with generated ids, from 4 clients.
fn insert_load(d: &PgDoor, dir: &std::path::Path, secs: u64) -> std::process::Child {
    let script = dir.join("insert.sql");
    std::fs::write(&script, "INSERT INTO t (v, n) VALUES ('load', :client_id);\n").unwrap();
    Command::new("pgbench")
        .args(["-n", "-c", "4", "-j", "2", "-T", &secs.to_string(), "-f"])
        .arg(&script)
        .arg(d.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[needs_tool("pgbench")]
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_destination_is_journaled_and_repaired() {
    tools::require("pgbench");
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::start(dir.path());
    dbs::exec(&pg.url("postgres"), "CREATE DATABASE dst").await;
    dbs::exec(&pg.url("dst"), PLAIN_TABLE).await;
    let mut d = pg_door_to(dir.path(), "pgkill", PLAIN_TABLE, pg.url("dst"), Setup { tables: T, ..Setup::default() }).await;
    let load = insert_load(&d, dir.path(), 8);
    std::thread::sleep(Duration::from_secs(3));
    pg.kill();
    let out = load.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the clients kept succeeding: {text}");
    no_failures(&text);
    let (_, status) = http(d.http_port, "GET", "/status");
    let failures = status["data"]["pool_metrics"]["by_side"]["destination_failure"].as_u64().unwrap_or(0);
    let (journaled, _) = secondary_failed(d.http_port);
    assert!(failures > 0, "the destination missed writes: {status}");
    assert_eq!(journaled.as_u64(), Some(failures), "every missed write journaled: {status}");

    pg.restart();
    d.stop();
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "{summary}");
    validates_clean(&d.cfg);
    assert!(same_on_both(&d, "t").await > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_refuses_what_a_killed_destination_cannot_take() {
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::start(dir.path());
    dbs::exec(&pg.url("postgres"), "CREATE DATABASE dst").await;
    dbs::exec(&pg.url("dst"), TABLE).await;
    let d = pg_door_to(dir.path(), "pgstrict", TABLE, pg.url("dst"), Setup { tables: T, pool: "strict = true", ..Setup::default() }).await;
    let (code, out) = psql(&d.url(), "INSERT INTO t (v) VALUES ('before'); BEGIN; INSERT INTO t (v) VALUES ('in-tx'); COMMIT;");
    assert_eq!(code, Some(0), "{out}");
    pg.kill();
    // Autocommit, in a transaction, and a COPY: each refused, nothing kept.
    for sql in ["INSERT INTO t (v) VALUES ('refused')", "BEGIN; INSERT INTO t (v) VALUES ('refused-in-tx'); COMMIT;", "\\copy t (v) from stdin\nrefused-copy\n\\."] {
        let (code, out) = psql(&d.url(), sql);
        assert_ne!(code, Some(0), "{sql}: {out}");
        assert!(out.contains("movex (strict)"), "{sql}: {out}");
    }
    assert_eq!(dbs::query_strings(&d.src, "SELECT v FROM t ORDER BY id").await, ["before", "in-tx"], "the source kept none of the refused writes");
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled, 0, "strict refuses, it does not journal: {status}");
    pg.restart();
    validates_clean(&d.cfg);
}

/// A prepared statement the destination lacks (prepared while the
/// pattern was `src_only`), executed in `src_first` after the
/// destination died under its idle connection: preparing it there fails
/// on the dead connection. The client's write succeeds on the source and
/// the destination's part is journaled, as any write it misses, rather
/// than the client's session ending.
#[tokio::test(flavor = "multi_thread")]
async fn a_destination_lost_while_preparing_a_statement_is_journaled() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::start(dir.path());
    dbs::exec(&pg.url("postgres"), "CREATE DATABASE dst").await;
    dbs::exec(&pg.url("dst"), PLAIN_TABLE).await;
    let mut d = pg_door_to(dir.path(), "pgprepkill", PLAIN_TABLE, pg.url("dst"), Setup { tables: T, ..Setup::default() }).await;
    let mut c = sqlx::PgConnection::connect(&d.url()).await.unwrap();
    // A write in src_first: the destination's connection is open.
    sqlx::raw_sql("INSERT INTO t (v) VALUES ('both')").execute(&mut c).await.unwrap();
    let insert = "INSERT INTO t (v) VALUES ($1)";
    assert_eq!(http(d.http_port, "POST", "/src_only").0, 200);
    // sqlx prepares it as a named statement, here on the source only.
    sqlx::query(insert).bind("source-only").execute(&mut c).await.unwrap();
    assert_eq!(http(d.http_port, "POST", "/src_first").0, 200);
    pg.kill();
    // Bind and Execute of that statement: movex prepares it on the
    // destination first, over the connection that died.
    let done = sqlx::query(insert).bind("after-the-kill").execute(&mut c).await;
    assert!(done.is_ok(), "the client's write failed: {done:?}");
    let kept = dbs::query_strings(d.src.url(), "SELECT v FROM t ORDER BY id").await;
    assert_eq!(kept, ["both", "source-only", "after-the-kill"]);
    let (journaled, status) = secondary_failed(d.http_port);
    assert_eq!(journaled.as_u64(), Some(1), "the destination's missed write journaled: {status}");
    drop(c);
    pg.restart();
    d.stop();
    // The source-only row was written in src_only (not journaled): repair
    // settles both from the source.
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "{summary}");
    validates_clean(&d.cfg);
    assert_eq!(same_on_both(&d, "t").await, 3);
}

/// Read what the door says to a raw client until it closes (at most 5 s).
fn said(mut s: std::net::TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_a_reason_and_disturbs_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup { tables: T, proxy: "handshake_timeout_ms = 500\nmax_message_bytes = 65536", ..Setup::default() };
    let d = pg_door(dir.path(), "pgbad", TABLE, setup).await;
    let addr = ("127.0.0.1", d.proxy_port);
    // A session that stays open throughout, and must be undisturbed.
    let mut keeper = Command::new("psql").args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]).arg(d.url()).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut keeper_in = keeper.stdin.take().unwrap();
    writeln!(keeper_in, "INSERT INTO t (v) VALUES ('first');").unwrap();

    // Connects and says nothing: dropped once handshake_timeout_ms passes.
    let started = Instant::now();
    let silent = said(std::net::TcpStream::connect(addr).unwrap());
    assert!(silent.contains("no login within 500 ms"), "{silent:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    // Garbage: not a startup message.
    let mut g = std::net::TcpStream::connect(addr).unwrap();
    g.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let garbage = said(g);
    assert!(garbage.contains("not a PostgreSQL startup message"), "{garbage:?}");
    // An unknown user: the same error as a wrong password.
    let (code, out) = psql(&d.url().replace("app:app-secret", "nobody:x"), "SELECT 1");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("password authentication failed for user \"nobody\""), "{out}");
    // A database the door does not serve.
    let (code, out) = psql(&d.url().replace(d.src.name(), "elsewhere"), "SELECT 1");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("serves database"), "{out}");
    // A query over max_message_bytes: refused before it is buffered.
    let big = format!("INSERT INTO t (v) VALUES ('{}');", "x".repeat(100_000));
    let (code, out) = psql(&d.url(), &big);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("over the limit of 65536") && out.contains("max_message_bytes"), "{out}");

    writeln!(keeper_in, "INSERT INTO t (v) VALUES ('last'); SELECT string_agg(v, ',' ORDER BY id) FROM t;").unwrap();
    drop(keeper_in);
    let out = keeper.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first,last\n", "the open session went on undisturbed");
    assert_eq!(same_on_both(&d, "t").await, 2);
    let (code, report) = validate(&d.cfg);
    assert_eq!(code, Some(0), "{report}");
}

/// While its client is idle the door watches the client's server: a
/// notification reaches a listening client that sends nothing, and the
/// server ending the session (`pg_terminate_backend`) ends the client's.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_client_hears_its_notifications_and_its_server_ending_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let d = pg_door(dir.path(), "pgidle", "", Setup::default()).await;
    let mut listener = sqlx::postgres::PgListener::connect(&d.url()).await.unwrap();
    listener.listen("movex_idle").await.unwrap();
    // Sent on the source directly, while the door's client waits.
    let src = sqlx::PgPool::connect(d.src.url()).await.unwrap();
    sqlx::query("SELECT pg_notify('movex_idle', 'hello')").execute(&src).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(30), listener.recv()).await.expect("the notification reached the idle client").unwrap();
    assert_eq!((heard.channel(), heard.payload()), ("movex_idle", "hello"));
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND query LIKE 'LISTEN%' AND pg_terminate_backend(pid)",
    )
    .fetch_one(&src)
    .await
    .unwrap();
    assert_eq!(ended, 1, "the door's session on the source");
    // The listener learns its connection is gone (sqlx says so with
    // `Ok(None)` or the server's error) rather than waiting on.
    let gone = tokio::time::timeout(Duration::from_secs(30), listener.try_recv()).await.expect("the idle client was told its session ended");
    assert!(matches!(gone, Ok(None) | Err(_)), "{gone:?}");
}

/// A batch a client flushed (libpq's pipeline mode: Execute, then Flush,
/// no Sync yet) is an implicit transaction open on the primary, holding
/// its row locks. A pattern switch before its Sync must not stall it:
/// another client's statement of the old pattern, waiting on those locks,
/// would otherwise keep the Sync's settle waiting, and the Sync the lock,
/// until `settle_ms` ran out. The batch ends in the pattern it began in,
/// on both sides.
#[tokio::test(flavor = "multi_thread")]
async fn a_flushed_batch_ends_in_its_own_pattern_without_waiting_out_a_switch() {
    tools::require("psycopg");
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE k (id int PRIMARY KEY, n int NOT NULL); INSERT INTO k VALUES (1, 0)";
    let tables = "[[tables]]\nname = \"k\"\nkey = [\"id\"]\ncomparator = \"exact\"\n";
    let d = pg_door(dir.path(), "pgflush", setup, Setup { tables, pool: "settle_ms = 60000", ..Setup::default() }).await;
    let script = r#"
import os, sys, time, psycopg
from psycopg import pq
c = psycopg.connect(os.environ["URL"], autocommit=True)
pg = c.pgconn
def results():
    # Every result up to the next NULL (a query's end) or pipeline sync.
    out = []
    while True:
        while pg.is_busy():
            pg.consume_input()
            time.sleep(0.01)
        r = pg.get_result()
        if r is None:
            return out
        out.append(pq.ExecStatus(r.status).name)
        if r.status == pq.ExecStatus.PIPELINE_SYNC:
            return out
pg.enter_pipeline_mode()
pg.send_query_params(b"UPDATE k SET n = n + 1 WHERE id = 1", None)
pg.send_flush_request()
pg.flush()
print("flushed", results(), flush=True)
sys.stdin.readline()
pg.send_query_params(b"UPDATE k SET n = n + 10 WHERE id = 1", None)
pg.pipeline_sync()
pg.flush()
t0 = time.monotonic()
got = results() + results()
print("synced", got, "in", round(time.monotonic() - t0), "s", flush=True)
"#;
    let mut a = Command::new("python3")
        .args(["-c", script])
        .env("URL", d.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut a_out = std::io::BufReader::new(a.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut a_out, &mut line).unwrap();
    assert_eq!(line, "flushed ['COMMAND_OK']\n");
    // Another client's write, in src_first, waits for the batch's row lock on the source.
    let url = d.url();
    let b = std::thread::spawn(move || Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &url, "-c", "UPDATE k SET n = n + 100 WHERE id = 1"]).output().unwrap());
    let waiting = format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event_type = 'Lock'", d.src.name());
    let t0 = Instant::now();
    while dbs::query_strings(d.src.url(), &waiting).await != ["1"] {
        assert!(t0.elapsed() < Duration::from_secs(30), "the second client never waited on the batch's lock");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(http(d.http_port, "POST", "/dst_first").0, 200);
    a.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    a_out.read_to_string(&mut rest).unwrap();
    let status = a.wait().unwrap();
    let mut err = String::new();
    a.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{rest}{err}");
    // Well under settle_ms (60 s): the Sync did not wait on the switch.
    let secs: u64 = rest.split_whitespace().rev().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{rest}"));
    assert!(rest.starts_with("synced ['COMMAND_OK', 'PIPELINE_SYNC']") && secs < 30, "{rest}");
    let b = b.join().unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(!log.contains("still open; going ahead"), "{log}");
    assert_eq!(rows(&d.src, "k").await, ["(1,111)"]);
    assert_eq!(same_on_both(&d, "k").await, 1);
    validates_clean(&d.cfg);
}

/// What the door sends for a deferred `BEGIN` (`Wire::defer`), against the
/// real server: the statement sent with it runs only if it succeeds. A
/// deferred statement the server fails (here one that divides by zero,
/// as no plain `BEGIN` can be made to fail at will) makes the read fail,
/// naming it, and the INSERT sent with it never runs, though the
/// connection lives on; a deferred `BEGIN` makes what follows run in a
/// transaction, for a simple Query and for extended messages alike, and
/// its answers never reach the reader. A `BEGIN` held and let go is not
/// sent at all.
#[tokio::test(flavor = "multi_thread")]
async fn what_is_sent_with_a_deferred_statement_runs_only_if_it_did() {
    use movex::proxy::postgres::backend::{Target, connect};
    use movex::proxy::postgres::wire::{Frame, deferral};
    let db = dbs::postgres("pgdeferbytes", "CREATE TABLE t (id int PRIMARY KEY)").await;
    let target = Target::from_url(db.url(), "source").unwrap();
    let mut b = connect(&target, &[]).await.unwrap();
    let query = |sql: &str| Frame::of(&pgwire::messages::simplequery::Query::new(sql.to_owned())).raw;
    let ids = || async { dbs::query_strings(db.url(), "SELECT id::text FROM t ORDER BY id").await };
    // Reads one whole answer, up to its ReadyForQuery: (tags, status).
    async fn answer(w: &mut movex::proxy::postgres::wire::Wire) -> anyhow::Result<(Vec<u8>, u8)> {
        let mut tags = Vec::new();
        loop {
            let f = w.expect().await?;
            tags.push(f.tag);
            if f.tag == b'Z' {
                return Ok((tags, f.raw[5]));
            }
        }
    }

    // A deferred statement that fails: the INSERT sent with it is skipped.
    b.wire.defer(deferral("SELECT 1/0"));
    b.wire.send(&query("INSERT INTO t VALUES (1)")).await.unwrap();
    let e = answer(&mut b.wire).await.unwrap_err();
    assert!(format!("{e:#}").contains("22012"), "the deferred statement's failure, named: {e:#}");
    // The server skips to a Sync: sent now, it answers ReadyForQuery, idle,
    // so it has read (and passed over) the INSERT.
    b.wire.send(&[b'S', 0, 0, 0, 4]).await.unwrap();
    assert_eq!(answer(&mut b.wire).await.unwrap(), (vec![b'Z'], b'I'));
    assert!(ids().await.is_empty(), "the INSERT sent with a failed deferred statement ran");

    // A deferred BEGIN, then a simple Query: it runs in the transaction
    // (ROLLBACK undoes it), and only its own answer is read.
    b.wire.defer(deferral("BEGIN"));
    b.wire.send(&query("INSERT INTO t VALUES (2)")).await.unwrap();
    assert_eq!(answer(&mut b.wire).await.unwrap(), (vec![b'C', b'Z'], b'T'));
    b.wire.send(&query("ROLLBACK")).await.unwrap();
    assert_eq!(answer(&mut b.wire).await.unwrap(), (vec![b'C', b'Z'], b'I'));
    assert!(ids().await.is_empty(), "the INSERT after a deferred BEGIN was not in its transaction");

    // Then extended messages up to a Sync, committed.
    use pgwire::messages::extendedquery::{Bind, Execute, Parse, Sync};
    b.wire.defer(deferral("BEGIN"));
    let mut batch = Vec::new();
    for f in [
        Frame::of(&Parse::new(Some("ins".into()), "INSERT INTO t VALUES ($1::int)".into(), Vec::new())),
        Frame::of(&Bind::new(None, Some("ins".into()), Vec::new(), vec![Some(bytes::Bytes::from_static(b"3"))], Vec::new())),
        Frame::of(&Execute::new(None, 0)),
        Frame::of(&Sync::new()),
    ] {
        batch.extend_from_slice(&f.raw);
    }
    b.wire.send(&batch).await.unwrap();
    assert_eq!(answer(&mut b.wire).await.unwrap(), (vec![b'1', b'2', b'C', b'Z'], b'T'));
    b.wire.send(&query("COMMIT")).await.unwrap();
    assert_eq!(answer(&mut b.wire).await.unwrap(), (vec![b'C', b'Z'], b'I'));
    assert_eq!(ids().await, ["3"]);

    // Held and let go: the next statement runs on its own, autocommitted.
    b.wire.defer(deferral("BEGIN"));
    b.wire.undefer();
    b.wire.send(&query("INSERT INTO t VALUES (4)")).await.unwrap();
    assert_eq!(answer(&mut b.wire).await.unwrap(), (vec![b'C', b'Z'], b'I'));
    assert_eq!(ids().await, ["3", "4"]);
}

/// `[proxy.postgres] defer_begin` (on by default): a plain `BEGIN` is
/// answered by the door and reaches each side with the transaction's
/// first statement there, one round trip fewer. The servers' own view
/// shows it (each side's session idle, not in a transaction, until then;
/// in `src_first` a read goes to the source only, so the destination's
/// transaction starts with the first write); the transaction is real on
/// both (`ROLLBACK` undoes its write); the client sees the same command
/// tags as directly. Off, `BEGIN` reaches the servers at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_plain_begin_goes_to_the_server_with_the_first_statement() {
    use sqlx::{ConnectOptions, Executor};
    let dir = tempfile::tempdir().unwrap();
    for (defer, pattern) in [(true, "src_only"), (true, "src_first"), (false, "src_first")] {
        let (proxy, here) = (format!("defer_begin = {defer}"), dir.path().join(format!("{defer}{pattern}")));
        std::fs::create_dir_all(&here).unwrap();
        let d = pg_door(&here, "pgdefer", "CREATE TABLE t (id int PRIMARY KEY)", Setup { proxy: &proxy, tables: "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n", ..Setup::default() }).await;
        let two = pattern == "src_first";
        if !two {
            // The door starts in src_first.
            let (code, body) = http(d.http_port, "POST", &format!("/{pattern}"));
            assert_eq!(code, 200, "{body}");
        }
        // The door's session on each side, by its application_name.
        let states = || async {
            let mut s = Vec::new();
            for url in [d.src.url(), d.dst.as_str()] {
                s.extend(dbs::query_strings(url, "SELECT state FROM pg_stat_activity WHERE application_name = 'movex_defer' AND datname = current_database()").await);
            }
            s
        };
        let of = |state: &str| if two { vec![state.to_owned(); 2] } else { vec![state.to_owned()] };
        let options: sqlx::postgres::PgConnectOptions = d.url().parse().unwrap();
        let mut c = options.application_name("movex_defer").connect().await.unwrap();
        // A write outside a transaction: the secondary is connected now.
        c.execute(sqlx::raw_sql("INSERT INTO t VALUES (1)")).await.unwrap();
        assert_eq!(states().await, of("idle"));
        let held = |when: &str| format!("{when}, defer_begin = {defer}, {pattern}");
        c.execute(sqlx::raw_sql("BEGIN")).await.unwrap();
        assert_eq!(states().await, of(if defer { "idle" } else { "idle in transaction" }), "{}", held("after BEGIN"));
        c.execute(sqlx::raw_sql("SELECT count(*) FROM t")).await.unwrap();
        let after_read = if two && defer { vec!["idle in transaction".to_owned(), "idle".to_owned()] } else { of("idle in transaction") };
        assert_eq!(states().await, after_read, "{}", held("after a read"));
        c.execute(sqlx::raw_sql("INSERT INTO t VALUES (2)")).await.unwrap();
        assert_eq!(states().await, of("idle in transaction"), "{}", held("after a write"));
        c.execute(sqlx::raw_sql("ROLLBACK")).await.unwrap();
        c.execute(sqlx::raw_sql("start transaction;")).await.unwrap();
        c.execute(sqlx::raw_sql("INSERT INTO t VALUES (3)")).await.unwrap();
        c.execute(sqlx::raw_sql("COMMIT")).await.unwrap();
        // A transaction that only reads, then one that is empty.
        for sql in ["BEGIN", "SELECT 1", "COMMIT", "BEGIN;", "END"] {
            c.execute(sqlx::raw_sql(sql)).await.unwrap();
        }
        assert_eq!(states().await, of("idle"));
        let want = if two { vec!["1", "3", "1", "3"] } else { vec!["1", "3"] };
        let mut kept = dbs::query_strings(d.src.url(), "SELECT id::text FROM t ORDER BY id").await;
        if two {
            kept.extend(dbs::query_strings(&d.dst, "SELECT id::text FROM t ORDER BY id").await);
        }
        assert_eq!(kept, want, "the rolled-back write is gone, the committed ones kept: {}", held("at the end"));
        // What psql prints of each command, directly and through the door.
        let script = "BEGIN;\nCOMMIT;\nbegin work ;\nROLLBACK;\nSTART TRANSACTION;\nSELECT 1;\nCOMMIT;\nBEGIN TRANSACTION;\nBEGIN;\nROLLBACK;\n";
        let printed = |url: String| run(Command::new("psql").args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", &url]), script);
        let direct = printed(d.src.url().to_owned());
        assert_eq!(printed(d.url()), direct, "{}", held("psql"));
        assert!(direct.1.contains("START TRANSACTION") && direct.1.contains("already a transaction in progress"), "{direct:?}");
        drop(c);
        if two {
            validates_clean(&d.cfg);
        }
    }
}

/// movex asks the primary's catalog about a table the first time a
/// session writes to it (for values each side would generate). Inside the
/// client's transaction that question must leave the transaction as it
/// was: a statement on a table that does not exist, or in a schema the
/// client's role may not use, fails with its own error, as it does
/// directly, not with "current transaction is aborted"; and movex's
/// question disturbs none of the client's own savepoints.
#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_question_leaves_the_clients_transaction_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE t (id serial PRIMARY KEY, v text); CREATE SCHEMA probe_hidden; CREATE TABLE probe_hidden.h (id serial PRIMARY KEY)";
    let d = pg_door(dir.path(), "pgcatalog", setup, Setup { tables: T, ..Setup::default() }).await;
    // A role with no rights at all (roles belong to the whole server).
    dbs::exec(d.src.url(), "DO $$ BEGIN CREATE ROLE movex_no_rights NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$").await;
    let script = "\\set ON_ERROR_STOP 0
BEGIN;
SET LOCAL ROLE movex_no_rights;
INSERT INTO probe_hidden.h DEFAULT VALUES;
ROLLBACK;
BEGIN;
INSERT INTO missing_table VALUES (1);
ROLLBACK;
BEGIN;
INSERT INTO t (v) VALUES ('committed');
SAVEPOINT mine;
INSERT INTO t (v) VALUES ('undone');
ROLLBACK TO SAVEPOINT mine;
INSERT INTO t (v) VALUES ('after');
COMMIT;
";
    let (code, out) = psql(&d.url(), script);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("permission denied for schema probe_hidden"), "{out}");
    assert!(out.contains("relation \"missing_table\" does not exist"), "{out}");
    assert!(!out.contains("current transaction is aborted"), "movex's catalog question failed the client's transaction: {out}");
    let kept = |url: String| async move { dbs::query_strings(&url, "SELECT v FROM t ORDER BY id").await };
    assert_eq!(kept(d.src.url().to_owned()).await, ["committed", "after"]);
    assert_eq!(same_on_both(&d, "t").await, 2);
    validates_clean(&d.cfg);
}
