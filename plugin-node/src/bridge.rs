//! The one host per gateway process: the plugins it loaded and started, and the translator that
//! turns OpenClaw's hooks into their events.
//!
//! OpenClaw registers a plugin several times per process, each time from a fresh copy of the package,
//! and the addon may be required more than once; the JavaScript entry keeps one addon instance on
//! `globalThis`, and this state is a process-wide `OnceLock`, so there is one host thread per
//! process. A gateway restarted in place (`gateway_stop`, then `gateway_start`) stops the plugins
//! and starts them again on that thread, with the settings of the moment.
//!
//! The gateway's JavaScript thread only reads a hook's payload and sends it here; the host's own
//! thread owns the translator and the plugins: it loads the libraries, starts the plugins, then
//! translates each hook, hands the events to the plugins and releases what the translator holds when
//! it falls due. A stop is a message with a reply, so it comes after every hook sent before it. The
//! queue between the two is bounded by bytes; what does not fit is counted and dropped, never
//! waited for.

use crate::log_sink;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use openclaw_plugin_api::{now_ms, LogLevel, OwnedContext, OwnedEvent};
use openclaw_plugin_host::openclaw::payload::Capture;
use openclaw_plugin_host::openclaw::{OpenClawHook, Translator};
use openclaw_plugin_host::plugin_set::stats_json;
use openclaw_plugin_host::PluginSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The most the hooks waiting for the host's thread may hold (their texts and a fixed overhead
/// each): they wait only while the plugins start, or while the thread is descheduled.
const MAX_QUEUED_BYTES: usize = 64 << 20;
/// What a queued hook counts for beyond its texts.
const HOOK_OVERHEAD_BYTES: usize = 256;

pub struct Bridge {
    /// How much content the hooks read (from the plugins' settings at the latest start).
    capture: RwLock<Capture>,
    to_host: Sender<ToHost>,
    /// Bytes of the hooks sent and not yet taken by the host's thread.
    queued_bytes: AtomicUsize,
    /// Hooks dropped because the queue was full, not yet reported.
    dropped: AtomicU64,
    /// Set by the host's thread each time the plugins have started (read by `stats`).
    plugins: Mutex<Option<Arc<PluginSet>>>,
    /// Between a stop and the next start: hooks are not sent. Changed only on the gateway's
    /// thread, with the message that makes it so.
    stopped: AtomicBool,
}

