//! The epoch ticker: the thread that advances the engine's epoch every
//! `epoch_tick`, so a running guest call reaches its deadline and its CPU
//! budget is checked (`instance.rs`). It ticks only while a call is in
//! progress ([`Ticker::running`]) and sleeps otherwise: an idle movex, or
//! one busy relaying at a front door with no validation running, is not
//! woken 200 times a second for nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;
use wasmtime::Engine;

pub(crate) struct Ticker {
    state: Arc<State>,
    thread: Thread,
}

/// What the ticker's thread and the calls share.
#[derive(Default)]
struct State {
    /// Guest calls in progress.
    active: AtomicUsize,
    stopping: AtomicBool,
    /// Ticks so far (the epoch's advance), and times it went to sleep
    /// with no call in progress: for the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    ticks: AtomicU64,
    #[cfg_attr(not(test), allow(dead_code))]
    parks: AtomicU64,
}

/// A call in progress: the ticker ticks while one is held.
pub(crate) struct Running<'t>(&'t State);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ticker {
    /// Start the ticker's thread for `engine`, ticking every `tick`.
    pub(crate) fn start(engine: Engine, tick: Duration) -> std::io::Result<Arc<Ticker>> {
        let state = Arc::new(State::default());
        let me = state.clone();
        let thread = std::thread::Builder::new().name("movex-epoch".into()).spawn(move || {
            while !me.stopping.load(Ordering::SeqCst) {
                if me.active.load(Ordering::SeqCst) == 0 {
                    // Woken by the first call (`running`) or by `stop`;
                    // a wake-up for nothing just looks again.
                    me.parks.fetch_add(1, Ordering::SeqCst);
                    std::thread::park();
                    continue;
                }
                std::thread::sleep(tick);
                engine.increment_epoch();
                me.ticks.fetch_add(1, Ordering::SeqCst);
            }
        })?;
        Ok(Arc::new(Ticker { state, thread: thread.thread().clone() }))
    }

    /// Mark a call in progress until the guard is dropped; the first one
    /// wakes the ticker (an unpark before it parks is not lost: it then
    /// does not sleep).
    pub(crate) fn running(&self) -> Running<'_> {
        if self.state.active.fetch_add(1, Ordering::SeqCst) == 0 {
            self.thread.unpark();
        }
        Running(&self.state)
    }

    /// Stop the thread (the engine is being dropped).
    pub(crate) fn stop(&self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }

    #[cfg(test)]
    fn ticks(&self) -> u64 {
        self.state.ticks.load(Ordering::SeqCst)
    }

    #[cfg(test)]
    fn parks(&self) -> u64 {
        self.state.parks.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_only_while_a_call_runs() {
        let ticker = Ticker::start(Engine::default(), Duration::from_millis(1)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticker.ticks(), 0, "no call: no tick");
        let parked = ticker.parks();
        {
            let _call = ticker.running();
            // However slow the machine, the ticker ticks while the call lasts.
            while ticker.ticks() < 3 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // Once it has gone back to sleep, nothing but a call wakes it.
        while ticker.parks() == parked {
            std::thread::sleep(Duration::from_millis(1));
        }
        let after = ticker.ticks();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticker.ticks(), after, "the call ended: ticking stopped");
        ticker.stop();
    }
}
