//! `openclaw-host doctor` against real MLflow servers: a healthy setup passes every check and leaves
//! a test trace that MLflow shows with its Session and User; each broken setup that can be made
//! here fails at the check an operator would look at, with its fix, and exits 1.

use openclaw_plugin_tests::doctor::{assert_fails_at, check, doctor, gateway_config, verdict};
use openclaw_plugin_tests::fault_proxy::{Fault, FaultProxy, Rule};
use openclaw_plugin_tests::*;
use serde_json::Value;

#[test]
fn a_healthy_setup_passes_every_check_and_its_test_trace_is_in_mlflow() {
    let mlflow = Mlflow::from_env();
    let experiment = unique("doctor-healthy");
    let (code, report) = doctor(&gateway_config(&mlflow.uri, &experiment, ""));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    // Every check passes; a release whose UI shows no cost (before 3.10) says so, naming itself.
    let release = mlflow.version();
    let shows_no_cost = dotted_version(&release) < (3, 10, 0);
    for c in report["checks"].as_array().unwrap() {
        if c["name"] == "what MLflow shows" {
            let detail = c["detail"].as_str().unwrap();
            assert!(shows_no_cost, "only releases before 3.10 lack a feature: {c:#}");
            assert!(c["verdict"] == "warn" && detail.contains(&release) && detail.contains("no cost"), "{c:#}");
        } else {
            assert_eq!(c["verdict"], "pass", "{c:#}");
        }
    }
    assert_eq!(
        report["checks"].as_array().unwrap().iter().any(|c| c["name"] == "what MLflow shows"),
        shows_no_cost,
        "{report:#}"
    );
    assert!(
        verdict(&report, "MLflow version") == "pass"
            && check(&report, "MLflow version")["detail"].as_str().unwrap().starts_with(&release)
    );
    // The test trace is where the doctor says, with the Session and User an operator filters by.
    let id = mlflow.experiment_id(&experiment).expect("the doctor created the experiment, as the plugin would");
    let found = mlflow.search(&id, "metadata.`mlflow.trace.session` = 'agent:mlflow-doctor:doctor'");
    assert_eq!(found.len(), 2, "the test turn and the unpriced one: {found:#?}");
    let said = check(&report, "test trace")["detail"].as_str().unwrap();
    let test_trace =
        found.iter().find(|t| said.contains(t["trace_id"].as_str().unwrap())).expect("the trace the doctor named");
    assert_eq!(test_trace["trace_metadata"]["mlflow.trace.user"], "mlflow-doctor");
    assert_eq!(test_trace["state"], "OK");
    // Its metrics went to a run of the doctor's own, ended, not to a gateway's.
    let runs = mlflow.runs(&id);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert!(runs[0]["info"]["run_name"].as_str().unwrap().starts_with("openclaw-mlflow-doctor@"), "{:#}", runs[0]);
    assert_eq!(runs[0]["info"]["status"], "FINISHED");
}

#[test]
fn the_text_report_gives_one_line_per_check_and_the_fix_under_a_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = gateway_config(&format!("http://127.0.0.1:{port}"), "x", "");
    let run = run_host(&["doctor"], &config, &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    assert_eq!(run.status.code(), Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("PASS  config file"), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL  TCP connection"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("fix: nothing listens on port {port}")), "{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with("1 failed, 11 skipped, 0 warning(s), of 19 checks"), "{}", run.stdout);
}

#[test]
fn a_wrong_port_fails_at_the_tcp_connection() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, report) = doctor(&gateway_config(&format!("http://127.0.0.1:{port}"), "x", ""));
    assert_fails_at(code, &report, "TCP connection", &format!("nothing listens on port {port}"));
    assert_eq!(verdict(&report, "tracking URI"), "pass");
}

#[test]
fn a_wrong_scheme_fails_at_tls_and_says_to_use_http() {
    let mlflow = Mlflow::from_env();
    let https = mlflow.uri.replacen("http://", "https://", 1);
    let (code, report) = doctor(&gateway_config(&https, "x", ""));
    assert_fails_at(code, &report, "TLS", "write the URL with http://");
}

