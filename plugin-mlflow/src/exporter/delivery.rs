//! The one delivery loop, run by one thread per destination (MLflow, a generic OTLP endpoint):
//! take what waits in the destination's mailbox (up to `batchSize`), send it, settle what the
//! destination settled, and back off when it asks for a retry. What a reply means is the
//! destination's business (`Destination`); when to send, retry and stop is decided here only.
//!
//! Eager when idle, batched under load: with no request in flight a finished trace goes at once;
//! while requests are in flight, the traces finished meanwhile gather and go together in the next
//! request, posted when a reply comes or as soon as they fill a batch. A quiet gateway's traces are
//! searchable within a round trip, a busy one still sends full batches, and an idle one's thread
//! sleeps. The thread waits in one place (`Mailbox::wait`): for what the other threads post (traces,
//! metric points, a flush, a stop), a reply, or its next timer (a retry, the spool's sync, the
//! stop's deadline).
//!
//! Several requests at once under load, as a sliding window: up to `in_flight`'s current limit of
//! requests are out (the limit adjusted as each limit's worth comes back: `in_flight`), and as one
//! comes back the next is posted, so a multi-worker server is never left waiting for the slowest of
//! a round. Replies are settled in the order the requests were posted; at the first not settled, no
//! more are posted, those still out are awaited, and that batch and every one after it go back and
//! are sent again (a later batch that was accepted is then sent twice; MLflow and OTLP backends key
//! traces by id, so the second copy replaces the first). A trace is in one request only, so its
//! spans stay together.

use super::backoff::Backoff;
use super::in_flight::{InFlightLimit, Round};
use super::mailbox::Mailbox;
use super::request_workers::{Replies, RequestWorkers};
use super::run_metrics::MetricPoint;
use super::transport::{Reply, Transport};
use super::wire::EncodedTrace;
use crate::stats::Counters;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What comes after a request: what to do with the items it did not settle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NextStep {
    /// Nothing: everything was settled (delivered, or refused for good and counted).
    Done,
    /// Put them back and try again after a pause (the server's `Retry-After`, if any, else backoff).
    Retry(Option<Duration>),
    /// The destination lost its session (MLflow: the experiment or run is gone): put them back,
    /// prepare again, resend.
    Reconnect,
    /// Refused as a whole for what some of its traces hold (MLflow: one bad trace refuses all; an
    /// OTLP backend: too large): send it again in halves, until the refused ones stand alone. Only
    /// for more than one trace; the loop does the splitting and never ends a request with it.
    Split,
}

/// What one request settled: how many items from the front, and the next step for the rest (with
/// `Done`, there is no rest).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settlement {
    pub settled: usize,
    pub next: NextStep,
}

impl Settlement {
    pub fn all(n: usize) -> Settlement {
        Settlement { settled: n, next: NextStep::Done }
    }

    pub fn none(next: NextStep) -> Settlement {
        Settlement { settled: 0, next }
    }
}

/// A backend the loop delivers to. Implementations speak the backend's protocol and classify its
/// replies; they never wait, retry or touch the mailbox themselves. The calls that may wait on the
/// backend (`prepare`, `check`, `send_metrics`, `finish`, and `on_reply` where
/// `settles_over_network`) run on a thread of their own while the loop takes in what is posted.
pub trait Destination: Send + 'static {
    /// Gets ready to send (MLflow: the experiment resolved, the run created). `false`: not yet;
    /// the loop backs off and asks again.
    fn prepare(&mut self) -> bool {
        true
    }

    /// Forgets what `prepare` set up, after a `Reconnect` step.
    fn disconnect(&mut self) {}

    /// A periodic check is due before requests are posted (MLflow: is the experiment still
    /// there?, once per flush interval).
    fn check_due(&self) -> bool {
        false
    }

    fn check(&mut self) {}

    /// `Some(step)` when no request can be posted now (MLflow: no session yet).
    fn not_ready(&self) -> Option<NextStep> {
        None
    }

    /// Where trace requests are posted (several at once under load).
    fn transport(&self) -> Arc<dyn Transport>;

    /// What the reply to the request for `batch` means: counts, logs and settles it; it never
    /// posts traces. `buffered`: traces not yet delivered.
    fn on_reply(&mut self, batch: &[EncodedTrace], reply: Reply, buffered: usize) -> Settlement;

    /// `on_reply` makes requests of its own (MLflow before 3.14: each trace's info completed).
    fn settles_over_network(&self) -> bool {
        false
    }

    /// Sends metric points (only MLflow's run holds any).
    fn send_metrics(&mut self, points: &[MetricPoint]) -> Settlement {
        Settlement::all(points.len())
    }

    /// Metric points per request.
    fn metrics_per_request(&self) -> usize {
        1000
    }

    /// Stopping with everything delivered (MLflow: end the run).
    fn finish(&mut self) {}
}

