//! The MySQL front door under test: `movex serve` with `[proxy.mysql]` in
//! front of two fresh MariaDB databases, and the real clients that talk to
//! it (the `mariadb` CLI, PyMySQL, mysql-connector-python), plus a TCP
//! forwarder a test can cut to stop the destination mid-load.

use crate::broker::free_port;
use crate::dbs;
use crate::server::{http, serve_logging};
use std::process::Command;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Whether the Python clients are installed (CI installs them: .ci/run).
pub fn python_clients() -> bool {
    let ok = Command::new("python3").args(["-c", "import pymysql, mysql.connector"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI must install PyMySQL and mysql-connector-python (see .ci/run)");
        eprintln!("SKIPPED: python3 with PyMySQL and mysql-connector-python is needed (pip install PyMySQL mysql-connector-python)");
    }
    ok
}

/// Run a Python script; its stdout. `PORT` and `DB` are set for it.
pub fn python(port: u16, db: &str, script: &str) -> String {
    let out = Command::new("python3").args(["-c", script]).env("PORT", port.to_string()).env("DB", db).output().unwrap();
    assert!(out.status.success(), "python failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `mariadb` client through movex; exit code and output.
pub fn mariadb(port: u16, password: &str, db: &str, sql: &str) -> (i32, String) {
    let out = Command::new("mariadb")
        .args(["-h127.0.0.1", &format!("-P{port}"), "-uapp", &format!("-p{password}"), db, "--batch", "-e", sql])
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A TCP forwarder to MariaDB, cut with `abort_all` (as a stopped server).
async fn forwarder(listener: TcpListener, conns: &mut JoinSet<()>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else { return };
        conns.spawn(async move {
            if let Ok(mut out) = TcpStream::connect("127.0.0.1:3306").await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
            }
        });
    }
}

pub fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// A config with the front door on `proxy_port`; `pool` is added to the
/// `[pool]` section (`strict = true`, say).
fn config(dir: &std::path::Path, src: &str, dst: &str, http_port: u16, proxy_port: u16, pool: &str) -> std::path::PathBuf {
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n[proxy.mysql]\nlisten = \"127.0.0.1:{proxy_port}\"\n\
         [[proxy.mysql.users]]\nname = \"app\"\npassword = \"app-secret\"\n[pool]\nconnect_timeout_ms = 1000\n{pool}\n"
    );
    dbs::config(dir, src, dst, &extra, "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n").0
}

/// Two fresh MariaDB databases set up with `src_setup` and `dst_setup`, and
/// `movex serve` in front of them in `src_first`. A cuttable door reaches
/// the destination through a TCP forwarder ([`Door::cut`]).
pub struct Door {
    pub src: String,
    /// The destination's URL as movex has it (through the forwarder, if any).
    pub dst: String,
    /// The destination's URL without the forwarder.
    pub dst_direct: String,
    pub http_port: u16,
    pub proxy_port: u16,
    pub cfg: std::path::PathBuf,
    server: std::process::Child,
    forwarding: Option<tokio::task::JoinHandle<()>>,
}

impl Door {
    /// Cut the destination off: the forwarder stops listening and drops
    /// its connections, as a stopped server would.
    pub async fn cut(&mut self) {
        let forwarding = self.forwarding.take().expect("a cuttable door (cuttable_door)");
        forwarding.abort();
        let _ = forwarding.await;
    }

    /// Stop `movex serve`, and point the config at the destination
    /// directly (for `movex repair` and `movex validate` afterwards).
    pub fn stop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if self.dst != self.dst_direct {
            std::fs::write(&self.cfg, std::fs::read_to_string(&self.cfg).unwrap().replace(&self.dst, &self.dst_direct)).unwrap();
        }
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

pub async fn door(dir: &std::path::Path, name: &str, src_setup: &str, dst_setup: &str) -> Door {
    open(dir, name, src_setup, dst_setup, "", false).await
}

/// [`door`] with `pool` added to the `[pool]` section.
pub async fn door_with(dir: &std::path::Path, name: &str, src_setup: &str, dst_setup: &str, pool: &str) -> Door {
    open(dir, name, src_setup, dst_setup, pool, false).await
}

/// [`door_with`] whose destination can be cut off ([`Door::cut`]).
pub async fn cuttable_door(dir: &std::path::Path, name: &str, setup: &str, pool: &str) -> Door {
    open(dir, name, setup, setup, pool, true).await
}

async fn open(dir: &std::path::Path, name: &str, src_setup: &str, dst_setup: &str, pool: &str, cuttable: bool) -> Door {
    let src = dbs::mariadb(&dbs::unique(&format!("{name}_src")), src_setup).await;
    let dst_direct = dbs::mariadb(&dbs::unique(&format!("{name}_dst")), dst_setup).await;
    let (dst, forwarding) = if cuttable {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Aborting this task drops its connections too (the JoinSet aborts them).
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            forwarder(listener, &mut conns).await;
        });
        (dst_direct.replace("127.0.0.1:3306", &format!("127.0.0.1:{port}")), Some(task))
    } else {
        (dst_direct.clone(), None)
    };
    let (http_port, proxy_port) = (free_port(), free_port());
    let cfg = config(dir, &src, &dst, http_port, proxy_port, pool);
    let server = serve_logging(&cfg, http_port, Some(&dir.join("serve.log")));
    for route in ["/src_only", "/src_first"] {
        assert_eq!(http(http_port, "POST", route).0, 200);
    }
    Door { src, dst, dst_direct, http_port, proxy_port, cfg, server, forwarding }
}

/// `movex validate --json`: its exit code and report.
pub fn validate(cfg: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(crate::movex_bin()).args(["validate", "--json", "--config"]).arg(cfg).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `movex validate` exits 0: no differences.
pub fn validates_clean(cfg: &std::path::Path) {
    let (code, report) = validate(cfg);
    assert_eq!(code, Some(0), "validate: {report}");
}

/// `movex repair --json`: its exit code and summary (stderr as a string
/// if stdout was not JSON).
pub fn repair(cfg: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(crate::movex_bin()).args(["repair", "--json", "--config"]).arg(cfg).output().unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&out.stderr).into_owned()));
    (out.status.code(), summary)
}

/// The front door's count of journaled secondary failures, and the whole
/// `/status` (for messages).
pub fn secondary_failed(http_port: u16) -> (serde_json::Value, serde_json::Value) {
    let (_, status) = http(http_port, "GET", "/status");
    (status["data"]["pool_metrics"]["by_side"]["journaled"]["secondary_failed"].clone(), status)
}
