//! What the benches read about a process they run, and where they find
//! it: their arguments, the workspace and its target directory.
// Each bench uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The target directory the release binary and the example modules are in.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// A process's peak resident memory so far (VmHWM), while it runs. Not
/// wait4's ru_maxrss: a child spawned by a large process inherits its
/// high-water mark across exec.
pub fn hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time a process (all its threads) has used so far, user and
/// system, in seconds (`/proc/<pid>/stat`, clock ticks of 10 ms).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name, which may hold spaces, in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Spawn `c` with its stdout read to the end on a thread of its own (a
/// child blocked on a full pipe would never end).
pub fn spawn_reading(c: &mut std::process::Command) -> (std::process::Child, std::thread::JoinHandle<Vec<u8>>) {
    let mut child = c.stdout(std::process::Stdio::piped()).spawn().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    (child, reader)
}
