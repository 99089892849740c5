//! Progress on stderr while a command works: a bar per table on a
//! terminal (refreshed five times a second, left in place at the end), a
//! plain line per table every 5 s otherwise (logs stay readable).

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One table's progress, as the command reads it off its board.
pub struct Line {
    pub table: String,
    pub done: u64,
    /// The expected total (an estimate; the bar grows past it if need be).
    pub total: u64,
    /// After the counts: rates, findings, ETA.
    pub message: String,
}

/// Progress being shown; [`Shown::finish`] gives the bars their last state.
pub struct Shown {
    done: CancellationToken,
    watcher: tokio::task::JoinHandle<()>,
}

/// Show `lines()` on stderr until [`Shown::finish`].
pub fn show(lines: impl Fn() -> Vec<Line> + Send + Sync + 'static) -> Shown {
    let done = CancellationToken::new();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let watcher = tokio::spawn(watch(Arc::new(lines), terminal, done.clone()));
    Shown { done, watcher }
}

impl Shown {
    pub async fn finish(self) {
        self.done.cancel();
        let _ = self.watcher.await;
    }
}

async fn watch(lines: Arc<dyn Fn() -> Vec<Line> + Send + Sync>, terminal: bool, done: CancellationToken) {
    let multi = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} rows {msg}").expect("template").progress_chars("=> ");
    let mut bars: Vec<indicatif::ProgressBar> = Vec::new();
    let mut tick = tokio::time::interval(if terminal { Duration::from_millis(200) } else { Duration::from_secs(5) });
    tick.tick().await;
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = done.cancelled() => true,
        };
        if last && !terminal {
            return;
        }
        for (i, l) in lines().into_iter().enumerate() {
            if terminal {
                if bars.len() <= i {
                    bars.push(multi.add(indicatif::ProgressBar::new(0).with_style(style.clone()).with_prefix(l.table.clone())));
                }
                bars[i].set_length(l.total.max(l.done));
                bars[i].set_position(l.done);
                bars[i].set_message(l.message);
                if last {
                    bars[i].set_length(l.done);
                    bars[i].finish();
                }
            } else {
                eprintln!("{}: {} rows, {}", l.table, l.done, l.message);
            }
        }
        if last {
            // The finished bars stay; the report starts on a line of its own.
            eprintln!();
            return;
        }
    }
}
