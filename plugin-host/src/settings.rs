//! Which part of OpenClaw's configuration belongs to which plugin, and whether to start it.
//! The same rule in every host, so a plugin starts (or not) for the same reasons everywhere.

use serde_json::Value;

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
/// `plugins.entries.<id>.enabled: false` turns the plugin off whatever its section says; a section
/// in `plugins.entries` without `enabled` is on (as in the gateway), one in `diagnostics` is off.
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
    // In plugins.entries the gateway's own switch is the entry's `enabled`, and the package's
    // manifest defaults the section's `enabled` to true: read a gateway's openclaw.json the same way.
    let default_on = key.starts_with("plugins.entries.");
    match section.get("enabled") {
        Some(Value::Bool(true)) => PluginSettings::Enabled { key, section: section.clone() },
        None if default_on => {
            let mut section = section.clone();
            if let Some(fields) = section.as_object_mut() {
                fields.insert("enabled".into(), Value::Bool(true));
            }
            PluginSettings::Enabled { key, section }
        }
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
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_gateway_entry_without_enabled_is_on_and_a_diagnostics_section_without_it_is_off() {
        let gateway = parse(r#"{"plugins":{"entries":{"mlflow":{"config":{"experimentName":"a"}}}}}"#);
        match plugin_settings(&gateway, "mlflow") {
            PluginSettings::Enabled { section, .. } => assert_eq!(section["enabled"], true),
            other => panic!("{other:?}"),
        }
        let seed = parse(r#"{"diagnostics":{"mlflow":{"experimentName":"a"}}}"#);
        assert_eq!(
            plugin_settings(&seed, "mlflow"),
            PluginSettings::Disabled("diagnostics.mlflow.enabled is not true".into())
        );
    }

    #[test]
    fn plugin_entries_config_wins_over_diagnostics() {
        let cfg = parse(
            r#"{"plugins":{"entries":{"mlflow":{"config":{"enabled":true, "experimentName":"a"}}}},
                            "diagnostics":{"mlflow":{"enabled":true, "experimentName":"b"}}}"#,
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
        let cfg = parse(r#"{"diagnostics":{"mlflow":{"trackingUri":"http://x"}}}"#);
        assert!(
            matches!(plugin_settings(&cfg, "mlflow"), PluginSettings::Disabled(why) if why.contains("diagnostics.mlflow.enabled"))
        );
        let cfg =
            parse(r#"{"diagnostics":{"mlflow":{"enabled":true}}, "plugins":{"entries":{"mlflow":{"enabled":false}}}}"#);
        assert!(
            matches!(plugin_settings(&cfg, "mlflow"), PluginSettings::Disabled(why) if why.contains("plugins.entries.mlflow.enabled"))
        );
        assert!(matches!(plugin_settings(&parse("{}"), "mlflow"), PluginSettings::Disabled(_)));
    }
}
