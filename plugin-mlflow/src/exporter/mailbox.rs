//! What one destination's delivery thread shares with the rest of the exporter: its outboxes
//! (finished traces, encoded for its wire; the MLflow run's metric points) and the request to
//! stop, under one lock with one condition variable, so that the thread can sleep until "something
//! to send, or stop" and the exporter until "nothing left". With the spool, the outboxes' disk work
//! happens here too, always on an exporter thread: appends on the assembler's, reads,
//! acknowledgements and the periodic sync on the delivery thread's.

use super::mlflow_spans::ReadyTrace;
use super::outbox::{Cleared, Outbox};
use super::run_metrics::MetricPoint;
use super::spool::{Label, Recipient, Spool};
use super::wire::{EncodedTrace, Record, TraceEncoder};
use crate::log::{Log, Throttle};
use crate::stats::Counters;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Metric points waiting beyond this are dropped oldest first (a long outage).
const MAX_METRIC_POINTS: usize = 100_000;

struct Boxes {
    traces: Outbox<EncodedTrace>,
    metrics: Outbox<MetricPoint>,
    stopping: bool,
    /// The delivery thread has yet to open the spool: what an earlier process left is unknown,
    /// so "nothing left" cannot be said yet.
    spool_opening: bool,
    disk_problems: Throttle,
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

pub struct Mailbox {
    /// Names the destination in log lines.
    name: &'static str,
    boxes: Mutex<Boxes>,
    changed: Condvar,
    stats: Arc<Counters>,
    encoder: TraceEncoder,
    log: Log,
    /// Memory's share of a spooled outbox: this many items from its front.
    window: usize,
}

/// Items taken for requests, oldest first: more can be taken (`extend`) while earlier ones are
/// out, and the oldest acknowledged (`acknowledge`) as their replies settle them. `settle` says how
/// many of what is left were done with; whatever is not settled (including everything, if the
/// lease is dropped) goes back to the front of its outbox.
pub struct Lease<'a, T: Record> {
    mailbox: &'a Mailbox,
    items: Vec<T>,
    outbox: fn(&mut Boxes) -> &mut Outbox<T>,
    dropped: fn(&Counters) -> &AtomicU64,
}

impl<T: Record> Lease<'_, T> {
    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes up to `max` more items, after those already held; how many.
    pub fn extend(&mut self, max: usize) -> usize {
        let mut boxes = self.mailbox.lock();
        let more = (self.outbox)(&mut boxes).take(max);
        self.mailbox.note_disk(&mut boxes);
        let n = more.len();
        self.items.extend(more);
        n
    }

    /// The oldest `n` items held are done with (delivered, or refused for good).
    pub fn acknowledge(&mut self, n: usize) {
        let n = n.min(self.items.len());
        let mut boxes = self.mailbox.lock();
        (self.outbox)(&mut boxes).acknowledge(n);
        drop(boxes);
        self.items.drain(..n);
        self.mailbox.changed.notify_all();
    }

    /// The first `settled` items are done with; the rest go back.
    pub fn settle(mut self, settled: usize) {
        self.give_back(settled);
    }

    fn give_back(&mut self, settled: usize) {
        let items = std::mem::take(&mut self.items);
        let mut boxes = self.mailbox.lock();
        let dropped = (self.outbox)(&mut boxes).settle(items, settled);
        self.mailbox.note_disk(&mut boxes);
        drop(boxes);
        Counters::add((self.dropped)(&self.mailbox.stats), dropped);
        self.mailbox.changed.notify_all();
    }
}

impl<T: Record> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if !self.items.is_empty() {
            self.give_back(0);
        }
    }
}

fn traces(b: &mut Boxes) -> &mut Outbox<EncodedTrace> {
    &mut b.traces
}

fn metrics(b: &mut Boxes) -> &mut Outbox<MetricPoint> {
    &mut b.metrics
}

fn traces_dropped(c: &Counters) -> &AtomicU64 {
    &c.traces_dropped
}

fn metric_values_dropped(c: &Counters) -> &AtomicU64 {
    &c.metric_values_dropped
}

