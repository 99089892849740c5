//! `movex serve` as a process, and plain HTTP/1.1 requests to it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request; the status code and body.
pub fn http(port: u16, method: &str, path: &str) -> (u16, serde_json::Value) {
    http_body(port, method, path, "")
}

/// As [`http`], sending `body` (JSON).
pub fn http_body(port: u16, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let json = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{json}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

/// Kill `movex serve` (started with its stderr into `serve_log`); what a
/// failing test shows: the log of the tool it drove (`tool_log`), then the
/// server's.
pub fn stop_and_report(server: &mut Child, tool_log: &Path, serve_log: &Path) -> String {
    server.kill().unwrap();
    server.wait().unwrap();
    format!(
        "{}\n--- movex serve's log ---\n{}",
        std::fs::read_to_string(tool_log).unwrap_or_default(),
        std::fs::read_to_string(serve_log).unwrap_or_default()
    )
}

/// Start `movex serve --config`; returns once `port` (its HTTP port) listens.
pub fn serve(config: &Path, port: u16) -> Child {
    serve_logging(config, port, None)
}

/// As [`serve`], with stderr into `log` if given.
pub fn serve_logging(config: &Path, port: u16, log: Option<&Path>) -> Child {
    serve_limited(config, port, log, None)
}

/// As [`serve_logging`], with the process's file limit (soft and hard)
/// set to `files` if given (by `prlimit`, which runs it in its place).
pub fn serve_limited(config: &Path, port: u16, log: Option<&Path>, files: Option<u64>) -> Child {
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
    let mut command = match files {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg(crate::movex_bin());
            c
        }
        None => Command::new(crate::movex_bin()),
    };
    let mut child = command.args(["serve", "--config"]).arg(config).stderr(stderr).spawn().unwrap();
    // Generous: on a loaded 2-core machine the modules' warm-up compile
    // (at nice 10) can take a while before the server listens.
    let deadline = Instant::now() + Duration::from_secs(120);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("movex serve ended before it listened on {port} ({status}; its log says why)");
        }
        assert!(Instant::now() < deadline, "movex serve did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}
