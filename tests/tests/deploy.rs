//! The deployment guide's files (deploy/), checked as far as this machine can: every manifest and
//! config parses; the references between them hold; the image's install step (install-plugin.sh)
//! runs against the real OpenClaw; each example openclaw.json passes `openclaw config validate` and our
//! own validation; and the image's route (the package loaded from plugins.load.paths, the server and
//! experiment from the environment) traces a real turn into MLflow.

use openclaw_plugin_tests::openclaw::OpenClaw;
use openclaw_plugin_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn deploy(path: &str) -> PathBuf {
    workspace_root().join("deploy").join(path)
}

/// Every YAML document in `path`, as JSON (read by PyYAML, which MLflow's virtualenv carries).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let python = workspace_root().join(".venv/bin/python");
    let script = "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))";
    let out = std::process::Command::new(python).args(["-c", script]).arg(path).output().expect("run .venv/bin/python");
    assert!(out.status.success(), "{} is not valid YAML: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kubernetes_objects() -> Vec<Value> {
    let kustomization = &yaml_documents(&deploy("kubernetes/kustomization.yaml"))[0];
    let mut objects = Vec::new();
    for file in kustomization["resources"].as_array().unwrap() {
        objects.extend(yaml_documents(&deploy(&format!("kubernetes/{}", file.as_str().unwrap()))));
    }
    objects
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/kubernetes"))
}

#[test]
fn every_manifest_parses_and_what_one_names_another_defines() {
    let objects = kubernetes_objects();
    for o in &objects {
        assert!(o["apiVersion"].is_string() && o["kind"].is_string() && o["metadata"]["name"].is_string(), "{o:#}");
    }
    let kustomization = &yaml_documents(&deploy("kubernetes/kustomization.yaml"))[0];
    let generated: Vec<&str> =
        kustomization["configMapGenerator"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    // Every Secret and ConfigMap a Deployment uses exists (or is generated).
    for deployment in objects.iter().filter(|o| o["kind"] == "Deployment") {
        let pod = &deployment["spec"]["template"]["spec"];
        for container in pod["containers"].as_array().unwrap() {
            for from in container["envFrom"].as_array().into_iter().flatten() {
                named(&objects, "Secret", from["secretRef"]["name"].as_str().unwrap());
            }
        }
        for volume in pod["volumes"].as_array().into_iter().flatten() {
            if let Some(name) = volume["configMap"]["name"].as_str() {
                assert!(
                    generated.contains(&name)
                        || objects.iter().any(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name),
                    "{name}"
                );
            }
            if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
                named(&objects, "PersistentVolumeClaim", claim);
            }
        }
        assert_eq!(
            deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"],
            "{}",
            deployment["metadata"]["name"]
        );
    }
    // The gateway: the experiment from an environment variable, server and credentials from the Secret.
    let gateway = &named(&objects, "Deployment", "openclaw")["spec"]["template"]["spec"]["containers"][0];
    assert!(gateway["env"].as_array().unwrap().iter().any(|e| e["name"] == "MLFLOW_EXPERIMENT_NAME"));
    let secret = &named(&objects, "Secret", "openclaw-mlflow")["stringData"];
    assert!(secret["MLFLOW_TRACKING_URI"].is_string() && secret["MLFLOW_TRACKING_TOKEN"].is_string(), "{secret:#}");
    // MLflow on PostgreSQL with several workers.
    let mlflow = named(&objects, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        mlflow.contains("--backend-store-uri \"$MLFLOW_BACKEND_STORE_URI\"") && mlflow.contains("--workers 4"),
        "{mlflow}"
    );
    assert!(named(&objects, "Secret", "mlflow-db")["stringData"]["MLFLOW_BACKEND_STORE_URI"]
        .as_str()
        .unwrap()
        .starts_with("postgresql://"));
    for compose in yaml_documents(&deploy("docker/compose.yaml")) {
        assert_eq!(compose["services"].as_object().unwrap().len(), 3, "postgres, mlflow, gateway");
    }
}

/// One real local turn ("Please read hello.txt", a tool call) in session `session_key`, in a fresh
/// OpenClaw whose plugins section is the example `file`'s (the package from the image's install
/// step), with `env`.
fn real_turn_with_example(file: &str, session_key: &str, env: &[(&str, String)]) {
    let oc = OpenClaw::fresh();
    let installed = installed_by_the_image_step(&oc);
    let example = example_config(&std::fs::read_to_string(deploy(file)).unwrap(), &installed);
    oc.set("/plugins", example["plugins"].clone());
    let args =
        ["agent", "--local", "--agent", "main", "--session-key", session_key, "--message", "Please read hello.txt"];
    oc.run(&args, env, Duration::from_secs(180)).assert_success("a local turn");
}

