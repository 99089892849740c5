//! The gate every write passes: the pattern writes use, the generation it
//! came from, and, when the pool belongs to a fleet, the lease that lets it
//! write at all.
//!
//! A write (a statement, or a whole transaction) takes a [`Ticket`] at the
//! gate and keeps the pattern of the generation it entered under. A new
//! generation applies to tickets taken after it; tickets of older ones
//! drain, and [`Gate::draining`] counts them, so the fleet acknowledges a
//! generation only once no write of an older one is running.
//!
//! In a fleet the gate admits nothing once the lease has lapsed (the
//! heartbeat could not renew it in time: store unreachable, process
//! paused): the lease is a deadline on the monotonic clock, which runs on
//! while a process is stopped, so a process resumed after its lease ran out
//! refuses writes until its heartbeat has read the current generation again.
//! Every statement checks it, inside a transaction too.

use crate::model::Pattern;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A write refused because this instance may not write now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Fenced(pub String);

#[derive(Debug)]
struct Inner {
    generation: i64,
    pattern: Pattern,
    /// `None`: not in a fleet (or a fleet of one): always admitted.
    lease_until: Option<Instant>,
    /// Why writes are refused past the lease, for the error.
    why: String,
    /// Open tickets per generation. A generation's entry stays while it
    /// is the current one (a ticket a statement, outside transactions: no
    /// allocation each time); older ones go once drained.
    open: BTreeMap<i64, usize>,
    /// The pattern of each generation that still has open tickets (and
    /// the current one's).
    patterns: BTreeMap<i64, Pattern>,
    /// The generation whose [`Gate::settle`] wait already ran out: later
    /// waits in it go ahead at once instead of each waiting again.
    gave_up: Option<i64>,
}

impl Inner {
    /// A new generation applies: drained older ones are forgotten.
    fn advance(&mut self, generation: i64, pattern: Pattern) {
        self.generation = generation;
        self.pattern = pattern;
        self.open.retain(|_, n| *n > 0);
        let open = &self.open;
        self.patterns.retain(|g, _| open.contains_key(g));
        self.patterns.insert(generation, pattern);
    }

    /// Writes still open in older generations whose pattern takes row
    /// locks in the opposite order to the current one's: `src_first`
    /// (source, then destination) against `dst_first`. Only those can
    /// deadlock with the current pattern's transactions; a one-side
    /// pattern waits on one server only.
    fn crossing(&self) -> usize {
        let opposite = match self.pattern {
            Pattern::SrcFirst => Pattern::DstFirst,
            Pattern::DstFirst => Pattern::SrcFirst,
            _ => return 0,
        };
        self.open.range(..self.generation).filter(|(g, _)| self.patterns.get(g) == Some(&opposite)).map(|(_, n)| n).sum()
    }