/// A round's traces at most (a round: as many requests as the in-flight limit), whatever
/// `batchSize` x `maxConcurrentRequests` asks (unless one batch alone is larger). What is out,
/// `ROUNDS_HELD` rounds at most, is in memory, read back from the spool after an outage.
const MAX_ROUND_TRACES: usize = 2000;

/// Rounds of traces the window holds at most (out, or back early and waiting for an earlier
/// reply): a slow request is overtaken by a round of others, not more.
pub const ROUNDS_HELD: usize = 2;

/// A round's traces: `max_in_flight` batches, within `MAX_ROUND_TRACES`.
pub fn round_size(batch_size: usize, max_in_flight: usize) -> usize {
    (batch_size * max_in_flight.max(1)).min(MAX_ROUND_TRACES.max(batch_size)).max(1)
}

pub struct DeliveryLoop<D: Destination> {
    pub destination: D,
    /// Owned: no other thread touches what waits for this destination.
    pub mailbox: Mailbox,
    pub stats: Arc<Counters>,
    pub batch_size: usize,
    /// Requests posted at once, within `maxConcurrentRequests`.
    pub in_flight: InFlightLimit,
    /// Who posts them: `maxConcurrentRequests` threads.
    pub workers: RequestWorkers,
}

impl<D: Destination> DeliveryLoop<D> {
    /// The thread's body: runs until the mailbox is stopped and empty, or the stop's deadline has
    /// passed (what is left stays in the spool, or is counted lost).
    pub fn run(&mut self) {
        // After a panic: what was out goes back, to be sent again.
        self.mailbox.give_back();
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        let mut retrying = false;
        let mut prepared = false;
        loop {
            if self.mailbox.ending() {
                if self.mailbox.pending() == 0 {
                    self.off_thread(|d| d.finish());
                }
                self.mailbox.close();
                return;
            }
            if !prepared {
                prepared = self.off_thread(|d| d.prepare());
                if prepared {
                    backoff.reset();
                } else {
                    self.pause(backoff.next(None));
                }
                continue;
            }
            if !retrying {
                while !self.mailbox.has_work() && !self.mailbox.ending() {
                    self.mailbox.idle(None);
                }
                if self.mailbox.ending() {
                    continue;
                }
            }
            let next = match self.send_traces() {
                NextStep::Done => self.send_metrics(),
                stopped => stopped,
            };
            if self.mailbox.overdue() {
                continue;
            }
            match next {
                NextStep::Done => {
                    backoff.reset();
                    retrying = false;
                }
                NextStep::Retry(asked) => {
                    Counters::add(&self.stats.export_retries, 1);
                    retrying = true;
                    self.pause(backoff.next(asked));
                }
                NextStep::Reconnect => {
                    self.destination.disconnect();
                    prepared = false;
                    retrying = true;
                }
                // Resolved by `settle`; were one to come back here, a pause and a resend is safe.
                NextStep::Split => {
                    retrying = true;
                    self.pause(backoff.next(None));
                }
            }
        }
    }

    /// Waits `wait`, taking in letters meanwhile, unless the stop ends it first.
    fn pause(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        while Instant::now() < until && !self.mailbox.ending() {
            self.mailbox.idle(Some(until));
        }
    }

