//! A real Kafka-protocol broker for the Kafka tests: tansu (an
//! Apache-Kafka-compatible broker, ../shared/KAFKA.md), started per test on
//! a free port with its log in a SQLite file in the test's directory, so
//! what it acknowledged survives a restart. Tests that use it carry
//! `#[needs_tool("tansu")]` (`tools.rs` says how to install it).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The tansu binary. Tests that use it are ignored where it is missing
/// (`has_tool = "tansu"`, see `tools.rs`); a missing one here panics.
pub fn tansu() -> String {
    crate::tools::require("tansu");
    "tansu".into()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Start tansu on `port`, its log in `dir`; returns once the port is open.
pub fn start(bin: &str, port: u16, dir: &Path) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("tansu.log")).unwrap();
    let child = Command::new(bin)
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine"])
        // tansu joins the file's path to its working directory: keep it relative.
        .arg("sqlite://tansu.db")
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start tansu");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not open port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Kill the broker. SIGKILL, not SIGTERM: tansu's graceful stop waits for
/// its clients to hang up, so with movex connected it would not stop at all.
pub fn stop(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}
