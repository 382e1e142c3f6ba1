//! `openclaw-host doctor` as a test runs it: its JSON report, one check of it, and a gateway-style
//! configuration (the plugin's entry with the hook permission the doctor checks first).

use crate::{built, plugins_dir, run_host, MLFLOW_PLUGIN};
use serde_json::Value;

/// The doctor's JSON report and its exit code, for `config` (the mlflow plugin in the plugins dir).
pub fn doctor(config: &str) -> (i32, Value) {
    let run = run_host(&["doctor", "--json"], config, &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    let report = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.status.code().unwrap_or(-1), report)
}

pub fn gateway_config(uri: &str, experiment: &str, extra: &str) -> String {
    format!(
        r#"{{ plugins: {{ entries: {{ mlflow: {{ hooks: {{ allowConversationAccess: true }},
              config: {{ trackingUri: "{uri}", experimentName: "{experiment}", {extra} }} }} }} }} }}"#
    )
}

pub fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} check in {report:#}"))
}

pub fn verdict<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["verdict"].as_str().unwrap()
}

/// Exit 1, `name` failed with a fix mentioning `fix_says`, and what needs it skipped (the last of
/// the server's checks; `spool`, after them, looks at this machine only).
pub fn assert_fails_at(code: i32, report: &Value, name: &str, fix_says: &str) {
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    let failed = check(report, name);
    assert_eq!(failed["verdict"], "fail", "{report:#}");
    assert!(failed["fix"].as_str().unwrap().contains(fix_says), "{failed:#}");
    let checks = report["checks"].as_array().unwrap();
    let at = checks.iter().position(|c| c["name"] == name).unwrap();
    let before: Vec<&str> = checks[..at].iter().map(|c| c["verdict"].as_str().unwrap()).collect();
    assert!(before.iter().all(|v| *v == "pass" || *v == "warn"), "only {name} fails: {report:#}");
    let (spool, after) = checks[at + 1..].split_last().unwrap();
    assert_eq!(spool["name"], "spool", "{report:#}");
    assert_eq!(after.last().unwrap()["verdict"], "skip", "what needs {name} is skipped: {report:#}");
}
