//! A destination's mailbox, in two halves.
//!
//! - `Postbox`, held by the other threads: the assembler posts encoded traces and metric points;
//!   the exporter asks for a flush or a stop, each a letter carrying where to answer, and waits for
//!   the answer at most until its deadline (the counts in `Tally` say what was left if none comes).
//! - `Mailbox`, owned by the destination's delivery thread alone: its outboxes and their spool, the
//!   flushes waiting for "nothing left", the stop and its deadline, and the thread's one way to
//!   wait (`wait`: letters, replies to its requests, its next timer, with `select!`).
//!
//! No lock around what the delivery thread holds (the one lock here guards the count of bytes on
//! their way): every disk operation (appends, reads, acknowledgements, syncs, the final sync and
//! unlinks of a stop) runs on the delivery thread, so a slow disk delays delivery, never the host.

use super::mlflow_spans::TraceSpans;
use super::outbox::{Cleared, Outbox};
use super::run_metrics::MetricPoint;
use super::spool::{Label, Recipient, Spool};
use super::wire::{EncodedTrace, TraceEncoder};
use crate::log::{size, Log, Throttle};
use crate::stats::Counters;
use crossbeam_channel::{select, Receiver, Sender};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Metric points waiting beyond this are dropped oldest first (a long outage).
const MAX_METRIC_POINTS: usize = 100_000;

/// What the other threads send the delivery thread.
enum Letter {
    /// Encoded traces, and the bytes `Tally` counts them for while they are on their way.
    Traces(Vec<EncodedTrace>, usize),
    Metrics(Vec<MetricPoint>),
    /// Answer once nothing waits or is in flight.
    Flush(Sender<()>),
    /// Deliver what waits until the deadline, then give up on the rest and answer what was left.
    Stop(Instant, Sender<Stopped>),
}

/// The answer to a stop: what was left undelivered, and what became of it.
#[derive(Clone, Copy, Debug)]
pub struct Stopped {
    pub left: Pending,
    pub cleared: Cleared,
}

/// What waits for a destination, as its two halves count it; read by the exporter when an answer
/// does not come by its deadline.
#[derive(Default)]
struct Tally {
    /// Posted, not yet taken in by the delivery thread.
    posted_traces: AtomicUsize,
    posted_points: AtomicUsize,
    /// Held by the delivery thread: waiting or in flight.
    held_traces: AtomicUsize,
    held_points: AtomicUsize,
    /// What posted traces take in memory, and whether the delivery thread has ended: the assembler
    /// waits on `room` while the bytes are over the bound.
    in_transit: Mutex<InTransit>,
    room: Condvar,
}

#[derive(Default)]
struct InTransit {
    bytes: usize,
    ended: bool,
}

impl Tally {
    fn pending(&self) -> Pending {
        let sum = |a: &AtomicUsize, b: &AtomicUsize| a.load(Ordering::Relaxed) + b.load(Ordering::Relaxed);
        Pending {
            traces: sum(&self.posted_traces, &self.held_traces),
            metric_values: sum(&self.posted_points, &self.held_points),
        }
    }

    fn in_transit(&self) -> MutexGuard<'_, InTransit> {
        self.in_transit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `bytes` more once there is room for them (at once when nothing else is on its way),
    /// under the lock, so that a letter is either sent before the delivery thread ends or not at
    /// all; `false`: it has ended.
    fn send_when_room(&self, bytes: usize, max: usize, send: impl FnOnce()) -> bool {
        let mut in_transit = self.in_transit();
        while in_transit.bytes > 0 && in_transit.bytes + bytes > max && !in_transit.ended {
            in_transit = self.room.wait(in_transit).unwrap_or_else(|e| e.into_inner());
        }
        if in_transit.ended {
            return false;
        }
        in_transit.bytes += bytes;
        send();
        true
    }

    fn taken_in(&self, bytes: usize) {
        self.in_transit().bytes -= bytes;
        self.room.notify_all();
    }

