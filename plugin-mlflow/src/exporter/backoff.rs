//! Exponential backoff with full jitter, and the server's `Retry-After` when it gives one.

use std::time::Duration;

pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
        Backoff { initial, max, attempt: 0, rng: seed }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The wait before the next attempt: a random point in the upper half of
    /// `initial * 2^attempt` (capped at `max`), or what the server asked for if longer.
    pub fn next(&mut self, server_asked: Option<Duration>) -> Duration {
        let ceiling = self.initial.saturating_mul(1u32 << self.attempt.min(16)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64: jitter only, no need for a cryptographic generator.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = ceiling / 2;
        let jitter = half.mul_f64((self.rng % 10_000) as f64 / 10_000.0);
        let wait = half + jitter;
        match server_asked {
            Some(asked) if asked > wait => asked.min(Duration::from_secs(3600)),
            _ => wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_exponentially_within_bounds_and_honour_retry_after() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let waits: Vec<Duration> = (0..8).map(|_| b.next(None)).collect();
        for (i, w) in waits.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << i)).min(Duration::from_secs(2));
            assert!(*w >= ceiling / 2 && *w <= ceiling, "attempt {i}: {w:?} outside [{:?}, {ceiling:?}]", ceiling / 2);
        }
        assert_eq!(b.next(Some(Duration::from_secs(30))), Duration::from_secs(30));
        b.reset();
        assert!(b.next(None) <= Duration::from_millis(100));
    }
}
