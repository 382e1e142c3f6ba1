//! Counters shared by the hooks and the exporter threads (relaxed atomics: they are reports, not
//! synchronisation).

use openclaw_plugin_api::abi_stable::std_types::{RString, RVec, Tuple2};
use openclaw_plugin_api::PluginStats;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Counters {
    /// Events the hooks queued.
    pub events_accepted: AtomicU64,
    /// Events the hooks could not queue (queue full, byte budget spent, or after shutdown).
    pub events_dropped: AtomicU64,
    /// Traces MLflow accepted.
    pub traces_exported: AtomicU64,
    /// Traces MLflow refused, or that could not be sent before shutdown.
    pub traces_failed: AtomicU64,
    /// Traces pushed out of a full buffer while MLflow was unreachable.
    pub traces_dropped: AtomicU64,
    /// Metric values pushed out of a full buffer.
    pub metric_values_dropped: AtomicU64,
    /// Traces sent marked incomplete (their message never ended).
    pub traces_incomplete: AtomicU64,
    /// Events that referred to a message that had already ended.
    pub events_late: AtomicU64,
    /// Export requests that failed and were retried.
    pub export_retries: AtomicU64,
    /// Trace requests posted, and summed over them, how many were out when each was posted (itself
    /// included): trace_requests_out / trace_requests is the concurrency the in-flight limit used.
    pub trace_requests: AtomicU64,
    pub trace_requests_out: AtomicU64,
    /// Traces the generic OTLP endpoint accepted, refused for good, or that sampling left out.
    pub otlp_traces_exported: AtomicU64,
    pub otlp_traces_failed: AtomicU64,
    pub otlp_traces_sampled_out: AtomicU64,
    /// Spans an OTLP backend said it rejected from requests it accepted (`partial_success`).
    pub otlp_spans_rejected: AtomicU64,
    /// Spooled traces an earlier process left, taken over at start.
    pub spool_recovered: AtomicU64,
    /// Spooled records that could not be read back (damaged, or a file gone), skipped.
    pub spool_unreadable: AtomicU64,
    /// Appends the disk refused (full, failing); those items waited in memory instead.
    pub spool_write_errors: AtomicU64,
    /// Panics caught on the plugin's own threads, each of which was restarted (`supervisor`).
    pub thread_panics: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn snapshot(&self) -> PluginStats {
        let extra = [
            ("traces_dropped", &self.traces_dropped),
            ("metric_values_dropped", &self.metric_values_dropped),
            ("traces_incomplete", &self.traces_incomplete),
            ("events_late", &self.events_late),
            ("export_retries", &self.export_retries),
            ("trace_requests", &self.trace_requests),
            ("trace_requests_out", &self.trace_requests_out),
            ("otlp_traces_exported", &self.otlp_traces_exported),
            ("otlp_traces_failed", &self.otlp_traces_failed),
            ("otlp_traces_sampled_out", &self.otlp_traces_sampled_out),
            ("otlp_spans_rejected", &self.otlp_spans_rejected),
            ("spool_recovered", &self.spool_recovered),
            ("spool_unreadable", &self.spool_unreadable),
            ("spool_write_errors", &self.spool_write_errors),
            ("thread_panics", &self.thread_panics),
        ];
        PluginStats {
            accepted: self.events_accepted.load(Relaxed),
            dropped: self.events_dropped.load(Relaxed),
            exported: self.traces_exported.load(Relaxed),
            failed: self.traces_failed.load(Relaxed),
            extra: extra.iter().map(|(k, v)| Tuple2(RString::from(*k), v.load(Relaxed))).collect::<RVec<_>>(),
        }
    }
}