/// Runs the image's install step into a scratch folder with the real OpenClaw; the folder.
fn installed_by_the_image_step(oc: &OpenClaw) -> PathBuf {
    let package = workspace_root().join("dist/openclaw-mlflow");
    assert!(package.join("openclaw.plugin.json").exists(), "run `make package` first");
    let dest = scratch_dir("image-install").join("openclaw-mlflow");
    let ran = oc.run_program(
        &deploy("docker/install-plugin.sh"),
        &[package.to_str().unwrap(), dest.to_str().unwrap()],
        Duration::from_secs(180),
    );
    ran.assert_success("install-plugin.sh");
    assert!(ran.output.contains(&format!("installed in {}", dest.display())), "{}", ran.output);
    dest
}

/// An example openclaw.json (JSON5) with the image's install folder replaced by `installed`.
fn example_config(text: &str, installed: &Path) -> Value {
    let value: Value = json5::from_str(text).unwrap_or_else(|e| panic!("not JSON5: {e}"));
    let text = value.to_string().replace("/opt/openclaw-mlflow", installed.to_str().unwrap());
    serde_json::from_str(&text).unwrap()
}

fn gateway_configmap_json() -> String {
    named(&kubernetes_objects(), "ConfigMap", "openclaw-config")["data"]["openclaw.json"].as_str().unwrap().to_string()
}

#[test]
fn the_image_install_step_and_every_example_config_pass_openclaw_and_our_validation() {
    let oc = OpenClaw::fresh();
    let installed = installed_by_the_image_step(&oc);
    let examples = [
        ("deploy/docker/openclaw.json", std::fs::read_to_string(deploy("docker/openclaw.json")).unwrap()),
        ("the gateway ConfigMap's openclaw.json", gateway_configmap_json()),
        ("deploy/collector/openclaw.json", std::fs::read_to_string(deploy("collector/openclaw.json")).unwrap()),
    ];
    for (what, text) in examples {
        let config = example_config(&text, &installed);
        let path = scratch_dir("example-config").join("openclaw.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let ran = oc.run(
            &["config", "validate"],
            &[("OPENCLAW_CONFIG_PATH", path.to_string_lossy().into_owned())],
            Duration::from_secs(120),
        );
        ran.assert_success(&format!("openclaw config validate of {what}"));
        // Ours: the plugin starts with it, the server and experiment from the environment as in the
        // Secret (nothing is sent: `check` only starts and stops it).
        let run = run_host_with_env(
            &["check"],
            &config.to_string(),
            &installed.join("native"),
            &[
                ("MLFLOW_TRACKING_URI", "http://mlflow.invalid:5000"),
                ("MLFLOW_EXPERIMENT_NAME", "openclaw-prod"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.invalid:4318"),
                ("OTEL_SERVICE_NAME", "openclaw-gateway-team-a"),
            ],
        );
        run.assert_success();
        assert!(
            run.stderr.contains("plugin mlflow started with plugins.entries.mlflow.config"),
            "{what}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_gateway_set_up_as_the_image_is_traces_a_real_turn_into_mlflow() {
    let mlflow = Mlflow::from_env();
    let experiment = unique("image-route");
    let env = [("MLFLOW_TRACKING_URI", mlflow.uri.clone()), ("MLFLOW_EXPERIMENT_NAME", experiment.clone())];
    real_turn_with_example("docker/openclaw.json", "agent:main:image", &env);
    let (_, traces) = mlflow.traces_once(&experiment, Duration::from_secs(30), |found| !found.is_empty());
    assert_eq!(traces.len(), 1, "the turn, in the experiment the environment named: {traces:#?}");
    assert_eq!(traces[0]["trace_metadata"]["mlflow.trace.session"], "agent:main:image");
}

#[test]
fn a_real_gateway_set_up_for_the_collector_traces_a_turn_through_it_into_mlflow() {
    use openclaw_plugin_tests::collector::{Collector, CollectorEnv};
    let mlflow = Mlflow::from_env();
    let experiment = unique("collector-route");
    let experiment_id = mlflow.create_experiment(&experiment);
    // Nothing listens at the other backends: their exporters keep what they get in their queues.
    let unused = format!("127.0.0.1:{}", free_port());
    let collector = Collector::start(CollectorEnv {
        mlflow_uri: mlflow.uri.clone(),
        experiment_id,
        backend: format!("http://{unused}"),
        metrics: format!("http://{unused}"),
    });
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.clone()),
        ("OTEL_SERVICE_NAME", "openclaw-gateway-team-a".to_string()),
    ];
    real_turn_with_example("collector/openclaw.json", "agent:main:collector", &env);
    let (_, traces) = mlflow.traces_once(&experiment, Duration::from_secs(60), |found| !found.is_empty());
    assert_eq!(traces.len(), 1, "the turn, through the Collector: {traces:#?}\n{}", collector.log());
    assert_eq!(traces[0]["trace_metadata"]["mlflow.trace.session"], "agent:main:collector");
    assert_eq!(traces[0]["tags"]["service.name"], "openclaw-gateway-team-a");
    let spans = mlflow.trace(traces[0]["trace_id"].as_str().unwrap()).span_names();
    assert!(spans.iter().any(|s| s.starts_with("tool.")), "the turn's tool call: {spans:?}");
}
