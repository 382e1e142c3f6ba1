//! How many requests one destination may have in flight: one at first, doubled after each full
//! round that went through quickly until the first slow or failed round (a busy gateway reaches a
//! multi-worker server's parallelism in a few rounds, not one round per request), from then on one
//! more after a quick full round, one less after a slow round, half after a failed one. More
//! concurrency only while it helps: a multi-worker server takes parallel requests faster, but a
//! server already busy (one worker, or many gateways sharing it) only queues them, its replies slow
//! down towards the request timeout, and requests that time out are sent again: work that piles up
//! (BENCHMARKS.md, section 11, has the figures).

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct InFlightLimit {
    current: usize,
    max: usize,
    /// Still doubling: no round has been slow or failed yet.
    starting: bool,
    /// A reply slower than this means the server is queueing our requests.
    slow: Duration,
}

/// How a round went: the last `current` requests back (in a sliding window, a round is as many
/// requests as the limit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Round {
    /// The most requests out at once.
    pub requests: usize,
    /// Every request settled (delivered, or refused for good).
    pub settled: bool,
    /// The slowest reply.
    pub slowest: Duration,
}

impl InFlightLimit {
    /// Up to `max` requests; `request_timeout` sets what counts as slow (half of it: a server
    /// saturated by one gateway's few requests answers in seconds, far from its timeouts; a quarter
    /// held one gateway at 60-74% of a 2- and 4-worker server's ceiling on this 2-core machine).
    pub fn new(max: usize, request_timeout: Duration) -> InFlightLimit {
        InFlightLimit { current: 1, max: max.max(1), starting: true, slow: request_timeout / 2 }
    }

    pub fn current(&self) -> usize {
        self.current
    }

    /// Adjusts the limit after `round`.
    pub fn after(&mut self, round: Round) {
        let quick = round.settled && round.slowest <= self.slow;
        self.starting &= quick;
        self.current = if !round.settled {
            (self.current / 2).max(1)
        } else if !quick {
            (self.current - 1).max(1)
        } else if round.requests >= self.current {
            // Only a round that used the whole limit says more would be used.
            let more = if self.starting { self.current * 2 } else { self.current + 1 };
            more.min(self.max)
        } else {
            self.current
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(requests: usize, settled: bool, slowest_ms: u64) -> Round {
        Round { requests, settled, slowest: Duration::from_millis(slowest_ms) }
    }

    #[test]
    fn doubles_while_full_rounds_are_quick_up_to_the_maximum() {
        let mut limit = InFlightLimit::new(12, Duration::from_secs(10));
        for expected in [2, 4, 8, 12, 12] {
            limit.after(round(limit.current(), true, 500));
            assert_eq!(limit.current(), expected);
        }
    }

    #[test]
    fn after_the_first_slow_round_grows_one_by_one() {
        let mut limit = InFlightLimit::new(16, Duration::from_secs(10));
        limit.after(round(1, true, 100));
        limit.after(round(2, true, 100));
        assert_eq!(limit.current(), 4);
        limit.after(round(4, true, 6000));
        assert_eq!(limit.current(), 3, "slow: one less, and no more doubling");
        for expected in [4, 5, 6] {
            limit.after(round(limit.current(), true, 500));
            assert_eq!(limit.current(), expected);
        }
    }

    #[test]
    fn a_failed_round_also_ends_the_doubling() {
        let mut limit = InFlightLimit::new(16, Duration::from_secs(10));
        limit.after(round(1, true, 100));
        limit.after(round(2, false, 100));
        assert_eq!(limit.current(), 1);
        limit.after(round(1, true, 100));
        assert_eq!(limit.current(), 2);
        limit.after(round(2, true, 100));
        assert_eq!(limit.current(), 3);
    }

    #[test]
    fn a_round_that_did_not_need_the_limit_does_not_raise_it() {
        let mut limit = InFlightLimit::new(8, Duration::from_secs(10));
        limit.after(round(1, true, 100));
        limit.after(round(2, true, 100));
        assert_eq!(limit.current(), 4);
        limit.after(round(1, true, 100));
        assert_eq!(limit.current(), 4, "a quiet gateway sends one request; the limit stays");
    }

    #[test]
    fn slow_replies_take_one_away_and_a_failure_halves_it_never_below_one() {
        let mut limit = InFlightLimit::new(8, Duration::from_secs(10));
        for _ in 0..7 {
            limit.after(round(limit.current(), true, 100));
        }
        assert_eq!(limit.current(), 8);
        limit.after(round(8, true, 6000));
        assert_eq!(limit.current(), 7, "replies beyond half the timeout: the server queues");
        limit.after(round(7, true, 4000));
        assert_eq!(limit.current(), 8, "a few seconds is a busy server still keeping up");
        limit.after(round(8, false, 10_000));
        assert_eq!(limit.current(), 4);
        for _ in 0..5 {
            limit.after(round(1, false, 0));
        }
        assert_eq!(limit.current(), 1);
    }
}
