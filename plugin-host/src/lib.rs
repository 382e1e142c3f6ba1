//! The host's side of the OpenClaw plugin interface, shared by every host: `openclaw-host` (the
//! harness) and the Node addon that hosts plugins inside the real gateway.
//!
//! - [`loaded`]: find plugin libraries in a directory, check them (`plugin-api`'s loader), start
//!   them with their settings, call their hooks, treat hooks a plugin predates as absent;
//! - [`plugin_set`]: the plugins one host runs, started, driven and stopped the same way everywhere;
//! - [`doctor`]: the configuration's checks, each plugin's own, and the report;
//! - [`command`]: a plugin's own operator commands (the mlflow plugin's `spool`);
//! - [`settings`]: which section of `openclaw.json` configures which plugin;
//! - [`openclaw`]: OpenClaw's own hooks translated into those events as they happen, used live by
//!   the addon and over a whole recording by `openclaw-host replay` ([`translate_recording`]).

pub mod command;
pub mod doctor;
pub mod loaded;
pub mod openclaw;
pub mod plugin_set;
pub mod settings;

use openclaw_plugin_api::OwnedEvent;

pub use loaded::{discover, LoadedPlugin, PluginLibrary};
pub use plugin_set::PluginSet;

/// A whole `hooks.jsonl` recording through the live translator, its content read under `capture`
/// as the gateway's would be: the interface events, in order. A line that is not JSON is an error
/// naming the line; hooks the interface has no use for are skipped.
pub fn translate_recording(recording: &str, capture: openclaw::payload::Capture) -> Result<Vec<OwnedEvent>, String> {
    let mut translator = openclaw::Translator::default();
    let mut out = Vec::new();
    for (i, line) in recording.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if let Some((cx, hook)) = openclaw::recording::parse_line(&value, capture) {
            translator.push(cx, hook, &mut out);
        }
    }
    translator.finish(&mut out);
    Ok(out)
}