impl Mailbox {
    /// `max_traces`: `maxBufferedTraces`; beyond it the oldest are dropped and counted (in
    /// memory; the spool has its own limit). `window`: what memory holds of a spooled outbox.
    pub fn new(
        name: &'static str,
        max_traces: usize,
        window: usize,
        encoder: TraceEncoder,
        stats: Arc<Counters>,
        log: Log,
    ) -> Mailbox {
        Mailbox {
            name,
            boxes: Mutex::new(Boxes {
                traces: Outbox::new(max_traces),
                metrics: Outbox::new(MAX_METRIC_POINTS),
                stopping: false,
                spool_opening: false,
                disk_problems: Throttle::new(Duration::from_secs(60)),
            }),
            changed: Condvar::new(),
            stats,
            encoder,
            log,
            window,
        }
    }

    /// Says that `open_spool` will be called (before the delivery thread starts).
    pub fn expect_spool(&self) {
        self.lock().spool_opening = true;
    }

    /// Opens the spool for each outbox (on the delivery thread, before it sends: a large spool
    /// left by an earlier process is scanned here) and moves what waits in memory into it. A
    /// directory that cannot be used leaves that outbox in memory, with one log line.
    pub fn open_spool(&self, plan: &SpoolPlan) {
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
        let mut boxes = self.lock();
        let mut dropped = (0, 0);
        if let Some(spool) = traces {
            dropped.0 = boxes.traces.attach_spool(spool, self.window);
        }
        if let Some(spool) = metrics {
            dropped.1 = boxes.metrics.attach_spool(spool, self.window);
        }
        boxes.spool_opening = false;
        drop(boxes);
        Counters::add(&self.stats.traces_dropped, dropped.0);
        Counters::add(&self.stats.metric_values_dropped, dropped.1);
        self.changed.notify_all();
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
    fn note_disk(&self, boxes: &mut Boxes) {
        let (unreadable_traces, trace_error) = boxes.traces.take_notes();
        let (unreadable_points, metric_error) = boxes.metrics.take_notes();
        Counters::add(&self.stats.spool_unreadable, unreadable_traces + unreadable_points);
        if let Some(e) = trace_error.or(metric_error) {
            Counters::add(&self.stats.spool_write_errors, 1);
            if boxes.disk_problems.due() {
                let name = self.name;
                self.log.warn(|| {
                    format!("MLflow plugin: the {name} spool could not be written ({e}); what waits is kept in memory meanwhile")
                });
            }
        }
    }

    /// Forces spooled appends to disk when due; the next time one will be.
    fn sync_if_due(boxes: &mut Boxes) -> Option<Instant> {
        let now = Instant::now();
        if boxes.traces.sync_due().is_some_and(|t| t <= now) {
            boxes.traces.sync();
        }
        if boxes.metrics.sync_due().is_some_and(|t| t <= now) {
            boxes.metrics.sync();
        }
        boxes.traces.sync_due().into_iter().chain(boxes.metrics.sync_due()).min()
    }

    fn lock(&self) -> MutexGuard<'_, Boxes> {
        self.boxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_until<'a>(&self, boxes: MutexGuard<'a, Boxes>, until: Instant) -> MutexGuard<'a, Boxes> {
        let wait = until.saturating_duration_since(Instant::now());
        self.changed.wait_timeout(boxes, wait).unwrap_or_else(|e| e.into_inner()).0
    }

    // --- the assembler's side ---

    /// Encodes the traces for this destination (outside the lock) and queues them.
    pub fn push_traces<'a>(&self, ready: impl IntoIterator<Item = &'a ReadyTrace>) {
        let encoded: Vec<EncodedTrace> = ready.into_iter().map(|t| self.encoder.encode(t)).collect();
        let n = encoded.len();
        let spooled = self.push(encoded, traces, traces_dropped);
        let name = self.name;
        let kept = if spooled { "spooled" } else { "in memory" };
        self.log.debug(|| format!("MLflow plugin: {n} trace(s) queued for {name} ({kept})"));
    }

    /// Queues traces already encoded (the delivery loop's tests).
    #[cfg(test)]
    pub fn push_encoded(&self, encoded: Vec<EncodedTrace>) {
        self.push(encoded, traces, traces_dropped);
    }

    pub fn push_metrics(&self, points: Vec<MetricPoint>) {
        self.push(points, metrics, metric_values_dropped);
    }

    fn push<T: Record>(
        &self,
        items: Vec<T>,
        outbox: fn(&mut Boxes) -> &mut Outbox<T>,
        dropped: fn(&Counters) -> &AtomicU64,
    ) -> bool {
        let mut boxes = self.lock();
        let n = outbox(&mut boxes).push(items);
        let spooled = outbox(&mut boxes).is_spooled();
        self.note_disk(&mut boxes);
        drop(boxes);
        Counters::add(dropped(&self.stats), n);
        self.changed.notify_all();
        spooled
    }

    // --- the exporter's side ---

    pub fn stop(&self) {
        self.lock().stopping = true;
        self.changed.notify_all();
    }

    /// Waits until nothing is waiting or in flight, at most until `deadline`; returns what is left.
    pub fn wait_empty(&self, deadline: Instant) -> Pending {
        let mut boxes = self.lock();
        loop {
            let opening = usize::from(boxes.spool_opening);
            let left = Pending { traces: boxes.traces.pending() + opening, metric_values: boxes.metrics.pending() };
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            boxes = self.wait_until(boxes, deadline);
        }
    }

    /// Gives up on everything waiting (at the end of shutdown); says what that was of the traces:
    /// lost (memory only), or left in the spool for the next start.
    pub fn abandon(&self) -> Cleared {
        let mut boxes = self.lock();
        boxes.metrics.clear();
        boxes.traces.clear()
    }

    // --- the delivery thread's side ---

    pub fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Traces and metric points not yet delivered.
    pub fn pending(&self) -> usize {
        let boxes = self.lock();
        boxes.traces.pending() + boxes.metrics.pending() + usize::from(boxes.spool_opening)
    }

    pub fn traces_pending(&self) -> usize {
        self.lock().traces.pending()
    }

    /// Traces waiting to be taken for a request (not in flight).
    pub fn traces_waiting(&self) -> usize {
        self.lock().traces.waiting()
    }

    /// Sleeps until a trace or metric point waits, or a stop is asked for. No clock: an idle
    /// destination's thread sleeps until there is work.
    /// (Wakes only to sync the spool, within `SYNC_EVERY` of an append.)
    pub fn wait_for_work(&self) {
        let mut boxes = self.lock();
        while boxes.traces.waiting() == 0 && boxes.metrics.waiting() == 0 && !boxes.stopping {
            boxes = match Self::sync_if_due(&mut boxes) {
                Some(due) => self.wait_until(boxes, due),
                None => self.changed.wait(boxes).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// Leases up to `max` of the traces waiting (possibly none), without waiting.
    pub fn lease_traces(&self, max: usize) -> Lease<'_, EncodedTrace> {
        self.lease(max, traces, traces_dropped)
    }

    /// Leases up to `max` metric points, without waiting.
    pub fn lease_metrics(&self, max: usize) -> Lease<'_, MetricPoint> {
        self.lease(max, metrics, metric_values_dropped)
    }

    fn lease<T: Record>(
        &self,
        max: usize,
        outbox: fn(&mut Boxes) -> &mut Outbox<T>,
        dropped: fn(&Counters) -> &AtomicU64,
    ) -> Lease<'_, T> {
        let mut lease = Lease { mailbox: self, items: Vec::new(), outbox, dropped };
        lease.extend(max);
        lease
    }

    /// Sleeps for `d` unless a stop is asked for first; returns false when stopping.
    pub fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut boxes = self.lock();
        while !boxes.stopping {
            if Instant::now() >= until {
                return true;
            }
            let wake = Self::sync_if_due(&mut boxes).map_or(until, |due| due.min(until));
            boxes = self.wait_until(boxes, wake);
        }
        false
    }
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

/// "64 KiB", "960 MiB", "1 GiB": a size limit as an operator reads it.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
    use openclaw_plugin_api::abi_stable::std_types::RStr;
    use openclaw_plugin_api::{HostHandle, LogLevel};

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
        let mailbox = Mailbox::new("mlflow", 100, 10, encoder, Arc::new(Counters::default()), Log::new(host));
        mailbox.expect_spool();
        mailbox.push_metrics(vec![MetricPoint { key: "tokens".into(), value: 1.0, timestamp_ms: 1, step: 0 }]);
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
