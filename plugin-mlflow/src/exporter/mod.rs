//! The exporter: two background threads behind the hooks' queue.
//!
//! - the assembler thread takes events off the queue, builds whole traces (`assembler`), turns
//!   finished ones into spans with MLflow's attributes (`mlflow_spans`) and puts them in the
//!   bounded outbox;
//! - the sender thread resolves the experiment and ships the outbox in batches over OTLP/HTTP,
//!   with retries (`sender`, `backoff`, `http_client`, `mlflow_rest`).
//!
//! Contract with the host (through `flush` and `shutdown`): both return by their deadline whatever
//! MLflow does, and say what they could not send.

pub mod assembler;
mod backoff;
mod http_client;
pub mod mlflow_rest;
pub mod mlflow_spans;
mod outbox;
pub mod run_metrics;
mod sender;

use crate::config::Config;
use crate::event::Event;
use crate::log::Log;
use crate::redact::Redactor;
use crate::stats::Counters;
use assembler::{price_calls, Assembler, FinishedTrace};
use crossbeam_channel::{Receiver, Sender as ChannelSender, TryRecvError};
use mlflow_spans::{ReadyTrace, SpanOptions};
use opentelemetry::InstrumentationScope;
use outbox::Outbox;
use run_metrics::{MetricToggles, MetricsWindow};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many messages are assembled at once; beyond it the oldest is sent incomplete.
const MAX_OPEN_RUNS: usize = 100_000;
/// How often open messages are checked for the idle timeout.
const EXPIRY_TICK: Duration = Duration::from_secs(1);
/// How long the assembler sleeps when the queue is empty (see `AssemblerLoop::run`).
const IDLE_POLL: Duration = Duration::from_millis(1);
/// Events taken in one go before control messages are looked at.
const DRAIN_CHUNK: usize = 4096;

enum Control {
    /// Take in everything queued so far, then answer.
    Drain(ChannelSender<()>),
    /// Take in everything, send open messages as incomplete, answer and exit.
    Stop(String, ChannelSender<()>),
}

pub struct Exporter {
    control: ChannelSender<Control>,
    outbox: Arc<Outbox>,
    stats: Arc<Counters>,
    assembler_thread: Option<JoinHandle<()>>,
    /// Disconnects when the sender thread has finished (run ended, or given up).
    sender_done: Receiver<()>,
}

