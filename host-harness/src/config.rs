//! `openclaw.json`: where it is, and which part of it belongs to which plugin.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// `--config`, else `$OPENCLAW_CONFIG_PATH`, else `~/.openclaw/openclaw.json`.
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    if let Some(path) = std::env::var_os("OPENCLAW_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    home().join(".openclaw").join("openclaw.json")
}

/// `--plugins-dir`, else `~/.openclaw/plugins`.
pub fn plugins_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf).unwrap_or_else(|| home().join(".openclaw").join("plugins"))
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Reads the file as JSON5 (real `openclaw.json` files have comments and trailing commas).
/// A missing file is an empty configuration, as in OpenClaw.
pub fn load(path: &Path) -> Result<Value, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => json5::from_str::<Value>(&text).map_err(|e| format!("{}: not valid JSON5: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Default::default())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Where a plugin's settings were found, and whether the host should start it.
#[derive(Debug, PartialEq)]
pub enum PluginSettings {
    /// `enabled` is true: start the plugin with this section (JSON text).
    Enabled { key: String, section: Value },
    /// Not started, and why (for the log).
    Disabled(String),
}

/// The plugin's section: `plugins.entries.<id>.config` (where real OpenClaw keeps a plugin's
/// settings), else `diagnostics.<id>` (the seed's own place for `diagnostics.mlflow`).
/// `plugins.entries.<id>.enabled: false` turns the plugin off whatever its section says.
pub fn plugin_settings(config: &Value, id: &str) -> PluginSettings {
    let entry = config.pointer(&format!("/plugins/entries/{id}"));
    if entry.and_then(|e| e.get("enabled")) == Some(&Value::Bool(false)) {
        return PluginSettings::Disabled(format!("plugins.entries.{id}.enabled is false"));
    }
    let (key, section) = match entry.and_then(|e| e.get("config")) {
        Some(section) => (format!("plugins.entries.{id}.config"), section),
        None => match config.pointer(&format!("/diagnostics/{id}")) {
            Some(section) => (format!("diagnostics.{id}"), section),
            None => {
                return PluginSettings::Disabled(format!(
                    "no settings at plugins.entries.{id}.config or diagnostics.{id}"
                ))
            }
        },
    };
    match section.get("enabled") {
        Some(Value::Bool(true)) => PluginSettings::Enabled { key, section: section.clone() },
        Some(other) if !other.is_boolean() => {
            PluginSettings::Disabled(format!("{key}.enabled is {other}, expected true or false"))
        }
        _ => PluginSettings::Disabled(format!("{key}.enabled is not true")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        json5::from_str(text).unwrap()
    }

    #[test]
    fn reads_json5_with_comments_and_trailing_commas() {
        let dir = std::env::temp_dir().join(format!("oc-host-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("openclaw.json");
        std::fs::write(&path, "{\n // a comment\n diagnostics: { mlflow: { enabled: true, }, },\n}\n").unwrap();
        let value = load(&path).unwrap();
        assert_eq!(value.pointer("/diagnostics/mlflow/enabled"), Some(&Value::Bool(true)));
    }

    #[test]
    fn plugin_entries_config_wins_over_diagnostics() {
        let cfg = parse(
            r#"{plugins:{entries:{mlflow:{config:{enabled:true, experimentName:"a"}}}},
                            diagnostics:{mlflow:{enabled:true, experimentName:"b"}}}"#,
        );
        match plugin_settings(&cfg, "mlflow") {
            PluginSettings::Enabled { key, section } => {
                assert_eq!(key, "plugins.entries.mlflow.config");
                assert_eq!(section["experimentName"], "a");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_started_unless_enabled_is_true() {
        let cfg = parse(r#"{diagnostics:{mlflow:{trackingUri:"http://x"}}}"#);
        assert!(
            matches!(plugin_settings(&cfg, "mlflow"), PluginSettings::Disabled(why) if why.contains("diagnostics.mlflow.enabled"))
        );
        let cfg = parse(r#"{diagnostics:{mlflow:{enabled:true}}, plugins:{entries:{mlflow:{enabled:false}}}}"#);
        assert!(
            matches!(plugin_settings(&cfg, "mlflow"), PluginSettings::Disabled(why) if why.contains("plugins.entries.mlflow.enabled"))
        );
        assert!(matches!(plugin_settings(&parse("{}"), "mlflow"), PluginSettings::Disabled(_)));
    }
}
