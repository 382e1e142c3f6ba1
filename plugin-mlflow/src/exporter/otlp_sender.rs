//! The generic OTLP destination: the same traces, sampled, to any OTLP/HTTP backend (an
//! OpenTelemetry Collector, Jaeger, Tempo, Honeycomb, or MLflow's own endpoint). Plain retry
//! policy: a refused request (4xx other than 408/429) is dropped and counted, anything else is
//! retried with backoff while the buffer holds.

use super::backoff::Backoff;
use super::http_client::{otlp_http, OtlpTransport};
use super::mlflow_spans::ReadyTrace;
use super::outbox::Outbox;
use crate::config::OtlpConfig;
use crate::log::{Log, Throttle};
use crate::stats::Counters;
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::SpanExporter as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Root-based sampling: a message's whole trace is kept or dropped together, decided from its trace
/// id the way OpenTelemetry's TraceIdRatioBased sampler does (so the same id gets the same answer).
pub fn sampled(trace_id: TraceId, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let bytes = trace_id.to_bytes();
    let low = u64::from_be_bytes(bytes[8..16].try_into().expect("16-byte trace id"));
    let threshold = (rate.max(0.0) * (1u64 << 63) as f64) as u64;
    (low >> 1) < threshold
}

pub struct OtlpSender {
    config: OtlpConfig,
    batch_size: usize,
    flush_interval: Duration,
    outbox: Arc<Outbox>,
    stats: Arc<Counters>,
    log: Log,
    transport: Arc<OtlpTransport>,
    exporter: opentelemetry_otlp::SpanExporter,
    backoff: Backoff,
    problems: Throttle,
}

impl OtlpSender {
    /// `settings` gives the batching, timeout and TLS shared with the MLflow export.
    pub fn new(
        settings: &crate::config::Config,
        config: OtlpConfig,
        outbox: Arc<Outbox>,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<OtlpSender, String> {
        let (batch_size, flush_interval, request_timeout, tls) =
            (settings.batch_size, settings.flush_interval, settings.request_timeout, &settings.tls);
        let transport = Arc::new(OtlpTransport::new(super::http_client::agent(request_timeout, tls)?));
        let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
        let builder = opentelemetry_otlp::SpanExporter::builder().with_http();
        let mut exporter =
            otlp_http(builder, transport.clone(), config.traces_endpoint.clone(), request_timeout, headers)
                .build()
                .map_err(|e| format!("mlflow config `otlp`: the OTLP trace exporter could not be built: {e}"))?;
        exporter.set_resource(&super::resource(&config.service_name));
        Ok(OtlpSender {
            config,
            batch_size,
            flush_interval,
            outbox,
            stats,
            log,
            transport,
            exporter,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(30)),
            problems: Throttle::new(Duration::from_secs(60)),
        })
    }

    pub fn run(mut self) {
        self.log.info(|| {
            format!(
                "OTLP export of traces to {} (sample rate {})",
                self.config.traces_endpoint, self.config.sample_rate
            )
        });
        let mut next_flush = Instant::now() + self.flush_interval;
        let mut retrying = false;
        loop {
            if self.outbox.stopping() && self.outbox.len() == 0 {
                return;
            }
            let batch = self.outbox.take_batch(self.batch_size, if retrying { Instant::now() } else { next_flush });
            if Instant::now() >= next_flush {
                next_flush = Instant::now() + self.flush_interval;
            }
            if batch.is_empty() {
                continue;
            }
            match self.deliver(&batch) {
                None => {
                    self.outbox.done();
                    self.backoff.reset();
                    self.problems.reset();
                    retrying = false;
                }
                Some(asked) => {
                    let dropped = self.outbox.put_back(batch);
                    Counters::add(&self.stats.traces_dropped, dropped);
                    retrying = true;
                    let wait = self.backoff.next(asked);
                    if !self.outbox.pause(wait) {
                        std::thread::sleep(wait.min(Duration::from_millis(200)));
                    }
                }
            }
        }
    }

    /// `None` when the batch is settled (delivered, or refused for good); else retry after the
    /// wait the server asked for, if any.
    fn deliver(&mut self, batch: &[ReadyTrace]) -> Option<Option<Duration>> {
        let spans = batch.iter().flat_map(|t| t.spans.iter().cloned()).collect();
        let result = futures_executor::block_on(self.exporter.export(spans));
        let last = self.transport.take_last();
        let n = batch.len() as u64;
        match (result, last.status) {
            (Ok(()), _) => {
                Counters::add(&self.stats.otlp_traces_exported, n);
                None
            }
            (Err(_), status @ 400..=499) if status != 408 && status != 429 => {
                Counters::add(&self.stats.otlp_traces_failed, n);
                self.log
                    .warn(|| format!("OTLP endpoint refused {n} trace(s) ({status}): {}; they are dropped", last.body));
                None
            }
            (Err(e), status) => {
                let what = if status == 0 {
                    format!("unreachable ({})", if last.body.is_empty() { e.to_string() } else { last.body })
                } else {
                    format!("answered {status}")
                };
                let buffered = self.outbox.len();
                if self.problems.due() {
                    self.log
                        .warn(|| format!("OTLP endpoint {what}; {buffered} trace(s) buffered, retrying with backoff"));
                }
                Counters::add(&self.stats.export_retries, 1);
                Some(last.retry_after)
            }
        }
    }
}
