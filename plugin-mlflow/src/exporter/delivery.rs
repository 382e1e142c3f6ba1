//! The one delivery loop, run by one thread per destination (MLflow, a generic OTLP endpoint):
//! take what waits in the destination's mailbox (up to `batchSize`), send it, settle what the
//! destination settled, and back off when it asks for a retry. What a reply means is the
//! destination's business (`Destination`); when to send, retry and stop is decided here only.
//!
//! Eager when idle, batched under load: with no request in flight a finished trace goes at once;
//! while requests are in flight, the traces finished meanwhile gather and go together in the next
//! round. A quiet gateway's traces are searchable within a round trip, and a busy one still sends
//! full batches, with no timer on either path.
//!
//! Several requests at once under load: a round leases up to `in_flight`'s current limit of batches
//! (adjusted after each round: `in_flight`) and posts them concurrently (a multi-worker server takes
//! them in parallel); their replies are then settled in order, and at the first batch not settled
//! the round stops: that batch and every one after it go back and are sent again (a batch after it
//! that was accepted is sent twice; MLflow and OTLP backends key traces by id, so the second copy
//! replaces the first). A trace is in one batch only, so its order is kept.

use super::backoff::Backoff;
use super::in_flight::{InFlightLimit, Round};
use super::mailbox::Mailbox;
use super::run_metrics::MetricPoint;
use super::transport::{Reply, TraceEndpoint};
use super::wire::EncodedTrace;
use crate::stats::Counters;
use std::sync::Arc;
use std::time::Duration;

/// What to do with the items of a request that it did not settle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Everything was settled (delivered, or refused for good and counted).
    Settled,
    /// Put them back and try again after a pause (the server's `Retry-After`, if any, else backoff).
    Retry(Option<Duration>),
    /// The destination lost its session (MLflow: the experiment or run is gone): put them back,
    /// prepare again, resend.
    Reconnect,
}

/// The result of sending one batch: how many items from the front are settled, and the verdict on
/// the rest (with `Settled`, all of them are).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub settled: usize,
    pub verdict: Verdict,
}

impl Outcome {
    pub fn all(n: usize) -> Outcome {
        Outcome { settled: n, verdict: Verdict::Settled }
    }

    pub fn none(verdict: Verdict) -> Outcome {
        Outcome { settled: 0, verdict }
    }
}

/// A backend the loop delivers to. Implementations speak the backend's protocol and classify its
/// replies; they never wait, retry or touch the mailbox themselves.
pub trait Destination: Send + 'static {
    /// Gets ready to send (MLflow: the experiment resolved, the run created). `false`: not yet;
    /// the loop backs off and asks again.
    fn prepare(&mut self) -> bool {
        true
    }

    /// Forgets what `prepare` set up, after a `Reconnect` verdict.
    fn disconnect(&mut self) {}

    /// Called before each round of requests: periodic checks (MLflow: is the experiment still
    /// there?).
    fn before_batch(&mut self) {}

    /// `Some(verdict)` when no request can be posted now (MLflow: no session yet).
    fn not_ready(&self) -> Option<Verdict> {
        None
    }

    /// Where trace requests are posted (several at once in a busy round).
    fn endpoint(&self) -> &TraceEndpoint;

    /// What the reply to the request for `batch` means: counts, logs and settles it. It may post
    /// again (MLflow: the halves of a refused batch). `buffered`: traces not yet delivered.
    fn on_reply(&mut self, batch: &[EncodedTrace], reply: Reply, buffered: usize) -> Outcome;

    /// Sends metric points (only MLflow's run holds any).
    fn send_metrics(&mut self, points: &[MetricPoint]) -> Outcome {
        Outcome::all(points.len())
    }

    /// Metric points per request.
    fn metrics_per_request(&self) -> usize {
        1000
    }

    /// Stopping with everything delivered (MLflow: end the run).
    fn finish(&mut self) {}
}

/// A round's traces at most, whatever `batchSize` x `maxConcurrentRequests` asks (unless one batch
/// alone is larger): what a round holds is in memory, read back from the spool after an outage.
const MAX_ROUND_TRACES: usize = 2000;

/// Traces one round leases: `max_in_flight` batches, within `MAX_ROUND_TRACES`.
pub fn round_size(batch_size: usize, max_in_flight: usize) -> usize {
    (batch_size * max_in_flight.max(1)).min(MAX_ROUND_TRACES.max(batch_size)).max(1)
}

pub struct DeliveryLoop<D: Destination> {
    pub destination: D,
    pub mailbox: Arc<Mailbox>,
    pub stats: Arc<Counters>,
    pub batch_size: usize,
    /// Requests posted at once, within `maxConcurrentRequests`.
    pub in_flight: InFlightLimit,
}