    /// Sends the traces waiting until none wait and every request is back: up to the in-flight
    /// limit's requests of `batchSize` out at once, another posted as soon as one is back. Replies
    /// are settled in the order the requests were posted; a reply back before an earlier one waits
    /// for it, its traces still held (`ROUNDS_HELD`). At the first reply not settled, no more are
    /// posted, the rest are awaited and everything not settled goes back. Metric points waiting go
    /// between replies (a busy gateway may never run out of traces). Past the stop's deadline,
    /// returns at once, whatever is out going back.
    fn send_traces(&mut self) -> NextStep {
        // The traces of every request out, oldest first: a copy of what the mailbox holds in flight.
        let mut held: Vec<EncodedTrace> = Vec::new();
        let mut requests: VecDeque<Request> = VecDeque::new();
        let (replies, arrivals) = crossbeam_channel::unbounded();
        // The number of `requests.front()`; a request's reply comes back with its number.
        let mut front_number = 0u64;
        let mut period = Period::default();
        let mut no_more: Option<NextStep> = None;
        loop {
            if no_more.is_none() {
                no_more = self.top_up(&mut held, &mut requests, front_number, &replies, &mut period, false);
            }
            if requests.is_empty() {
                return no_more.unwrap_or(NextStep::Done);
            }
            // Traces that finish while requests are out gather for the next reply; but a full batch
            // goes as soon as it is posted here, so that a slow request does not hold it back while
            // the limit allows more.
            let (number, reply, took) = loop {
                if self.mailbox.overdue() {
                    self.mailbox.settle_traces(0);
                    return NextStep::Retry(None);
                }
                if let Some(arrival) = self.mailbox.wait(None, &arrivals) {
                    break arrival;
                }
                if no_more.is_none() {
                    no_more = self.top_up(&mut held, &mut requests, front_number, &replies, &mut period, true);
                }
            };
            requests[(number - front_number) as usize].reply = Some((reply, took));
            while requests.front().is_some_and(|r| r.reply.is_some()) {
                let Some(Request { traces, reply: Some((reply, took)) }) = requests.pop_front() else { break };
                front_number += 1;
                let buffered = self.mailbox.traces_pending();
                let batch: Vec<EncodedTrace> = held.drain(..traces).collect();
                let settlement = self.settle(&batch, reply, buffered);
                if settlement.next != NextStep::Done {
                    self.in_flight.after(Round { requests: out(&requests) + 1, settled: false, slowest: took });
                    // Those still out are awaited (their traces are theirs until then) and sent again.
                    let mut awaited = requests.iter().filter(|r| r.reply.is_none()).count();
                    while awaited > 0 && !self.mailbox.overdue() {
                        awaited -= usize::from(self.mailbox.wait(None, &arrivals).is_some());
                    }
                    self.mailbox.settle_traces(settlement.settled);
                    return settlement.next;
                }
                self.mailbox.acknowledge_traces(traces);
                if let Some(round) = period.completed(took, self.in_flight.current()) {
                    self.in_flight.after(round);
                }
            }
            if no_more.is_none() {
                no_more = Some(self.send_metrics()).filter(|v| *v != NextStep::Done);
            }
        }
    }

    /// What the reply to the request for `batch` settles. A batch refused as a whole (`Split`) is
    /// sent again in halves until the traces refused stand alone: the settlement is then that of
    /// the whole batch.
    fn settle(&mut self, batch: &[EncodedTrace], reply: Reply, buffered: usize) -> Settlement {
        let settlement = if self.destination.settles_over_network() {
            self.off_thread(|d| d.on_reply(batch, reply, buffered))
        } else {
            self.destination.on_reply(batch, reply, buffered)
        };
        if settlement.next != NextStep::Split {
            return settlement;
        }
        let stats = Arc::clone(&self.stats);
        self.off_thread(|d| send_in_halves(d, &stats, batch, buffered))
    }