    fn ended(&self) {
        self.in_transit().ended = true;
        self.room.notify_all();
    }
}

/// Where a destination's outboxes are spooled: a stream directory and size limit for each, and
/// whom the records are for.
pub struct SpoolPlan {
    pub traces: (PathBuf, u64),
    pub metrics: Option<(PathBuf, u64)>,
    pub recipient: Recipient,
}

/// What was not delivered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pending {
    pub traces: usize,
    pub metric_values: usize,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.traces + self.metric_values == 0
    }
}

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.traces, self.metric_values) {
            (t, 0) => write!(f, "{t} trace(s)"),
            (0, m) => write!(f, "{m} metric value(s)"),
            (t, m) => write!(f, "{t} trace(s) and {m} metric value(s)"),
        }
    }
}

/// The other threads' half of a mailbox.
pub struct Postbox {
    name: &'static str,
    letters: Sender<Letter>,
    tally: Arc<Tally>,
    encoder: TraceEncoder,
    /// While encoded traces posted and not yet taken in take more than these bytes (the delivery
    /// thread is held up by its disk), the assembler waits; the events behind it queue, within
    /// their own bound.
    max_posted_bytes: usize,
    stats: Arc<Counters>,
}

/// A destination's two halves. `max_traces`: `maxBufferedTraces`; beyond it the oldest are dropped
/// and counted (in memory; the spool has its own limit). `max_posted_bytes`: `maxQueueBytes`, what
/// may wait to be taken in. `window`: what memory holds of a spooled outbox.
pub fn mailbox(
    name: &'static str,
    max_traces: usize,
    max_posted_bytes: usize,
    window: usize,
    encoder: TraceEncoder,
    stats: Arc<Counters>,
    log: Log,
) -> (Postbox, Mailbox) {
    let (letters, inbox) = crossbeam_channel::unbounded();
    let tally = Arc::new(Tally::default());
    let postbox = Postbox { name, letters, tally: tally.clone(), encoder, max_posted_bytes, stats: stats.clone() };
    let mailbox = Mailbox {
        name,
        traces: Outbox::new(max_traces),
        metrics: Outbox::new(MAX_METRIC_POINTS),
        letters: inbox,
        tally,
        flushes: Vec::new(),
        stop: None,
        disk_problems: Throttle::new(Duration::from_secs(60)),
        stats,
        log,
        window,
    };
    (postbox, mailbox)
}

impl Postbox {
    /// Encodes the traces for this destination (on the caller's thread) and posts them.
    pub fn push_traces<'a>(&self, ready: impl IntoIterator<Item = &'a TraceSpans>) {
        self.push_encoded(ready.into_iter().map(|t| self.encoder.encode(t)).collect());
    }

    pub fn push_encoded(&self, encoded: Vec<EncodedTrace>) {
        let (n, bytes) = (encoded.len(), posted_bytes(&encoded));
        let sent = self.tally.send_when_room(bytes, self.max_posted_bytes, || {
            self.tally.posted_traces.fetch_add(n, Ordering::Relaxed);
            let _ = self.letters.send(Letter::Traces(encoded, bytes));
        });
        if !sent {
            // The delivery thread has ended (the exporter stopped past its deadline).
            Counters::add(&self.stats.traces_failed, n as u64);
        }
    }

    pub fn push_metrics(&self, points: Vec<MetricPoint>) {
        let n = points.len();
        if self.tally.posted_points.load(Ordering::Relaxed) + n > MAX_METRIC_POINTS {
            Counters::add(&self.stats.metric_values_dropped, n as u64);
            return;
        }
        self.tally.posted_points.fetch_add(n, Ordering::Relaxed);
        let _ = self.letters.send(Letter::Metrics(points));
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Waits until nothing posted so far waits or is in flight, at most until `deadline`;
    /// otherwise what is left.
    pub fn flush(&self, deadline: Instant) -> Result<(), Pending> {
        let (answer, answered) = crossbeam_channel::bounded(1);
        if self.letters.send(Letter::Flush(answer)).is_ok() && answered.recv_deadline(deadline).is_ok() {
            return Ok(());
        }
        Err(self.tally.pending())
    }

    /// Asks the delivery thread to deliver what waits until `deadline`, then stop; its answer
    /// comes on the receiver returned.
    pub fn stop(&self, deadline: Instant) -> Receiver<Stopped> {
        let (answer, answered) = crossbeam_channel::bounded(1);
        let _ = self.letters.send(Letter::Stop(deadline, answer));
        answered
    }

    /// What waits, as last counted (when the delivery thread does not answer in time).
    pub fn pending(&self) -> Pending {
        self.tally.pending()
    }
}

