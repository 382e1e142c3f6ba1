//! Wakes the assembler thread when work arrives while it sleeps, without a system call per event.
//!
//! The sleeper announces that it is about to sleep, looks once more for work, and parks; a hook
//! that has just queued an event looks at the announcement and unparks the sleeper only if it is
//! there (the empty-to-non-empty transition of an idle plugin). While the assembler is awake, a
//! hook pays an atomic load and a branch. Whichever of the two comes second sees the other's
//! write (both sides order their write before their read with a SeqCst fence), so an event is
//! never left waiting for a wake-up that does not come; a stale unpark only costs one extra turn
//! of the loop (parking is allowed to return early anyway).

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::Instant;

#[derive(Default)]
pub struct Doorbell {
    /// Set by the sleeper just before it parks.
    sleeping: AtomicBool,
    /// The thread that sleeps (the assembler), set when it starts.
    sleeper: OnceLock<Thread>,
}

impl Doorbell {
    /// Called once, on the thread that will sleep.
    pub fn register_sleeper(&self) {
        let _ = self.sleeper.set(thread::current());
    }

    /// After queueing work: wakes the sleeper if it is asleep or about to be.
    #[inline]
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            if let Some(sleeper) = self.sleeper.get() {
                sleeper.unpark();
            }
        }
    }

    /// Sleeps until rung or `deadline` (none: until rung), unless `has_work` finds work once the
    /// sleep is announced. May return early; the caller loops.
    pub fn sleep(&self, deadline: Option<Instant>, has_work: impl FnOnce() -> bool) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !has_work() {
            match deadline {
                None => thread::park(),
                Some(at) => {
                    let now = Instant::now();
                    if at > now {
                        thread::park_timeout(at - now);
                    }
                }
            }
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// Rings when dropped. Kept as the last field of a struct that also owns a channel's sender, it
/// rings after the sender is gone, so a sleeping receiver wakes to find the channel disconnected.
pub struct RingOnDrop(pub Arc<Doorbell>);

impl Drop for RingOnDrop {
    fn drop(&mut self) {
        self.0.ring();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `body` on a thread that registers as the sleeper; a receiver that hears when it ends.
    fn sleeper(bell: &Arc<Doorbell>, body: impl FnOnce(&Doorbell) + Send + 'static) -> mpsc::Receiver<()> {
        let (done, finished) = mpsc::channel();
        let b = bell.clone();
        thread::spawn(move || {
            b.register_sleeper();
            body(&b);
            let _ = done.send(());
        });
        while bell.sleeper.get().is_none() {
            thread::yield_now();
        }
        finished
    }

    #[test]
    fn a_ring_wakes_a_sleeper_that_has_no_deadline() {
        let bell = Arc::new(Doorbell::default());
        let work = Arc::new(AtomicUsize::new(0));
        let w = work.clone();
        let finished = sleeper(&bell, move |b| {
            while w.load(Ordering::SeqCst) == 0 {
                b.sleep(None, || w.load(Ordering::SeqCst) > 0);
            }
        });
        thread::sleep(Duration::from_millis(50));
        work.store(1, Ordering::SeqCst);
        bell.ring();
        assert!(finished.recv_timeout(Duration::from_secs(20)).is_ok(), "the sleeper was not woken");
    }

    #[test]
    fn no_ring_is_lost_between_the_last_look_and_the_park() {
        // Many hand-offs of one item each, no deadline: one lost ring leaves the sleeper parked.
        const ITEMS: usize = 20_000;
        let bell = Arc::new(Doorbell::default());
        let queued = Arc::new(AtomicUsize::new(0));
        let q = queued.clone();
        let finished = sleeper(&bell, move |b| {
            let mut taken = 0;
            while taken < ITEMS {
                if q.load(Ordering::SeqCst) > taken {
                    taken += 1;
                } else {
                    b.sleep(None, || q.load(Ordering::SeqCst) > taken);
                }
            }
        });
        for _ in 0..ITEMS {
            queued.fetch_add(1, Ordering::SeqCst);
            bell.ring();
        }
        assert!(finished.recv_timeout(Duration::from_secs(60)).is_ok(), "a ring was lost: the sleeper never woke");
    }
}
