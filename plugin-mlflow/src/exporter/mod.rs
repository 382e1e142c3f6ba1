//! The exporter: background threads behind the hooks' queue.
//!
//! - the assembler thread takes events off the queue, builds whole traces (`assembler`), prices
//!   their calls, counts them into the metrics (`run_metrics` for MLflow, `otlp_metrics` for any
//!   OTLP backend), turns them into spans (`mlflow_spans`) and puts them in each destination's
//!   bounded outbox;
//! - one sender thread per destination ships its outbox: MLflow (`sender`: experiment, run,
//!   traces and run metrics, 400 isolation) and a generic OTLP endpoint (`otlp_sender`: sampled
//!   traces). Both use `backoff` and the shared transport (`http_client`).
//!
//! Contract with the host (through `flush` and `shutdown`): both return by their deadline whatever
//! the backends do, and say what they could not send.

pub mod assembler;
mod backoff;
mod http_client;
pub mod mlflow_rest;
pub mod mlflow_spans;
mod otlp_metrics;
pub mod otlp_sender;
mod outbox;
pub mod run_metrics;
mod sender;

use crate::config::Config;
use crate::doorbell::{Doorbell, RingOnDrop};
use crate::event::Event;
use crate::log::Log;
use crate::redact::Redactor;
use crate::stats::Counters;
use assembler::{price_calls, Assembler, FinishedTrace};
use crossbeam_channel::{Receiver, Sender as ChannelSender, TryRecvError};
use mlflow_spans::{ReadyTrace, SpanOptions};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use otlp_metrics::OtlpMetrics;
use outbox::{Outbox, Pending};
use run_metrics::{MetricToggles, MetricsWindow};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this many messages are assembled at once; beyond it the oldest is sent incomplete.
const MAX_OPEN_RUNS: usize = 100_000;
/// How often open messages are checked for the idle timeout (only while some are open).
const EXPIRY_TICK: Duration = Duration::from_secs(1);
/// After its last event, the assembler polls the queue this often for `LINGER`, then sleeps until
/// rung or a deadline (see `AssemblerLoop::run`).
const IDLE_POLL: Duration = Duration::from_millis(1);
const LINGER: Duration = Duration::from_millis(50);
/// Events taken in one go before control messages are looked at.
const DRAIN_CHUNK: usize = 4096;

enum Control {
    /// Take in everything queued so far, then answer.
    Drain(ChannelSender<()>),
    /// Take in everything, send open messages as incomplete, answer and exit.
    Stop(String, ChannelSender<()>),
}