/// The delivery thread's half of a mailbox.
pub struct Mailbox {
    /// Names the destination in log lines.
    name: &'static str,
    traces: Outbox<EncodedTrace>,
    metrics: Outbox<MetricPoint>,
    letters: Receiver<Letter>,
    tally: Arc<Tally>,
    /// Who waits for "nothing left".
    flushes: Vec<Sender<()>>,
    /// Asked to stop: by when, and who waits for the answer.
    stop: Option<(Instant, Vec<Sender<Stopped>>)>,
    disk_problems: Throttle,
    stats: Arc<Counters>,
    log: Log,
    /// Memory's share of a spooled outbox: this many items from its front.
    window: usize,
}

impl Mailbox {
    /// Opens the spool for each outbox (on the delivery thread, before it sends: a large spool
    /// left by an earlier process is scanned here) and moves what waits in memory into it. A
    /// directory that cannot be used leaves that outbox in memory, with one log line.
    pub fn open_spool(&mut self, plan: &SpoolPlan) {
        let mut unusable = Vec::new();
        let mut open =
            |stream: &(PathBuf, u64), what: &'static str| match self.open_stream(stream, &plan.recipient, what) {
                Ok(opened) => Some(opened),
                Err(e) => {
                    unusable.push((what, e));
                    None
                }
            };
        let mut opened = Vec::new();
        let traces = open(&plan.traces, "traces").map(|(spool, recovered, said)| {
            Counters::add(&self.stats.spool_recovered, recovered);
            opened.push(said);
            spool
        });
        let metrics = plan.metrics.as_ref().and_then(|m| open(m, "metric values")).map(|(spool, _, said)| {
            opened.push(said);
            spool
        });
        if let Some((_, e)) = unusable.first() {
            // One line, naming the configured directory (the streams are folders inside it).
            let dir = plan.traces.0.parent().unwrap_or(&plan.traces.0).display();
            let what: Vec<&str> = unusable.iter().map(|(what, _)| *what).collect();
            let name = self.name;
            self.log.warn(|| {
                format!(
                    "MLflow plugin: spool directory {dir} is unusable ({e}); {name} {} wait in memory only",
                    what.join(" and ")
                )
            });
        }
        let mut dropped = (0, 0);
        if let Some(spool) = traces {
            dropped.0 = self.traces.attach_spool(spool, self.window);
        }
        if let Some(spool) = metrics {
            dropped.1 = self.metrics.attach_spool(spool, self.window);
        }
        Counters::add(&self.stats.traces_dropped, dropped.0);
        Counters::add(&self.stats.metric_values_dropped, dropped.1);
        self.changed();
        // Said once what waited in memory is on disk: from this line on, nothing queued is lost
        // to the process's death.
        opened.into_iter().for_each(|said| self.log.info(|| said));
    }

    /// Opens one stream's spool and warns of what it found of earlier processes; with the spool,
    /// how many records they left and the line that says where it is.
    fn open_stream(
        &self,
        (dir, max): &(PathBuf, u64),
        recipient: &Recipient,
        what: &str,
    ) -> std::io::Result<(Spool, u64, String)> {
        let (spool, recovered) = Spool::open(dir, *max, recipient)?;
        let name = self.name;
        Counters::add(&self.stats.spool_unreadable, recovered.damaged);
        let opened = format!(
            "MLflow plugin: {name} {what} spooled in {} (up to {}); {} left by an earlier process",
            spool.dir().display(),
            size(*max),
            recovered.records
        );
        if recovered.damaged > 0 {
            self.log.warn(|| {
                format!("MLflow plugin: skipped {} damaged record(s) in the {name} {what} spool", recovered.damaged)
            });
        }
        if !recovered.unreadable.is_empty() {
            let files: Vec<String> = recovered.unreadable.iter().map(|p| p.display().to_string()).collect();
            self.log.warn(|| {
                format!(
                    "MLflow plugin: left spool file(s) it cannot read (written by a newer version, or damaged): {}",
                    files.join(", ")
                )
            });
        }
        if let Some(elsewhere) = waiting_elsewhere(&recovered.elsewhere) {
            let name = self.name;
            let here = recipient.experiment_label();
            self.log.warn(|| {
                format!(
                    "MLflow plugin: {name} {what} in the spool wait for another experiment: {elsewhere} (this \
                     gateway sends to {here}); they stay there (`openclaw mlflow spool` or `openclaw-host spool` lists, moves or discards \
                     them)"
                )
            });
        }
        Ok((spool, recovered.records, opened))
    }

    /// Counts what the outboxes found unreadable and logs a disk error (once a minute).
    fn note_disk(&mut self) {
        let (unreadable_traces, trace_error) = self.traces.take_notes();
        let (unreadable_points, metric_error) = self.metrics.take_notes();
        Counters::add(&self.stats.spool_unreadable, unreadable_traces + unreadable_points);
        if let Some(e) = trace_error.or(metric_error) {
            Counters::add(&self.stats.spool_write_errors, 1);
            if self.disk_problems.due() {
                let name = self.name;
                self.log.warn(|| {
                    format!("MLflow plugin: the {name} spool could not be written ({e}); what waits is kept in memory meanwhile")
                });
            }
        }
    }

    /// Forces spooled appends to disk when due; the next time one will be.
    fn sync_if_due(&mut self) -> Option<Instant> {
        let now = Instant::now();
        if self.traces.sync_due().is_some_and(|t| t <= now) {
            self.traces.sync();
        }
        if self.metrics.sync_due().is_some_and(|t| t <= now) {
            self.metrics.sync();
        }
        self.traces.sync_due().into_iter().chain(self.metrics.sync_due()).min()
    }

    /// After every change: disk notes counted and logged, the counts published, the flushes
    /// answered once nothing is left.
    fn changed(&mut self) {
        self.note_disk();
        self.tally.held_traces.store(self.traces.pending(), Ordering::Relaxed);
        self.tally.held_points.store(self.metrics.pending(), Ordering::Relaxed);
        if self.pending() == 0 {
            for answer in self.flushes.drain(..) {
                let _ = answer.send(());
            }
        }
    }

    /// Sleeps until a letter comes (taken in here), a reply comes on `replies` (returned), or
    /// `until`, the spool's next sync or the stop's deadline, whichever is first. No clock
    /// otherwise: an idle destination's thread sleeps until there is work.
    pub fn wait<R>(&mut self, until: Option<Instant>, replies: &Receiver<R>) -> Option<R> {
        let wake = [until, self.sync_if_due(), self.stop.as_ref().map(|(by, _)| *by)].into_iter().flatten().min();
        let timer = wake.map_or_else(crossbeam_channel::never, crossbeam_channel::at);
        select! {
            recv(self.letters) -> letter => match letter {
                Ok(letter) => self.receive(letter),
                // Every other thread let go of this destination without a stop: stop now.
                Err(_) => self.stop_by(Instant::now(), None),
            },
            recv(replies) -> reply => return reply.ok(),
            recv(timer) -> _ => {}
        }
        None
    }

    /// Waits with no request out.
    pub fn idle(&mut self, until: Option<Instant>) {
        self.wait::<()>(until, &crossbeam_channel::never());
    }

    fn receive(&mut self, letter: Letter) {
        let (traces, bytes, points) = match letter {
            Letter::Traces(encoded, bytes) => {
                let n = encoded.len();
                let dropped = self.traces.push(encoded);
                Counters::add(&self.stats.traces_dropped, dropped);
                let (name, kept) = (self.name, if self.traces.is_spooled() { "spooled" } else { "in memory" });
                self.log.debug(|| format!("MLflow plugin: {n} trace(s) queued for {name} ({kept})"));
                (n, bytes, 0)
            }
            Letter::Metrics(points) => {
                let n = points.len();
                let dropped = self.metrics.push(points);
                Counters::add(&self.stats.metric_values_dropped, dropped);
                (0, 0, n)
            }
            Letter::Flush(answer) => {
                self.flushes.push(answer);
                (0, 0, 0)
            }
            Letter::Stop(deadline, answer) => {
                self.stop_by(deadline, Some(answer));
                (0, 0, 0)
            }
        };
        self.changed();
        // Counted as posted until counted as held: the exporter, reading the counts while a slow
        // disk holds this thread in `push`, sees what a letter carried one way or the other.
        self.tally.posted_traces.fetch_sub(traces, Ordering::Relaxed);
        if bytes > 0 {
            self.tally.taken_in(bytes);
        }
        self.tally.posted_points.fetch_sub(points, Ordering::Relaxed);
    }

    fn stop_by(&mut self, deadline: Instant, answer: Option<Sender<Stopped>>) {
        let (by, answers) = self.stop.get_or_insert_with(|| (deadline, Vec::new()));
        *by = (*by).min(deadline);
        answers.extend(answer);
    }

    pub fn stopping(&self) -> bool {
        self.stop.is_some()
    }

    /// Stopping, and past the stop's deadline: what is left is given up on.
    pub fn overdue(&self) -> bool {
        self.stop.as_ref().is_some_and(|(by, _)| Instant::now() >= *by)
    }

    /// Stopping, with everything delivered or the deadline past.
    pub fn ending(&self) -> bool {
        self.stopping() && (self.pending() == 0 || self.overdue())
    }

    /// Traces and metric points not yet delivered.
    pub fn pending(&self) -> usize {
        self.traces.pending() + self.metrics.pending()
    }

    pub fn traces_pending(&self) -> usize {
        self.traces.pending()
    }

    /// Traces waiting to be taken for a request (not in flight).
    pub fn traces_waiting(&self) -> usize {
        self.traces.waiting()
    }

    /// A trace or a metric point waits to be taken.
    pub fn has_work(&self) -> bool {
        self.traces.waiting() + self.metrics.waiting() > 0
    }

    /// Takes up to `max` more of the traces waiting, after those already in flight.
    pub fn take_traces(&mut self, max: usize) -> Vec<EncodedTrace> {
        let taken = self.traces.take(max);
        self.changed();
        taken
    }

    /// The oldest `n` traces in flight are done with (delivered, or refused for good).
    pub fn acknowledge_traces(&mut self, n: usize) {
        self.traces.acknowledge(n);
        self.changed();
    }

    /// Of the traces in flight, the first `settled` are done with; the rest go back.
    pub fn settle_traces(&mut self, settled: usize) {
        let dropped = self.traces.settle(settled);
        Counters::add(&self.stats.traces_dropped, dropped);
        self.changed();
    }

    pub fn take_metrics(&mut self, max: usize) -> Vec<MetricPoint> {
        let taken = self.metrics.take(max);
        self.changed();
        taken
    }

    pub fn settle_metrics(&mut self, settled: usize) {
        let dropped = self.metrics.settle(settled);
        Counters::add(&self.stats.metric_values_dropped, dropped);
        self.changed();
    }

    /// Whatever was in flight goes back (after a panic between taking and settling).
    pub fn give_back(&mut self) {
        self.settle_traces(0);
        self.settle_metrics(0);
    }

    /// The end of the thread: gives up on what is left (memory-only traces are lost and counted
    /// failed; spooled ones stay for the next start; the spool is synced and its emptied files
    /// deleted, here), and answers the stop.
    pub fn close(&mut self) {
        // What was posted before the end is taken in (into the spool, if there is one).
        self.tally.ended();
        while let Ok(letter) = self.letters.try_recv() {
            self.receive(letter);
        }
        let left = Pending { traces: self.traces.pending(), metric_values: self.metrics.pending() };
        self.metrics.clear();
        let cleared = self.traces.clear();
        Counters::add(&self.stats.traces_failed, cleared.lost as u64);
        self.changed();
        if let Some((_, answers)) = self.stop.take() {
            for answer in answers {
                let _ = answer.send(Stopped { left, cleared });
            }
        }
    }
}

