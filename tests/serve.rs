//! `movex serve` as a process: it listens where configured, answers the
//! original routes, shuts down cleanly on SIGTERM, and comes back in the
//! pattern it was stopped in (coming back in another would lose writes).

use movex_tests::dbs;
use movex_tests::server::{http, serve};

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_server_comes_back_in_the_same_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let table = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);";
    let src = dbs::sqlite(dir.path(), "src", table).await;
    let dst = dbs::sqlite(dir.path(), "dst", table).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (config, _) = dbs::config(
        dir.path(),
        &src,
        &dst,
        &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n",
    );
    let mut server = serve(&config, port);
    for route in ["/src_only", "/src_first", "/dst_first"] {
        let (status, r) = http(port, "POST", route);
        assert_eq!((status, &r["code"]), (200, &serde_json::json!(0)), "{route}: {r}");
    }
    // SIGTERM: a graceful stop, exit status 0.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");

    let mut server = serve(&config, port);
    let (_, r) = http(port, "GET", "/status");
    assert_eq!((&r["data"]["current_state"], &r["data"]["current_pattern"]), (&serde_json::json!("dst_first"), &serde_json::json!("dst_first")), "{r}");
    server.kill().unwrap();
    server.wait().unwrap();
}
