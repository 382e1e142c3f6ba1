//! The sender thread: resolves the experiment, then ships batches of traces over OTLP/HTTP and
//! decides what a failure means (see `deliver`). It alone talks to MLflow, so a slow or absent
//! server slows nothing but this thread.

use super::backoff::Backoff;
use super::http_client::{authorization, otlp_http, OtlpTransport};
use super::mlflow_rest::{MlflowRest, RestError};
use super::mlflow_spans::ReadyTrace;
use super::outbox::Outbox;
use crate::config::Config;
use crate::log::{Log, Throttle};
use crate::stats::Counters;
use opentelemetry_sdk::trace::SpanExporter as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a persisting problem is logged again (once per interval, not once per attempt).
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

pub struct Sender {
    config: Config,
    tracking_uri: String,
    outbox: Arc<Outbox>,
    stats: Arc<Counters>,
    log: Log,
    rest: MlflowRest,
    transport: Arc<OtlpTransport>,
    experiment_id: Option<String>,
    /// The run of this plugin start: holds the metrics, and the traces are linked to it.
    run_id: Option<String>,
    started_ms: u64,
    exporter: Option<opentelemetry_otlp::SpanExporter>,
    backoff: Backoff,
    problems: Throttle,
    delivered_any: bool,
    /// When the experiment was last checked for deletion (see `MlflowRest::ensure_active`).
    experiment_checked: Instant,
}

enum Verdict {
    Delivered,
    /// Put the batch back and try again after a pause (server asked for one, or a default).
    Retry(Option<Duration>),
    /// The experiment is gone: resolve it again, then resend.
    Reresolve,
}

impl Sender {
    pub fn new(
        config: Config,
        tracking_uri: String,
        outbox: Arc<Outbox>,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<Sender, String> {
        let agent = super::http_client::agent(config.request_timeout, &config.tls)?;
        let auth = authorization(&config.auth);
        Ok(Sender {
            rest: MlflowRest::new(agent.clone(), &tracking_uri, auth),
            tracking_uri,
            transport: Arc::new(OtlpTransport::new(agent)),
            config,
            outbox,
            stats,
            log,
            experiment_id: None,
            run_id: None,
            started_ms: super::now_ms(),
            exporter: None,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(30)),
            problems: Throttle::new(REPEAT_LOG_EVERY),
            delivered_any: false,
            experiment_checked: Instant::now(),
        })
    }

    /// Logs a persisting problem at most once per interval.
    fn problem(&mut self, line: impl FnOnce() -> String) {
        if self.problems.due() {
            self.log.warn(line);
        }
    }

    /// Makes the sender ready: the experiment resolved, the run created, the exporter built.
    fn resolve(&mut self) -> bool {
        let resolved =
            self.experiment_id.clone().map(Ok).unwrap_or_else(|| self.rest.resolve_experiment(&self.config.experiment));
        let experiment_id = match resolved {
            Ok(id) => {
                if self.experiment_id.is_none() {
                    self.log.info(|| format!("MLFlow experiment ID: {id}"));
                    self.experiment_id = Some(id.clone());
                }
                id
            }
            Err(e) => {
                let experiment = self.config.experiment.clone();
                self.report(&e, move |e| {
                    format!("MLflow experiment {experiment:?} not resolved yet ({e}); traces are buffered and retried")
                });
                return false;
            }
        };
        if self.run_id.is_none() {
            let host = host_name();
            let name = format!("openclaw-gateway@{host} {}", iso8601(self.started_ms));
            let tags = [
                ("openclaw.plugin_version", env!("CARGO_PKG_VERSION").to_string()),
                ("host.name", host),
                ("mlflow.source.name", "openclaw-mlflow".to_string()),
            ];
            match self.rest.create_run(&experiment_id, &name, self.started_ms, &tags) {
                Ok(run_id) => {
                    self.log.info(|| format!("MLflow run {run_id} ({name}) holds this gateway's metrics"));
                    self.run_id = Some(run_id);
                }
                Err(e) => {
                    self.report(&e, |e| format!("MLflow run not created yet ({e}); retrying"));
                    return false;
                }
            }
        }
        match self.build_exporter(&experiment_id) {
            Ok(exporter) => {
                self.exporter = Some(exporter);
                self.problems.reset();
                self.backoff.reset();
                self.log
                    .info(|| format!("MLflow tracing SDK initialized (OTLP/HTTP to {}/v1/traces)", self.tracking_uri));
                true
            }
            Err(e) => {
                self.problem(|| format!("MLflow OTLP exporter could not be built: {e}"));
                false
            }
        }
    }