#[test]
fn refused_credentials_fail_at_credentials_and_the_secret_is_never_printed() {
    let mlflow = Mlflow::from_env();
    // An authenticating proxy in front of MLflow that refuses every request (as with a revoked token).
    let proxy = FaultProxy::start(&mlflow.uri);
    proxy.add(Rule { path_prefix: "/".into(), fault: Fault::Status { code: 401, retry_after: None }, times: None });
    let secret = "revoked-token-5f1c";
    let run = run_host(
        &["doctor", "--json"],
        &gateway_config(&proxy.url, "x", &format!(r#"trackingToken: "{secret}""#)),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_fails_at(run.status.code().unwrap(), &report, "credentials", "check the token");
    assert!(check(&report, "credentials")["detail"].as_str().unwrap().contains("refused (401) with a bearer token"));
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "the token is never printed");
    // It did send the token.
    let sent = proxy.seen().iter().any(|s| {
        s.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == &format!("Bearer {secret}"))
    });
    assert!(sent, "the doctor sends the configured token");
}

#[test]
fn a_file_store_server_fails_at_the_backend_store() {
    let server = DedicatedMlflow::start_file_store();
    let (code, report) = doctor(&gateway_config(&server.uri, &unique("doctor-file"), ""));
    assert_eq!(code, 1, "{report:#}");
    let backend = check(&report, "backend store");
    assert_eq!(backend["verdict"], "fail", "{report:#}");
    assert!(backend["detail"].as_str().unwrap().starts_with("FileStore"), "{backend:#}");
    assert!(backend["fix"].as_str().unwrap().contains("--backend-store-uri sqlite:///"), "{backend:#}");
    assert_eq!(verdict(&report, "test trace"), "skip");
}

#[test]
fn a_deleted_experiment_fails_and_the_doctor_leaves_it_deleted() {
    let mlflow = Mlflow::from_env();
    let name = unique("doctor-deleted");
    let id = mlflow.create_experiment(&name);
    mlflow.delete_experiment(&id);
    let (code, report) = doctor(&gateway_config(&mlflow.uri, &name, ""));
    assert_eq!(code, 1, "{report:#}");
    let experiment = check(&report, "experiment");
    assert_eq!(experiment["verdict"], "fail", "{report:#}");
    assert!(experiment["detail"].as_str().unwrap().contains("is deleted"), "{experiment:#}");
    assert!(experiment["fix"].as_str().unwrap().contains(&format!("--experiment-id {id}")), "{experiment:#}");
    assert_eq!(verdict(&report, "test trace"), "skip");
    assert_eq!(mlflow.experiment(&id)["lifecycle_stage"], "deleted", "a doctor changes nothing it checks");
}

#[test]
fn a_server_that_fetches_its_model_catalog_is_flagged_for_offline_use() {
    let server = DedicatedMlflow::start_with_remote_catalog();
    let (code, report) = doctor(&gateway_config(&server.uri, &unique("doctor-catalog"), ""));
    assert_eq!(code, 0, "a warning is not a failure: {report:#}");
    let cost = check(&report, "cost estimation");
    if Mlflow::from_uri(&server.uri).release() < (3, 11, 0) {
        // The remote model catalog came in 3.11: an older server has nothing to wait on.
        assert_eq!(cost["verdict"], "pass", "{report:#}");
        return;
    }
    assert_eq!(cost["verdict"], "warn", "{report:#}");
    assert!(cost["fix"].as_str().unwrap().contains("MLFLOW_MODEL_CATALOG_URI="), "{cost:#}");
}

#[test]
fn a_bad_setting_and_a_missing_gateway_permission_fail_before_any_network_check() {
    let config =
        r#"{ plugins: { entries: { mlflow: { config: { trackingUri: "http://127.0.0.1:1", batchsize: 5 } } } } }"#;
    let (code, report) = doctor(config);
    assert_eq!(code, 1);
    assert_eq!(verdict(&report, "conversation hooks"), "fail");
    assert!(check(&report, "conversation hooks")["fix"].as_str().unwrap().contains("allowConversationAccess: true"));
    let settings = check(&report, "settings");
    assert_eq!(settings["verdict"], "fail");
    assert!(settings["detail"].as_str().unwrap().contains("batchsize"), "{settings:#}");
    assert_eq!(verdict(&report, "TCP connection"), "skip");
}

#[test]
fn a_config_file_that_is_not_json5_fails_first() {
    let (code, report) = doctor("{ plugins: { entries: ");
    assert_eq!(code, 1);
    assert_eq!(verdict(&report, "config file"), "fail");
    assert!(check(&report, "config file")["detail"].as_str().unwrap().contains("not valid JSON5"), "{report:#}");
    assert_eq!(verdict(&report, "plugin checks"), "skip");
}

#[test]
fn a_config_file_nested_fifty_thousand_deep_fails_first_without_a_crash() {
    let nested = format!("{{ plugins: {}{} }}", "[".repeat(50_000), "]".repeat(50_000));
    let (code, report) = doctor(&nested);
    assert_eq!(code, 1);
    assert_eq!(verdict(&report, "config file"), "fail");
    assert!(
        check(&report, "config file")["detail"].as_str().unwrap().contains("nested more than 128 deep"),
        "{report:#}"
    );
}
