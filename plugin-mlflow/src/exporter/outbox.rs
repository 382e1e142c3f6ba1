//! The bounded buffer of finished traces between the assembler thread and the sender thread.
//! When MLflow is away longer than the buffer holds, the oldest traces are dropped (and counted):
//! recent traces are the ones an operator looks for.

use super::mlflow_spans::ReadyTrace;
use super::run_metrics::MetricPoint;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Metric points waiting beyond this are dropped oldest first (a long outage).
const MAX_METRIC_POINTS: usize = 100_000;

struct State {
    queue: VecDeque<ReadyTrace>,
    metrics: VecDeque<MetricPoint>,
    in_flight: usize,
    flush_requested: bool,
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

    pub fn describe(&self) -> String {
        match (self.traces, self.metric_values) {
            (t, 0) => format!("{t} trace(s)"),
            (0, m) => format!("{m} metric value(s)"),
            (t, m) => format!("{t} trace(s) and {m} metric value(s)"),
        }
    }
}

pub struct Outbox {
    state: Mutex<State>,
    changed: Condvar,
    capacity: usize,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                metrics: VecDeque::new(),
                in_flight: 0,
                flush_requested: false,
                stopping: false,
            }),
            changed: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds traces; returns how many old ones were dropped to make room.
    pub fn push(&self, traces: impl IntoIterator<Item = ReadyTrace>) -> u64 {
        let mut s = self.lock();
        let mut dropped = 0;
        for trace in traces {
            if s.queue.len() >= self.capacity {
                s.queue.pop_front();
                dropped += 1;
            }
            s.queue.push_back(trace);
        }
        self.changed.notify_all();
        dropped
    }

    /// Traces and metric points not yet delivered.
    pub fn len(&self) -> usize {
        let s = self.lock();
        s.queue.len() + s.in_flight + s.metrics.len()
    }

    pub fn push_metrics(&self, points: Vec<MetricPoint>) -> u64 {
        let mut s = self.lock();
        s.metrics.extend(points);
        let mut dropped = 0;
        while s.metrics.len() > MAX_METRIC_POINTS {
            s.metrics.pop_front();
            dropped += 1;
        }
        self.changed.notify_all();
        dropped
    }

    /// Takes up to `max` metric points (they count as in flight until `done` or `put_back_metrics`).
    pub fn take_metrics(&self, max: usize) -> Vec<MetricPoint> {
        let mut s = self.lock();
        let n = s.metrics.len().min(max);
        let taken: Vec<MetricPoint> = s.metrics.drain(..n).collect();
        s.in_flight += taken.len();
        taken
    }

    pub fn put_back_metrics(&self, points: Vec<MetricPoint>) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(points.len());
        for p in points.into_iter().rev() {
            s.metrics.push_front(p);
        }
        self.changed.notify_all();
    }

    /// Waits until a full batch is there, or `until`, or a flush or stop is asked for; then takes
    /// up to `max` traces (possibly none) and marks them in flight.
    pub fn take_batch(&self, max: usize, until: Instant) -> Vec<ReadyTrace> {
        let mut s = self.lock();
        loop {
            let now = Instant::now();
            if s.queue.len() >= max || s.flush_requested || s.stopping || now >= until {
                break;
            }
            s = self.changed.wait_timeout(s, until - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let n = s.queue.len().min(max);
        let batch: Vec<ReadyTrace> = s.queue.drain(..n).collect();
        s.in_flight = batch.len();
        if s.queue.is_empty() {
            s.flush_requested = false;
        }
        batch
    }

    /// The batch in flight was delivered or given up on.
    pub fn done(&self) {
        let mut s = self.lock();
        s.in_flight = 0;
        self.changed.notify_all();
    }

    /// The batch could not be sent now: put it back, in order, ahead of newer traces. Traces
    /// beyond capacity (newer ones arrived meanwhile) drop from the oldest end.
    pub fn put_back(&self, batch: Vec<ReadyTrace>) -> u64 {
        let mut s = self.lock();
        s.in_flight = 0;
        for trace in batch.into_iter().rev() {
            s.queue.push_front(trace);
        }
        let mut dropped = 0;
        while s.queue.len() > self.capacity {
            s.queue.pop_front();
            dropped += 1;
        }
        self.changed.notify_all();
        dropped
    }

    pub fn request_flush(&self) {
        self.lock().flush_requested = true;
        self.changed.notify_all();
    }

    pub fn stop(&self) {
        self.lock().stopping = true;
        self.changed.notify_all();
    }

    pub fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Sleeps for `d` unless a stop is asked for first; returns false when stopping.
    pub fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut s = self.lock();
        while !s.stopping {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            s = self.changed.wait_timeout(s, until - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        false
    }

    /// Waits until nothing is queued or in flight, at most until `deadline`; returns what is left.
    pub fn wait_empty(&self, deadline: Instant) -> Pending {
        let mut s = self.lock();
        loop {
            let now = Instant::now();
            if s.queue.len() + s.in_flight + s.metrics.len() == 0 || now >= deadline {
                // In-flight items are traces or metric points, whichever the sender holds.
                let in_flight_traces = if s.metrics.is_empty() { s.in_flight } else { 0 };
                return Pending { traces: s.queue.len() + in_flight_traces, metric_values: s.metrics.len() };
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Empties the queue (at the end of shutdown), returning how many traces were left unsent.
    pub fn abandon(&self) -> usize {
        let mut s = self.lock();
        let n = s.queue.len();
        s.queue.clear();
        s.metrics.clear();
        n
    }
}
