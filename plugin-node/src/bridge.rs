//! The one host per gateway process: the plugins it loaded and started, and the translator that
//! turns OpenClaw's hooks into their events.
//!
//! OpenClaw registers a plugin several times per process, each time from a fresh copy of the package,
//! and the addon may be required more than once; the JavaScript entry keeps one addon instance on
//! `globalThis`, and this state is a process-wide `OnceLock`, so the plugins start exactly once.
//!
//! The plugin libraries are loaded and the plugins started on the host's own thread, not on the
//! gateway's JavaScript thread that calls `start`: what the hooks send meanwhile waits in
//! `State::waiting`, in order, and is handed over once the plugins run.

use crate::log_sink;
use openclaw_plugin_api::LogLevel;
use openclaw_plugin_host::openclaw::payload::Capture;
use openclaw_plugin_host::openclaw::{HookContext, OpenClawHook, Translator};
use openclaw_plugin_host::plugin_set::stats_json;
use openclaw_plugin_host::{HostEvent, PluginSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the releaser stays awake after the last held event, so that a busy gateway does not
/// pay a wake-up per model call; after that it sleeps until something is held again.
const RELEASER_LINGER_MS: u64 = 10_000;

/// At most this many events wait for the plugins to start (it takes milliseconds); later ones are
/// counted and dropped.
const MAX_WAITING: usize = 1_000;

pub struct Bridge {
    /// How much content the hooks read (from the plugins' settings).
    capture: Capture,
    /// Set, under the state lock, once the starter thread has started them.
    plugins: OnceLock<PluginSet>,
    /// Only the gateway's JavaScript thread pushes; the releaser takes the lock when something the
    /// translator holds falls due (rarely contended).
    state: Mutex<State>,
    /// Wakes the releaser when the translator starts holding something while it sleeps.
    releaser: Condvar,
    stopped: AtomicBool,
}

struct State {
    translator: Translator,
    /// Reused for each hook's events.
    out: Vec<HostEvent>,
    /// The releaser is awake (or lingering) and will see new deadlines by itself.
    releaser_armed: bool,
    /// Events translated before the plugins started, oldest first, and how many did not fit.
    waiting: Vec<HostEvent>,
    dropped_waiting: u64,
}

impl State {
    /// Hands this hook's events to the plugins, or keeps them until the plugins have started.
    fn dispatch(&mut self, plugins: Option<&PluginSet>) {
        match plugins {
            Some(plugins) => self.out.drain(..).for_each(|event| plugins.dispatch(&event)),
            None => {
                let room = MAX_WAITING.saturating_sub(self.waiting.len());
                self.dropped_waiting += self.out.len().saturating_sub(room) as u64;
                let kept = self.out.len().min(room);
                self.waiting.extend(self.out.drain(..).take(kept));
                self.out.clear();
            }
        }
    }
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

/// Loads every plugin library in `plugins_dir` with `plugin-api`'s checks, and starts each that
/// `config` (the gateway's configuration, JSON) enables, with its section, on the host's thread,
/// which logs what it started and then releases what falls due. Returns at once; runs once per
/// process (later calls do nothing).
pub fn start(plugins_dir: &Path, config_json: &str, max_level: LogLevel, wake: log_sink::Wake) -> Result<(), String> {
    let host = log_sink::host_handle(max_level, wake);
    if BRIDGE.get().is_some() {
        return Ok(());
    }
    let config: serde_json::Value =
        serde_json::from_str(config_json).map_err(|e| format!("the gateway's configuration is not JSON: {e}"))?;
    let mut first = false;
    let bridge = BRIDGE.get_or_init(|| {
        first = true;
        Bridge {
            capture: Capture::from_config(&config),
            plugins: OnceLock::new(),
            state: Mutex::new(State {
                translator: Translator::default(),
                out: Vec::with_capacity(8),
                releaser_armed: false,
                waiting: Vec::new(),
                dropped_waiting: 0,
            }),
            releaser: Condvar::new(),
            stopped: AtomicBool::new(false),
        }
    });
    if !first {
        return Ok(());
    }
    // One thread of the host's loads the libraries, starts the plugins, then releases what the
    // translator holds. It never ends: an allocator inside a plugin library (mimalloc) takes the
    // thread that loaded it for the process's main one, whose end must not come before the others'.
    let plugins_dir = plugins_dir.to_path_buf();
    std::thread::Builder::new()
        .name("openclaw-mlflow-host".into())
        .spawn(move || {
            let began = Instant::now();
            let plugins = PluginSet::start(&plugins_dir, &config, host, &|level, line| host.write(level, line));
            let took = began.elapsed().as_secs_f64() * 1000.0;
            let summary = plugins.summary();
            hand_over(bridge, plugins);
            log_sink::log(
                LogLevel::Info,
                &format!(
                    "MLflow host started in the gateway (pid {}, in {took:.1} ms on its own thread): {summary}",
                    std::process::id()
                ),
            );
            release_when_due(bridge);
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("could not start the host's thread: {e}"))?;
    Ok(())
}

/// Makes the started plugins the bridge's and hands them what waited, in order (under the lock, so
/// that no hook's events overtake it).
fn hand_over(bridge: &Bridge, plugins: PluginSet) {
    let mut state = lock(bridge);
    let plugins = bridge.plugins.get_or_init(|| plugins);
    for event in std::mem::take(&mut state.waiting) {
        plugins.dispatch(&event);
    }
    let dropped = std::mem::take(&mut state.dropped_waiting);
    drop(state);
    bridge.releaser.notify_all(); // a shutdown waiting for the start
    if dropped > 0 {
        log_sink::log(
            LogLevel::Warn,
            &format!("MLflow host: {dropped} event(s) came before the plugins had started and were dropped"),
        );
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn lock(bridge: &Bridge) -> MutexGuard<'_, State> {
    bridge.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The releaser thread: hands out what the translator holds (a model call waiting for its reply,
/// a failed run waiting for a retry) when it falls due, even if no other hook comes. It sleeps
/// while nothing is held, so an idle gateway stays idle.
fn release_when_due(bridge: &'static Bridge) {
    let mut state = lock(bridge);
    let mut last_busy = now_ms();
    while !bridge.stopped.load(Ordering::Acquire) {
        let now = now_ms();
        let State { translator, out, .. } = &mut *state;
        translator.release_due(now, out);
        state.dispatch(bridge.plugins.get());
        let wait = match state.translator.next_deadline() {
            Some(deadline) => {
                last_busy = now;
                Some(deadline.saturating_sub(now).max(1))
            }
            None if now.saturating_sub(last_busy) < RELEASER_LINGER_MS => Some(RELEASER_LINGER_MS),
            None => None,
        };
        state = match wait {
            Some(ms) => {
                bridge.releaser.wait_timeout(state, Duration::from_millis(ms)).unwrap_or_else(|e| e.into_inner()).0
            }
            None => {
                state.releaser_armed = false;
                let state = bridge.releaser.wait(state).unwrap_or_else(|e| e.into_inner());
                last_busy = now_ms();
                state
            }
        };
    }
}

/// The hot path: translate one hook and hand its events to every plugin (each copies and queues).
#[inline]
/// How much content the hooks' payloads give the plugins, from the settings `start` was given.
pub fn capture() -> Capture {
    BRIDGE.get().map_or(Capture::DEFAULT, |b| b.capture)
}

pub fn push(cx: HookContext, hook: OpenClawHook) {
    let Some(bridge) = BRIDGE.get() else { return };
    if bridge.stopped.load(Ordering::Relaxed) {
        return;
    }
    let mut state = lock(bridge);
    let State { translator, out, .. } = &mut *state;
    translator.push(cx, hook, out);
    state.dispatch(bridge.plugins.get());
    if !state.releaser_armed && state.translator.next_deadline().is_some() {
        state.releaser_armed = true;
        bridge.releaser.notify_one();
    }
}

/// Hands out what the translator still holds, then flushes and stops every plugin within
/// `budget_ms` in all. Returns what each plugin said it could not send (empty when all went).
/// Later calls do nothing.
pub fn shutdown(budget_ms: u64) -> String {
    let Some(bridge) = BRIDGE.get() else { return String::new() };
    if bridge.stopped.swap(true, Ordering::AcqRel) {
        return String::new();
    }
    let deadline = Instant::now() + Duration::from_millis(budget_ms);
    let plugins = {
        let mut state = lock(bridge);
        // A stop right after the start: the start is waited for, within the budget.
        while bridge.plugins.get().is_none() && Instant::now() < deadline {
            let wait = deadline.saturating_duration_since(Instant::now());
            state = bridge.releaser.wait_timeout(state, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
        let State { translator, out, .. } = &mut *state;
        translator.finish(out);
        state.dispatch(bridge.plugins.get());
        bridge.plugins.get()
    };
    bridge.releaser.notify_all();
    let Some(plugins) = plugins else {
        return "the plugins had not started by the shutdown deadline; nothing was traced".into();
    };
    let left_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
    let left: Vec<String> = plugins
        .stop(left_ms, &log_sink::log)
        .into_iter()
        .filter_map(|(plugin, result)| result.err().map(|e| format!("{}: {e}", plugin.id)))
        .collect();
    left.join("; ")
}

/// Each plugin's counters, as JSON (`{"mlflow": {"accepted": .., ...}}`).
pub fn stats() -> String {
    let Some(bridge) = BRIDGE.get() else { return "{}".to_string() };
    let Some(plugins) = bridge.plugins.get() else { return "{}".to_string() };
    let all: serde_json::Map<String, serde_json::Value> =
        plugins.plugins.iter().map(|p| (p.id.clone(), stats_json(p))).collect();
    serde_json::Value::Object(all).to_string()
}