impl<D: Destination> DeliveryLoop<D> {
    /// The thread's body: runs until the mailbox is stopped and empty (or given up on by shutdown,
    /// which does not wait for this thread past its deadline).
    pub fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        let mut retrying = false;
        let mut prepared = false;
        loop {
            if self.mailbox.stopping() && self.mailbox.pending() == 0 {
                self.destination.finish();
                return;
            }
            if !prepared {
                prepared = self.destination.prepare();
                if prepared {
                    backoff.reset();
                } else {
                    let wait = backoff.next(None);
                    if !self.mailbox.pause(wait) {
                        if self.mailbox.pending() == 0 {
                            return;
                        }
                        // Stopping with items left: keep trying until shutdown gives up on us.
                        std::thread::sleep(wait.min(Duration::from_millis(200)));
                    }
                    continue;
                }
            }
            if !retrying {
                self.mailbox.wait_for_work();
                if self.mailbox.stopping() && self.mailbox.pending() == 0 {
                    continue;
                }
            }
            let verdict = match self.send_traces() {
                Verdict::Settled => self.send_metrics(),
                stopped => stopped,
            };
            match verdict {
                Verdict::Settled => {
                    backoff.reset();
                    retrying = false;
                }
                Verdict::Retry(asked) => {
                    Counters::add(&self.stats.export_retries, 1);
                    retrying = true;
                    let wait = backoff.next(asked);
                    if !self.mailbox.pause(wait) {
                        std::thread::sleep(wait.min(Duration::from_millis(200)));
                    }
                }
                Verdict::Reconnect => {
                    self.destination.disconnect();
                    prepared = false;
                    retrying = true;
                }
            }
        }
    }

    /// Sends the traces waiting, up to the in-flight limit's requests of `batchSize` at once (none:
    /// nothing to do), and settles the replies in order up to the first that is not settled.
    fn send_traces(&mut self) -> Verdict {
        let lease = self.mailbox.lease_traces(round_size(self.batch_size, self.in_flight.current()));
        if lease.is_empty() {
            return Verdict::Settled;
        }
        self.destination.before_batch();
        if let Some(verdict) = self.destination.not_ready() {
            return verdict;
        }
        let batches: Vec<&[EncodedTrace]> = lease.items().chunks(self.batch_size.max(1)).collect();
        let (replies, slowest) = post_all(self.destination.endpoint(), &batches);
        Counters::add(&self.stats.trace_requests, batches.len() as u64);
        Counters::add(&self.stats.trace_rounds, 1);
        let buffered = self.mailbox.traces_pending();
        let mut settled = 0;
        let mut verdict = Verdict::Settled;
        for (batch, reply) in batches.iter().zip(replies) {
            let outcome = self.destination.on_reply(batch, reply, buffered);
            settled += outcome.settled;
            if outcome.verdict != Verdict::Settled {
                verdict = outcome.verdict;
                break;
            }
        }
        self.in_flight.after(Round { requests: batches.len(), settled: verdict == Verdict::Settled, slowest });
        lease.settle(settled);
        verdict
    }

    /// Sends the metric points waiting, a request at a time, until none wait or one is not settled.
    fn send_metrics(&mut self) -> Verdict {
        let per_request = self.destination.metrics_per_request();
        loop {
            let points = self.mailbox.lease_metrics(per_request);
            if points.is_empty() {
                return Verdict::Settled;
            }
            let outcome = self.destination.send_metrics(points.items());
            points.settle(outcome.settled);
            if outcome.verdict != Verdict::Settled {
                return outcome.verdict;
            }
        }
    }
}

/// Posts each batch in a request of its own, all at once (one alone, or one whose thread cannot be
/// started, is posted on this thread); the replies in the batches' order, and how long the slowest
/// took.
fn post_all(endpoint: &TraceEndpoint, batches: &[&[EncodedTrace]]) -> (Vec<Reply>, Duration) {
    let started = std::time::Instant::now();
    let replies = if batches.len() == 1 {
        vec![endpoint.post(batches[0])]
    } else {
        std::thread::scope(|scope| {
            let posts: Vec<_> = batches
                .iter()
                .map(|batch| {
                    std::thread::Builder::new().spawn_scoped(scope, move || endpoint.post(batch)).map_err(|_| *batch)
                })
                .collect();
            let panicked = || Reply { body: "the request's thread panicked".into(), ..Reply::default() };
            posts
                .into_iter()
                .map(|post| match post {
                    Ok(thread) => thread.join().unwrap_or_else(|_| panicked()),
                    Err(batch) => endpoint.post(batch),
                })
                .collect()
        })
    };
    (replies, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_holds_its_batches_within_the_bound_but_always_one_whole_batch() {
        assert_eq!(round_size(100, 4), 400);
        assert_eq!(round_size(100, 1), 100);
        assert_eq!(round_size(1000, 64), MAX_ROUND_TRACES);
        assert_eq!(round_size(10_000, 4), 10_000);
    }
}
