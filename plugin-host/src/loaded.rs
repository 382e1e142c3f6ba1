//! Loading plugin libraries from a plugins directory, starting them with their configuration, and
//! calling their hooks. Every host (`openclaw-host`, the gateway's Node addon) goes through this,
//! so a plugin gets the same checks and the same calls wherever it runs.

use openclaw_plugin_api::abi_stable::std_types::{RStr, RString};
use openclaw_plugin_api::*;
use std::path::{Path, PathBuf};

/// A started plugin.
pub struct LoadedPlugin {
    pub id: String,
    pub version: String,
    pub path: PathBuf,
    object: PluginObject,
}

/// What the host knows of a library before starting it.
pub struct PluginLibrary {
    pub id: String,
    pub version: String,
    pub path: PathBuf,
    module: PluginModRef,
}

/// Every loadable plugin library in `dir` (files ending in the platform's library suffix), in
/// name order. Libraries that are not plugins or fail the interface check are reported through
/// `log` and skipped: one bad file must not keep the host from starting.
pub fn discover(dir: &Path, log: &dyn Fn(LogLevel, &str)) -> Vec<PluginLibrary> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == std::env::consts::DLL_EXTENSION))
            .collect(),
        Err(e) => {
            log(LogLevel::Warn, &format!("plugins directory {}: {e}; no plugins loaded", dir.display()));
            return Vec::new();
        }
    };
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        match load_plugin_library(&path) {
            Ok(module) => {
                let id = module.id()().to_string();
                let version = module.version()().to_string();
                log(LogLevel::Info, &format!("loaded plugin {id} {version} from {}", path.display()));
                found.push(PluginLibrary { id, version, path, module });
            }
            Err(e) => log(
                LogLevel::Warn,
                &format!("skipping {}: not a compatible OpenClaw plugin: {}", path.display(), e.summary()),
            ),
        }
    }
    found
}

impl PluginLibrary {
    /// Calls the plugin's `init` with its configuration section (JSON text) and the host's handle
    /// (its logger), which the plugin may use from any thread for as long as it runs.
    pub fn start(self, config_json: &str, host: HostHandleRef) -> Result<LoadedPlugin, String> {
        match self.module.init()(RStr::from_str(config_json), host) {
            openclaw_plugin_api::abi_stable::std_types::ROk(object) => {
                Ok(LoadedPlugin { id: self.id, version: self.version, path: self.path, object })
            }
            openclaw_plugin_api::abi_stable::std_types::RErr(message) => Err(message.into()),
        }
    }
}

impl PluginLibrary {
    /// The plugin's own checks for this configuration section (JSON text), or `None` when the
    /// library predates the `doctor` entry (interface 0.1.2).
    pub fn doctor(&self, config_json: &str, host: HostHandleRef) -> Option<Vec<DoctorCheck>> {
        let doctor = self.module.doctor()?;
        Some(doctor(RStr::from_str(config_json), host).into_vec())
    }

    /// Runs the plugin's operator command `args` (its words) for this configuration section:
    /// the output to print, or a message. `None` when the library predates the `command` entry
    /// (interface 0.1.3).
    pub fn command(&self, config_json: &str, args: &[String], host: HostHandleRef) -> Option<Result<String, String>> {
        let command = self.module.command()?;
        let words = args.iter().map(|a| RString::from(a.as_str())).collect();
        Some(command(RStr::from_str(config_json), words, host).into_result().map(String::from).map_err(String::from))
    }
}

impl LoadedPlugin {
    pub fn hooks(&self) -> PluginHooksRef {
        self.object.hooks()
    }

    /// Calls the hook for `event`. A hook this plugin's interface version lacks is skipped;
    /// returns whether the plugin had the hook.
    pub fn dispatch(&self, event: &OwnedEvent) -> bool {
        event.give_to(&self.object)
    }

    pub fn flush(&self, timeout_ms: u64) -> Result<(), String> {
        self.object.flush(timeout_ms)
    }

    pub fn shutdown(&self, timeout_ms: u64) -> Result<(), String> {
        self.object.shutdown(timeout_ms)
    }

    pub fn stats(&self) -> PluginStats {
        self.object.stats()
    }

    /// Names of the hooks this plugin's interface version lacks (the host skips them).
    pub fn missing_hooks(&self) -> Vec<&'static str> {
        let h = self.object.hooks();
        [
            ("session_start", h.on_session_start().is_none()),
            ("session_end", h.on_session_end().is_none()),
            ("subagent_spawned", h.on_subagent_spawned().is_none()),
            ("subagent_ended", h.on_subagent_ended().is_none()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
        .collect()
    }
}