    /// Runs `call` on a thread of its own and takes in what is posted while it runs: the calls a
    /// destination makes itself may wait on a slow server, and the spool must not wait with them.
    /// A panic in `call` is this thread's (the supervisor's to catch).
    fn off_thread<R: Send>(&mut self, call: impl FnOnce(&mut D) -> R + Send) -> R {
        let (destination, mailbox) = (&mut self.destination, &mut self.mailbox);
        std::thread::scope(|scope| {
            let (done, result) = crossbeam_channel::bounded(1);
            scope.spawn(move || {
                let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(|| call(destination))));
            });
            loop {
                if let Some(ended) = mailbox.wait(None, &result) {
                    return ended.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                }
            }
        })
    }

    /// Posts requests while the in-flight limit and the bound on traces held allow and traces wait
    /// (with `full_batches_only`, only while a whole batch waits).
    /// `Some`: why no request can be posted now (the destination is not ready).
    fn top_up(
        &mut self,
        held: &mut Vec<EncodedTrace>,
        requests: &mut VecDeque<Request>,
        front_number: u64,
        replies: &Replies,
        period: &mut Period,
        full_batches_only: bool,
    ) -> Option<NextStep> {
        let limit = self.in_flight.current();
        let bound = ROUNDS_HELD * round_size(self.batch_size, limit);
        let mut checked = false;
        while out(requests) < limit && held.len() < bound {
            if full_batches_only && self.mailbox.traces_waiting() < self.batch_size {
                break;
            }
            if !checked {
                if self.destination.check_due() {
                    self.off_thread(|d| d.check());
                }
                if let Some(step) = self.destination.not_ready() {
                    return Some(step);
                }
                checked = true;
            }
            let batch = self.mailbox.take_traces(self.batch_size.min(bound - held.len()));
            if batch.is_empty() {
                break;
            }
            held.extend(batch.iter().cloned());
            let number = front_number + requests.len() as u64;
            requests.push_back(Request { traces: batch.len(), reply: None });
            let now_out = out(requests);
            period.busiest = period.busiest.max(now_out);
            self.workers.post(self.destination.transport(), batch, number, replies.clone());
            Counters::add(&self.stats.trace_requests, 1);
            Counters::add(&self.stats.trace_requests_out, now_out as u64);
        }
        None
    }

    /// Sends the metric points waiting, a request at a time, until none wait or one is not settled.
    fn send_metrics(&mut self) -> NextStep {
        let per_request = self.destination.metrics_per_request();
        loop {
            let points = self.mailbox.take_metrics(per_request);
            if points.is_empty() {
                return NextStep::Done;
            }
            let settlement = self.off_thread(|d| d.send_metrics(&points));
            self.mailbox.settle_metrics(settlement.settled);
            if settlement.next != NextStep::Done {
                return settlement.next;
            }
        }
    }
}

/// A batch refused as a whole, sent again in halves, one request at a time, until the traces
/// refused stand alone: the settlement of the whole batch.
fn send_in_halves<D: Destination>(d: &mut D, stats: &Counters, batch: &[EncodedTrace], buffered: usize) -> Settlement {
    if batch.len() < 2 {
        return Settlement::none(NextStep::Retry(None));
    }
    let (first, second) = batch.split_at(batch.len() / 2);
    let first_half = post_and_settle(d, stats, first, buffered);
    if first_half.next != NextStep::Done {
        return first_half;
    }
    let second_half = post_and_settle(d, stats, second, buffered);
    Settlement { settled: first.len() + second_half.settled, next: second_half.next }
}

fn post_and_settle<D: Destination>(d: &mut D, stats: &Counters, batch: &[EncodedTrace], buffered: usize) -> Settlement {
    Counters::add(&stats.trace_requests, 1);
    let reply = d.transport().post(batch);
    match d.on_reply(batch, reply, buffered) {
        Settlement { next: NextStep::Split, .. } => send_in_halves(d, stats, batch, buffered),
        settlement => settlement,
    }
}

/// A request out: how many of the lease's traces it carries (the oldest not carried by the
/// requests before it), and its reply with how long it took, once back.
struct Request {
    traces: usize,
    reply: Option<(Reply, Duration)>,
}

/// Requests still awaiting their reply.
fn out(requests: &VecDeque<Request>) -> usize {
    requests.iter().filter(|r| r.reply.is_none()).count()
}

/// The requests back since the in-flight limit was last adjusted.
#[derive(Default)]
struct Period {
    back: usize,
    /// The most requests out at once meanwhile.
    busiest: usize,
    slowest: Duration,
}

