//! The metrics of the MLflow run: what the traces of one flush window add up to.
//!
//! Meaning of a logged value (decided once, documented in the README): each window of
//! `flushIntervalMs` that finished at least one trace logs one value per key, with `step` = the
//! window's number (0, 1, ...) and `timestamp` = the window's end. Token, cost, request and outcome
//! values are the window's sums, so a key's history summed over the run equals the trace totals, and
//! MLflow's chart of a key is its rate over time. Latencies are the window's mean, in milliseconds.

use super::assembler::{ChildKind, FinishedTrace};
use crate::pricing::round_usd;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub key: String,
    pub value: f64,
    pub timestamp_ms: u64,
    pub step: u64,
}

/// Which families of metrics are wanted (`trackTokenUsage`, `trackCosts`, `trackLatency`).
#[derive(Clone, Copy, Debug)]
pub struct MetricToggles {
    pub tokens: bool,
    pub costs: bool,
    pub latency: bool,
}

#[derive(Default)]
struct Mean {
    sum: f64,
    count: u64,
}

pub struct MetricsWindow {
    toggles: MetricToggles,
    sums: BTreeMap<String, f64>,
    model_ms: Mean,
    message_ms: Mean,
    step: u64,
    traces: u64,
}

/// MLflow metric keys allow letters, digits, `_ - . / ` and space; anything else becomes `_`.
pub fn metric_key_part(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "_-./ ".contains(c) { c } else { '_' }).collect()
}

impl MetricsWindow {
    pub fn new(toggles: MetricToggles) -> MetricsWindow {
        MetricsWindow {
            toggles,
            sums: BTreeMap::new(),
            model_ms: Mean::default(),
            message_ms: Mean::default(),
            step: 0,
            traces: 0,
        }
    }

    fn add_to(&mut self, key: impl Into<String>, value: f64) {
        *self.sums.entry(key.into()).or_insert(0.0) += value;
    }

    /// Counts one finished trace (its model calls must be priced already).
    pub fn add(&mut self, trace: &FinishedTrace) {
        let run = &trace.run;
        self.traces += 1;
        // A message in several traces counts once, with its last part (which spans all of it).
        if trace.continued_in.is_none() {
            let outcome = trace.outcome_label();
            self.add_to(format!("message.outcome.{outcome}"), 1.0);
            if self.toggles.latency {
                let end = run.end_ms.unwrap_or(run.last_event_ms);
                self.message_ms.sum += end.saturating_sub(run.start_ms) as f64;
                self.message_ms.count += 1;
            }
        }
        for child in &run.children {
            let ChildKind::Model { model, usage, cost, .. } = &child.kind else { continue };
            self.add_to(format!("model.{}.requests", metric_key_part(model)), 1.0);
            if self.toggles.latency {
                if let Some(end) = child.end_ms {
                    self.model_ms.sum += end.saturating_sub(child.start_ms) as f64;
                    self.model_ms.count += 1;
                }
            }
            if let (true, Some(u)) = (self.toggles.tokens, usage) {
                for (key, n) in [
                    ("tokens.input", u.input),
                    ("tokens.output", u.output),
                    ("tokens.total", u.total()),
                    ("tokens.cache_read", u.cache_read),
                    ("tokens.cache_write", u.cache_write),
                ] {
                    self.add_to(key, n as f64);
                }
            }
            if let (true, Some(c)) = (self.toggles.costs, cost) {
                self.add_to("cost.usd", c.total);
            }
        }
    }

    /// True while the window has seen no trace (closing it would log nothing).
    pub fn is_empty(&self) -> bool {
        self.traces == 0
    }

    /// Ends the window at `now_ms`: its points, or none when it saw no trace.
    pub fn close(&mut self, now_ms: u64) -> Vec<MetricPoint> {
        if self.traces == 0 {
            return Vec::new();
        }
        let step = self.step;
        let point = |key: String, value: f64| MetricPoint { key, value, timestamp_ms: now_ms, step };
        // Sums of costs are rounded once, here (summing rounded values would bring the noise back).
        let mut points: Vec<MetricPoint> = std::mem::take(&mut self.sums)
            .into_iter()
            .map(|(k, v)| if k.starts_with("cost.") { point(k, round_usd(v)) } else { point(k, v) })
            .collect();
        for (key, mean) in [("latency.model_ms", &mut self.model_ms), ("latency.message_ms", &mut self.message_ms)] {
            if mean.count > 0 {
                points.push(point(key.to_string(), mean.sum / mean.count as f64));
            }
            *mean = Mean::default();
        }
        self.traces = 0;
        self.step += 1;
        points
    }
}