    /// Logs a REST failure once per interval: credentials at error level, the rest as warnings.
    fn report(&mut self, e: &RestError, line: impl FnOnce(&RestError) -> String) {
        if !self.problems.due() {
            return;
        }
        if matches!(e, RestError::Unauthorized(_)) {
            self.log.error(|| line(e));
        } else {
            self.log.warn(|| line(e));
        }
    }

    fn build_exporter(&self, experiment_id: &str) -> Result<opentelemetry_otlp::SpanExporter, String> {
        let mut headers = HashMap::from([("x-mlflow-experiment-id".to_string(), experiment_id.to_string())]);
        if let Some(run_id) = &self.run_id {
            headers.insert("x-mlflow-run-id".into(), run_id.clone());
        }
        if let Some(auth) = authorization(&self.config.auth) {
            headers.insert("authorization".into(), auth);
        }
        let builder = opentelemetry_otlp::SpanExporter::builder().with_http();
        let endpoint = format!("{}/v1/traces", self.tracking_uri);
        let mut exporter = otlp_http(builder, self.transport.clone(), endpoint, self.config.request_timeout, headers)
            .build()
            .map_err(|e| e.to_string())?;
        exporter.set_resource(&super::resource("openclaw-gateway"));
        Ok(exporter)
    }

    /// The thread's body: runs until the outbox is stopped and drained (or given up on).
    pub fn run(mut self) {
        let mut next_flush = Instant::now() + self.config.flush_interval;
        let mut retrying = false;
        loop {
            if self.outbox.stopping() && self.outbox.len() == 0 {
                self.end_run();
                return;
            }
            if self.exporter.is_none() && !self.resolve() {
                let wait = self.backoff.next(None);
                if !self.outbox.pause(wait) && self.outbox.len() == 0 {
                    return;
                }
                if self.outbox.stopping() {
                    // Stopping and still unresolved: keep trying until shutdown gives up on us.
                    std::thread::sleep(wait.min(Duration::from_millis(200)));
                }
                continue;
            }
            let until = if retrying { Instant::now() } else { next_flush };
            let batch = self.outbox.take_batch(self.config.batch_size, until);
            if Instant::now() >= next_flush {
                next_flush = Instant::now() + self.config.flush_interval;
            }
            if !batch.is_empty() && self.experiment_checked.elapsed() >= self.config.flush_interval {
                self.check_experiment();
            }
            let (settled, mut verdict) = if batch.is_empty() { (0, Verdict::Delivered) } else { self.deliver(&batch) };
            if matches!(verdict, Verdict::Delivered) {
                if !batch.is_empty() {
                    self.outbox.done();
                }
                verdict = self.deliver_metrics();
            }
            let mut batch = batch;
            let unsent = batch.split_off(settled);
            match verdict {
                Verdict::Delivered => {
                    self.backoff.reset();
                    retrying = false;
                }
                Verdict::Retry(asked) => {
                    self.requeue(unsent);
                    Counters::add(&self.stats.export_retries, 1);
                    retrying = true;
                    let wait = self.backoff.next(asked);
                    if !self.outbox.pause(wait) {
                        std::thread::sleep(wait.min(Duration::from_millis(200)));
                    }
                }
                Verdict::Reresolve => {
                    self.requeue(unsent);
                    self.experiment_id = None;
                    self.run_id = None;
                    self.exporter = None;
                    retrying = true;
                }
            }
        }
    }

    /// At most once per flush interval, before sending: restores the experiment if it was deleted
    /// under us (MLflow would go on storing traces in the deleted experiment).
    fn check_experiment(&mut self) {
        self.experiment_checked = Instant::now();
        let Some(id) = self.experiment_id.clone() else { return };
        match self.rest.ensure_active(&id) {
            Ok(true) => self.log.warn(|| format!("MLflow experiment {id} was deleted while in use; restored it")),
            Ok(false) => {}
            Err(RestError::Refused(404, _)) => {
                // Gone for good: resolve by name again (which creates it) before the next batch.
                self.log.warn(|| format!("MLflow experiment {id} no longer exists; resolving the experiment again"));
                self.experiment_id = None;
                self.run_id = None;
                self.exporter = None;
            }
            Err(e) => self.report(&e, |e| format!("MLflow experiment {id} could not be checked ({e})")),
        }
    }

