//! The MySQL front door under test: `movex serve` with `[proxy.mysql]` in
//! front of two fresh MariaDB databases, and the real clients that talk to
//! it (the `mariadb` CLI, PyMySQL, mysql-connector-python), plus a TCP
//! forwarder a test can cut to stop the destination mid-load.

use crate::broker::free_port;
use crate::dbs::{self, Db};
use crate::server::{http, serve_limited};
use std::process::Command;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Run a Python script; its stdout. `PORT` and `DB` are set for it.
pub fn python(port: u16, db: &str, script: &str) -> String {
    let out = Command::new("python3").args(["-c", script]).env("PORT", port.to_string()).env("DB", db).output().unwrap();
    assert!(out.status.success(), "python failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mariadb_client(port: u16, password: &str, db: &str) -> Command {
    let mut c = Command::new("mariadb");
    c.args(["-h127.0.0.1", &format!("-P{port}"), "-uapp", &format!("-p{password}"), db, "--batch"]);
    c
}

fn exit_and_output(out: std::process::Output) -> (i32, String) {
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The `mariadb` client through movex; exit code and output.
pub fn mariadb(port: u16, password: &str, db: &str, sql: &str) -> (i32, String) {
    exit_and_output(mariadb_client(port, password, db).args(["-e", sql]).output().unwrap())
}

/// The `mariadb` client through movex (user `app`), `args` added, reading
/// `sql` from its standard input: statements too long for a command line.
/// Exit code and output.
pub fn mariadb_script(port: u16, db: &str, args: &[&str], sql: Vec<u8>) -> (i32, String) {
    use std::io::Write;
    let mut child = mariadb_client(port, "app-secret", db)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: the client may answer before it has read all.
    let writer = std::thread::spawn(move || drop(stdin.write_all(&sql)));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    exit_and_output(out)
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
/// `[pool]` section (`strict = true`, say), `proxy` to `[proxy.mysql]`.
pub fn config(dir: &std::path::Path, src: &str, dst: &str, http_port: u16, proxy_port: u16, pool: &str, proxy: &str) -> std::path::PathBuf {
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n[proxy.mysql]\nlisten = \"127.0.0.1:{proxy_port}\"\n{proxy}\n\
         [[proxy.mysql.users]]\nname = \"app\"\npassword = \"app-secret\"\n[pool]\nconnect_timeout_ms = 1000\n{pool}\n"
    );
    dbs::config(dir, src, dst, &extra, "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n").0
}

/// Two fresh MariaDB databases set up with `src_setup` and `dst_setup`, and
/// `movex serve` in front of them in `src_first`. A cuttable door reaches
/// the destination through a TCP forwarder ([`Door::cut`]).
pub struct Door {
    /// The source database (dropped when the test passes).
    pub src: Db,
    /// The destination's URL as movex has it (through the forwarder, if any).
    pub dst: String,
    /// The destination database, its URL without the forwarder.
    pub dst_direct: Db,
    pub http_port: u16,
    pub proxy_port: u16,
    pub cfg: std::path::PathBuf,
    server: std::process::Child,
    forwarding: Option<tokio::task::JoinHandle<()>>,
}

impl Door {
    /// The `movex serve` process's id.
    pub fn pid(&self) -> u32 {
        self.server.id()
    }

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
        if self.dst != self.dst_direct.url() {
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

/// How a door is set up, beyond its databases.
#[derive(Clone, Copy, Default)]
pub struct Setup<'a> {
    /// Added to the `[pool]` section (`strict = true`, say).
    pub pool: &'a str,
    /// Added to the `[proxy.mysql]` section (`max_connections = 3`, say).
    pub proxy: &'a str,
    /// The destination reached through a forwarder [`Door::cut`] cuts.
    pub cuttable: bool,
    /// `movex serve`'s file limit (soft and hard), set with `prlimit`.
    pub files: Option<u64>,
    /// The destination reached through this port on 127.0.0.1 instead (a
    /// forwarder the test runs, which does to the traffic what it tests).
    pub destination_port: Option<u16>,
}

pub async fn door(dir: &std::path::Path, name: &str, src_setup: &str, dst_setup: &str) -> Door {
    open(dir, name, src_setup, dst_setup, Setup::default()).await
}

/// [`door`] with `pool` added to the `[pool]` section.
pub async fn door_with(dir: &std::path::Path, name: &str, src_setup: &str, dst_setup: &str, pool: &str) -> Door {
    open(dir, name, src_setup, dst_setup, Setup { pool, ..Setup::default() }).await
}

/// [`door_with`] whose destination can be cut off ([`Door::cut`]).
pub async fn cuttable_door(dir: &std::path::Path, name: &str, setup: &str, pool: &str) -> Door {
    open(dir, name, setup, setup, Setup { pool, cuttable: true, ..Setup::default() }).await
}

/// A door set up as `how` says, the same `setup` on both sides.
pub async fn door_set_up(dir: &std::path::Path, name: &str, setup: &str, how: Setup<'_>) -> Door {
    open(dir, name, setup, setup, how).await
}

async fn open(dir: &std::path::Path, name: &str, src_setup: &str, dst_setup: &str, how: Setup<'_>) -> Door {
    let src = dbs::mariadb(&dbs::unique(&format!("{name}_src")), src_setup).await;
    let dst_direct = dbs::mariadb(&dbs::unique(&format!("{name}_dst")), dst_setup).await;
    let (dst, forwarding) = if how.cuttable {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Aborting this task drops its connections too (the JoinSet aborts them).
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            forwarder(listener, &mut conns).await;
        });
        (dst_direct.replace("127.0.0.1:3306", &format!("127.0.0.1:{port}")), Some(task))
    } else if let Some(port) = how.destination_port {
        (dst_direct.replace("127.0.0.1:3306", &format!("127.0.0.1:{port}")), None)
    } else {
        (dst_direct.to_string(), None)
    };
    let (http_port, proxy_port) = (free_port(), free_port());
    let cfg = config(dir, &src, &dst, http_port, proxy_port, how.pool, how.proxy);
    let server = serve_limited(&cfg, http_port, Some(&dir.join("serve.log")), how.files);
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
