//! `doctor`, the host's half: whether the configuration gives each plugin library its settings
//! (and, for the gateway, the hook permission it needs), then each plugin's own checks through its
//! `doctor` entry, and the report printed the same way by every host. `openclaw-host doctor` adds
//! its checks of the file before these; the gateway's `openclaw mlflow doctor` has OpenClaw's.

use crate::loaded::discover;
use crate::settings::{plugin_settings, PluginSettings};
use openclaw_plugin_api::{DoctorCheck, HostHandleRef, LogLevel, Verdict};
use serde_json::{json, Value};
use std::path::Path;

/// The package that hosts the stable-ABI plugins in the gateway: OpenClaw grants hook permissions
/// to it, whatever plugins it hosts.
const GATEWAY_PACKAGE: &str = "mlflow";

/// The hooks that start and end a turn are conversation hooks, blocked for a package without
/// `hooks.allowConversationAccess: true`.
pub fn conversation_access(config: &Value) -> DoctorCheck {
    const NAME: &str = "conversation hooks";
    let key = format!("plugins.entries.{GATEWAY_PACKAGE}.hooks.allowConversationAccess");
    let uses_gateway_entry = config.pointer(&format!("/plugins/entries/{GATEWAY_PACKAGE}")).is_some();
    match config.pointer(&format!("/plugins/entries/{GATEWAY_PACKAGE}/hooks/allowConversationAccess")) {
        Some(Value::Bool(true)) => DoctorCheck::pass(NAME, format!("{key} is true")),
        _ if !uses_gateway_entry => DoctorCheck::pass(
            NAME,
            format!("not needed by openclaw-host; the real gateway needs {key}: true once the package is installed"),
        ),
        found => DoctorCheck::fail(
            NAME,
            format!("{key} is {}: OpenClaw blocks llm_input and agent_end, so no turn can be traced", shown(found)),
            format!("set {key}: true in openclaw.json"),
        ),
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or("not set".to_string(), Value::to_string)
}

/// Where `id`'s settings are and whether the host starts it; the section when it does.
pub fn settings_check(config: &Value, id: &str) -> (DoctorCheck, Option<Value>) {
    const NAME: &str = "plugin section";
    match plugin_settings(config, id) {
        PluginSettings::Enabled { key, section } if key.starts_with("diagnostics.") => (
            DoctorCheck::warn(
                NAME,
                format!("{key}, enabled; openclaw-host reads it, but the real gateway refuses a diagnostics.{id} key (exit 78)"),
                format!("for the gateway, move it to plugins.entries.{id}.config"),
            ),
            Some(section),
        ),
        PluginSettings::Enabled { key, section } => (DoctorCheck::pass(NAME, format!("{key}, enabled")), Some(section)),
        PluginSettings::Disabled(why) => (
            DoctorCheck::fail(
                NAME,
                format!("plugin {id} is not started: {why}"),
                format!("put its settings at plugins.entries.{id}.config (with plugins.entries.{id}.enabled not false), or diagnostics.{id} with enabled: true for openclaw-host"),
            ),
            None,
        ),
    }
}

/// Every plugin library in `dir`: found and compatible, its settings, then its own checks.
pub fn plugin_checks(
    dir: &Path,
    config: &Value,
    host: HostHandleRef,
    log: &dyn Fn(LogLevel, &str),
) -> Vec<DoctorCheck> {
    let libraries = discover(dir, log);
    if libraries.is_empty() {
        return vec![DoctorCheck::fail(
            "plugin library",
            format!("no compatible plugin library in {}", dir.display()),
            "install the plugin there (openclaw-host: --plugins-dir; the gateway: openclaw plugins install), and see the log above for libraries that were skipped",
        )];
    }
    let mut checks = Vec::new();
    for library in libraries {
        let id = library.id.clone();
        checks.push(DoctorCheck::pass(
            "plugin library",
            format!("{id} {} from {}", library.version, library.path.display()),
        ));
        let (found, section) = settings_check(config, &id);
        checks.push(found);
        let Some(section) = section else {
            checks.push(DoctorCheck::skip("plugin checks", "the plugin's settings"));
            continue;
        };
        match library.doctor(&section.to_string(), host) {
            Some(own) if own.is_empty() => {
                checks.push(DoctorCheck::pass("plugin checks", format!("{id} has no checks of its own")))
            }
            Some(own) => checks.extend(own),
            None => checks.push(DoctorCheck::fail(
                "plugin checks",
                format!("{id} {} predates the doctor entry (plugin interface 0.1.2)", library.version),
                "install a newer build of the plugin",
            )),
        }
    }
    checks
}

/// Every host's checks after its own of the configuration file (`config_file`): the gateway's hook
/// permission, then each plugin library's (`plugin_checks`).
pub fn checks(
    config_file: DoctorCheck,
    config: &Value,
    dir: &Path,
    host: HostHandleRef,
    log: &dyn Fn(LogLevel, &str),
) -> Vec<DoctorCheck> {
    let mut checks = vec![config_file, conversation_access(config)];
    checks.extend(plugin_checks(dir, config, host, log));
    checks
}

/// True when nothing failed or was skipped (warnings pass).
pub fn all_pass(checks: &[DoctorCheck]) -> bool {
    checks.iter().all(|c| matches!(c.verdict, Verdict::Pass | Verdict::Warn))
}

/// `{"ok": bool, "checks": [{"name", "verdict", "detail", "fix"}]}` for scripts.
pub fn report_json(checks: &[DoctorCheck]) -> Value {
    let list: Vec<Value> = checks
        .iter()
        .map(|c| json!({"name": c.name.as_str(), "verdict": c.verdict.as_str(), "detail": c.detail.as_str(), "fix": c.fix.as_str()}))
        .collect();
    json!({"ok": all_pass(checks), "checks": list})
}

/// One line per check (`PASS  name  detail`), the fix indented under a failure, and a last line
/// that sums it up.
pub fn report_text(checks: &[DoctorCheck]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        out += &format!("{:<4}  {:<width$}  {}\n", c.verdict.as_str().to_uppercase(), c.name.as_str(), c.detail);
        if !c.fix.is_empty() {
            out += &format!("{:<4}  {:<width$}  fix: {}\n", "", "", c.fix);
        }
    }
    let count = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
    let (failed, skipped, warned) = (count(Verdict::Fail), count(Verdict::Skip), count(Verdict::Warn));
    out += &if failed + skipped == 0 {
        format!("all {} checks pass ({warned} with a warning)\n", checks.len())
    } else {
        format!("{failed} failed, {skipped} skipped, {warned} warning(s), of {} checks\n", checks.len())
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn the_gateway_entry_needs_conversation_access() {
        let without = parse(r#"{"plugins":{"entries":{"mlflow":{"config":{}}}}}"#);
        let check = conversation_access(&without);
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.fix.contains("plugins.entries.mlflow.hooks.allowConversationAccess: true"), "{check:?}");
        let with = parse(r#"{"plugins":{"entries":{"mlflow":{"hooks":{"allowConversationAccess":true}}}}}"#);
        assert_eq!(conversation_access(&with).verdict, Verdict::Pass);
        assert_eq!(conversation_access(&parse(r#"{"diagnostics":{"mlflow":{}}}"#)).verdict, Verdict::Pass);
    }

    #[test]
    fn a_diagnostics_section_works_here_but_is_flagged_for_the_gateway() {
        let (check, section) = settings_check(&parse(r#"{"diagnostics":{"mlflow":{"enabled":true}}}"#), "mlflow");
        assert_eq!(check.verdict, Verdict::Warn);
        assert!(check.fix.contains("plugins.entries.mlflow.config"));
        assert!(section.is_some());
        let (check, section) = settings_check(&parse("{}"), "mlflow");
        assert_eq!((check.verdict, section), (Verdict::Fail, None));
    }

    #[test]
    fn the_report_fails_on_a_failure_or_a_skip_but_not_on_a_warning() {
        let warned = [DoctorCheck::pass("a", "x"), DoctorCheck::warn("b", "y", "z")];
        assert!(all_pass(&warned));
        assert_eq!(report_json(&warned)["ok"], true);
        assert!(report_text(&warned).ends_with("all 2 checks pass (1 with a warning)\n"));
        let failed = [DoctorCheck::fail("a", "refused", "start it"), DoctorCheck::skip("b", "a")];
        assert!(!all_pass(&failed));
        assert_eq!(report_json(&failed)["checks"][0]["fix"], "start it");
        assert!(report_text(&failed).contains("      fix: start it\n"), "{}", report_text(&failed));
    }
}