/// What posted traces take in memory, as the bound counts it.
fn posted_bytes(encoded: &[EncodedTrace]) -> usize {
    encoded.iter().map(|t| t.body.len() + std::mem::size_of::<EncodedTrace>()).sum()
}

/// "12 for experiment \"old\" at http://mlflow:5000, 3 for …": what waits for other experiments.
fn waiting_elsewhere(elsewhere: &[(Label, u64)]) -> Option<String> {
    let mut by_label = std::collections::BTreeMap::<String, u64>::new();
    for (label, records) in elsewhere.iter().filter(|(_, records)| *records > 0) {
        *by_label.entry(label.to_string()).or_default() += records;
    }
    let parts: Vec<String> = by_label.iter().map(|(label, records)| format!("{records} for {label}")).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
    use openclaw_plugin_api::abi_stable::std_types::RStr;
    use openclaw_plugin_api::{HostHandle, LogLevel};
    use std::sync::Mutex;

    /// For each "spooled in <dir>" line: the bytes of segments in that directory when it was said.
    static ON_DISK_WHEN_SAID: Mutex<Vec<u64>> = Mutex::new(Vec::new());

    extern "C" fn log(_: LogLevel, line: RStr<'_>) {
        let Some((_, rest)) = line.as_str().split_once(" spooled in ") else { return };
        let dir = std::path::Path::new(rest.split(" (up to").next().unwrap_or_default());
        let bytes = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        ON_DISK_WHEN_SAID.lock().unwrap().push(bytes);
    }

    #[test]
    fn what_waited_in_memory_is_on_disk_when_the_spool_says_it_is_open() {
        let root = std::env::temp_dir().join(format!("mailbox-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let host = HostHandle { max_log_level: LogLevel::Info, log }.leak_into_prefix();
        let encoder = TraceEncoder::new(&crate::exporter::resource("test"));
        let (postbox, mut mailbox) =
            mailbox("mlflow", 100, 1 << 20, 10, encoder, Arc::new(Counters::default()), Log::new(host));
        postbox.push_metrics(vec![MetricPoint { key: "tokens".into(), value: 1.0, timestamp_ms: 1, step: 0 }]);
        while mailbox.pending() == 0 {
            mailbox.idle(None);
        }
        let plan = SpoolPlan {
            traces: (root.join("traces"), 1 << 20),
            metrics: Some((root.join("metrics"), 1 << 20)),
            recipient: crate::exporter::spool::tests::here(),
        };
        mailbox.open_spool(&plan);
        let said = ON_DISK_WHEN_SAID.lock().unwrap().clone();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(said.len(), 2, "one line per stream");
        assert!(said[1] > segment_header_bytes(), "the metric value queued before was on disk: {said:?}");
    }

    fn segment_header_bytes() -> u64 {
        crate::exporter::spool::segment::HEADER_LEN as u64
    }
}
