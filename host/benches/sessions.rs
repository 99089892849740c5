//! The cost of a new session through the MySQL front door (BENCHMARKS.md):
//! connect, log in, run `SELECT 1`, quit — what an application without a
//! connection pool, or a test suite, does for every unit of work. Each
//! round runs `--batch` sessions against MariaDB directly, then through
//! movex in `src_only`, then in `src_first`, back to back, so the three
//! share the machine's mood; `--rounds` rounds. The client is sqlx's MySQL
//! driver with its session set-up statements turned off (the session is
//! the handshake, the login, one query and COM_QUIT).
//!
//! ```text
//! cargo build-examples && cargo build --release -p movex
//! cargo bench -p movex --bench sessions -- --rounds 20 --batch 100
//! ```
//! Databases `movex_ss_{direct,a_src,a_dst,b_src,b_dst}` are dropped and
//! made again. Where `haproxy` is installed (Debian's package), a fourth
//! path goes through it in TCP mode: a relay that only copies bytes, the
//! floor for any proxy's extra hop on this machine.

#[path = "support/process.rs"]
mod process;
#[path = "support/door.rs"]
mod door;

use door::{Movex, Relay, mariadb};
use process::arg;
use sqlx::ConnectOptions;
use sqlx::mysql::MySqlConnectOptions;
use std::time::{Duration, Instant};

/// One session: connect, log in, `SELECT 1`, quit. Its wall time.
async fn session(options: &MySqlConnectOptions) -> Duration {
    use sqlx::Connection;
    let t0 = Instant::now();
    let mut c = options.connect().await.expect("connect");
    let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut c).await.expect("SELECT 1");
    assert_eq!(one, 1);
    c.close().await.expect("quit");
    t0.elapsed()
}

fn options(port: u16, user: &str, password: &str, db: &str) -> MySqlConnectOptions {
    let o = MySqlConnectOptions::new().host("127.0.0.1").port(port).username(user);
    // An empty password is no password (root on the test server has none).
    let o = if password.is_empty() { o } else { o.password(password) };
    o.database(db)
        .pipes_as_concat(false)
        .no_engine_substitution(false)
        .timezone(None)
        .set_names(false)
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds: usize = arg("--rounds").map_or(20, |v| v.parse().unwrap());
    let batch: usize = arg("--batch").map_or(100, |v| v.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    mariadb("DROP DATABASE IF EXISTS movex_ss_direct; CREATE DATABASE movex_ss_direct");
    let only = Movex::start(dir.path(), "movex_ss_a", "", &["/src_only"]);
    let first = Movex::start(dir.path(), "movex_ss_b", "", &["/src_only", "/src_first"]);
    let haproxy = Relay::start(dir.path());
    let mut runs = vec![
        ("MariaDB directly", options(3306, "root", "", "movex_ss_direct")),
        ("movex, src_only", options(only.proxy, "app", "app-secret", "movex_ss_a_src")),
        ("movex, src_first", options(first.proxy, "app", "app-secret", "movex_ss_b_src")),
    ];
    match &haproxy {
        Some(h) => runs.push(("haproxy (TCP mode)", options(h.port, "root", "", "movex_ss_direct"))),
        None => eprintln!("haproxy is not installed (apt-get install haproxy): its row is left out"),
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); runs.len()];
    // A warm-up batch each, not counted.
    for (_, o) in &runs {
        for _ in 0..batch.min(20) {
            session(o).await;
        }
    }
    for _ in 0..rounds {
        for (i, (_, o)) in runs.iter().enumerate() {
            for _ in 0..batch {
                times[i].push(session(o).await);
            }
        }
    }
    println!("{} sessions each, in {rounds} rounds of {batch}, interleaved\n", rounds * batch);
    println!("| path | median µs | p95 µs | p99 µs | mean µs | median vs direct |");
    println!("|---|---:|---:|---:|---:|---:|");
    let direct_median = {
        let mut t = times[0].clone();
        t.sort();
        quantile(&t, 0.5)
    };
    for ((name, _), t) in runs.iter().zip(&mut times) {
        t.sort();
        let mean = t.iter().map(Duration::as_secs_f64).sum::<f64>() / t.len() as f64 * 1e6;
        let median = quantile(t, 0.5);
        println!("| {name} | {median:.0} | {:.0} | {:.0} | {mean:.0} | {:.2}x |", quantile(t, 0.95), quantile(t, 0.99), median / direct_median);
    }
}
