//! Credentials stay secret against real servers: a `user:password@` in the tracking URI
//! authenticates and is printed nowhere; a hostile error body (a proxy reflecting the request's
//! Authorization, with a newline, a forged line and ANSI escapes) is logged escaped and redacted;
//! credentials over plain HTTP to another machine are warned about at start.

use openclaw_plugin_tests::doctor::{doctor, gateway_config};
use openclaw_plugin_tests::fault_proxy::{Fault, FaultProxy, Rule, FORGED_LINE};
use openclaw_plugin_tests::*;

fn replay_fixture(config: &str) -> HostRun {
    replay(&real_recording(), config, &["--verbose"], &[])
}

#[test]
fn a_password_in_the_tracking_uri_authenticates_and_is_printed_nowhere() {
    let server = DedicatedMlflow::start_with(ServerSetup { basic_auth: true, ..ServerSetup::default() });
    let admin = server.client();
    let name = unique("userinfo");
    let with_password = server.uri.replace("http://", &format!("http://admin:{ADMIN_PASSWORD}@"));
    let config = format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{with_password}\", experimentName: \"{name}\", flushIntervalMs: 200 }} }} }}"
    );
    let run = replay_fixture(&config);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 6, "{}", run.stderr);
    assert_eq!(admin.search(&admin.experiment_id(&name).unwrap(), "").len(), 6);
    assert!(
        run.stderr.contains(&format!("trackingUri={}", server.uri)),
        "the URL is printed without it: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(ADMIN_PASSWORD) && !run.stdout.contains(ADMIN_PASSWORD), "{}", run.stderr);

    let (code, report) = doctor(&gateway_config(&with_password, &name, ""));
    assert_eq!(code, 0, "{report:#}");
    assert!(!report.to_string().contains(ADMIN_PASSWORD), "{report:#}");
}

#[test]
fn a_hostile_error_body_is_logged_escaped_and_without_the_reflected_token() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    proxy.add(Rule { path_prefix: "/v1/traces".into(), fault: Fault::HostileAnswer(400), times: None });
    let token = "tok-8a1f0c9e7d6b5a43";
    let name = unique("hostile-body");
    let config = format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{}\", trackingToken: \"{token}\", experimentName: \"{name}\", flushIntervalMs: 200 }} }} }}",
        proxy.url
    );
    let run = replay_fixture(&config);
    // The proxy refused every trace, and the log says so with its answer.
    assert_eq!(run.stats("mlflow")["failed"], 6, "{}", run.stderr);
    let refusals: Vec<&str> = run.stderr.lines().filter(|l| l.contains("MLflow refused trace")).collect();
    assert!(!refusals.is_empty(), "{}", run.stderr);
    assert!(refusals.iter().all(|l| l.contains(&format!("proxy error\\n{FORGED_LINE}"))), "{refusals:#?}");
    assert!(!run.stderr.lines().any(|l| l.starts_with(FORGED_LINE)), "a forged line: {}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "an ANSI escape reached the log");
    assert!(!run.stderr.contains(token), "the reflected token reached the log: {}", run.stderr);
}

#[test]
fn credentials_over_plain_http_to_another_machine_are_warned_about_once() {
    // A non-routable address: nothing is sent; the warning is about the settings.
    let token = "tok-5d4c3b2a1f0e9d8c";
    let config = |uri: &str| {
        format!("{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{uri}\", trackingToken: \"{token}\", experimentName: \"x\" }} }} }}")
    };
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let run = run_host(&["check", "--shutdown-ms", "1000"], &config("http://10.255.255.1:5000"), &plugins);
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("in clear text")).collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains("http://10.255.255.1:5000") && warnings[0].contains("use https://"),
        "{}",
        warnings[0]
    );
    assert!(!run.stderr.contains(token));
    // Plain HTTP on this machine stays on it: no warning.
    let run = run_host(&["check", "--shutdown-ms", "1000"], &config("http://127.0.0.1:9"), &plugins);
    assert!(!run.stderr.contains("in clear text"), "{}", run.stderr);
}
