//! The plugins one host runs: every library in its plugins directory that its configuration
//! enables, started, driven and stopped the same way in `openclaw-host` and in the gateway's addon.

use crate::loaded::{discover, LoadedPlugin, PluginLibrary};
use crate::settings::{plugin_settings, PluginSettings};
use openclaw_plugin_api::OwnedEvent;
use openclaw_plugin_api::{HostHandleRef, LogLevel};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct PluginSet {
    pub plugins: Vec<LoadedPlugin>,
    /// An enabled plugin refused to start (its reason was logged).
    pub start_failed: bool,
}

impl PluginSet {
    /// Loads every plugin library in `dir` (checked by `plugin-api`'s loader) and starts each that
    /// `config` (OpenClaw's configuration) enables, with its section. The host's own lines go to
    /// `log`; the plugins get `host` (its logger) for theirs.
    pub fn start(dir: &Path, config: &Value, host: HostHandleRef, log: &dyn Fn(LogLevel, &str)) -> PluginSet {
        PluginSet::start_loaded(discover(dir, log), config, host, log)
    }

    /// The same for libraries already loaded (`discover`): a host may load them on one thread and
    /// start them on another.
    pub fn start_loaded(
        libraries: Vec<PluginLibrary>,
        config: &Value,
        host: HostHandleRef,
        log: &dyn Fn(LogLevel, &str),
    ) -> PluginSet {
        let mut set = PluginSet { plugins: Vec::new(), start_failed: false };
        for library in libraries {
            let id = library.id.clone();
            match plugin_settings(config, &id) {
                PluginSettings::Disabled(why) => log(LogLevel::Info, &format!("plugin {id} not started: {why}")),
                PluginSettings::Enabled { key, section } => match library.start(&section.to_string(), host) {
                    Ok(plugin) => {
                        let missing = plugin.missing_hooks();
                        if !missing.is_empty() {
                            log(
                                LogLevel::Info,
                                &format!("plugin {id} predates hooks {}; they are skipped", missing.join(", ")),
                            );
                        }
                        log(LogLevel::Info, &format!("plugin {id} started with {key}"));
                        set.plugins.push(plugin);
                    }
                    Err(e) => {
                        log(LogLevel::Error, &format!("plugin {id} failed to start: {e}"));
                        set.start_failed = true;
                    }
                },
            }
        }
        set
    }

    /// Hands one event to every plugin (a hook a plugin predates is skipped).
    pub fn dispatch(&self, event: &OwnedEvent) {
        for plugin in &self.plugins {
            plugin.dispatch(event);
        }
    }

    /// Flushes, then shuts down, each plugin within `budget_ms` in all (flush gets at most half,
    /// so that shutdown always has time to take in the last events). Returns, per plugin, what its
    /// shutdown said it could not send.
    pub fn stop(&self, budget_ms: u64, log: &dyn Fn(LogLevel, &str)) -> Vec<(&LoadedPlugin, Result<(), String>)> {
        let deadline = Instant::now() + Duration::from_millis(budget_ms);
        let left = || deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        self.plugins
            .iter()
            .map(|plugin| {
                if let Err(e) = plugin.flush(left() / 2) {
                    log(LogLevel::Warn, &format!("plugin {} flush: {e}", plugin.id));
                }
                (plugin, plugin.shutdown(left()))
            })
            .collect()
    }

    /// "mlflow 0.1.0, other 1.2.0", or "no plugin started".
    pub fn summary(&self) -> String {
        let names: Vec<String> = self.plugins.iter().map(|p| format!("{} {}", p.id, p.version)).collect();
        if names.is_empty() {
            "no plugin started".to_string()
        } else {
            names.join(", ")
        }
    }
}

/// A plugin's counters as JSON: `{plugin, version, path, accepted, dropped, exported, failed, extra}`.
pub fn stats_json(plugin: &LoadedPlugin) -> Value {
    let st = plugin.stats();
    let extra: serde_json::Map<String, Value> = st.extra.iter().map(|t| (t.0.to_string(), t.1.into())).collect();
    json!({
        "plugin": plugin.id, "version": plugin.version, "path": plugin.path,
        "accepted": st.accepted, "dropped": st.dropped, "exported": st.exported, "failed": st.failed,
        "extra": extra,
    })
}
