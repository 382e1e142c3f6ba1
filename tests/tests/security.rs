//! TLS to MLflow with rustls: system roots plus `caBundle`, refusal of an unknown issuer, and the
//! explicit, loudly logged `insecureSkipVerify`. The server is the real MLflow behind a TLS front
//! whose certificate comes from a CA made for the test.

use openclaw_plugin_tests::tls_proxy::TlsProxy;
use openclaw_plugin_tests::*;

fn tls_config(name: &str, uri: &str, extra: &str) -> String {
    format!("{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{uri}\", experimentName: \"{name}\", flushIntervalMs: 200, {extra} }} }} }}")
}

#[test]
fn https_with_the_ca_bundle_delivers_and_an_unknown_issuer_is_refused() {
    let mlflow = Mlflow::from_env();
    let proxy = TlsProxy::start(&mlflow.uri);
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);

    let name = unique("tls-bundle");
    let extra = format!("caBundle: \"{}\"", proxy.ca_pem_file.display());
    let run = run_host(&["demo"], &tls_config(&name, &proxy.url, &extra), &plugins);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 6, "{}", run.stderr);
    assert_eq!(mlflow.search(&mlflow.experiment_id(&name).unwrap(), "").len(), 6);

    // Without the bundle the test CA is unknown: nothing is sent, and the log says why.
    let name = unique("tls-unknown");
    let run = run_host(&["demo", "--shutdown-ms", "2000"], &tls_config(&name, &proxy.url, ""), &plugins);
    assert_eq!(run.stats("mlflow")["exported"], 0);
    assert!(mlflow.experiment_id(&name).is_none(), "not even the experiment was created");
    assert!(
        run.stderr.to_lowercase().contains("certificate"),
        "the log names the certificate problem:\n{}",
        run.stderr
    );
}

#[test]
fn skipping_verification_works_for_a_lab_server_and_is_loudly_logged() {
    let mlflow = Mlflow::from_env();
    let proxy = TlsProxy::start(&mlflow.uri);
    let name = unique("tls-insecure");
    let run = run_host(
        &["demo"],
        &tls_config(&name, &proxy.url, "insecureSkipVerify: true"),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 6);
    let warning = run.stderr.lines().find(|l| l.contains("insecureSkipVerify is true")).expect("a warning");
    assert!(warning.contains("warn") && warning.contains("NOT verified"), "{warning}");
}

#[test]
fn a_missing_or_empty_ca_bundle_fails_init_naming_the_key() {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let run =
        run_host(&["check"], &tls_config("x", "https://localhost:1", "caBundle: \"/nonexistent/ca.pem\""), &plugins);
    assert!(
        run.stderr.contains("mlflow config `caBundle`: expected a readable PEM file of CA certificates"),
        "{}",
        run.stderr
    );
    let empty = scratch_dir("tls").join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let run = run_host(
        &["check"],
        &tls_config("x", "https://localhost:1", &format!("caBundle: \"{}\"", empty.display())),
        &plugins,
    );
    assert!(run.stderr.contains("mlflow config `caBundle`: expected PEM CA certificates in"), "{}", run.stderr);
}
