//! The PostgreSQL front door under test: `movex serve` with
//! `[proxy.postgres]` in front of two fresh databases on the running
//! PostgreSQL (or a destination on a private server the test may kill,
//! [`Postgres`]), switched to `src_first`; and the real clients run
//! against it (psql, pgbench, Python with psycopg, Node with pg).

use crate::broker::free_port;
use crate::dbs::{self, Db};
use crate::server::{http, serve_logging};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a door is set up, beyond its databases.
#[derive(Clone, Copy, Default)]
pub struct Setup<'a> {
    /// Added to the `[pool]` section (`strict = true`, say).
    pub pool: &'a str,
    /// Added to the `[proxy.postgres]` section.
    pub proxy: &'a str,
    /// `[[tables]]` entries for `movex validate`.
    pub tables: &'a str,
}

pub struct PgDoor {
    pub src: Db,
    /// The destination's URL.
    pub dst: String,
    _dst_db: Option<Db>,
    pub http_port: u16,
    pub proxy_port: u16,
    pub cfg: PathBuf,
    server: Child,
}

/// Two fresh databases with `setup` run in each, the door in `src_first`.
pub async fn pg_door(dir: &Path, name: &str, setup: &str, how: Setup<'_>) -> PgDoor {
    let dst = dbs::postgres(&dbs::unique(&format!("{name}_dst")), setup).await;
    let url = dst.url().to_owned();
    open(dir, name, setup, url, Some(dst), how).await
}

/// A door whose destination is `dst` (a private server's database).
pub async fn pg_door_to(dir: &Path, name: &str, setup: &str, dst: String, how: Setup<'_>) -> PgDoor {
    open(dir, name, setup, dst, None, how).await
}

async fn open(dir: &Path, name: &str, setup: &str, dst: String, dst_db: Option<Db>, how: Setup<'_>) -> PgDoor {
    let src = dbs::postgres(&dbs::unique(&format!("{name}_src")), setup).await;
    let (http_port, proxy_port) = (free_port(), free_port());
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n[proxy.postgres]\nlisten = \"127.0.0.1:{proxy_port}\"\n{}\n\
         [[proxy.postgres.users]]\nname = \"app\"\npassword = \"app-secret\"\n[pool]\nconnect_timeout_ms = 1000\n{}\n",
        how.proxy, how.pool
    );
    let (cfg, _) = dbs::config(dir, &src, &dst, &extra, how.tables);
    let server = serve_logging(&cfg, http_port, Some(&dir.join("serve.log")));
    for route in ["/src_only", "/src_first"] {
        assert_eq!(http(http_port, "POST", route).0, 200);
    }
    PgDoor { src, dst, _dst_db: dst_db, http_port, proxy_port, cfg, server }
}

impl PgDoor {
    /// The URL a client uses: movex's door, user `app`, the source's database.
    pub fn url(&self) -> String {
        format!("postgresql://app:app-secret@127.0.0.1:{}/{}", self.proxy_port, self.src.name())
    }

    /// Stop `movex serve` (for `movex repair` and `validate` afterwards).
    pub fn stop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Drop for PgDoor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run a program with `stdin`; its exit code and stdout + stderr.
pub fn run(cmd: &mut Command, stdin: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.as_bytes().to_vec();
    let writer = std::thread::spawn(move || drop(pipe.write_all(&input)));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `psql` with `sql` on its standard input, unaligned, stopping at the first error.
pub fn psql(url: &str, sql: &str) -> (Option<i32>, String) {
    run(Command::new("psql").args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url]), sql)
}

/// Where CI installs node-postgres (`.ci/run`).
pub fn node_modules() -> PathBuf {
    Path::new(&std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/movex-ci/node/node_modules")
}

/// A private PostgreSQL server a test may kill: its own data directory
/// (`initdb`) and port, run as the `postgres` user (PostgreSQL refuses
/// root), trust authentication. Never the shared server on 5432.
pub struct Postgres {
    datadir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

/// The PostgreSQL server binaries (Debian keeps them off `PATH`).
pub fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").map(|d| d.flatten().map(|e| e.path().join("bin").join(name)).filter(|p| p.exists()).collect()).unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| PathBuf::from(name))
}

impl Postgres {
    /// `initdb` a data directory under `dir` and start the server on a
    /// free port.
    pub fn start(dir: &Path) -> Postgres {
        let datadir = dir.join("pg-data");
        std::fs::create_dir_all(&datadir).unwrap();
        chown_postgres(dir);
        chown_postgres(&datadir);
        let out = as_postgres(&pg_bin("initdb")).args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"]).arg(&datadir).output().unwrap();
        assert!(out.status.success(), "initdb: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let mut p = Postgres { datadir, port: free_port(), child: None };
        p.restart();
        p
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Start it (again) on the same data directory and port; returns once
    /// it accepts connections.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.datadir.with_file_name("pg.log")).unwrap();
        let child = as_postgres(&pg_bin("postgres"))
            .arg("-D")
            .arg(&self.datadir)
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "unix_socket_directories=", "-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new("psql").args(["-X", "-Atc", "SELECT 1", &self.url("postgres")]).output().is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            let log = std::fs::read_to_string(self.datadir.with_file_name("pg.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "the private postgres did not start on {}: {log}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop it as in a crash: `pg_ctl stop -m immediate` (every backend
    /// quits at once, nothing is flushed, the next start recovers).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = as_postgres(&pg_bin("pg_ctl")).args(["stop", "-m", "immediate", "-D"]).arg(&self.datadir).stdout(Stdio::null()).stderr(Stdio::null()).status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

fn chown_postgres(p: &Path) {
    let ok = Command::new("chown").args(["postgres:postgres"]).arg(p).status().is_ok_and(|s| s.success());
    assert!(ok, "chown postgres {}", p.display());
}