/// The resource of every export: the service, this plugin, the host.
pub(crate) fn resource(service_name: &str) -> Resource {
    Resource::builder_empty()
        .with_attribute(opentelemetry::KeyValue::new("service.name", service_name.to_string()))
        .with_attribute(opentelemetry::KeyValue::new("telemetry.sdk.name", "openclaw-mlflow"))
        .with_attribute(opentelemetry::KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(opentelemetry::KeyValue::new("host.name", sender::host_name()))
        .build()
}

/// A backend's outbox and the thread that empties it.
struct Destination {
    name: &'static str,
    outbox: Arc<Outbox>,
    /// Disconnects when the thread has finished.
    done: Receiver<()>,
}

fn spawn_destination(
    name: &'static str,
    outbox: Arc<Outbox>,
    body: impl FnOnce() + Send + 'static,
) -> Result<Destination, String> {
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    std::thread::Builder::new()
        .name(format!("{name}-sender"))
        .spawn(move || {
            body();
            drop(done_tx);
        })
        .map_err(|e| format!("could not start the {name} sender thread: {e}"))?;
    Ok(Destination { name, outbox, done })
}

pub struct Exporter {
    control: ChannelSender<Control>,
    destinations: Vec<Destination>,
    stats: Arc<Counters>,
    /// Disconnects when the assembler thread has finished.
    assembler_done: Receiver<()>,
    /// Wakes the assembler for a control message. Last: it rings after `control` is dropped.
    doorbell: RingOnDrop,
}

impl Exporter {
    pub fn start(
        config: Config,
        events: Receiver<Event>,
        doorbell: Arc<Doorbell>,
        queued_bytes: Arc<AtomicUsize>,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<Exporter, String> {
        if config.tls.insecure_skip_verify {
            log.warn(|| {
                "MLflow plugin: insecureSkipVerify is true: TLS certificates are NOT verified; anyone on the path \
                 can read and alter the telemetry and credentials. Use only for a lab server."
                    .into()
            });
        }
        let toggles = MetricToggles {
            tokens: config.track_token_usage,
            costs: config.track_costs,
            latency: config.track_latency,
        };
        let mut destinations = Vec::new();
        let mut mlflow_outbox = None;
        if let Some(uri) = config.tracking_uri.clone() {
            let outbox = Arc::new(Outbox::new(config.max_buffered_traces));
            let sender = sender::Sender::new(config.clone(), uri, outbox.clone(), stats.clone(), log)?;
            destinations.push(spawn_destination("mlflow", outbox.clone(), move || sender.run())?);
            mlflow_outbox = Some(outbox);
        }
        let mut otlp_outbox = None;
        let mut otlp_metrics = None;
        if let Some(otlp) = config.otlp.clone() {
            if otlp.traces && config.track_traces {
                let outbox = Arc::new(Outbox::new(config.max_buffered_traces));
                let sender = otlp_sender::OtlpSender::new(&config, otlp.clone(), outbox.clone(), stats.clone(), log)?;
                destinations.push(spawn_destination("otlp", outbox.clone(), move || sender.run())?);
                otlp_outbox = Some((outbox, otlp.sample_rate));
            }
            if otlp.metrics {
                otlp_metrics = Some(OtlpMetrics::start(
                    &otlp,
                    config.flush_interval,
                    config.request_timeout,
                    &config.tls,
                    toggles,
                )?);
                log.info(|| format!("OTLP export of metrics to {}", otlp.metrics_endpoint));
            }
        }
        let (control, control_rx) = crossbeam_channel::unbounded();
        let assembler = AssemblerLoop {
            assembler: Assembler::new(config.message_timeout, MAX_OPEN_RUNS),
            events,
            control: control_rx,
            doorbell: doorbell.clone(),
            queued_bytes,
            stats: stats.clone(),
            log,
            span_options: SpanOptions {
                track_token_usage: config.track_token_usage,
                track_costs: config.track_costs,
                track_latency: config.track_latency,
                redactor: Redactor::new(&config.redact_patterns),
                scope: InstrumentationScope::builder("openclaw-mlflow").with_version(env!("CARGO_PKG_VERSION")).build(),
            },
            prices: config.prices.clone(),
            track_traces: config.track_traces,
            window: MetricsWindow::new(toggles),
            window_length: config.flush_interval,
            mlflow_outbox,
            otlp_outbox,
            otlp_metrics,
            drops_reported: (0, 0, 0),
            drop_log: crate::log::Throttle::new(Duration::from_secs(60)),
        };
        let (assembler_done_tx, assembler_done) = crossbeam_channel::bounded::<()>(0);
        std::thread::Builder::new()
            .name("mlflow-assembler".into())
            .spawn(move || {
                assembler.run();
                drop(assembler_done_tx);
            })
            .map_err(|e| format!("could not start the exporter thread: {e}"))?;
        Ok(Exporter { control, destinations, stats, assembler_done, doorbell: RingOnDrop(doorbell) })
    }

    /// Asks every destination to send now and waits for all of them until `deadline`; what is
    /// left, per destination.
    fn send_all(&self, deadline: Instant) -> Vec<(&'static str, Pending)> {
        self.destinations.iter().for_each(|d| d.outbox.request_flush());
        self.destinations
            .iter()
            .map(|d| (d.name, d.outbox.wait_empty(deadline)))
            .filter(|(_, left)| !left.is_empty())
            .collect()
    }

    /// Sends everything finished so far, waiting at most until `deadline`.
    pub fn flush(&self, deadline: Instant) -> Result<(), String> {
        let (ack, done) = crossbeam_channel::bounded(1);
        let sent = self.control.send(Control::Drain(ack)).is_ok();
        self.doorbell.0.ring();
        if !sent || done.recv_deadline(deadline).is_err() {
            return Err("the exporter did not take in the queued events in time".into());
        }
        match describe(&self.send_all(deadline)) {
            None => Ok(()),
            Some(left) => Err(format!("{left} not yet delivered; they stay buffered")),
        }
    }

    /// Flushes, sends open messages as incomplete, and stops every thread, all by `deadline`.
    pub fn shutdown(&mut self, deadline: Instant) -> Result<(), String> {
        let (ack, done) = crossbeam_channel::bounded(1);
        let sent = self.control.send(Control::Stop("the gateway stopped before the message ended".into(), ack)).is_ok();
        self.doorbell.0.ring();
        let drained = sent && done.recv_deadline(deadline).is_ok();
        let left = self.send_all(deadline);
        for d in &self.destinations {
            d.outbox.stop();
        }
        // Threads end the MLflow run and exit after their current request; none is waited for past
        // the deadline (they then die with the process).
        if left.is_empty() {
            for d in &self.destinations {
                let _ = d.done.recv_deadline(deadline);
            }
            let _ = self.assembler_done.recv_deadline(deadline);
        }
        for d in &self.destinations {
            Counters::add(&self.stats.traces_failed, d.outbox.abandon() as u64);
        }
        match (drained, describe(&left)) {
            (true, None) => Ok(()),
            (false, _) => Err("the exporter did not stop in time; queued events were not all sent".into()),
            (true, Some(left)) => Err(format!("{left} could not be delivered before the shutdown deadline")),
        }
    }
}

/// A host that drops the plugin without `shutdown` must not leave sender threads retrying forever:
/// they are stopped and their buffers given up (after `shutdown` this changes nothing).
impl Drop for Exporter {
    fn drop(&mut self) {
        for d in &self.destinations {
            d.outbox.stop();
            d.outbox.abandon();
        }
    }
}

/// "6 trace(s) and 14 metric value(s) for mlflow, 3 trace(s) for otlp"
fn describe(left: &[(&'static str, Pending)]) -> Option<String> {
    if left.is_empty() {
        return None;
    }
    Some(left.iter().map(|(name, p)| format!("{} for {name}", p.describe())).collect::<Vec<_>>().join(", "))
}

struct AssemblerLoop {
    assembler: Assembler,
    events: Receiver<Event>,
    control: Receiver<Control>,
    doorbell: Arc<Doorbell>,
    queued_bytes: Arc<AtomicUsize>,
    stats: Arc<Counters>,
    log: Log,
    span_options: SpanOptions,
    prices: crate::pricing::PriceTable,
    track_traces: bool,
    window: MetricsWindow,
    window_length: Duration,
    mlflow_outbox: Option<Arc<Outbox>>,
    /// The OTLP destination's outbox and its sample rate.
    otlp_outbox: Option<(Arc<Outbox>, f64)>,
    otlp_metrics: Option<OtlpMetrics>,
    /// (traces, metric values, events) dropped as of the last report.
    drops_reported: (u64, u64, u64),
    drop_log: crate::log::Throttle,
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl AssemblerLoop {
    /// Ends the current metrics window and hands its points to the sender.
    fn close_window(&mut self) {
        let points = self.window.close(now_ms());
        if let (false, Some(outbox)) = (points.is_empty(), &self.mlflow_outbox) {
            let dropped = outbox.push_metrics(points);
            Counters::add(&self.stats.metric_values_dropped, dropped);
        }
    }

    fn take(&mut self, event: Event, finished: &mut Vec<FinishedTrace>) {
        self.queued_bytes.fetch_sub(event.content_bytes(), Relaxed);
        self.assembler.apply(event, finished);
    }

    fn drain(&mut self, finished: &mut Vec<FinishedTrace>) {
        while let Ok(event) = self.events.try_recv() {
            self.take(event, finished);
        }
    }

    /// Wakes on work, not on a clock. Blocking on the channel would make every hook's send wake
    /// this thread with a futex call (~12 µs per hook measured on this class of VM), and polling
    /// for ever costs an idle gateway ~900 wake-ups a second. So: while events come, take them; for
    /// `LINGER` after the last one, poll every `IDLE_POLL` (a burst's next event then costs its
    /// hook nothing more); then sleep on the doorbell until a hook rings it or the next deadline
    /// (`next_deadline`): an idle plugin with nothing open sleeps until there is work.
    fn run(mut self) {
        self.doorbell.register_sleeper();
        let mut finished = Vec::new();
        let mut last_expiry = Instant::now();
        let mut window_start = Instant::now();
        let mut last_event = Instant::now();
        loop {
            let mut took = 0;
            loop {
                match self.events.try_recv() {
                    Ok(event) => {
                        self.take(event, &mut finished);
                        took += 1;
                        if took == DRAIN_CHUNK {
                            break; // let control messages and shipping in between
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return, // the plugin is gone
                }
            }
            match self.control.try_recv() {
                Ok(Control::Drain(ack)) => {
                    self.drain(&mut finished);
                    self.ship(&mut finished);
                    self.close_window();
                    window_start = Instant::now();
                    let _ = ack.send(());
                }
                Ok(Control::Stop(reason, ack)) => {
                    self.drain(&mut finished);
                    self.assembler.finish_all(&reason, &mut finished);
                    self.ship(&mut finished);
                    self.close_window();
                    let _ = ack.send(());
                    if let Some(metrics) = &self.otlp_metrics {
                        // The last export; bounded by the request timeout, and shutdown does not
                        // wait for this thread past its deadline.
                        if let Err(e) = metrics.shutdown() {
                            self.log.warn(|| format!("OTLP metrics: the last export failed: {e}"));
                        }
                    }
                    return;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => return,
            }
            if last_expiry.elapsed() >= EXPIRY_TICK {
                last_expiry = Instant::now();
                self.assembler.expire_idle(last_expiry, &mut finished);
                self.report_drops();
            }
            if !finished.is_empty() {
                self.ship(&mut finished);
            }
            if window_start.elapsed() >= self.window_length {
                window_start = Instant::now();
                self.close_window();
            }
            if took > 0 {
                last_event = Instant::now();
            } else if last_event.elapsed() < LINGER {
                std::thread::sleep(IDLE_POLL);
            } else {
                let deadline = self.next_deadline(last_expiry, window_start);
                let (events, control) = (&self.events, &self.control);
                self.doorbell.sleep(deadline, || !events.is_empty() || !control.is_empty());
            }
        }
    }

    /// When the loop must run even if no hook rings: the next idle-timeout check while messages
    /// are open or drops are unreported, the end of a metrics window that holds traces. `None`
    /// when nothing is pending: the plugin sleeps until a hook or the host wakes it.
    fn next_deadline(&self, last_expiry: Instant, window_start: Instant) -> Option<Instant> {
        let expiry = (self.assembler.open_runs() > 0 || self.drops_unreported()).then(|| last_expiry + EXPIRY_TICK);
        let window = (!self.window.is_empty()).then(|| window_start + self.window_length);
        expiry.into_iter().chain(window).min()
    }

    fn drops(&self) -> (u64, u64, u64) {
        (
            self.stats.traces_dropped.load(Relaxed),
            self.stats.metric_values_dropped.load(Relaxed),
            self.stats.events_dropped.load(Relaxed),
        )
    }

    fn drops_unreported(&self) -> bool {
        self.drops() != self.drops_reported
    }

    /// Says once per interval (not once per trace) how much a long outage has cost.
    fn report_drops(&mut self) {
        let now = self.drops();
        if now == self.drops_reported || !self.drop_log.due() {
            return;
        }
        let (traces, values, events) =
            (now.0 - self.drops_reported.0, now.1 - self.drops_reported.1, now.2 - self.drops_reported.2);
        self.drops_reported = now;
        self.log.warn(|| {
            format!(
                "MLflow plugin buffers full: dropped {traces} oldest unsent trace(s), {values} metric value(s) and {events} \
                 incoming event(s) since the last report (backend unreachable or too slow?)"
            )
        });
    }

    /// Builds the spans of finished traces and hands them to the sender.
    fn ship(&mut self, finished: &mut Vec<FinishedTrace>) {
        let late = std::mem::take(&mut self.assembler.notes.late_events);
        if late > 0 {
            Counters::add(&self.stats.events_late, late);
            self.log.debug(|| format!("MLflow: {late} event(s) arrived for messages already sent; ignored"));
        }
        if finished.is_empty() {
            return;
        }
        let mut to_mlflow = Vec::with_capacity(finished.len());
        let mut to_otlp = Vec::new();
        for mut f in finished.drain(..) {
            price_calls(&mut f.run, &self.prices);
            self.window.add(&f);
            if let Some(metrics) = &self.otlp_metrics {
                metrics.record(&f);
            }
            if !self.track_traces {
                continue;
            }
            let ready = self.describe(f);
            if let Some((_, rate)) = &self.otlp_outbox {
                if otlp_sender::sampled(ready.trace_id, *rate) {
                    to_otlp.push(ready.clone_for_another_destination());
                } else {
                    Counters::add(&self.stats.otlp_traces_sampled_out, 1);
                }
            }
            if self.mlflow_outbox.is_some() {
                to_mlflow.push(ready);
            }
        }
        for (outbox, traces) in
            [(self.mlflow_outbox.as_ref(), to_mlflow), (self.otlp_outbox.as_ref().map(|(o, _)| o), to_otlp)]
        {
            let (Some(outbox), false) = (outbox, traces.is_empty()) else { continue };
            Counters::add(&self.stats.traces_dropped, outbox.push(traces));
        }
    }

    fn describe(&self, f: FinishedTrace) -> ReadyTrace {
        let ready = mlflow_spans::build(&f, &self.span_options);
        let run = &f.run;
        self.log.debug(|| format!("Creating MLflow trace for sessionKey={}", run.ctx.session_key));
        self.log.debug(|| {
            format!(
                "Set trace metadata: mlflow.trace.session={} mlflow.trace.user={}",
                mlflow_spans::mlflow_session_id(&run.ctx.session_key),
                run.ctx.agent_id
            )
        });
        if self.log.enabled(openclaw_plugin_api::LogLevel::Debug) {
            for span in &ready.spans {
                self.log.debug(|| {
                    format!("MLflow span created: spanId={} traceId={}", span.span_context.span_id(), ready.mlflow_id())
                });
            }
        }
        if ready.redacted {
            self.log.debug(|| format!("MLflow trace {}: secrets in captured content were redacted", ready.mlflow_id()));
        }
        if let Some(reason) = &f.incomplete {
            Counters::add(&self.stats.traces_incomplete, 1);
            self.log.info(|| format!("MLflow trace {} sent incomplete: {reason}", ready.mlflow_id()));
        }
        ready
    }
}
