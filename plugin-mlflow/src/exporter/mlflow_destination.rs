//! MLflow as a destination: resolves the experiment and creates the run that holds this gateway's
//! metrics (`prepare`), sends traces to MLflow's OTLP endpoint and metric values to the run, and
//! says what each reply means (`classify`). The delivery loop (`delivery`) does the rest.

use super::delivery::{Destination, NextStep, Settlement};
use super::mlflow_release::MlflowRelease;
use super::mlflow_rest::{MlflowRest, RestError, WorkspaceState, MAX_TRACES_PER_LINK};
use super::mlflow_spans::mlflow_trace_id;
use super::older_ingest::{adapt_request, TraceInfoPatch};
use super::run_metrics::MetricPoint;
use super::transport::{MlflowScope, Reply, TraceEndpoint, Transport};
use super::wire::EncodedTrace;
use crate::config::{self, ExperimentRef};
use crate::log::{Log, Throttle};
use crate::stats::Counters;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;

/// How often a persisting problem is logged again (once per interval, not once per attempt).
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);
/// MLflow's limit on metric values per `log-batch` request.
const MAX_METRICS_PER_REQUEST: usize = 1000;

/// What MLflow's OTLP endpoint's status code means for a batch of traces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TraceReply {
    Accepted,
    /// The request was refused as a whole: one bad trace refuses all of them.
    Refused,
    /// The experiment named in the request does not exist (any more).
    ExperimentGone,
    /// 401: the credentials are missing or wrong.
    Unauthenticated,
    /// 403: this user may not write traces to the experiment.
    Forbidden,
    /// No answer, or a server-side or transient failure: worth retrying.
    Unavailable,
}

pub fn classify(status: u16) -> TraceReply {
    match status {
        200..=299 => TraceReply::Accepted,
        400 | 413 | 422 => TraceReply::Refused,
        404 => TraceReply::ExperimentGone,
        401 => TraceReply::Unauthenticated,
        403 => TraceReply::Forbidden,
        _ => TraceReply::Unavailable,
    }
}

/// How far the connection to MLflow has got.
enum Session {
    /// Nothing resolved yet, or forgotten after the experiment or run went away.
    Unresolved,
    /// The experiment is known; the run is not created yet.
    Experiment { experiment_id: String },
    /// Ready: traces go to the experiment, linked to the run, which holds the metrics.
    Ready { experiment_id: String, run_id: String },
}

pub struct MlflowDestination {
    experiment: ExperimentRef,
    /// Who the server sees, for the permission messages ("user \"ops\"", "this token").
    principal: String,
    tracking_uri: String,
    flush_interval: Duration,
    batch_size: usize,
    stats: Arc<Counters>,
    log: Log,
    rest: MlflowRest,
    traces: Arc<TraceEndpoint>,
    session: Session,
    /// The server's release, read as the session starts (`None`: not reported, taken as current).
    release: Option<MlflowRelease>,
    /// Names the run: what it holds (`config::Destination::run_label`) and when this plugin started.
    run_label: &'static str,
    /// The OTLP export's `service.name`, when there is one: the run carries it as a tag, the same
    /// as the traces that reach MLflow through a Collector carry it, since the run links none of
    /// them on that route.
    service_name: Option<String>,
    started_ms: u64,
    problems: Throttle,
    /// A refused permission is said once (it lasts until an admin acts), not every interval.
    denial_said: bool,
    delivered_any: bool,
    /// When the experiment was last checked for deletion (see `MlflowRest::ensure_active`).
    experiment_checked: Instant,
}

