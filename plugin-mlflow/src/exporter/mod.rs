//! The exporter: background threads behind the hooks' queue, in the order an event flows.
//!
//! 1. `assembler_thread`: takes events off the queue; `assembler` builds whole traces (pricing a
//!    model call when it closes); `run_metrics` and `otlp_metrics` count them; `mlflow_spans`
//!    turns them into spans; `sampling` picks the OTLP endpoint's share; each destination's
//!    postbox (`mailbox`) takes them encoded for its wire (`wire`).
//! 2. `delivery`: one thread per destination owns its mailbox: the `outbox`es, which keep what
//!    waits in the `spool` on disk (or in memory, with `spool: false`), and the requests out. It
//!    ships batches, several requests at once within `in_flight`'s adaptive limit, retrying with
//!    `backoff`, and answers flushes and stops.
//!    The destinations speak their protocol and classify replies: `mlflow_destination` (experiment,
//!    run, traces, run metrics; `mlflow_rest`; for a server before 3.14 (`mlflow_release`) what
//!    `older_ingest` adds) and `otlp_destination` (any OTLP/HTTP backend).
//!    Both post over `transport`.
//!
//! Contract with the host (through `flush` and `shutdown`): both return by their deadline whatever
//! the backends and the disk do, and say what they could not send.

pub mod assembler;
mod assembler_thread;
mod backoff;
mod chat;
mod delivery;
mod genai_content;
mod in_flight;
mod mailbox;
mod mlflow_destination;
pub mod mlflow_release;
pub mod mlflow_rest;
pub mod mlflow_spans;
mod older_ingest;
mod otlp_destination;
mod otlp_metrics;
mod outbox;
mod request_workers;
pub mod run_metrics;
mod sampling;
pub(crate) mod spool;
mod supervisor;
pub mod trace_ids;
pub(crate) mod transport;
mod wire;

use crate::config::Config;
use crate::doorbell::{Doorbell, RingOnDrop};
use crate::event_queue::QueuedEvents;
use crate::log::{Log, Throttle};
use crate::redact::Redactor;
use crate::stats::Counters;
use assembler::Assembler;
use assembler_thread::{AssemblerThread, Control, SampledPostbox};
use crossbeam_channel::Receiver;
use delivery::{DeliveryLoop, Destination};
use mailbox::{Pending, Postbox, SpoolPlan};
use mlflow_spans::SpanOptions;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use otlp_metrics::OtlpMetrics;
use run_metrics::{MetricToggles, MetricsWindow};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trace_ids::TraceIds;

/// At most this many messages are assembled at once; beyond it the oldest is sent incomplete.
const MAX_OPEN_RUNS: usize = 100_000;

/// At most this much of a shutdown's budget is kept for the delivery threads to close their spool
/// and answer (a tenth of the budget when that is less).
const CLOSING_TIME: Duration = Duration::from_millis(250);

/// The service MLflow's traces are from.
const MLFLOW_SERVICE: &str = "openclaw-gateway";