// Hooks are nearly every message, so the large variant stays unboxed (no allocation per hook).
#[allow(clippy::large_enum_variant)]
enum ToHost {
    /// Start the plugins again, after a stop, with the gateway's configuration of the moment.
    Start(serde_json::Value),
    Hook(OwnedContext, OpenClawHook, usize),
    /// Hand out what the translator holds, flush and stop the plugins by `deadline`, and reply
    /// with what could not be sent.
    Stop {
        deadline: Instant,
        reply: Sender<String>,
    },
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

/// Loads every plugin library in `plugins_dir` with `plugin-api`'s checks, and starts each that
/// `config` (the gateway's configuration, JSON) enables, with its section, on the host's thread,
/// which then serves the hooks. Returns at once. While the plugins run, later calls do nothing;
/// after a stop, a call starts them again.
pub fn start(plugins_dir: &Path, config_json: &str, max_level: LogLevel, wake: log_sink::Wake) -> Result<(), String> {
    let host = log_sink::host_handle(max_level, wake);
    if let Some(bridge) = BRIDGE.get() {
        if bridge.stopped.load(Ordering::Acquire) {
            let config = parse(config_json)?;
            *bridge.capture.write().unwrap_or_else(PoisonError::into_inner) = Capture::from_config(&config);
            // Queued after the stop, and before any hook sent once `stopped` is clear.
            bridge.to_host.send(ToHost::Start(config)).map_err(|_| "the host's thread is gone".to_string())?;
            bridge.stopped.store(false, Ordering::Release);
        }
        return Ok(());
    }
    let config = parse(config_json)?;
    let (to_host, from_gateway) = crossbeam_channel::unbounded();
    let mut first = false;
    let bridge = BRIDGE.get_or_init(|| {
        first = true;
        Bridge {
            capture: RwLock::new(Capture::from_config(&config)),
            to_host,
            queued_bytes: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            plugins: Mutex::new(None),
            stopped: AtomicBool::new(false),
        }
    });
    if !first {
        return Ok(());
    }
    // The thread never ends: an allocator inside a plugin library (mimalloc) takes the thread that
    // loaded it for the process's main one, whose end must not come before the others'.
    let plugins_dir = plugins_dir.to_path_buf();
    std::thread::Builder::new()
        .name("openclaw-mlflow-host".into())
        .spawn(move || {
            let mut config = Some(config);
            let mut started = "started";
            while let Some(settings) = config.take() {
                let began = Instant::now();
                let plugins = PluginSet::start(&plugins_dir, &settings, host, &|level, line| host.write(level, line));
                let took = began.elapsed().as_secs_f64() * 1000.0;
                let summary = plugins.summary();
                let plugins = Arc::new(plugins);
                *bridge.plugins.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&plugins));
                log_sink::log(
                    LogLevel::Info,
                    &format!(
                        "MLflow host {started} in the gateway (pid {}, in {took:.1} ms on its own thread): {summary}",
                        std::process::id()
                    ),
                );
                serve(bridge, &plugins, &from_gateway);
                config = wait_for_start(bridge, &from_gateway);
                started = "restarted";
            }
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("could not start the host's thread: {e}"))?;
    Ok(())
}

fn parse(config_json: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(config_json).map_err(|e| format!("the gateway's configuration is not JSON: {e}"))
}

/// After a stop: the settings of the next start, once asked for (`None`: the channel is gone).
/// A hook that slipped in between is dropped: the plugins it was for have stopped.
fn wait_for_start(bridge: &Bridge, from_gateway: &Receiver<ToHost>) -> Option<serde_json::Value> {
    loop {
        match from_gateway.recv().ok()? {
            ToHost::Start(config) => return Some(config),
            ToHost::Hook(_, _, bytes) => {
                bridge.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            }
            ToHost::Stop { reply, .. } => {
                let _ = reply.send(String::new());
            }
        }
    }
}