impl MlflowDestination {
    pub fn new(
        settings: &config::Destination,
        batching: config::Batching,
        tracking_uri: String,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<MlflowDestination, String> {
        let agent = super::transport::agent(settings.request_timeout, &settings.tls)?;
        let scope = MlflowScope::new(settings);
        let traces = Arc::new(TraceEndpoint::mlflow(agent.clone(), &tracking_uri, &scope));
        Ok(MlflowDestination {
            rest: MlflowRest::new(agent, &tracking_uri, scope),
            traces,
            experiment: settings.experiment.clone(),
            principal: settings.auth.principal(),
            tracking_uri,
            flush_interval: batching.flush_interval,
            batch_size: batching.batch_size,
            stats,
            log,
            session: Session::Unresolved,
            release: None,
            run_label: settings.run_label,
            service_name: settings.otlp.as_ref().map(|o| o.service_name.clone()),
            started_ms: super::now_ms(),
            problems: Throttle::new(REPEAT_LOG_EVERY),
            denial_said: false,
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

    /// Logs a REST failure once per interval: credentials at error level, the rest as warnings.
    fn report(&mut self, e: &RestError, line: impl FnOnce(&RestError) -> String) {
        if !self.problems.due() {
            return;
        }
        if matches!(e, RestError::Unauthenticated) {
            self.log.error(|| line(e));
        } else {
            self.log.warn(|| line(e));
        }
    }

    /// Says once, at error level, that MLflow refused this user a permission the plugin needs
    /// (`what`: the call refused); said again only after a session has worked in between.
    fn denied(&mut self, what: &str, experiment_id: &str) {
        if std::mem::replace(&mut self.denial_said, true) {
            return;
        }
        let principal = &self.principal;
        self.log.error(|| {
            format!(
                "MLflow refused {what} (403 permission denied): {principal} needs EDIT permission on experiment {experiment_id}; \
                 traces are kept (spooled) and sent once an MLflow admin grants it"
            )
        });
    }

    /// A configured workspace must exist on the server: otherwise every call would fail, or, on a
    /// server without workspaces, the traces would land outside it.
    fn check_workspace(&mut self) -> Result<(), ()> {
        let Some(name) = self.rest.scope().workspace().map(str::to_string) else { return Ok(()) };
        let problem = match self.rest.workspace(&name) {
            Ok(WorkspaceState::Exists) => return Ok(()),
            Ok(WorkspaceState::Missing) => format!("MLflow has no workspace {name:?}: create it (POST /api/3.0/mlflow/workspaces) or correct `workspace`/MLFLOW_WORKSPACE"),
            Ok(WorkspaceState::Disabled) => format!("MLflow runs without workspaces, so workspace {name:?} cannot be honoured: start it with --enable-workspaces, or remove `workspace`/MLFLOW_WORKSPACE"),
            Ok(WorkspaceState::NotOffered) => format!("this MLflow server has no workspaces (from 3.10), so workspace {name:?} cannot be honoured: upgrade it, or remove `workspace`/MLFLOW_WORKSPACE"),
            Err(e) => format!("MLflow workspace {name:?} not checked yet ({e})"),
        };
        if self.problems.due() {
            self.log.error(|| format!("{problem}; traces are kept (spooled) and retried"));
        }
        Err(())
    }

    /// The next step of the session: the experiment, then the run.
    fn advance(&mut self) -> Result<Session, ()> {
        match std::mem::replace(&mut self.session, Session::Unresolved) {
            Session::Unresolved => {
                self.learn_release();
                self.check_workspace()?;
                match self.rest.resolve_experiment(&self.experiment) {
                    Ok(experiment_id) => {
                        self.log.info(|| format!("MLFlow experiment ID: {experiment_id}"));
                        Ok(Session::Experiment { experiment_id })
                    }
                    Err(e) => {
                        let experiment = self.experiment.clone();
                        self.report(&e, move |e| {
                        format!("MLflow experiment {experiment:?} not resolved yet ({e}); traces are buffered and retried")
                    });
                        Err(())
                    }
                }
            }
            Session::Experiment { experiment_id } => {
                let host = host_name();
                let name = format!("{}@{host} {}", self.run_label, iso8601(self.started_ms));
                let mut tags = vec![
                    ("openclaw.plugin_version", env!("CARGO_PKG_VERSION").to_string()),
                    ("host.name", host),
                    ("mlflow.source.name", "openclaw-mlflow".to_string()),
                ];
                tags.extend(self.service_name.clone().map(|name| ("service.name", name)));
                match self.rest.create_run(&experiment_id, &name, self.started_ms, &tags) {
                    Ok(run_id) => {
                        self.log.info(|| format!("MLflow run {run_id} ({name}) holds this gateway's metrics"));
                        Ok(Session::Ready { experiment_id, run_id })
                    }
                    Err(RestError::Forbidden) => {
                        self.denied("to create the gateway's run", &experiment_id);
                        self.session = Session::Experiment { experiment_id };
                        Err(())
                    }
                    Err(e) => {
                        self.session = Session::Experiment { experiment_id };
                        self.report(&e, |e| format!("MLflow run not created yet ({e}); retrying"));
                        Err(())
                    }
                }
            }
            ready @ Session::Ready { .. } => Ok(ready),
        }
    }

    /// Reads the server's release (again after a reconnect: the server may have been upgraded) and
    /// says once what an older one costs.
    fn learn_release(&mut self) {
        let release = self.rest.release();
        if release != self.release {
            if let Some(r) = release.filter(|r| !r.fills_trace_info()) {
                self.log.info(|| {
                    format!("MLflow server {r}: before 3.14 it does not take a trace's session, user, tags and run link from the spans; they are set over REST, two calls a trace")
                });
            }
        }
        self.release = release;
    }

    /// The release when it is one before 3.14 (the spans alone do not make the whole trace).
    fn older_release(&self) -> Option<MlflowRelease> {
        self.release.filter(|r| !r.fills_trace_info())
    }

    /// For a release before 3.14, once the batch's spans are in: each trace's session, user, token
    /// usage, cost and tags merged into its info, and the traces linked to the run. A trace the
    /// server refuses to change keeps its spans and is logged; no answer or a server error retries
    /// the batch (spans and info again: the info written last makes the counts right).
    fn complete_older_traces(&mut self, batch: &[EncodedTrace]) -> Result<(), RestError> {
        let (Some(release), Session::Ready { run_id, .. }) = (self.older_release(), &self.session) else {
            return Ok(());
        };
        let run_id = run_id.clone();
        let mut linked = Vec::with_capacity(batch.len());
        for patch in batch.iter().flat_map(|trace| TraceInfoPatch::from_request(&trace.body)) {
            let replaced = self.rest.trace_info(&patch.trace_id).and_then(|mut info| {
                patch.apply(&mut info);
                self.rest.replace_trace_info(&info)
            });
            match replaced {
                Ok(()) => linked.push(patch.trace_id),
                Err(RestError::Refused(status @ 400..=499, m)) => self.log.warn(|| {
                    format!("MLflow {release} refused the session, user and tags of trace {} ({status}: {m}); its spans are kept", patch.trace_id)
                }),
                Err(e) => return Err(e),
            }
        }
        for ids in linked.chunks(MAX_TRACES_PER_LINK) {
            self.rest.link_traces_to_run(&run_id, ids)?;
        }
        Ok(())
    }

    /// At most once per flush interval, before sending: restores the experiment if it was deleted
    /// under us (MLflow would go on storing traces in the deleted experiment).
    fn check_experiment(&mut self) {
        self.experiment_checked = Instant::now();
        let Session::Ready { experiment_id, .. } = &self.session else { return };
        let id = experiment_id.clone();
        match self.rest.ensure_active(&id) {
            Ok(true) => self.log.warn(|| format!("MLflow experiment {id} was deleted while in use; restored it")),
            Ok(false) => {}
            Err(RestError::Refused(404, _)) => {
                // Gone for good: resolve by name again (which creates it) before the next batch.
                self.log.warn(|| format!("MLflow experiment {id} no longer exists; resolving the experiment again"));
                self.disconnect();
            }
            Err(e) => self.report(&e, |e| format!("MLflow experiment {id} could not be checked ({e})")),
        }
    }

    /// The endpoint to change (headers, adapter): the requests already out keep the one they were
    /// posted with.
    fn endpoint_mut(&mut self) -> &mut TraceEndpoint {
        Arc::make_mut(&mut self.traces)
    }

    fn delivered(&mut self, batch: &[EncodedTrace]) {
        let n = batch.len() as u64;
        Counters::add(&self.stats.traces_exported, n);
        if !self.delivered_any {
            self.delivered_any = true;
            self.log.info(|| format!("MLflow export working: first {n} trace(s) delivered"));
        }
        if self.log.enabled(openclaw_plugin_api::LogLevel::Debug) {
            for trace in batch {
                self.log.debug(|| format!("Flushed trace {} to MLflow", mlflow_trace_id(trace.trace_id)));
            }
        }
        self.problems.reset();
    }
}

impl Destination for MlflowDestination {
    fn prepare(&mut self) -> bool {
        loop {
            match self.advance() {
                Ok(Session::Ready { experiment_id, run_id }) => {
                    self.endpoint_mut().set_header("x-mlflow-experiment-id", experiment_id.clone());
                    match self.older_release() {
                        None => {
                            self.endpoint_mut().set_header("x-mlflow-run-id", run_id.clone());
                            self.endpoint_mut().set_adapter(None);
                        }
                        Some(release) => {
                            // Ignored before 3.14: the run link is made over REST.
                            self.endpoint_mut().remove_header("x-mlflow-run-id");
                            self.endpoint_mut().set_adapter(Some(Arc::new(move |body| adapt_request(body, release))));
                        }
                    }
                    self.session = Session::Ready { experiment_id, run_id };
                    self.problems.reset();
                    self.denial_said = false;
                    self.log.info(|| {
                        format!("MLflow tracing SDK initialized (OTLP/HTTP to {}/v1/traces)", self.tracking_uri)
                    });
                    return true;
                }
                Ok(step) => self.session = step,
                Err(()) => return false,
            }
        }
    }

    fn disconnect(&mut self) {
        self.session = Session::Unresolved;
    }

    fn check_due(&self) -> bool {
        self.experiment_checked.elapsed() >= self.flush_interval
    }

    fn check(&mut self) {
        self.check_experiment();
    }

    fn not_ready(&self) -> Option<NextStep> {
        (!matches!(self.session, Session::Ready { .. })).then_some(NextStep::Reconnect)
    }

    fn transport(&self) -> Arc<dyn Transport> {
        self.traces.clone()
    }

    fn settles_over_network(&self) -> bool {
        self.older_release().is_some()
    }

    /// A request MLflow refused as a whole (400: one bad trace refuses all) is split in halves (by
    /// the delivery loop) until the bad traces stand alone; those are counted as failed and logged
    /// with MLflow's reason, the rest are delivered.
    fn on_reply(&mut self, batch: &[EncodedTrace], reply: Reply, buffered: usize) -> Settlement {
        match classify(reply.status) {
            TraceReply::Accepted => {
                if let Err(e) = self.complete_older_traces(batch) {
                    self.report(&e, |e| {
                        format!("MLflow took the spans, but not yet the traces' session, user, tags and run link ({e}); retrying")
                    });
                    return Settlement::none(NextStep::Retry(None));
                }
                self.delivered(batch);
                Settlement::all(batch.len())
            }
            TraceReply::Refused if batch.len() > 1 => Settlement::none(NextStep::Split),
            TraceReply::Refused => {
                Counters::add(&self.stats.traces_failed, 1);
                let id = mlflow_trace_id(batch[0].trace_id);
                self.log.warn(|| {
                    format!(
                        "MLflow refused trace {id} ({}): {}; it is dropped, the others are kept",
                        reply.status, reply.body
                    )
                });
                Settlement::all(1)
            }
            TraceReply::ExperimentGone => {
                self.problem(|| format!("MLflow answered 404 for the experiment: {}; resolving it again", reply.body));
                Settlement::none(NextStep::Reconnect)
            }
            TraceReply::Forbidden => {
                let experiment_id = match &self.session {
                    Session::Ready { experiment_id, .. } => experiment_id.clone(),
                    _ => "?".into(),
                };
                self.denied("the trace export", &experiment_id);
                Settlement::none(NextStep::Retry(Some(Duration::from_secs(30))))
            }
            TraceReply::Unauthenticated => {
                if self.problems.due() {
                    self.log.error(|| {
                        format!(
                            "MLflow answered {} to the trace export: check MLFLOW_TRACKING_TOKEN or \
                             MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD; traces are buffered",
                            reply.status
                        )
                    });
                }
                Settlement::none(NextStep::Retry(Some(Duration::from_secs(30))))
            }
            TraceReply::Unavailable => {
                let what = reply.summary();
                self.problem(|| format!("MLflow {what}; {buffered} trace(s) buffered, retrying with backoff"));
                Settlement::none(NextStep::Retry(reply.retry_after))
            }
        }
    }

    /// Logs metric values to the run, one `log-batch` request per call.
    fn send_metrics(&mut self, points: &[MetricPoint]) -> Settlement {
        let Session::Ready { run_id, .. } = &self.session else { return Settlement::none(NextStep::Reconnect) };
        let run_id = run_id.clone();
        match self.rest.log_metrics(&run_id, points) {
            Ok(()) => Settlement::all(points.len()),
            Err(RestError::Refused(404, m)) => {
                self.problem(|| format!("MLflow run {run_id} is gone ({m}); creating it again"));
                Settlement::none(NextStep::Reconnect)
            }
            Err(RestError::Refused(400, m)) => {
                self.log.warn(|| format!("MLflow refused {} metric value(s): {m}; they are dropped", points.len()));
                Settlement::all(points.len())
            }
            Err(e) => {
                self.report(&e, |e| format!("MLflow metrics not logged ({e}); retrying"));
                Settlement::none(NextStep::Retry(None))
            }
        }
    }

    fn metrics_per_request(&self) -> usize {
        self.batch_size.min(MAX_METRICS_PER_REQUEST)
    }

    /// Marks the run FINISHED (at shutdown, once everything is sent).
    fn finish(&mut self) {
        if let Session::Ready { run_id, .. } = std::mem::replace(&mut self.session, Session::Unresolved) {
            match self.rest.end_run(&run_id, super::now_ms()) {
                Ok(()) => self.log.info(|| format!("MLflow run {run_id} ended (FINISHED)")),
                Err(e) => self.log.warn(|| format!("MLflow run {run_id} could not be ended: {e}")),
            }
        }
    }
}

pub(super) fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// `2026-11-25T17:37:46Z` (UTC, RFC 3339) from milliseconds since the epoch, to the second.
fn iso8601(ms: u64) -> String {
    let second = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64);
    second.ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_else(|| format!("{ms}ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_has_one_meaning() {
        for (status, reply) in [
            (200, TraceReply::Accepted),
            (204, TraceReply::Accepted),
            (400, TraceReply::Refused),
            (413, TraceReply::Refused),
            (422, TraceReply::Refused),
            (404, TraceReply::ExperimentGone),
            (401, TraceReply::Unauthenticated),
            (403, TraceReply::Forbidden),
            (0, TraceReply::Unavailable),
            (408, TraceReply::Unavailable),
            (429, TraceReply::Unavailable),
            (500, TraceReply::Unavailable),
            (503, TraceReply::Unavailable),
        ] {
            assert_eq!(classify(status), reply, "status {status}");
        }
    }

    #[test]
    fn run_names_carry_the_start_time_in_utc() {
        assert_eq!(iso8601(1_764_092_266_000), "2025-11-25T17:37:46Z");
    }
}