impl Period {
    /// One more request back, settled; once `limit` are, how they went (and a new period).
    fn completed(&mut self, took: Duration, limit: usize) -> Option<Round> {
        self.back += 1;
        self.slowest = self.slowest.max(took);
        (self.back >= limit).then(|| {
            let round = Round { requests: self.busiest, settled: true, slowest: self.slowest };
            *self = Period::default();
            round
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::mailbox::{mailbox, Pending, Postbox};
    use crate::exporter::wire::TraceEncoder;
    use crate::log::Log;
    use crossbeam_channel::{Receiver, Sender};
    use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
    use openclaw_plugin_api::abi_stable::std_types::RStr;
    use openclaw_plugin_api::{HostHandle, HostHandleRef, LogLevel};
    use opentelemetry::trace::TraceId;

    /// A request the loop posted, held until the test answers it.
    struct Posted {
        /// The traces it carries, by their number (the trace id).
        traces: Vec<u128>,
        answer: Sender<Reply>,
    }

    impl Posted {
        fn reply(self, status: u16) {
            self.answer.send(Reply { status, ..Reply::default() }).unwrap();
        }
    }

    /// Each post is handed to the test, which answers when and how it chooses.
    struct ScriptedTransport {
        posted: Sender<Posted>,
    }

    impl Transport for ScriptedTransport {
        fn post(&self, traces: &[EncodedTrace]) -> Reply {
            let (answer, reply) = crossbeam_channel::bounded(1);
            let traces = traces.iter().map(|t| u128::from_be_bytes(t.trace_id.to_bytes())).collect();
            self.posted.send(Posted { traces, answer }).unwrap();
            reply.recv().unwrap_or_default()
        }
    }

    /// Accepts what a 200 answers; a 400 refuses the batch as a whole (a trace alone: for good);
    /// asks for a retry otherwise. The loop's part is under test.
    struct Scripted(Arc<ScriptedTransport>);

    impl Destination for Scripted {
        fn transport(&self) -> Arc<dyn Transport> {
            self.0.clone()
        }

        fn on_reply(&mut self, batch: &[EncodedTrace], reply: Reply, _buffered: usize) -> Settlement {
            match reply.status {
                200 => Settlement::all(batch.len()),
                400 if batch.len() > 1 => Settlement::none(NextStep::Split),
                400 => Settlement::all(1),
                599 => panic!("a bug in reading the reply"),
                _ => Settlement::none(NextStep::Retry(reply.retry_after)),
            }
        }
    }

    extern "C" fn quiet(_: LogLevel, _: RStr<'_>) {}

    /// A loop of `batch_size` traces per request and up to `max_in_flight` requests, started on a
    /// thread as the exporter starts it (supervised), with traces 0..`n` queued; the posts as they
    /// come, the thread, and its counters.
    fn scripted_loop(
        n: u128,
        batch_size: usize,
        max_in_flight: usize,
    ) -> (Postbox, Receiver<Posted>, std::thread::JoinHandle<()>, Arc<Counters>) {
        let host = HostHandle { max_log_level: LogLevel::Error, log: quiet }.leak_into_prefix();
        let queued = (0..n).map(trace).collect();
        started_loop("test", host, Scripted, queued, batch_size, max_in_flight)
    }

    /// The loop over the destination `make` builds around a scripted transport, named `name` in
    /// log lines that go to `host`, with `queued` posted before it starts.
    fn started_loop<D: Destination>(
        name: &'static str,
        host: HostHandleRef,
        make: impl FnOnce(Arc<ScriptedTransport>) -> D,
        queued: Vec<EncodedTrace>,
        batch_size: usize,
        max_in_flight: usize,
    ) -> (Postbox, Receiver<Posted>, std::thread::JoinHandle<()>, Arc<Counters>) {
        let encoder = TraceEncoder::new(&crate::exporter::resource("test"));
        let stats = Arc::new(Counters::default());
        let (postbox, mailbox) = mailbox(name, 1000, 1 << 20, 1000, encoder, stats.clone(), Log::new(host));
        let (posted, posts) = crossbeam_channel::unbounded();
        let delivery = DeliveryLoop {
            destination: make(Arc::new(ScriptedTransport { posted })),
            mailbox,
            stats: stats.clone(),
            batch_size,
            in_flight: InFlightLimit::new(max_in_flight, Duration::from_secs(600)),
            workers: RequestWorkers::start("test", max_in_flight),
        };
        if !queued.is_empty() {
            postbox.push_encoded(queued);
        }
        let log = Log::new(host);
        let counted = stats.clone();
        let thread = std::thread::spawn(move || {
            let mut delivery = delivery;
            crate::exporter::supervisor::supervised("test delivery", &counted, &log, || delivery.run())
        });
        (postbox, posts, thread, stats)
    }

    /// Stops the loop (once it has delivered everything) and says what was left.
    fn stop(postbox: &Postbox, thread: std::thread::JoinHandle<()>) -> Pending {
        let answer = postbox.stop(Instant::now() + Duration::from_secs(60));
        thread.join().unwrap();
        answer.recv().expect("the stop was answered").left
    }

    /// Trace `i`: its id is its number; the body does not matter to the loop.
    fn trace(i: u128) -> EncodedTrace {
        EncodedTrace { trace_id: TraceId::from(i), body: Arc::from(Vec::new()) }
    }

    fn next(posts: &Receiver<Posted>) -> Posted {
        posts.recv_timeout(Duration::from_secs(60)).expect("the loop posted nothing more")
    }

    /// Quick full rounds of one, then two, requests: the limit is 4 from then on; answers them.
    fn warm_up(posts: &Receiver<Posted>) -> Vec<u128> {
        let mut sent = Vec::new();
        for round in [1, 2] {
            let out: Vec<Posted> = (0..round).map(|_| next(posts)).collect();
            for p in out {
                sent.extend(&p.traces);
                p.reply(200);
            }
        }
        sent
    }

    #[test]
    fn a_slow_request_is_overtaken_while_the_others_are_answered_and_every_trace_settles_once() {
        let (postbox, posts, delivery, _) = scripted_loop(20, 1, 4);
        let mut sent = warm_up(&posts);
        let mut out = next_posts(&posts, 4).into_iter();
        let slow = out.next().unwrap();
        assert_eq!(slow.traces, vec![3]);
        // Each answer frees a place for a later trace while the slow one, the oldest, is still out.
        for p in out {
            sent.extend(&p.traces);
            p.reply(200);
            let overtaking = next(&posts);
            assert!(overtaking.traces[0] > slow.traces[0]);
            sent.extend(&overtaking.traces);
            overtaking.reply(200);
        }
        sent.extend(&slow.traces);
        slow.reply(200);
        while sent.len() < 20 {
            let p = next(&posts);
            sent.extend(&p.traces);
            p.reply(200);
        }
        let left = stop(&postbox, delivery);
        sent.sort();
        assert_eq!(sent, (0..20).collect::<Vec<u128>>(), "each trace posted once");
        assert_eq!(left.traces, 0);
    }

    /// The next `n` posts (each request's thread posts on its own: in any order), by first trace.
    fn next_posts(posts: &Receiver<Posted>, n: usize) -> Vec<Posted> {
        let mut out: Vec<Posted> = (0..n).map(|_| next(posts)).collect();
        out.sort_by_key(|p| p.traces[0]);
        out
    }

    fn firsts(posted: &[Posted]) -> Vec<u128> {
        posted.iter().map(|p| p.traces[0]).collect()
    }

    #[test]
    fn the_window_holds_two_rounds_and_a_refused_request_is_sent_again_with_every_later_one() {
        let (postbox, posts, delivery, _) = scripted_loop(12, 1, 4);
        warm_up(&posts);
        let mut out = next_posts(&posts, 4);
        assert_eq!(firsts(&out), vec![3, 4, 5, 6]);
        let refused = out.remove(0);
        // While 3 is out, each answer frees a place: 7, 8 and 9 go.
        out.into_iter().for_each(|p| p.reply(200));
        let out = next_posts(&posts, 3);
        assert_eq!(firsts(&out), vec![7, 8, 9]);
        out.into_iter().for_each(|p| p.reply(200));
        // The window holds two rounds, 3 to 10: only 10 goes, and 11 waits.
        let tenth = next(&posts);
        assert_eq!(tenth.traces, vec![10]);
        refused.reply(503);
        tenth.reply(200);
        // After the backoff: 3 again, and every later trace (each accepted one again: the backend
        // keys traces by id), 11 among them; each once.
        let mut again: Vec<u128> = Vec::new();
        while again.len() < 9 {
            let p = next(&posts);
            again.extend(&p.traces);
            p.reply(200);
        }
        again.sort();
        assert_eq!(again, (3..12).collect::<Vec<u128>>());
        assert!(stop(&postbox, delivery).is_empty());
    }

    #[test]
    fn a_round_holds_its_batches_within_the_bound_but_always_one_whole_batch() {
        assert_eq!(round_size(100, 4), 400);
        assert_eq!(round_size(100, 1), 100);
        assert_eq!(round_size(1000, 64), MAX_ROUND_TRACES);
        assert_eq!(round_size(10_000, 4), 10_000);
    }

    #[test]
    fn a_batch_refused_as_a_whole_is_sent_again_in_halves_until_the_refused_trace_stands_alone() {
        let (postbox, posts, delivery, _) = scripted_loop(4, 4, 1);
        let mut batches = Vec::new();
        // Trace 2 is refused wherever it goes; the halves go one at a time, from the loop's thread.
        while batches.last() != Some(&vec![3]) {
            let p = next(&posts);
            let status = if p.traces.contains(&2) { 400 } else { 200 };
            batches.push(p.traces.clone());
            p.reply(status);
        }
        assert_eq!(batches, vec![vec![0, 1, 2, 3], vec![0, 1], vec![2, 3], vec![2], vec![3]]);
        assert!(stop(&postbox, delivery).is_empty(), "every trace settled");
    }

    #[test]
    fn a_panic_while_reading_a_reply_restarts_the_loop_and_the_trace_is_sent_again() {
        let (postbox, posts, delivery, stats) = scripted_loop(1, 1, 1);
        let first = next(&posts);
        assert_eq!(first.traces, vec![0]);
        first.reply(599);
        let again = next(&posts);
        assert_eq!(again.traces, vec![0], "its trace went back and out again");
        again.reply(200);
        let left = stop(&postbox, delivery);
        assert_eq!(stats.thread_panics.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(left.traces, 0);
    }

    /// A destination whose `prepare` waits until the test lets it go.
    struct SlowToPrepare {
        go: Receiver<()>,
        transport: Arc<ScriptedTransport>,
    }

    impl Destination for SlowToPrepare {
        fn prepare(&mut self) -> bool {
            self.go.recv().is_ok()
        }

        fn transport(&self) -> Arc<dyn Transport> {
            self.transport.clone()
        }

        fn on_reply(&mut self, batch: &[EncodedTrace], _: Reply, _: usize) -> Settlement {
            Settlement::all(batch.len())
        }
    }

    static LINES: std::sync::LazyLock<(Sender<String>, Receiver<String>)> =
        std::sync::LazyLock::new(crossbeam_channel::unbounded);

    extern "C" fn to_lines(_: LogLevel, line: RStr<'_>) {
        let _ = LINES.0.send(line.as_str().to_string());
    }

    #[test]
    fn what_is_posted_while_the_destination_prepares_is_taken_in_meanwhile() {
        let host = HostHandle { max_log_level: LogLevel::Debug, log: to_lines }.leak_into_prefix();
        let (go, wait) = crossbeam_channel::bounded(1);
        let slow = |transport| SlowToPrepare { go: wait, transport };
        let (postbox, posts, thread, _) = started_loop("preparing", host, slow, Vec::new(), 10, 1);
        postbox.push_encoded(vec![trace(0), trace(1)]);
        let queued = loop {
            let line = LINES.1.recv_timeout(Duration::from_secs(60)).expect("the posted traces were taken in");
            if line.contains("queued for preparing") {
                break line;
            }
        };
        assert!(queued.contains("2 trace(s)"), "{queued}");
        go.send(()).unwrap();
        let p = next(&posts);
        assert_eq!(p.traces, vec![0, 1]);
        p.reply(200);
        assert!(stop(&postbox, thread).is_empty());
    }

    /// As when `init` fails after a destination's thread started: the exporter is dropped half
    /// built, and nothing else holds the postbox.
    #[test]
    fn a_loop_whose_postbox_is_dropped_stops_on_its_own_and_gives_up_what_it_held() {
        let (postbox, posts, delivery, stats) = scripted_loop(2, 1, 1);
        let out = next(&posts);
        drop(postbox);
        out.reply(503);
        let (ended, end) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || ended.send(delivery.join().is_ok()).unwrap());
        assert_eq!(end.recv_timeout(Duration::from_secs(60)), Ok(true), "the loop ended");
        assert_eq!(stats.traces_failed.load(std::sync::atomic::Ordering::Relaxed), 2, "given up, in memory: lost");
    }

    #[test]
    fn a_full_batch_gathered_while_a_slow_request_is_out_goes_without_waiting_for_its_reply() {
        let (postbox, posts, delivery, _) = scripted_loop(6, 2, 4);
        warm_up(&posts);
        postbox.push_encoded(vec![trace(6), trace(7)]);
        let slow = next(&posts);
        assert_eq!(slow.traces, vec![6, 7]);
        postbox.push_encoded(vec![trace(8), trace(9)]);
        let gathered = next(&posts);
        assert_eq!(gathered.traces, vec![8, 9], "posted while the slow one is still out");
        gathered.reply(200);
        slow.reply(200);
        let left = stop(&postbox, delivery);
        assert_eq!(left.traces, 0);
    }
}