/// The host's thread: translates each hook and hands its events to the plugins, releases what the
/// translator holds when it falls due (a model call waiting for its reply, a failed run waiting for
/// a retry), and returns once the plugins are stopped on request. It sleeps while nothing is sent
/// and nothing is held, so an idle gateway stays idle.
fn serve(bridge: &Bridge, plugins: &PluginSet, from_gateway: &Receiver<ToHost>) {
    let mut translator = Translator::default();
    let mut out: Vec<OwnedEvent> = Vec::with_capacity(8);
    loop {
        let message = match translator.next_deadline() {
            Some(deadline) => {
                let wait = Duration::from_millis(deadline.saturating_sub(now_ms()).max(1));
                match from_gateway.recv_timeout(wait) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match from_gateway.recv() {
                Ok(message) => Some(message),
                Err(_) => return,
            },
        };
        match message {
            Some(ToHost::Hook(cx, hook, bytes)) => {
                bridge.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
                translator.push(cx, hook, &mut out);
            }
            Some(ToHost::Stop { deadline, reply }) => {
                translator.finish(&mut out);
                out.drain(..).for_each(|event| plugins.dispatch(&event));
                report_dropped(bridge);
                let _ = reply.send(stop(plugins, deadline));
                return;
            }
            // Sent only while stopped, so not while serving.
            Some(ToHost::Start(_)) | None => {}
        }
        translator.release_due(now_ms(), &mut out);
        out.drain(..).for_each(|event| plugins.dispatch(&event));
        report_dropped(bridge);
    }
}

fn report_dropped(bridge: &Bridge) {
    if bridge.dropped.load(Ordering::Relaxed) == 0 {
        return;
    }
    let dropped = bridge.dropped.swap(0, Ordering::Relaxed);
    log_sink::log(
        LogLevel::Warn,
        &format!("MLflow host: {dropped} hook(s) arrived while {MAX_QUEUED_BYTES} bytes of hooks waited for the host's thread, and were dropped"),
    );
}

/// Flushes and stops every plugin by `deadline`: what each said it could not send.
fn stop(plugins: &PluginSet, deadline: Instant) -> String {
    let left_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
    let left: Vec<String> = plugins
        .stop(left_ms, &log_sink::log)
        .into_iter()
        .filter_map(|(plugin, result)| result.err().map(|e| format!("{}: {e}", plugin.id)))
        .collect();
    left.join("; ")
}

/// How much content the hooks' payloads give the plugins, from the settings `start` was given.
pub fn capture() -> Capture {
    BRIDGE.get().map_or(Capture::DEFAULT, |b| *b.capture.read().unwrap_or_else(PoisonError::into_inner))
}

/// The hot path: hands one hook, read, to the host's thread; never waits.
pub fn push(cx: OwnedContext, hook: OpenClawHook) {
    let Some(bridge) = BRIDGE.get() else { return };
    if bridge.stopped.load(Ordering::Relaxed) {
        return;
    }
    let bytes = HOOK_OVERHEAD_BYTES + cx.text_bytes() + hook.text_bytes();
    if bridge.queued_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes > MAX_QUEUED_BYTES {
        bridge.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        bridge.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if bridge.to_host.send(ToHost::Hook(cx, hook, bytes)).is_err() {
        bridge.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// A stop asked of the host's thread, awaited by [`Stopping::wait`].
pub enum Stopping {
    /// Nothing to stop: never started, or already stopped.
    Nothing,
    Asked {
        deadline: Instant,
        answer: Receiver<String>,
    },
    Failed(String),
}

/// Asks the host's thread to hand out what the translator still holds, then flush and stop every
/// plugin within `budget_ms` in all (after every hook sent before: the stop waits its turn on the
/// host's thread, which may still be starting the plugins). On the gateway's thread, so that a
/// start that follows is queued after it. Until the next start, later calls do nothing.
pub fn request_stop(budget_ms: u64) -> Stopping {
    let Some(bridge) = BRIDGE.get() else { return Stopping::Nothing };
    if bridge.stopped.swap(true, Ordering::AcqRel) {
        return Stopping::Nothing;
    }
    let deadline = Instant::now() + Duration::from_millis(budget_ms);
    let (reply, answer) = crossbeam_channel::bounded(1);
    if bridge.to_host.send(ToHost::Stop { deadline, reply }).is_err() {
        return Stopping::Failed("the host's thread is gone; nothing more was sent".into());
    }
    Stopping::Asked { deadline, answer }
}

impl Stopping {
    /// Waits for the stop, at most until its deadline: what each plugin said it could not send
    /// (empty when all went).
    pub fn wait(self) -> String {
        match self {
            Stopping::Nothing => String::new(),
            Stopping::Failed(why) => why,
            Stopping::Asked { deadline, answer } => match answer.recv_deadline(deadline) {
                Ok(left) => left,
                Err(_) if current_plugins().is_none() => {
                    "the plugins had not started by the shutdown deadline; nothing was traced".into()
                }
                Err(_) => "the plugins did not stop by the shutdown deadline".into(),
            },
        }
    }
}

fn current_plugins() -> Option<Arc<PluginSet>> {
    BRIDGE.get()?.plugins.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Each plugin's counters, as JSON (`{"mlflow": {"accepted": .., ...}}`), since the latest start.
pub fn stats() -> String {
    let Some(plugins) = current_plugins() else { return "{}".to_string() };
    let all: serde_json::Map<String, serde_json::Value> =
        plugins.plugins.iter().map(|p| (p.id.clone(), stats_json(p))).collect();
    serde_json::Value::Object(all).to_string()
}
