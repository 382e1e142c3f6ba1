//! A plugin's own operator commands (`openclaw-host spool …`, `openclaw mlflow spool …`): the
//! words go to each enabled plugin that has the `command` entry, with its settings, as `doctor`'s
//! checks do; the host prints what comes back.

use crate::loaded::discover;
use crate::settings::{plugin_settings, PluginSettings};
use openclaw_plugin_api::{HostHandleRef, LogLevel};
use serde_json::Value;
use std::path::Path;

/// Runs `args` (the command's name first) in every enabled plugin library in `dir` that has
/// commands: their output (each prefixed by the plugin's id when there are several), or the
/// first error.
pub fn run(
    dir: &Path,
    config: &Value,
    args: &[String],
    host: HostHandleRef,
    log: &dyn Fn(LogLevel, &str),
) -> Result<String, String> {
    let mut answers = Vec::new();
    for library in discover(dir, log) {
        let PluginSettings::Enabled { section, .. } = plugin_settings(config, &library.id) else { continue };
        if let Some(answer) = library.command(&section.to_string(), args, host) {
            answers.push((library.id.clone(), answer?));
        }
    }
    match answers.len() {
        0 => Err(format!(
            "no enabled plugin in {} has commands (plugin interface 0.1.3 or newer, with its settings in the configuration)",
            dir.display()
        )),
        1 => Ok(answers.remove(0).1),
        _ => Ok(answers.iter().map(|(id, out)| format!("{id}:\n{out}")).collect::<Vec<_>>().join("\n")),
    }
}
