//! The assembler thread: takes events off the hooks' queue, builds whole traces (`assembler`),
//! counts them into the metrics (`run_metrics` for the MLflow run, `otlp_metrics` for an OTLP
//! backend), turns them into spans (`mlflow_spans`), samples them for the OTLP endpoint
//! (`sampling`) and puts them in each destination's mailbox. It wakes on work, not on a clock
//! (see `AssemblerThread::run`).

use super::assembler::{Assembler, FinishedTrace};
use super::genai_content;
use super::mailbox::Postbox;
use super::mlflow_spans::{self, SpanOptions, TraceSpans};
use super::now_ms;
use super::otlp_metrics::OtlpMetrics;
use super::run_metrics::MetricsWindow;
use super::sampling::sampled;
use crate::doorbell::Doorbell;
use crate::event_queue::QueuedEvents;
use crate::log::{Log, Throttle};
use crate::stats::Counters;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often open messages are checked for the idle timeout (only while some are open).
const EXPIRY_TICK: Duration = Duration::from_secs(1);
/// After its last event, the assembler polls the queue this often for `LINGER`, then sleeps until
/// rung or a deadline (see `AssemblerThread::run`).
const IDLE_POLL: Duration = Duration::from_millis(1);
const LINGER: Duration = Duration::from_millis(50);
/// Events taken in one go before control messages are looked at.
const DRAIN_CHUNK: usize = 4096;

/// What the exporter asks of the assembler thread.
pub enum Control {
    /// Take in everything queued so far, then answer.
    Drain(Sender<()>),
    /// Take in everything, send open messages as incomplete, answer and exit.
    Stop(String, Sender<()>),
}

/// The OTLP destination's postbox and the fraction of traces it gets.
pub struct SampledPostbox {
    pub postbox: Arc<Postbox>,
    pub sample_rate: f64,
}

pub struct AssemblerThread {
    pub assembler: Assembler,
    pub events: QueuedEvents,
    pub control: Receiver<Control>,
    pub doorbell: Arc<Doorbell>,
    pub stats: Arc<Counters>,
    pub log: Log,
    pub span_options: SpanOptions,
    /// `trackTraces`: MLflow's destination gets traces (else only the run's metrics). The OTLP
    /// export's traces are its own switch (`otlp` is `None` without them).
    pub mlflow_traces: bool,
    pub window: MetricsWindow,
    pub window_length: Duration,
    pub mlflow: Option<Arc<Postbox>>,
    pub otlp: Option<SampledPostbox>,
    pub otlp_metrics: Option<OtlpMetrics>,
    /// (traces, metric values, events) dropped as of the last report.
    pub drops_reported: (u64, u64, u64),
    pub drop_log: Throttle,
}

impl AssemblerThread {
    /// Ends the current metrics window and hands its points to the MLflow destination.
    fn close_window(&mut self) {
        let points = self.window.close(now_ms());
        if let (false, Some(postbox)) = (points.is_empty(), &self.mlflow) {
            postbox.push_metrics(points);
        }
    }

    fn drain(&mut self, finished: &mut Vec<FinishedTrace>) {
        while let Ok(event) = self.events.try_take() {
            self.assembler.apply(event, finished);
        }
    }

    /// Wakes on work, not on a clock. Blocking on the channel would make every hook's send wake
    /// this thread with a futex call, and polling for ever wakes an idle gateway hundreds of times a
    /// second (BENCHMARKS.md, sections 1 and 7). So: while events come, take them; for
    /// `LINGER` after the last one, poll every `IDLE_POLL` (a burst's next event then costs its
    /// hook nothing more); then sleep on the doorbell until a hook rings it or the next deadline
    /// (`next_deadline`): an idle plugin with nothing open sleeps until there is work.
    pub fn run(&mut self) {
        self.doorbell.register_sleeper();
        let mut finished = Vec::new();
        let mut last_expiry = Instant::now();
        let mut window_start = Instant::now();
        let mut last_event = Instant::now();
        loop {
            let mut took = 0;
            loop {
                match self.events.try_take() {
                    Ok(event) => {
                        self.assembler.apply(event, &mut finished);
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

    /// Counts finished traces into the metrics, builds their spans and hands them to the
    /// destinations.
    fn ship(&mut self, finished: &mut Vec<FinishedTrace>) {
        let late = std::mem::take(&mut self.assembler.notes.late_events);
        if late > 0 {
            Counters::add(&self.stats.events_late, late);
            self.log.debug(|| format!("MLflow: {late} event(s) arrived for messages already sent; ignored"));
        }
        if finished.is_empty() {
            return;
        }
        let mut ready = Vec::with_capacity(finished.len());
        let mut to_otlp = Vec::new();
        for f in finished.drain(..) {
            self.window.add(&f);
            if let Some(metrics) = &self.otlp_metrics {
                metrics.record(&f);
            }
            if !self.mlflow_traces && self.otlp.is_none() {
                continue;
            }
            let trace = self.build_spans(f);
            if let Some(otlp) = &self.otlp {
                if sampled(trace.trace_id, otlp.sample_rate) {
                    to_otlp.push(ready.len());
                } else {
                    Counters::add(&self.stats.otlp_traces_sampled_out, 1);
                }
            }
            ready.push(trace);
        }
        if let (Some(postbox), true, false) = (&self.mlflow, self.mlflow_traces, ready.is_empty()) {
            postbox.push_traces(&ready);
        }
        if let (Some(otlp), false) = (&self.otlp, to_otlp.is_empty()) {
            let genai: Vec<TraceSpans> = to_otlp.iter().map(|&i| genai_content::to_genai(&ready[i])).collect();
            otlp.postbox.push_traces(&genai);
        }
    }

    /// The trace's spans, with the debug lines an operator tracing one message looks for.
    fn build_spans(&self, f: FinishedTrace) -> TraceSpans {
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