impl Exporter {
    pub fn start(
        config: Config,
        events: Receiver<Event>,
        queued_bytes: Arc<AtomicUsize>,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<Exporter, String> {
        let outbox = Arc::new(Outbox::new(config.max_buffered_traces));
        let (control, control_rx) = crossbeam_channel::unbounded();
        let span_options = SpanOptions {
            track_token_usage: config.track_token_usage,
            track_costs: config.track_costs,
            track_latency: config.track_latency,
            redactor: Redactor::new(&config.redact_patterns),
            scope: InstrumentationScope::builder("openclaw-mlflow").with_version(env!("CARGO_PKG_VERSION")).build(),
        };
        let assembler = AssemblerLoop {
            assembler: Assembler::new(config.message_timeout, MAX_OPEN_RUNS),
            events,
            control: control_rx,
            queued_bytes,
            outbox: outbox.clone(),
            stats: stats.clone(),
            log,
            span_options,
            prices: config.prices.clone(),
            track_traces: config.track_traces,
            window: MetricsWindow::new(MetricToggles {
                tokens: config.track_token_usage,
                costs: config.track_costs,
                latency: config.track_latency,
            }),
            window_length: config.flush_interval,
        };
        let sender = sender::Sender::new(config, outbox.clone(), stats.clone(), log);
        let assembler_thread = std::thread::Builder::new()
            .name("mlflow-assembler".into())
            .spawn(move || assembler.run())
            .map_err(|e| format!("could not start the exporter thread: {e}"))?;
        let (done_tx, sender_done) = crossbeam_channel::bounded::<()>(0);
        std::thread::Builder::new()
            .name("mlflow-sender".into())
            .spawn(move || {
                sender.run();
                drop(done_tx);
            })
            .map_err(|e| format!("could not start the sender thread: {e}"))?;
        Ok(Exporter { control, outbox, stats, assembler_thread: Some(assembler_thread), sender_done })
    }

    /// Sends everything finished so far, waiting at most until `deadline`.
    pub fn flush(&self, deadline: Instant) -> Result<(), String> {
        let (ack, done) = crossbeam_channel::bounded(1);
        if self.control.send(Control::Drain(ack)).is_err() || done.recv_deadline(deadline).is_err() {
            return Err("the exporter did not take in the queued events in time".into());
        }
        self.outbox.request_flush();
        match self.outbox.wait_empty(deadline) {
            left if left.is_empty() => Ok(()),
            left => Err(format!("{} not yet delivered to MLflow; they stay buffered", left.describe())),
        }
    }

    /// Flushes, sends open messages as incomplete, and stops both threads, all by `deadline`.
    pub fn shutdown(&mut self, deadline: Instant) -> Result<(), String> {
        let (ack, done) = crossbeam_channel::bounded(1);
        let drained =
            self.control.send(Control::Stop("the gateway stopped before the message ended".into(), ack)).is_ok()
                && done.recv_deadline(deadline).is_ok();
        if drained {
            if let Some(t) = self.assembler_thread.take() {
                let _ = t.join();
            }
        }
        self.outbox.request_flush();
        let left = self.outbox.wait_empty(deadline);
        self.outbox.stop();
        // The sender ends the run and exits after its current request; not waited for past the
        // deadline (it then dies with the process).
        if left.is_empty() {
            let _ = self.sender_done.recv_deadline(deadline);
        }
        let abandoned = self.outbox.abandon();
        Counters::add(&self.stats.traces_failed, abandoned as u64);
        match (drained, left.is_empty()) {
            (true, true) => Ok(()),
            (false, _) => Err("the exporter did not stop in time; queued events were not all sent".into()),
            (true, false) => {
                Err(format!("{} could not be delivered to MLflow before the shutdown deadline", left.describe()))
            }
        }
    }
}

struct AssemblerLoop {
    assembler: Assembler,
    events: Receiver<Event>,
    control: Receiver<Control>,
    queued_bytes: Arc<AtomicUsize>,
    outbox: Arc<Outbox>,
    stats: Arc<Counters>,
    log: Log,
    span_options: SpanOptions,
    prices: crate::pricing::PriceTable,
    track_traces: bool,
    window: MetricsWindow,
    window_length: Duration,
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl AssemblerLoop {
    /// Ends the current metrics window and hands its points to the sender.
    fn close_window(&mut self) {
        let points = self.window.close(now_ms());
        if !points.is_empty() {
            let dropped = self.outbox.push_metrics(points);
            if dropped > 0 {
                self.log.warn(|| format!("MLflow: {dropped} unsent metric value(s) dropped (buffer full)"));
            }
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

    /// Polls rather than blocks: a receiver blocked on the channel makes every hook's send wake it
    /// with a futex call, which measured ~12 µs per hook on this class of VM. Polled, a send finds
    /// no waiter and costs an atomic push. The price is this thread waking every `IDLE_POLL` when
    /// idle, and up to that much delay before an event is taken in.
    fn run(mut self) {
        let mut finished = Vec::new();
        let mut last_expiry = Instant::now();
        let mut window_start = Instant::now();
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
                    return;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => return,
            }
            if last_expiry.elapsed() >= EXPIRY_TICK {
                last_expiry = Instant::now();
                self.assembler.expire_idle(last_expiry, &mut finished);
            }
            if !finished.is_empty() {
                self.ship(&mut finished);
            }
            if window_start.elapsed() >= self.window_length {
                window_start = Instant::now();
                self.close_window();
            }
            if took == 0 {
                std::thread::sleep(IDLE_POLL);
            }
        }
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
        let mut ready = Vec::with_capacity(finished.len());
        for mut f in finished.drain(..) {
            price_calls(&mut f.run, &self.prices);
            self.window.add(&f);
            if self.track_traces {
                ready.push(self.describe(f));
            }
        }
        let dropped = self.outbox.push(ready);
        if dropped > 0 {
            Counters::add(&self.stats.traces_dropped, dropped);
            self.log.warn(|| format!("MLflow buffer full: dropped the {dropped} oldest unsent trace(s)"));
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
