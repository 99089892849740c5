//! What the front-door benches start: MariaDB databases made afresh, a
//! `movex serve` with its front door, and haproxy relaying TCP (the least
//! any proxy costs on this machine) to MariaDB or PostgreSQL.
// Each bench uses a part.
#![allow(dead_code)]

use super::process::{target_dir, workspace};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SERVER: &str = "mysql://root@127.0.0.1:3306";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Run `sql` as root on the shared MariaDB (it must succeed).
pub fn mariadb(sql: &str) {
    let out = Command::new("mariadb").args(["-h127.0.0.1", "-uroot", "-e", sql]).output().expect("the mariadb client");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// POST `path` on the control plane at `port`; the answer (it must be 200).
pub fn post(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "POST {path}: {out}");
    out
}

pub fn wait_for(port: u16, what: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A release `movex serve` with its front door (user `app`, password
/// `app-secret`), over `<name>_src` and `<name>_dst` made afresh.
pub struct Movex {
    pub name: String,
    pub http: u16,
    pub proxy: u16,
    pub config: PathBuf,
    child: Child,
}

impl Drop for Movex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Movex {
    /// Its process id (its CPU time is read from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Started with `extra` appended to its config (`[proxy.mysql]` keys
    /// first, then sections), then moved through `patterns`.
    pub fn start(dir: &Path, name: &str, extra: &str, patterns: &[&str]) -> Movex {
        for side in ["src", "dst"] {
            mariadb(&format!("DROP DATABASE IF EXISTS {name}_{side}; CREATE DATABASE {name}_{side}"));
        }
        let (http, proxy) = (free_port(), free_port());
        let text = format!(
            "[source]\nurl = \"{SERVER}/{name}_src\"\n[destination]\nurl = \"{SERVER}/{name}_dst\"\n\
             [state]\nurl = \"sqlite://{state}\"\n[modules]\ndir = \"{modules}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
             [[proxy.mysql.users]]\nname = \"app\"\npassword = \"app-secret\"\n[proxy.mysql]\nlisten = \"127.0.0.1:{proxy}\"\n{extra}",
            state = dir.join(format!("{name}.db")).display(),
            modules = target_dir().join("wasm32-unknown-unknown/release").display(),
        );
        Movex::launch(dir, name, &text, http, proxy, patterns)
    }

    /// `movex serve` with the config `text` (its control plane on `http`,
    /// its front door on `proxy`), then moved through `patterns`.
    pub fn launch(dir: &Path, name: &str, text: &str, http: u16, proxy: u16, patterns: &[&str]) -> Movex {
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, text).unwrap();
        let bin = target_dir().join("release/movex");
        assert!(bin.exists(), "build it first: cargo build --release -p movex");
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(bin).args(["serve", "--config"]).arg(&config).current_dir(workspace()).stderr(log).spawn().unwrap();
        let movex = Movex { name: name.to_owned(), http, proxy, config, child };
        wait_for(proxy, &format!("movex serve ({name})'s front door"), Duration::from_secs(120));
        wait_for(http, &format!("movex serve ({name})'s control plane"), Duration::from_secs(30));
        for p in patterns {
            post(movex.http, p);
        }
        movex
    }
}

/// haproxy relaying TCP to MariaDB, parsing nothing; `None` if haproxy is
/// not installed.
pub struct Relay {
    pub port: u16,
    child: Child,
}

impl Relay {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start(dir: &Path) -> Option<Relay> {
        Relay::to(dir, 3306)
    }

    /// haproxy relaying TCP to `backend` on 127.0.0.1.
    pub fn to(dir: &Path, backend: u16) -> Option<Relay> {
        let port = free_port();
        let config = dir.join(format!("haproxy-{backend}.cfg"));
        std::fs::write(
            &config,
            format!(
                "global\n    maxconn 4096\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 600s\n    timeout server 600s\n\
                 listen db\n    bind 127.0.0.1:{port}\n    server db 127.0.0.1:{backend}\n"
            ),
        )
        .unwrap();
        let child = Command::new("haproxy").arg("-f").arg(&config).stderr(Stdio::null()).spawn().ok()?;
        let relay = Relay { port, child };
        wait_for(port, "haproxy", Duration::from_secs(10));
        Some(relay)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