/// The resource of every export: the service, this plugin, the host.
pub(crate) fn resource(service_name: &str) -> Resource {
    Resource::builder_empty()
        .with_attribute(opentelemetry::KeyValue::new("service.name", service_name.to_string()))
        .with_attribute(opentelemetry::KeyValue::new("telemetry.sdk.name", "openclaw-mlflow"))
        .with_attribute(opentelemetry::KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(opentelemetry::KeyValue::new("host.name", mlflow_destination::host_name()))
        .build()
}

pub(crate) use openclaw_plugin_api::now_ms;

/// Where traces go, as `TraceIds` scopes them: the same turn to the same MLflow experiment (in the
/// same workspace, and the same OTLP endpoint) is the same trace; to another, another.
pub(crate) fn id_scope(config: &Config) -> String {
    let to = &config.destination;
    let otlp = to.otlp.as_ref().map(|o| o.traces_endpoint.as_str()).unwrap_or("");
    let scope = format!("{}|{:?}|{otlp}", to.tracking_uri.as_deref().unwrap_or(""), to.experiment);
    // MLflow's trace ids are unique across workspaces: the same turn in two is two traces. Without a
    // workspace the scope is what it was before workspaces, so ids already sent stay the same.
    match &to.workspace {
        Some(workspace) => format!("{scope}|workspace={workspace}"),
        None => scope,
    }
}

/// A destination's delivery thread, as the others reach it: its postbox.
struct DeliveryThread {
    postbox: Arc<Postbox>,
    /// Disconnects when the thread has finished.
    done: Receiver<()>,
}

/// Where a destination's spool goes: `<spoolDir>/<name>-traces` (and `-metrics` for the MLflow
/// run's values), sharing `maxSpoolBytes`: metric values a sixteenth, the trace streams the rest.
fn spool_plan(config: &Config, name: &str, trace_streams: u64, has_metrics: bool) -> Option<SpoolPlan> {
    let dir = config.durability.spool_dir.as_ref()?;
    let max = config.durability.max_spool_bytes;
    let metrics_share = max / 16;
    Some(SpoolPlan {
        traces: (dir.join(format!("{name}-traces")), (max - metrics_share) / trace_streams.max(1)),
        metrics: has_metrics.then(|| (dir.join(format!("{name}-metrics")), metrics_share)),
        recipient: spool_recipient(config),
    })
}

/// Whom this configuration's spooled records are for: its experiment and workspace (trace ids are
/// derived for them, `id_scope`), and the address shown beside them.
pub(crate) fn spool_recipient(config: &Config) -> spool::Recipient {
    let to = &config.destination;
    let address = match (&to.tracking_uri, &to.otlp) {
        (Some(uri), _) => crate::config::printable_url(uri),
        (None, Some(otlp)) => crate::config::printable_url(&otlp.traces_endpoint),
        (None, None) => String::new(),
    };
    spool::Recipient { experiment: to.experiment.clone(), workspace: to.workspace.clone(), address }
}

/// Runs `thread` (its name: `{name}-delivery`) until its mailbox is stopped. The thread owns the
/// mailbox and opens the spool first (`plan`): every disk operation is on it.
fn spawn_delivery<D: Destination>(
    name: &'static str,
    config: &Config,
    destination: D,
    service_name: &str,
    plan: Option<SpoolPlan>,
    stats: &Arc<Counters>,
    log: Log,
) -> Result<DeliveryThread, String> {
    // Memory's share of a spooled queue: the rounds the delivery window holds and one waiting, so
    // that a busy destination's traces are sent from memory as they were appended.
    let round = delivery::round_size(config.batching.batch_size, config.batching.max_in_flight);
    let window = (round * (delivery::ROUNDS_HELD + 1)).max(64);
    let encoder = wire::TraceEncoder::new(&resource(service_name));
    let l = &config.limits;
    let (postbox, mailbox) =
        mailbox::mailbox(name, l.max_buffered_traces, l.max_queue_bytes, window, encoder, stats.clone(), log);
    let delivery = DeliveryLoop {
        destination,
        mailbox,
        stats: stats.clone(),
        batch_size: config.batching.batch_size,
        in_flight: in_flight::InFlightLimit::new(config.batching.max_in_flight, config.destination.request_timeout),
        workers: request_workers::RequestWorkers::start(name, config.batching.max_in_flight),
    };
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    let stats_for_thread = stats.clone();
    std::thread::Builder::new()
        .name(format!("{name}-delivery"))
        .spawn(move || {
            let mut delivery = delivery;
            if let Some(plan) = plan {
                delivery.mailbox.open_spool(&plan);
            }
            supervisor::supervised(&format!("{name} delivery"), &stats_for_thread, &log, || delivery.run());
            drop(done_tx);
        })
        .map_err(|e| format!("could not start the {name} delivery thread: {e}"))?;
    Ok(DeliveryThread { postbox: Arc::new(postbox), done })
}

pub struct Exporter {
    control: crossbeam_channel::Sender<Control>,
    deliveries: Vec<DeliveryThread>,
    /// Disconnects when the assembler thread has finished.
    assembler_done: Receiver<()>,
    /// Wakes the assembler for a control message. Last: it rings after `control` is dropped.
    doorbell: RingOnDrop,
}

impl Exporter {
    pub fn start(
        config: Config,
        events: QueuedEvents,
        doorbell: Arc<Doorbell>,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<Exporter, String> {
        let (to, signals) = (&config.destination, &config.signals);
        if to.tls.insecure_skip_verify {
            log.warn(|| {
                "MLflow plugin: insecureSkipVerify is true: TLS certificates are NOT verified; anyone on the path \
                 can read and alter the telemetry and credentials. Use only for a lab server."
                    .into()
            });
        }
        let toggles = MetricToggles { tokens: signals.token_usage, costs: signals.costs, latency: signals.latency };
        let otlp_traces = to.otlp.as_ref().is_some_and(|o| o.traces);
        let trace_streams = u64::from(to.tracking_uri.is_some() && signals.traces) + u64::from(otlp_traces);
        if config.durability.spool_dir.is_none() {
            log.info(|| {
                "MLflow plugin: no spool (spool: false, or no state directory); what waits is kept in memory".into()
            });
        }
        let mut deliveries = Vec::new();
        let mut mlflow = None;
        if let Some(uri) = to.tracking_uri.clone() {
            let destination = mlflow_destination::MlflowDestination::new(to, config.batching, uri, stats.clone(), log)?;
            let plan = spool_plan(&config, "mlflow", trace_streams, true);
            let thread = spawn_delivery("mlflow", &config, destination, MLFLOW_SERVICE, plan, &stats, log)?;
            mlflow = Some(thread.postbox.clone());
            deliveries.push(thread);
        }
        let mut otlp = None;
        let mut otlp_metrics = None;
        if let Some(otlp_config) = &to.otlp {
            if otlp_traces {
                let destination = otlp_destination::OtlpDestination::new(to, otlp_config, stats.clone(), log)?;
                let plan = spool_plan(&config, "otlp", trace_streams, false);
                let service = otlp_config.service_name.as_str();
                let thread = spawn_delivery("otlp", &config, destination, service, plan, &stats, log)?;
                otlp = Some(SampledPostbox { postbox: thread.postbox.clone(), sample_rate: otlp_config.sample_rate });
                deliveries.push(thread);
            }
            if otlp_config.metrics {
                otlp_metrics = Some(OtlpMetrics::start(
                    otlp_config,
                    config.batching.flush_interval,
                    to.request_timeout,
                    &to.tls,
                    toggles,
                )?);
                log.info(|| {
                    format!("OTLP export of metrics to {}", crate::config::printable_url(&otlp_config.metrics_endpoint))
                });
            }
        }
        let (control, control_rx) = crossbeam_channel::unbounded();
        let assembler = AssemblerThread {
            assembler: Assembler::new(config.limits.message_timeout, MAX_OPEN_RUNS, signals.prices.clone())
                .with_trace_ids(TraceIds::new(&id_scope(&config)))
                .with_max_run_bytes(
                    config.limits.max_trace_bytes,
                    if config.capture.parts.keeps_model_input() { config.capture.max_history_messages } else { 0 },
                ),
            events,
            control: control_rx,
            doorbell: doorbell.clone(),
            stats: stats.clone(),
            log,
            span_options: SpanOptions {
                track_token_usage: signals.token_usage,
                track_costs: signals.costs,
                track_latency: signals.latency,
                redactor: Redactor::new(&config.capture.redact_patterns),
                parts: config.capture.parts,
                max_content_bytes: config.capture.max_content_bytes,
                max_history_messages: config.capture.max_history_messages,
                retriever_tools: config.capture.retriever_tools.clone(),
                scope: InstrumentationScope::builder("openclaw-mlflow").with_version(env!("CARGO_PKG_VERSION")).build(),
            },
            mlflow_traces: signals.traces,
            window: MetricsWindow::new(toggles),
            window_length: config.batching.flush_interval,
            mlflow,
            otlp,
            otlp_metrics,
            drops_reported: (0, 0, 0),
            drop_log: Throttle::new(Duration::from_secs(60)),
        };
        let (assembler_done_tx, assembler_done) = crossbeam_channel::bounded::<()>(0);
        std::thread::Builder::new()
            .name("mlflow-assembler".into())
            .spawn(move || {
                let mut assembler = assembler;
                let (stats, log) = (assembler.stats.clone(), assembler.log);
                supervisor::supervised("assembler", &stats, &log, || assembler.run());
                drop(assembler_done_tx);
            })
            .map_err(|e| format!("could not start the exporter thread: {e}"))?;
        Ok(Exporter { control, deliveries, assembler_done, doorbell: RingOnDrop(doorbell) })
    }

    /// Sends everything finished so far, waiting at most until `deadline`.
    pub fn flush(&self, deadline: Instant) -> Result<(), String> {
        let (ack, done) = crossbeam_channel::bounded(1);
        let sent = self.control.send(Control::Drain(ack)).is_ok();
        self.doorbell.0.ring();
        if !sent || done.recv_deadline(deadline).is_err() {
            return Err("the exporter did not take in the queued events in time".into());
        }
        let left: Vec<(&'static str, Pending)> = self
            .deliveries
            .iter()
            .filter_map(|d| d.postbox.flush(deadline).err().map(|left| (d.postbox.name(), left)))
            .collect();
        match undelivered(&left) {
            None => Ok(()),
            Some(left) => Err(format!("{left} not yet delivered; they stay buffered")),
        }
    }

    /// Flushes, sends open messages as incomplete, and stops every thread, all by `deadline`: the
    /// delivery threads deliver what they can by then and give up on the rest (it stays in the
    /// spool); none is waited for past the deadline, whatever the network or the disk does.
    pub fn shutdown(&mut self, deadline: Instant) -> Result<(), String> {
        let (ack, done) = crossbeam_channel::bounded(1);
        let sent = self.control.send(Control::Stop("the gateway stopped before the message ended".into(), ack)).is_ok();
        self.doorbell.0.ring();
        let drained = sent && done.recv_deadline(deadline).is_ok();
        // The delivery threads give up a little before the host's deadline, so that closing their
        // spool and answering fit within it.
        let margin = (deadline.saturating_duration_since(Instant::now()) / 10).min(CLOSING_TIME);
        let answers: Vec<_> = self.deliveries.iter().map(|d| d.postbox.stop(deadline - margin)).collect();
        let mut left = Vec::new();
        let mut spooled = 0;
        let mut unanswered = Vec::new();
        for (d, answer) in self.deliveries.iter().zip(answers) {
            let name = d.postbox.name();
            match answer.recv_deadline(deadline) {
                Ok(stopped) => {
                    spooled += stopped.cleared.spooled;
                    left.push((name, stopped.left));
                    let _ = d.done.recv_deadline(deadline);
                }
                Err(_) => {
                    left.push((name, d.postbox.pending()));
                    unanswered.push(name);
                }
            }
        }
        let _ = self.assembler_done.recv_deadline(deadline);
        left.retain(|(_, p)| !p.is_empty());
        let kept = match (spooled, unanswered.is_empty()) {
            (0, true) => String::new(),
            (n, true) => format!("; {n} trace(s) stay in the spool for the next start"),
            (_, false) => format!(
                "; the {} delivery thread did not answer in time (what it had spooled stays for the next start)",
                unanswered.join(" and ")
            ),
        };
        match (drained, undelivered(&left)) {
            (true, None) => Ok(()),
            (false, _) => Err(format!("the exporter did not stop in time; queued events were not all sent{kept}")),
            (true, Some(left)) => Err(format!("{left} could not be delivered before the shutdown deadline{kept}")),
        }
    }
}

/// A host that drops the plugin without `shutdown` must not leave delivery threads retrying
/// forever: they are asked to stop now, and give up what they hold on their own thread (after
/// `shutdown` this changes nothing).
impl Drop for Exporter {
    fn drop(&mut self) {
        for d in &self.deliveries {
            drop(d.postbox.stop(Instant::now()));
        }
    }
}

/// "6 trace(s) and 14 metric value(s) for mlflow, 3 trace(s) for otlp"
fn undelivered(left: &[(&'static str, Pending)]) -> Option<String> {
    if left.is_empty() {
        return None;
    }
    Some(left.iter().map(|(name, p)| format!("{p} for {name}")).collect::<Vec<_>>().join(", "))
}
