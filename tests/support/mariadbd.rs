//! A private MariaDB server a test may kill: its own data directory (made
//! by `mariadb-install-db`) and port, no grant tables (any user logs in),
//! run as root. Killing the shared server on 3306 would break every other
//! test; this one is the test's alone. Its temporary files go to a
//! directory of its own too: with the default `/tmp`, a bootstrap that ran
//! beside another test once lost the temporary table it was building
//! (`Could not remove temporary table '/tmp/#sql-temptable-...'`, then
//! `Unknown table 'mysql.tmp_user_sys'`) and the install failed.

use crate::broker::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Mariadbd {
    datadir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Mariadbd {
    /// Install a data directory under `dir` and start the server on a free
    /// port, with a database `test`.
    pub fn start(dir: &Path) -> Mariadbd {
        let datadir = dir.join("mariadb-data");
        std::fs::create_dir_all(&datadir).unwrap();
        std::fs::create_dir_all(dir.join("mariadb-tmp")).unwrap();
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db", "--auth-root-authentication-method=normal"])
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--tmpdir={}", dir.join("mariadb-tmp").display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "mariadb-install-db: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::create_dir_all(datadir.join("test")).unwrap();
        let mut m = Mariadbd { datadir, port: free_port(), child: None };
        m.restart();
        m
    }

    /// The URL of its database `test`, as root.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// Start it (again) on the same data directory and port; returns once
    /// it accepts connections.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.datadir.join("server.log")).unwrap();
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--skip-grant-tables", "--bind-address=127.0.0.1", "--innodb-buffer-pool-size=32M"])
            .arg(format!("--datadir={}", self.datadir.display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--tmpdir={}", self.datadir.with_file_name("mariadb-tmp").display()))
            .arg(format!("--socket={}", self.datadir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", self.datadir.join("mysqld.pid").display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let log = std::fs::read_to_string(self.datadir.join("server.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "the private mariadbd did not listen on {}: {log}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: the server dies as in a crash, mid-transaction.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Mariadbd {
    fn drop(&mut self) {
        self.kill();
    }
}
