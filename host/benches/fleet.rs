//! How long a move takes to be acknowledged by a fleet of three `movex
//! serve` processes (BENCHMARKS.md): the time `POST /src_first` (or
//! `/src_only`) takes to answer, which it does once every live instance
//! has applied the move and acknowledged it. Three fleets run at once,
//! moves interleaved one per fleet so the machine's noise falls on all
//! three alike:
//! - a PostgreSQL state store, instances woken by `LISTEN/NOTIFY`;
//! - the same, polling only (`[fleet] listen = false`);
//! - a MariaDB state store (polling: MariaDB has no notifications).
//!
//! Default timings (`heartbeat_ms = 1000`): polling waits for the slowest
//! instance's next heartbeat, up to a second.
//!
//! ```text
//! cargo build --release -p movex
//! cargo bench -p movex --bench fleet -- --moves 100
//! ```
//! The source and destination are SQLite files (no door: the move is what
//! is timed); the state stores are the databases `movex_fleet_bench` on
//! the local PostgreSQL and MariaDB, made afresh.

#[path = "support/process.rs"]
mod process;
use process::{arg, target_dir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};


fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(c: &mut Command) {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `method path` on `port`: the status.
fn http(port: u16, method: &str, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

struct Fleet {
    name: &'static str,
    ports: Vec<u16>,
    children: Vec<Child>,
    times: Vec<Duration>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn fleet(name: &'static str, dir: &Path, state: &str, listen: bool) -> Fleet {
    let bin = target_dir().join("release/movex");
    let dir = dir.join(name.replace([' ', ','], "_"));
    std::fs::create_dir_all(dir.join("modules")).unwrap();
    for db in ["src", "dst"] {
        run(Command::new("sqlite3").arg(dir.join(format!("{db}.db"))).arg("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)"));
    }
    let mut f = Fleet { name, ports: Vec::new(), children: Vec::new(), times: Vec::new() };
    for i in 0..3 {
        let port = free_port();
        let cfg = dir.join(format!("movex-{i}.toml"));
        let text = format!(
            "[source]\nurl = \"sqlite://{d}/src.db\"\n[destination]\nurl = \"sqlite://{d}/dst.db\"\n[state]\nurl = \"{state}\"\n\
             [modules]\ndir = \"{d}/modules\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[policy]\ninterval_ms = 0\n\
             [fleet]\nname = \"{i}\"\nlisten = {listen}\n",
            d = dir.display()
        );
        std::fs::write(&cfg, text).unwrap();
        let child = Command::new(&bin).args(["serve", "--config"]).arg(&cfg).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "movex serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        f.ports.push(port);
        f.children.push(child);
    }
    assert_eq!(http(f.ports[0], "POST", "/src_only"), 200);
    f
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let moves: usize = arg("--moves").map_or(100, |n| n.parse().unwrap());
    run(Command::new("psql").args(["-h", "127.0.0.1", "-d", "test", "-c", "DROP DATABASE IF EXISTS movex_fleet_bench WITH (FORCE)"]));
    run(Command::new("psql").args(["-h", "127.0.0.1", "-d", "test", "-c", "CREATE DATABASE movex_fleet_bench"]));
    run(Command::new("mariadb").args(["-h127.0.0.1", "-uroot", "-e", "DROP DATABASE IF EXISTS movex_fleet_bench; CREATE DATABASE movex_fleet_bench"]));
    run(Command::new("psql").args(["-h", "127.0.0.1", "-d", "test", "-c", "DROP DATABASE IF EXISTS movex_fleet_bench_poll WITH (FORCE)"]));
    run(Command::new("psql").args(["-h", "127.0.0.1", "-d", "test", "-c", "CREATE DATABASE movex_fleet_bench_poll"]));
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let dir = tempfile::tempdir().unwrap();
    let mut fleets = vec![
        fleet("postgres, LISTEN/NOTIFY", dir.path(), &format!("postgres://{user}@127.0.0.1:5432/movex_fleet_bench"), true),
        fleet("postgres, polling", dir.path(), &format!("postgres://{user}@127.0.0.1:5432/movex_fleet_bench_poll"), false),
        fleet("mariadb, polling", dir.path(), "mysql://root@127.0.0.1:3306/movex_fleet_bench", true),
    ];
    for n in 0..moves {
        let to = if n % 2 == 0 { "/src_first" } else { "/src_only" };
        for f in &mut fleets {
            // From a different instance each time.
            let port = f.ports[n % 3];
            let t0 = Instant::now();
            let status = http(port, "POST", to);
            f.times.push(t0.elapsed());
            assert_eq!(status, 200, "{} POST {to}", f.name);
        }
    }
    println!("moves acknowledged by 3 instances ({moves} moves each, heartbeat_ms = 1000, interleaved):");
    println!("| state store | median ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|");
    for f in &mut fleets {
        f.times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("| {} | {:.1} | {:.1} | {:.1} |", f.name, ms(percentile(&f.times, 0.5)), ms(percentile(&f.times, 0.99)), ms(*f.times.last().unwrap()));
    }
}
