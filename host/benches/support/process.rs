//! What the benches read about a process they run.

/// A process's peak resident memory so far (VmHWM), while it runs. Not
/// wait4's ru_maxrss: a child spawned by a large process inherits its
/// high-water mark across exec.
pub fn hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}
