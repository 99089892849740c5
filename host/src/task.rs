//! Background work: a validation, an auto-migration, a repair (and next, a
//! copy) is one kind of thing, started, cancelled, joined and reported the
//! same way. A [`Slot`] holds at most one task of a kind; starting one
//! cancels the previous and waits for it to stop, under the slot's lock, so
//! a start and a stop cannot race.

use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A task in a slot, running or finished, with what its owner keeps beside
/// it (a progress board, say).
pub struct Task<T> {
    /// Cancelled to ask the task to stop at its next safe point; the task
    /// itself decides where that is (a committed batch, a finished row).
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    started: Instant,
    pub data: T,
}

impl<T> Task<T> {
    pub fn is_running(&self) -> bool {
        !self.handle.is_finished()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Cancel and wait for it to stop; whether it was still running.
    async fn stop(self) -> bool {
        let running = self.is_running();
        self.cancel.cancel();
        let _ = self.handle.await;
        running
    }
}

/// At most one background task of a kind.
pub struct Slot<T = ()> {
    task: Mutex<Option<Task<T>>>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { task: Mutex::new(None) }
    }
}

impl<T> Slot<T> {
    /// Hold the slot: nothing starts or stops in it meanwhile.
    pub async fn lock(&self) -> Held<'_, T> {
        Held(self.task.lock().await)
    }

    /// Cancel the task and wait for it; whether it was still running.
    pub async fn stop(&self) -> bool {
        self.lock().await.stop().await
    }

    /// Whether a task runs in it now.
    pub async fn running(&self) -> bool {
        self.lock().await.0.as_ref().is_some_and(Task::is_running)
    }
}

/// A slot held by [`Slot::lock`].
pub struct Held<'a, T>(MutexGuard<'a, Option<Task<T>>>);

impl<T> Held<'_, T> {
    /// Cancel the task in the slot, if any, and wait for it; whether it was
    /// still running.
    pub async fn stop(&mut self) -> bool {
        match self.0.take() {
            Some(task) => task.stop().await,
            None => false,
        }
    }

    /// Spawn `work` in the slot, after [`Held::stop`]: a task still in it
    /// would be detached, not stopped, so starting over one is a bug and
    /// panics. `work` gets the token that asks it to stop.
    pub fn start<F>(&mut self, data: T, work: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        assert!(self.0.is_none(), "start after stop: the previous task would be detached");
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(work(cancel.clone()));
        *self.0 = Some(Task { cancel, handle, started: Instant::now(), data });
    }

    /// The task in the slot, running or finished.
    pub fn get(&self) -> Option<&Task<T>> {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn starting_again_stops_the_previous_task_first() {
        let slot: Slot<&str> = Slot::default();
        let first_stopped = Arc::new(AtomicBool::new(false));
        {
            let mut held = slot.lock().await;
            let flag = first_stopped.clone();
            held.start("first", |cancel| async move {
                cancel.cancelled().await;
                flag.store(true, Ordering::SeqCst);
            });
        }
        let mut held = slot.lock().await;
        assert!(held.get().is_some_and(|t| t.is_running() && t.data == "first"));
        assert!(held.stop().await, "the first task was running");
        assert!(first_stopped.load(Ordering::SeqCst), "stop waited for the task to finish");
        held.start("second", |_| async {});
        drop(held);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!slot.stop().await, "the second task had already finished");
        assert!(slot.lock().await.get().is_none());
    }
}
