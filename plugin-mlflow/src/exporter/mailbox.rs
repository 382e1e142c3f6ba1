//! What one destination's delivery thread shares with the rest of the exporter: its outboxes
//! (finished traces; the MLflow run's metric points) and the request to stop, under one lock with
//! one condition variable, so that the thread can sleep until "something to send, or stop" and the
//! exporter until "nothing left".

use super::mlflow_spans::ReadyTrace;
use super::outbox::Outbox;
use super::run_metrics::MetricPoint;
use crate::stats::Counters;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Metric points waiting beyond this are dropped oldest first (a long outage).
const MAX_METRIC_POINTS: usize = 100_000;

struct Boxes {
    traces: Outbox<ReadyTrace>,
    metrics: Outbox<MetricPoint>,
    stopping: bool,
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
    boxes: Mutex<Boxes>,
    changed: Condvar,
    stats: Arc<Counters>,
}

/// Items taken for one request. `settle` says how many were done with; whatever is not settled
/// (including everything, if the lease is dropped) goes back to the front of its outbox.
pub struct Lease<'a, T> {
    mailbox: &'a Mailbox,
    items: Vec<T>,
    outbox: fn(&mut Boxes) -> &mut Outbox<T>,
    dropped: fn(&Counters) -> &AtomicU64,
}

impl<T> Lease<'_, T> {
    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The first `settled` items are done with; the rest go back.
    pub fn settle(mut self, settled: usize) {
        self.give_back(settled);
    }

    fn give_back(&mut self, settled: usize) {
        let items = std::mem::take(&mut self.items);
        let mut boxes = self.mailbox.lock();
        let dropped = (self.outbox)(&mut boxes).settle(items, settled);
        drop(boxes);
        Counters::add((self.dropped)(&self.mailbox.stats), dropped);
        self.mailbox.changed.notify_all();
    }
}

impl<T> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if !self.items.is_empty() {
            self.give_back(0);
        }
    }
}

fn traces(b: &mut Boxes) -> &mut Outbox<ReadyTrace> {
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
    /// `max_traces`: `maxBufferedTraces`; beyond it the oldest are dropped and counted.
    pub fn new(max_traces: usize, stats: Arc<Counters>) -> Mailbox {
        Mailbox {
            boxes: Mutex::new(Boxes {
                traces: Outbox::new(max_traces),
                metrics: Outbox::new(MAX_METRIC_POINTS),
                stopping: false,
            }),
            changed: Condvar::new(),
            stats,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Boxes> {
        self.boxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_until<'a>(&self, boxes: MutexGuard<'a, Boxes>, until: Instant) -> MutexGuard<'a, Boxes> {
        let wait = until.saturating_duration_since(Instant::now());
        self.changed.wait_timeout(boxes, wait).unwrap_or_else(|e| e.into_inner()).0
    }

    // --- the assembler's side ---

    pub fn push_traces(&self, items: Vec<ReadyTrace>) {
        let dropped = self.lock().traces.push(items);
        Counters::add(&self.stats.traces_dropped, dropped);
        self.changed.notify_all();
    }

    pub fn push_metrics(&self, points: Vec<MetricPoint>) {
        let dropped = self.lock().metrics.push(points);
        Counters::add(&self.stats.metric_values_dropped, dropped);
        self.changed.notify_all();
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
            let left = Pending { traces: boxes.traces.pending(), metric_values: boxes.metrics.pending() };
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            boxes = self.wait_until(boxes, deadline);
        }
    }

    /// Gives up on everything waiting (at the end of shutdown); returns how many traces that was.
    pub fn abandon(&self) -> usize {
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
        boxes.traces.pending() + boxes.metrics.pending()
    }

    pub fn traces_pending(&self) -> usize {
        self.lock().traces.pending()
    }

    /// Sleeps until a trace or metric point waits, or a stop is asked for. No clock: an idle
    /// destination's thread sleeps until there is work.
    pub fn wait_for_work(&self) {
        let mut boxes = self.lock();
        while boxes.traces.waiting() == 0 && boxes.metrics.waiting() == 0 && !boxes.stopping {
            boxes = self.changed.wait(boxes).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Leases up to `max` of the traces waiting (possibly none), without waiting.
    pub fn lease_traces(&self, max: usize) -> Lease<'_, ReadyTrace> {
        let items = self.lock().traces.take(max);
        Lease { mailbox: self, items, outbox: traces, dropped: traces_dropped }
    }

    /// Leases up to `max` metric points, without waiting.
    pub fn lease_metrics(&self, max: usize) -> Lease<'_, MetricPoint> {
        let items = self.lock().metrics.take(max);
        Lease { mailbox: self, items, outbox: metrics, dropped: metric_values_dropped }
    }

    /// Sleeps for `d` unless a stop is asked for first; returns false when stopping.
    pub fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut boxes = self.lock();
        while !boxes.stopping {
            if Instant::now() >= until {
                return true;
            }
            boxes = self.wait_until(boxes, until);
        }
        false
    }
}