    fn check(&self) -> Result<(), Fenced> {
        match self.lease_until {
            Some(until) if Instant::now() >= until => Err(Fenced(self.why.clone())),
            _ => Ok(()),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Gate {
    inner: Arc<Mutex<Inner>>,
    drained: Arc<tokio::sync::Notify>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            inner: Arc::new(Mutex::new(Inner {
                generation: 0,
                pattern: Pattern::SrcOnly,
                lease_until: None,
                why: String::new(),
                open: BTreeMap::new(),
                patterns: BTreeMap::from([(0, Pattern::SrcOnly)]),
                gave_up: None,
            })),
            drained: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// A write's pass: the pattern and generation it runs under, counted open
/// until dropped.
#[derive(Debug)]
pub struct Ticket {
    gate: Gate,
    pub generation: i64,
    pub pattern: Pattern,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut g = self.gate.lock();
        // Only an older generation's tickets are waited for.
        let old = self.generation < g.generation;
        if let Entry::Occupied(mut open) = g.open.entry(self.generation) {
            *open.get_mut() -= 1;
            if old && *open.get() == 0 {
                open.remove();
            }
        }
        drop(g);
        if old {
            self.gate.drained.notify_waiters();
        }
    }
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("gate lock")
    }

    /// The pattern new writes use.
    pub fn pattern(&self) -> Pattern {
        self.lock().pattern
    }

    /// The generation new writes use.
    pub fn generation(&self) -> i64 {
        self.lock().generation
    }

    /// Switch outside a fleet (or for a fleet of one): a generation of its
    /// own.
    pub fn set_pattern(&self, pattern: Pattern) {
        let mut g = self.lock();
        let next = g.generation + 1;
        g.advance(next, pattern);
    }

    /// Apply the fleet's generation `generation`: writes that enter from
    /// now on use `pattern`. An older generation than the one applied is
    /// ignored.
    pub fn apply(&self, generation: i64, pattern: Pattern) {
        let mut g = self.lock();
        if generation > g.generation || g.lease_until.is_none() && generation == g.generation {
            g.advance(generation, pattern);
        }
    }

    /// Writes are admitted until `until` (a fleet's lease); `why` says what
    /// to do when they no longer are.
    pub fn renew(&self, until: Instant, why: &str) {
        let mut g = self.lock();
        if g.lease_until.is_none_or(|u| until > u) {
            g.lease_until = Some(until);
        }
        if g.why != why {
            g.why = why.to_owned();
        }
    }

    /// Why a write would be refused now; `None` if it would be admitted.
    pub fn check(&self) -> Result<(), Fenced> {
        self.lock().check()
    }

    /// Enter: a ticket in the current pattern, or refused past the lease.
    pub fn enter(&self) -> Result<Ticket, Fenced> {
        let mut g = self.lock();
        g.check()?;
        Ok(self.ticket(&mut g))
    }

    fn ticket(&self, g: &mut Inner) -> Ticket {
        let (generation, pattern) = (g.generation, g.pattern);
        *g.open.entry(generation).or_default() += 1;
        Ticket { gate: self.clone(), generation, pattern }
    }

    /// Pass the gate with the ticket `held` (a transaction's), or a new
    /// one put there: refused past the lease (the ticket left as it is).
    /// One lock either way: it is taken for every statement.
    pub fn pass(&self, held: &mut Option<Ticket>) -> Result<(), Fenced> {
        let mut g = self.lock();
        g.check()?;
        if held.is_none() {
            *held = Some(self.ticket(&mut g));
        }
        Ok(())
    }

    /// The current generation, and the writes still open in older ones,
    /// read together.
    pub fn draining(&self) -> (i64, usize) {
        let g = self.lock();
        (g.generation, g.open.range(..g.generation).map(|(_, n)| n).sum())
    }

    /// Wait until a ticket of an older generation is given back.
    pub async fn ticket_returned(&self) {
        self.drained.notified().await;
    }

    /// Wait (at most `max`) until no write is open in an older generation
    /// whose pattern locks rows in the opposite order to the current one
    /// (`src_first` against `dst_first`): what a transaction, or a front
    /// door's statement, does before it takes a new ticket. Run at once,
    /// each can hold what the other waits for, on two servers that cannot
    /// see the deadlock (seen at the PostgreSQL door under a pattern
    /// switch). Other switches do not wait. Past the bound (a client
    /// holding a transaction open) the caller goes ahead, as before this
    /// wait existed, and so does every later caller in the same
    /// generation, at once: one idle transaction costs one wait, not one
    /// per statement. `false` says it went ahead; that is logged once.
    /// An instance whose lease has lapsed, or lapses while it waits, does
    /// not wait (on): its caller is refused at the gate, at once.
    pub async fn settle(&self, max: std::time::Duration) -> bool {
        {
            let g = self.lock();
            // Fenced: the caller is refused at the gate, so it has nothing
            // to wait for.
            if g.crossing() == 0 || g.check().is_err() {
                return true;
            }
        }
        let deadline = tokio::time::Instant::now() + max;
        loop {
            // Registered before the count is read: a ticket given back
            // between the two still wakes this wait.
            let returned = self.drained.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            let (generation, crossing, gave_up, fenced, lease_until) = {
                let g = self.lock();
                (g.generation, g.crossing(), g.gave_up == Some(g.generation), g.check().is_err(), g.lease_until)
            };
            if crossing == 0 || fenced {
                return true;
            }
            if gave_up {
                return false;
            }
            // A lease that lapses before the bound ends the wait then
            // (looked at again: a renewed lease waits on).
            let until = lease_until.map_or(deadline, |u| deadline.min(tokio::time::Instant::from_std(u)));
            if tokio::time::timeout_at(until, returned).await.is_ok() || tokio::time::Instant::now() < deadline {
                continue;
            }
            let mut g = self.lock();
            if g.generation == generation && g.gave_up != Some(generation) {
                g.gave_up = Some(generation);
                drop(g);
                tracing::warn!(
                    generation,
                    open = crossing,
                    waited_ms = max.as_millis() as u64,
                    "pool: transactions of the previous pattern, which lock rows in the other order, are still open; going ahead (and so do later statements of this pattern)"
                );
            }
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tickets_keep_their_generation_and_drain() {
        let gate = Gate::default();
        gate.apply(1, Pattern::SrcFirst);
        let old = gate.enter().unwrap();
        gate.apply(2, Pattern::DstFirst);
        let new = gate.enter().unwrap();
        assert_eq!((old.pattern, new.pattern), (Pattern::SrcFirst, Pattern::DstFirst));
        assert_eq!(gate.draining(), (2, 1));
        drop(old);
        assert_eq!(gate.draining(), (2, 0));
        gate.apply(1, Pattern::SrcOnly);
        assert_eq!(gate.pattern(), Pattern::DstFirst, "an older generation is ignored");
    }

    #[test]
    fn drained_generations_are_forgotten() {
        let gate = Gate::default();
        for generation in 1..100 {
            gate.apply(generation, Pattern::SrcFirst);
            let mut held = None;
            gate.pass(&mut held).unwrap();
            let kept = gate.enter().unwrap();
            drop(held);
            drop(kept);
        }
        let open = gate.lock().open.clone();
        assert_eq!(open, BTreeMap::from([(99, 0)]), "only the current generation's count stays");
        let old = gate.enter().unwrap();
        gate.apply(100, Pattern::DstFirst);
        assert_eq!(gate.draining().1, 1);
        drop(old);
        assert_eq!(gate.draining().1, 0);
        assert_eq!(gate.lock().open.len(), 0, "generation 99 drained after the switch: gone");
    }

    #[tokio::test]
    async fn settle_waits_for_older_writes_that_lock_the_other_way() {
        let gate = Gate::default();
        gate.apply(1, Pattern::SrcFirst);
        assert!(gate.settle(Duration::from_secs(30)).await, "nothing open: no wait");
        let old = gate.enter().unwrap();
        let current = gate.enter().unwrap();
        gate.apply(2, Pattern::DstFirst);
        let mine = gate.enter().unwrap();
        // Given back while it waits: it ends then, not at the bound. Its
        // own generation's tickets do not hold it.
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.settle(Duration::from_secs(600)).await }
        });
        drop(old);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a write of generation 1 is still open");
        drop(current);
        assert!(tokio::time::timeout(Duration::from_secs(60), waiting).await.expect("settled once both were given back").unwrap());
        drop(mine);
    }

    #[tokio::test]
    async fn settle_gives_up_once_per_generation_and_only_across_lock_orders() {
        let gate = Gate::default();
        gate.apply(1, Pattern::SrcOnly);
        let one_side = gate.enter().unwrap();
        gate.apply(2, Pattern::SrcFirst);
        assert!(gate.settle(Duration::from_secs(600)).await, "src_only's writes lock on one server: no wait");
        let old = gate.enter().unwrap();
        gate.apply(3, Pattern::DstFirst);
        // Held past the bound: it gives up once the bound has passed...
        let t0 = Instant::now();
        assert!(!gate.settle(Duration::from_millis(50)).await);
        assert!(t0.elapsed() >= Duration::from_millis(50));
        // ...and later waits in this generation go ahead at once.
        let later = tokio::time::timeout(Duration::from_secs(60), gate.settle(Duration::from_secs(600))).await;
        assert_eq!(later, Ok(false), "no second wait for the same open transaction");
        // A switch on to a one-side pattern does not wait either.
        gate.apply(4, Pattern::DstOnly);
        assert!(gate.settle(Duration::from_secs(600)).await);
        drop((one_side, old));
    }

    #[tokio::test]
    async fn settle_does_not_keep_a_fenced_instance_waiting() {
        let gate = Gate::default();
        gate.renew(Instant::now() + Duration::from_millis(300), "renewed");
        gate.apply(1, Pattern::SrcFirst);
        let old = gate.enter().unwrap();
        gate.apply(2, Pattern::DstFirst);
        // A lease renewed while it waits: it waits on.
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.settle(Duration::from_secs(600)).await }
        });
        gate.renew(Instant::now() + Duration::from_secs(3600), "renewed");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!waiting.is_finished(), "a write of generation 1 is open and the lease holds");
        drop(old);
        assert!(tokio::time::timeout(Duration::from_secs(60), waiting).await.unwrap().unwrap());
        // A lease that lapses while it waits ends the wait (settled, not
        // given up), not the 600 s bound.
        let gate = Gate::default();
        gate.renew(Instant::now() + Duration::from_millis(200), "the lease lapsed");
        gate.apply(1, Pattern::SrcFirst);
        let old = gate.enter().unwrap();
        gate.apply(2, Pattern::DstFirst);
        let ended = tokio::time::timeout(Duration::from_secs(60), gate.settle(Duration::from_secs(600))).await;
        assert_eq!(ended, Ok(true), "ended at the lease");
        assert_eq!(gate.enter().unwrap_err(), Fenced("the lease lapsed".into()));
        // Fenced from the start: no wait at all.
        assert_eq!(tokio::time::timeout(Duration::from_secs(60), gate.settle(Duration::from_secs(600))).await, Ok(true));
        drop(old);
    }

    #[test]
    fn past_the_lease_nothing_enters() {
        let gate = Gate::default();
        assert!(gate.enter().is_ok(), "outside a fleet: no lease");
        gate.renew(Instant::now() + Duration::from_secs(60), "renew it");
        assert!(gate.enter().is_ok());
        let gate = Gate::default();
        gate.renew(Instant::now(), "the lease lapsed");
        assert_eq!(gate.enter().unwrap_err(), Fenced("the lease lapsed".into()));
    }
}
