//! Recording the journal: every write one side missed, made durable before
//! it is counted, even while the state store cannot take it.
//!
//! An entry goes to the state store, bounded by `[pool] journal_timeout_ms`
//! (a client's write never waits on the journal longer). If the store
//! refuses it or does not answer in time, the entry is appended to a local
//! spool file (JSON lines, fsynced) instead, and every later entry queues
//! behind it there until a background task has moved the spool into the
//! store. Only then is the spool emptied. Entries carry a random `uid`, so
//! an insert that timed out but landed is not stored twice. If even the
//! spool cannot be written (a full disk), entries are held in memory and
//! retried; they are not counted as journaled until one of the two took
//! them.
//!
//! While anything waits, the fault `journal` names how many entries and
//! why (`/health` is 503) and the migration refuses to move forward: its
//! evidence would be missing writes repair cannot see yet.
//!
//! The spool is shared safely by several processes that point at one state
//! store (an `flock` around each append and each rewrite): whichever drains
//! it stores everyone's entries.

use super::metrics::Metrics;
use crate::health::Faults;
use crate::store::Store;
use crate::store::journal::{JournalKind, NewEntry};
use anyhow::{Context, Result};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The fault's name in `/health`.
pub const FAULT: &str = "journal";

/// Entries held in memory at most when neither the store nor the spool
/// takes them; past it an entry is logged whole, as the last place it
/// survives, and counted as lost.
const MEMORY_MAX: usize = 100_000;

/// How often the drainer tries the store again.
const RETRY: Duration = Duration::from_secs(1);

/// Where an entry went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// In the state store, with this id.
    Stored(i64),
    /// In the spool (fsynced), to move into the store when it answers.
    Spooled,
    /// Neither took it: held in memory and retried (not counted yet).
    Held,
}

impl Recorded {
    /// Durable: in the store or the spool.
    pub fn durable(self) -> bool {
        !matches!(self, Recorded::Held)
    }
}

pub struct Journal {
    store: Store,
    metrics: Arc<Metrics>,
    faults: Arc<Faults>,
    spool: PathBuf,
    timeout: Duration,
    /// Entries waiting (spool lines and memory). While non-zero, new
    /// entries queue behind them rather than going to the store first, so
    /// the store receives them in the order they happened.
    waiting: AtomicU64,
    /// Serializes this process's appends, rewrites and the drainer's start
    /// (the `flock` does the same between processes).
    queue: tokio::sync::Mutex<Queue>,
    draining: AtomicBool,
}

#[derive(Default)]
struct Queue {
    memory: Vec<NewEntry>,
}

impl Journal {
    /// A journal over `store`, spooling to `spool`. An existing non-empty
    /// spool (left by a process that stopped while the store was down) is
    /// drained in the background as soon as a runtime is there to do it.
    pub fn new(store: Store, metrics: Arc<Metrics>, faults: Arc<Faults>, spool: PathBuf, timeout: Duration) -> Arc<Journal> {
        let left = count_lines(&spool);
        let j = Arc::new(Journal { store, metrics, faults, spool, timeout, waiting: AtomicU64::new(left), queue: Default::default(), draining: AtomicBool::new(false) });
        if left > 0 {
            j.fault("entries left in the spool by an earlier run");
            if tokio::runtime::Handle::try_current().is_ok() {
                j.clone().drain_in_background();
            }
        }
        j
    }