    /// Logs the metric points waiting, in requests of at most `batchSize` (and MLflow's 1000).
    fn deliver_metrics(&mut self) -> Verdict {
        let Some(run_id) = self.run_id.clone() else { return Verdict::Reresolve };
        let chunk = self.config.batch_size.min(1000);
        loop {
            let points = self.outbox.take_metrics(chunk);
            if points.is_empty() {
                return Verdict::Delivered;
            }
            match self.rest.log_metrics(&run_id, &points) {
                Ok(()) => self.outbox.done(),
                Err(RestError::Refused(404, m)) => {
                    self.outbox.put_back_metrics(points);
                    self.problem(|| format!("MLflow run {run_id} is gone ({m}); creating it again"));
                    return Verdict::Reresolve;
                }
                Err(RestError::Refused(400, m)) => {
                    self.outbox.done();
                    self.log.warn(|| format!("MLflow refused {} metric value(s): {m}; they are dropped", points.len()));
                }
                Err(e) => {
                    self.outbox.put_back_metrics(points);
                    let buffered = self.outbox.len();
                    self.report(&e, |e| {
                        format!("MLflow metrics not logged ({e}); {buffered} item(s) buffered, retrying")
                    });
                    return Verdict::Retry(None);
                }
            }
        }
    }

    /// Marks the run FINISHED (at shutdown, once everything is sent).
    fn end_run(&mut self) {
        if let Some(run_id) = self.run_id.take() {
            match self.rest.end_run(&run_id, super::now_ms()) {
                Ok(()) => self.log.info(|| format!("MLflow run {run_id} ended (FINISHED)")),
                Err(e) => self.log.warn(|| format!("MLflow run {run_id} could not be ended: {e}")),
            }
        }
    }

    fn requeue(&self, batch: Vec<ReadyTrace>) {
        let dropped = self.outbox.put_back(batch);
        if dropped > 0 {
            Counters::add(&self.stats.traces_dropped, dropped);
        }
    }

    /// Sends `batch` in one request. A request MLflow refuses as a whole (400: one bad trace
    /// rejects all) is split in halves until the bad traces stand alone; those are counted as
    /// failed and logged with MLflow's reason, the rest are delivered.
    ///
    /// Returns how many traces from the front are settled (delivered, or refused for good) and
    /// what to do with the rest; with `Delivered` the whole batch is settled.
    fn deliver(&mut self, batch: &[ReadyTrace]) -> (usize, Verdict) {
        let Some(exporter) = &self.exporter else { return (0, Verdict::Reresolve) };
        let spans = batch.iter().flat_map(|t| t.spans.iter().cloned()).collect();
        let result = futures_executor::block_on(exporter.export(spans));
        let last = self.transport.take_last();
        match result {
            Ok(()) => {
                let n = batch.len() as u64;
                Counters::add(&self.stats.traces_exported, n);
                if !self.delivered_any {
                    self.delivered_any = true;
                    self.log.info(|| format!("MLflow export working: first {n} trace(s) delivered"));
                }
                if self.log.enabled(openclaw_plugin_api::LogLevel::Debug) {
                    for trace in batch {
                        self.log.debug(|| format!("Flushed trace {} to MLflow", trace.mlflow_id()));
                    }
                }
                self.problems.reset();
                (batch.len(), Verdict::Delivered)
            }
            Err(e) => match last.status {
                400 | 413 | 422 if batch.len() > 1 => {
                    let (a, b) = batch.split_at(batch.len() / 2);
                    match self.deliver(a) {
                        (_, Verdict::Delivered) => {
                            let (settled, verdict) = self.deliver(b);
                            (a.len() + settled, verdict)
                        }
                        stopped => stopped,
                    }
                }
                400 | 413 | 422 => {
                    Counters::add(&self.stats.traces_failed, 1);
                    let id = batch[0].mlflow_id();
                    self.log.warn(|| {
                        format!(
                            "MLflow refused trace {id} ({}): {}; it is dropped, the others are kept",
                            last.status, last.body
                        )
                    });
                    (1, Verdict::Delivered)
                }
                404 => {
                    self.problem(|| {
                        format!("MLflow answered 404 for the experiment: {}; resolving it again", last.body)
                    });
                    (0, Verdict::Reresolve)
                }
                401 | 403 => {
                    if self.problems.due() {
                        self.log.error(|| {
                            format!(
                                "MLflow answered {} to the trace export: check MLFLOW_TRACKING_TOKEN or \
                                 MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD; traces are buffered",
                                last.status
                            )
                        });
                    }
                    (0, Verdict::Retry(Some(Duration::from_secs(30))))
                }
                status => {
                    let what = match status {
                        0 if last.body.is_empty() => format!("unreachable ({e})"),
                        0 => format!("unreachable ({})", last.body),
                        _ => format!("answered {status}"),
                    };
                    let buffered = self.outbox.len();
                    self.problem(|| format!("MLflow {what}; {buffered} trace(s) buffered, retrying with backoff"));
                    (0, Verdict::Retry(last.retry_after))
                }
            },
        }
    }
}

pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// `2026-11-25T17:37:46Z` (UTC) from milliseconds since the epoch.
fn iso8601(ms: u64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_else(|| format!("{ms}ms"))
}
