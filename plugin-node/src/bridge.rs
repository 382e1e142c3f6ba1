//! The one host per gateway process: the plugins it loaded and started, and the translator that
//! turns OpenClaw's hooks into their events.
//!
//! OpenClaw registers a plugin several times per process, each time from a fresh copy of the package,
//! and the addon may be required more than once; the JavaScript entry keeps one addon instance on
//! `globalThis`, and this state is a process-wide `OnceLock`, so the plugins start exactly once.

use crate::log_sink;
use openclaw_plugin_api::LogLevel;
use openclaw_plugin_host::openclaw::{HookContext, OpenClawHook, Translator};
use openclaw_plugin_host::settings::{plugin_settings, PluginSettings};
use openclaw_plugin_host::{discover, HostEvent, LoadedPlugin};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Bridge {
    plugins: Vec<LoadedPlugin>,
    /// The translator and a reused output buffer; only the gateway's JavaScript thread pushes, so
    /// the lock is never contended on the hot path (shutdown takes it once).
    state: Mutex<(Translator, Vec<HostEvent>)>,
    stopped: AtomicBool,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

/// Loads every plugin library in `plugins_dir` with `plugin-api`'s checks, and starts each that
/// `config` (the gateway's configuration, JSON) enables, with its section. Runs once per process;
/// later calls return the first start's summary.
pub fn start(plugins_dir: &Path, config_json: &str, max_level: LogLevel, wake: log_sink::Wake) -> Result<String, String> {
    let host = log_sink::host_handle(max_level, wake);
    if let Some(bridge) = BRIDGE.get() {
        return Ok(summary(bridge));
    }
    let config: serde_json::Value =
        serde_json::from_str(config_json).map_err(|e| format!("the gateway's configuration is not JSON: {e}"))?;
    let mut plugins = Vec::new();
    for library in discover(plugins_dir, &|level, line| host.write(level, line)) {
        match plugin_settings(&config, &library.id) {
            PluginSettings::Disabled(why) => host.write(LogLevel::Info, &format!("plugin {} not started: {why}", library.id)),
            PluginSettings::Enabled { key, section } => {
                let id = library.id.clone();
                match library.start(&section.to_string(), host) {
                    Ok(plugin) => {
                        let missing = plugin.missing_hooks();
                        if !missing.is_empty() {
                            host.write(LogLevel::Info, &format!("plugin {id} predates hooks {}; they are skipped", missing.join(", ")));
                        }
                        host.write(LogLevel::Info, &format!("plugin {id} {} started with {key}", plugin.version));
                        plugins.push(plugin);
                    }
                    Err(e) => host.write(LogLevel::Error, &format!("plugin {id} failed to start: {e}")),
                }
            }
        }
    }
    let bridge = BRIDGE.get_or_init(|| Bridge {
        plugins,
        state: Mutex::new((Translator::default(), Vec::with_capacity(8))),
        stopped: AtomicBool::new(false),
    });
    Ok(summary(bridge))
}

fn summary(bridge: &Bridge) -> String {
    let names: Vec<String> = bridge.plugins.iter().map(|p| format!("{} {}", p.id, p.version)).collect();
    if names.is_empty() {
        "no plugin started".to_string()
    } else {
        names.join(", ")
    }
}

/// The hot path: translate one hook and hand its events to every plugin (each copies and queues).
#[inline]
pub fn push(cx: HookContext, hook: OpenClawHook) {
    let Some(bridge) = BRIDGE.get() else { return };
    if bridge.stopped.load(Ordering::Relaxed) {
        return;
    }
    let mut state = bridge.state.lock().unwrap_or_else(|e| e.into_inner());
    let (translator, out) = &mut *state;
    translator.push(cx, hook, out);
    for event in out.drain(..) {
        for plugin in &bridge.plugins {
            plugin.dispatch(&event);
        }
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
    {
        let mut state = bridge.state.lock().unwrap_or_else(|e| e.into_inner());
        let (translator, out) = &mut *state;
        translator.finish(out);
        for event in out.drain(..) {
            for plugin in &bridge.plugins {
                plugin.dispatch(&event);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_millis(budget_ms);
    let left = || deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
    let mut problems = Vec::new();
    for plugin in &bridge.plugins {
        // Flush gets at most half, so that shutdown always has time to take in the last events.
        if let Err(e) = plugin.flush(left() / 2) {
            log_sink::log(LogLevel::Warn, &format!("plugin {} flush: {e}", plugin.id));
        }
        if let Err(e) = plugin.shutdown(left()) {
            problems.push(format!("{}: {e}", plugin.id));
        }
    }
    problems.join("; ")
}

/// Each plugin's counters, as JSON (`{"mlflow": {"accepted": .., ...}}`).
pub fn stats() -> String {
    let Some(bridge) = BRIDGE.get() else { return "{}".to_string() };
    let all: serde_json::Map<String, serde_json::Value> = bridge
        .plugins
        .iter()
        .map(|p| {
            let st = p.stats();
            let extra: serde_json::Map<String, serde_json::Value> =
                st.extra.iter().map(|t| (t.0.to_string(), t.1.into())).collect();
            let value = serde_json::json!({
                "version": p.version, "accepted": st.accepted, "dropped": st.dropped,
                "exported": st.exported, "failed": st.failed, "extra": extra,
            });
            (p.id.clone(), value)
        })
        .collect();
    serde_json::Value::Object(all).to_string()
}