    /// Entries not yet in the state store (spooled or held in memory).
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::SeqCst)
    }

    pub fn spool_path(&self) -> &Path {
        &self.spool
    }

    /// Record a write `side` missed; counted once durable.
    pub async fn record(self: &Arc<Self>, pattern: &str, side: &str, kind: JournalKind, statements: &[super::Statement], error: &str) -> Recorded {
        let entry = NewEntry::new(pattern, side, kind, statements, error);
        let why = if self.waiting() == 0 {
            match tokio::time::timeout(self.timeout, self.store.journal(&entry)).await {
                Ok(Ok(id)) => {
                    self.metrics.journaled(kind.as_str());
                    return Recorded::Stored(id);
                }
                Ok(Err(e)) => format!("the state store refused it: {e:#}"),
                Err(_) => format!("the state store did not answer within {} ms ([pool] journal_timeout_ms)", self.timeout.as_millis()),
            }
        } else {
            "entries before it are still waiting".to_owned()
        };
        self.queue(entry, &why).await
    }

    async fn queue(self: &Arc<Self>, entry: NewEntry, why: &str) -> Recorded {
        let mut q = self.queue.lock().await;
        let kind = entry.kind;
        let line = serde_json::to_string(&entry).expect("a journal entry serializes");
        let path = self.spool.clone();
        let appended = tokio::task::spawn_blocking(move || append(&path, &line)).await.unwrap_or_else(|e| Err(anyhow::anyhow!("{e}")));
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let recorded = match appended {
            Ok(()) => {
                self.metrics.journaled(kind.as_str());
                tracing::warn!(uid = %entry.uid, spool = %self.spool.display(), why, "journal entry spooled");
                Recorded::Spooled
            }
            Err(e) => {
                tracing::error!(spool = %self.spool.display(), "could not write the journal spool either: {e:#}");
                if q.memory.len() >= MEMORY_MAX {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    self.metrics.journal_lost();
                    tracing::error!(entry = %serde_json::to_string(&entry).unwrap_or_default(), "journal entry LOST: neither the state store, the spool nor memory could take it");
                } else {
                    q.memory.push(entry);
                }
                Recorded::Held
            }
        };
        self.fault(why);
        drop(q);
        self.clone().drain_in_background();
        recorded
    }

    fn fault(&self, why: &str) {
        self.faults.set(
            FAULT,
            format!(
                "{} journal entries are not in the state store yet ({why}); they wait in {} and move there when it answers. \
                 Moves forward are refused until then: check the state store ([state] url)",
                self.waiting(),
                self.spool.display()
            ),
        );
    }

    fn drain_in_background(self: Arc<Self>) {
        if self.draining.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(async move {
            loop {
                match self.drain_once().await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => self.fault(&format!("{e:#}")),
                }
                tokio::time::sleep(RETRY).await;
            }
        });
    }

    /// Move what waits into the store; whether nothing waits any more (the
    /// drainer then stops).
    pub async fn drain_once(&self) -> Result<bool> {
        let path = self.spool.clone();
        let (entries, read_len) = tokio::task::spawn_blocking(move || read_spool(&path)).await??;
        for e in &entries {
            match tokio::time::timeout(self.timeout, self.store.journal(e)).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => return Err(err.context("moving the journal spool into the state store")),
                Err(_) => anyhow::bail!("the state store did not answer within {} ms", self.timeout.as_millis()),
            }
        }
        let mut q = self.queue.lock().await;
        let held = std::mem::take(&mut q.memory);
        for (i, e) in held.iter().enumerate() {
            let stored = matches!(tokio::time::timeout(self.timeout, self.store.journal(e)).await, Ok(Ok(_)));
            if !stored {
                q.memory.extend_from_slice(&held[i..]);
                break;
            }
            self.metrics.journaled(e.kind.as_str());
        }
        let path = self.spool.clone();
        let left = tokio::task::spawn_blocking(move || drop_prefix(&path, read_len)).await??;
        let stored = entries.len() as u64 + (held.len() - q.memory.len()) as u64;
        self.waiting.fetch_sub(stored.min(self.waiting()), Ordering::SeqCst);
        if left == 0 && q.memory.is_empty() {
            self.waiting.store(0, Ordering::SeqCst);
            self.draining.store(false, Ordering::SeqCst);
            self.faults.clear(FAULT);
            if stored > 0 {
                tracing::info!(entries = stored, "the journal spool is in the state store");
            }
            return Ok(true);
        }
        Ok(false)
    }
}

/// An exclusive `flock` on a file until dropped (declared after the file,
/// so it is released before the file closes).
struct Flock(std::os::fd::RawFd);

impl Flock {
    fn new(f: &std::fs::File) -> std::io::Result<Flock> {
        // SAFETY: a valid open descriptor; flock has no memory effects.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(f.as_raw_fd()))
    }
}

impl Drop for Flock {
    fn drop(&mut self) {
        // SAFETY: as above; the descriptor is still open.
        unsafe { libc::flock(self.0, libc::LOCK_UN) };
    }
}

/// Append one line and fsync it.
fn append(path: &Path, line: &str) -> Result<()> {
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    let _lock = Flock::new(&f)?;
    (&f).write_all(format!("{line}\n").as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    f.sync_data().with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

/// The spool's complete entries and the length they span. A last line
/// without its newline was never acknowledged (the writer died in it) and
/// is left for the rewrite to drop.
fn read_spool(path: &Path) -> Result<(Vec<NewEntry>, u64)> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => drop(f.read_to_string(&mut text).with_context(|| format!("reading {}", path.display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    }
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    let mut entries = Vec::new();
    for line in text[..complete].lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(e) => entries.push(e),
            Err(e) => tracing::error!(line, "a journal spool line that is not an entry is dropped: {e}"),
        }
    }
    Ok((entries, complete as u64))
}

/// Drop the first `len` bytes (stored by now), keeping what was appended
/// since; the bytes left.
fn drop_prefix(path: &Path, len: u64) -> Result<u64> {
    let mut f = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let _lock = Flock::new(&f)?;
    let total = f.metadata()?.len();
    let mut rest = Vec::new();
    f.seek(SeekFrom::Start(len.min(total)))?;
    f.read_to_end(&mut rest)?;
    // Only whole lines survive; a torn tail was never acknowledged.
    let keep = rest.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    f.set_len(0)?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&rest[..keep])?;
    f.sync_data()?;
    Ok(keep as u64)
}

fn count_lines(path: &Path) -> u64 {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_keeps_what_was_appended_after_a_drain_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("spool");
        let e = |n: &str| NewEntry::new("src_first", "destination", JournalKind::SecondaryFailed, &[], n);
        append(&p, &serde_json::to_string(&e("one")).unwrap()).unwrap();
        let (read, len) = read_spool(&p).unwrap();
        assert_eq!(read.len(), 1);
        append(&p, &serde_json::to_string(&e("two")).unwrap()).unwrap();
        // A writer that died mid-line leaves a torn tail.
        std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"{\"uid\":").unwrap();
        let left = drop_prefix(&p, len).unwrap();
        let (rest, _) = read_spool(&p).unwrap();
        assert_eq!(rest.iter().map(|e| e.error.as_str()).collect::<Vec<_>>(), ["two"]);
        assert_eq!(left, std::fs::metadata(&p).unwrap().len());
        assert_eq!(count_lines(&p), 1);
    }
}
