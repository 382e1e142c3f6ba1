//! Gateways through a real OpenTelemetry Collector (`make collector`: the components the guide uses,
//! pinned), on the guide's own files: `deploy/kubernetes/otel-collector-config.yaml` for the
//! Collector (only its listening addresses moved to free loopback ports) and
//! `deploy/collector/openclaw.json` for the gateways, as they are. What a trace shows in MLflow
//! through it against a direct one, several gateways on PostgreSQL, the second backend (Jaeger),
//! and the faults the guide describes: the Collector killed, MLflow down behind it, the Collector
//! absent or answering 503 when the gateway starts.

use openclaw_plugin_tests::collector::{guide_config, validate, Collector, CollectorEnv, Jaeger};
use openclaw_plugin_tests::fault_proxy::{Fault, FaultProxy, Rule};
use openclaw_plugin_tests::postgres::Postgres;
use openclaw_plugin_tests::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

/// The guide's gateway configuration, as it is.
fn guide_gateway_config() -> String {
    std::fs::read_to_string(workspace_root().join("deploy/collector/openclaw.json")).unwrap()
}

/// The environment the guide's gateway configuration reads: OpenTelemetry's variables, and MLflow's
/// for the gateway's run of metrics when `mlflow` is given.
fn gateway_env<'a>(
    collector: &'a str,
    service: &'a str,
    mlflow: Option<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", collector), ("OTEL_SERVICE_NAME", service)];
    if let Some((uri, experiment)) = mlflow {
        env.extend([("MLFLOW_TRACKING_URI", uri), ("MLFLOW_EXPERIMENT_NAME", experiment)]);
    }
    env
}

/// A backend address where nothing listens: what a test does not read goes there (its exporter
/// retries into its own queue).
fn no_backend() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn collector_env(mlflow_uri: &str, experiment_id: &str, backend: &str) -> CollectorEnv {
    CollectorEnv {
        mlflow_uri: mlflow_uri.into(),
        experiment_id: experiment_id.into(),
        backend: backend.into(),
        metrics: no_backend(),
    }
}

#[test]
fn the_guides_collector_configuration_passes_the_collectors_own_validation() {
    let env = [
        ("MLFLOW_TRACKING_URI", "http://mlflow:5000".to_string()),
        ("MLFLOW_EXPERIMENT_ID", "1".to_string()),
        ("OTLP_BACKEND_ENDPOINT", "http://tempo:4318".to_string()),
        ("OTLP_METRICS_ENDPOINT", "http://prometheus:9090/api/v1/otlp".to_string()),
        ("COLLECTOR_QUEUE_DIR", scratch_dir("queue").display().to_string()),
    ];
    let checked = validate(&guide_config(), &env);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));

    // The same check refuses what YAML alone lets through: a pipeline sending to an exporter nobody
    // defined. (It does not follow a queue's `storage` to its extension: the tests below start the
    // Collector on this file.)
    let guide = std::fs::read_to_string(guide_config()).unwrap();
    let broken = guide.replace(
        "exporters: [otlp_http/mlflow, otlp_http/backend]",
        "exporters: [otlp_http/mlflow, otlp_http/nowhere]",
    );
    assert_ne!(broken, guide, "the traces pipeline names its exporters");
    let path = scratch_dir("broken-config").join("config.yaml");
    std::fs::write(&path, broken).unwrap();
    let refused = validate(&path, &env);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("otlp_http/nowhere"), "{said}");
}

/// The conversation attributes of OpenTelemetry's GenAI conventions, which only the `otlp` export
/// writes (MLflow's own route puts the conversation in `mlflow.spanInputs`/`Outputs` only).
const GENAI_CONTENT: [&str; 6] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
];

/// What MLflow's trace list and detail show of a trace, but for what depends on the route: the
/// trace ids, the artifact folder, the service name, and a model call's inputs and outputs, which the `otlp`
/// export writes in the GenAI conventions' message format (compared by `model_call_conversation`).
fn shown(trace: &Trace) -> Value {
    let mut tags = trace.info["tags"].as_object().cloned().unwrap_or_default();
    tags.retain(|k, _| !matches!(k.as_str(), "mlflow.artifactLocation" | "service.name" | "openclaw.parent_trace_id"));
    let mut spans: Vec<Value> = trace
        .spans
        .iter()
        .map(|s| {
            let model_call = s.attr_str("mlflow.spanType") == Some("CHAT_MODEL");
            let route_bound = |k: &str| {
                // Trace ids: each route's own (a subagent's link to its parent is checked apart).
                matches!(k, "mlflow.traceRequestId" | "mlflow.traceTag.openclaw.parent_trace_id")
                    || GENAI_CONTENT.contains(&k)
                    || (model_call && matches!(k, "mlflow.spanInputs" | "mlflow.spanOutputs"))
            };
            serde_json::json!({
                "name": s.name, "status": s.status_code, "message": s.status_message, "exception": s.exception(),
                "attributes": s.attributes.iter().filter(|(k, _)| !route_bound(k)).collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    spans.sort_by_key(|s| s.to_string());
    serde_json::json!({
        "state": trace.info["state"], "request_preview": trace.info["request_preview"],
        "response_preview": trace.info["response_preview"], "tags": tags,
        "metadata": trace.info["trace_metadata"], "spans": spans,
    })
}

/// Every text of the model calls' conversations (message contents and tool results), in order.
fn model_call_conversation(trace: &Trace) -> Vec<String> {
    fn texts(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("content" | "response", Value::String(text)) => out.push(text.clone()),
                        _ => texts(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
            _ => {}
        }
    }
    let mut calls: Vec<&Span> =
        trace.spans.iter().filter(|s| s.attr_str("mlflow.spanType") == Some("CHAT_MODEL")).collect();
    calls.sort_by_key(|s| s.start_ns);
    let mut out = Vec::new();
    for call in calls {
        for key in ["mlflow.spanInputs", "mlflow.spanOutputs"] {
            texts(call.attr(key).unwrap_or(&Value::Null), &mut out);
        }
    }
    out
}

#[test]
fn a_turn_through_the_collector_shows_in_mlflow_what_a_direct_turn_shows_and_reaches_jaeger() {
    let mlflow = Mlflow::from_env();
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);

    let direct = unique("direct");
    let config = format!(
        r#"{{ plugins: {{ entries: {{ mlflow: {{ config: {{ trackingUri: "{}", experimentName: "{direct}" }} }} }} }} }}"#,
        mlflow.uri
    );
    run_host(&["demo"], &config, &plugins).assert_success();

    let via = unique("via-collector");
    let via_id = mlflow.create_experiment(&via);
    let jaeger = Jaeger::start();
    let collector = Collector::start(collector_env(&mlflow.uri, &via_id, &jaeger.otlp));
    let env = gateway_env(&collector.endpoint, "gateway-a", None);
    let run = run_host_with_env(&["demo"], &guide_gateway_config(), &plugins, &env);
    run.assert_success();
    let stats = run.stats("mlflow");

    let direct_id = mlflow.experiment_id(&direct).unwrap();
    let expected = mlflow.search(&direct_id, "");
    assert_eq!(stats["extra"]["otlp_traces_exported"], expected.len(), "{stats}");
    let (_, arrived) = mlflow.traces_once(&via, Duration::from_secs(60), |t| t.len() >= expected.len());
    assert_eq!(
        arrived.len(),
        expected.len(),
        "every turn of the demo, once, through the Collector\n{}",
        collector.log()
    );

    let mut compared = 0;
    for info in &expected {
        let run_id = info["tags"]["openclaw.run_id"].as_str().unwrap();
        let straight = mlflow.trace(info["trace_id"].as_str().unwrap());
        let through = mlflow.trace_of_run(&via_id, run_id);
        assert_eq!(shown(&through), shown(&straight), "turn {run_id}: through the Collector vs direct");
        assert_eq!(
            model_call_conversation(&through),
            model_call_conversation(&straight),
            "turn {run_id}: the model calls' conversation, in either format"
        );
        assert_eq!(through.tag("service.name"), Some("gateway-a"), "the gateway's OTEL_SERVICE_NAME");
        if let Some(parent) = through.tag("openclaw.parent_trace_id") {
            // A subagent's turn links to its parent's trace on the same route.
            let parent_run = mlflow.trace(parent).tag("openclaw.run_id").map(str::to_string);
            assert_eq!(parent_run.as_deref(), through.tag("openclaw.parent_run_id"), "turn {run_id}'s parent");
        }
        compared += 1;
    }
    assert!(compared >= 5, "the demo's turns: {compared}");
    let failed = arrived.iter().filter(|t| t["state"] == "ERROR").count();
    assert!(failed >= 1, "the demo's failed turn is among them");

    // The second backend: the same turn, every span, with the GenAI conventions.
    let with_model = arrived
        .iter()
        .map(|t| mlflow.trace(t["trace_id"].as_str().unwrap()))
        .find(|t| t.spans.iter().any(|s| s.attr("gen_ai.usage.input_tokens").is_some()))
        .expect("a turn with a model call");
    let hex = with_model.info["trace_id"].as_str().unwrap().trim_start_matches("tr-").to_string();
    let spans = jaeger.spans(&hex, with_model.spans.len(), Duration::from_secs(60));
    assert_eq!(spans.len(), with_model.spans.len(), "Jaeger has the turn's spans\n{}", jaeger.log());
    let tag = |span: &Value, key: &str| {
        span["tags"].as_array().unwrap().iter().find(|t| t["key"] == key).map(|t| t["value"].clone())
    };
    for key in
        ["gen_ai.operation.name", "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"]
    {
        // Per span name, the attribute's values (a turn may call the same model twice).
        let mut in_jaeger: Vec<(String, Option<Value>)> =
            spans.iter().map(|s| (s["operationName"].as_str().unwrap().to_string(), tag(s, key))).collect();
        let mut in_mlflow: Vec<(String, Option<Value>)> =
            with_model.spans.iter().map(|s| (s.name.clone(), s.attr(key).cloned())).collect();
        in_jaeger.sort_by_key(|p| format!("{p:?}"));
        in_mlflow.sort_by_key(|p| format!("{p:?}"));
        assert_eq!(in_jaeger, in_mlflow, "{key} in Jaeger and MLflow");
    }
}

/// `openclaw-host bench` as one gateway of several, spawned: `turns.0` sessions of `turns.1` messages,
/// `rate` messages a second.
fn gateway(
    name: &str,
    turns: (usize, usize),
    rate: u32,
    config: &str,
    plugins: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Child {
    let (sessions, messages, rate) = (turns.0.to_string(), turns.1.to_string(), rate.to_string());
    let args =
        ["bench", "--name", name, "--sessions", &sessions, "--messages", &messages, "--threads", "1", "--rate", &rate];
    host_command(&[&args[..], &["--shutdown-ms", "120000"]].concat(), config, plugins, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn several_gateways_through_one_collector_land_every_turn_once_on_postgres() {
    const GATEWAYS: usize = 4;
    const TURNS: (usize, usize) = (5, 20);
    const PER_GATEWAY: usize = TURNS.0 * TURNS.1;
    let pg = Postgres::start();
    let server = DedicatedMlflow::start_on(Backend::Postgres(pg.url()), 2, false);
    let mlflow = server.client();
    let experiment = unique("gateways-via-collector");
    let experiment_id = mlflow.create_experiment(&experiment);
    let collector = Collector::start(collector_env(&server.uri, &experiment_id, &no_backend()));
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let config = guide_gateway_config();

    let names: Vec<String> = (1..=GATEWAYS).map(|g| format!("gateway-{g}")).collect();
    let gateways: Vec<_> = names
        .iter()
        .map(|name| {
            // Each keeps its MLflow run of metrics (the environment names the server and experiment).
            let env = gateway_env(&collector.endpoint, name, Some((&server.uri, &experiment)));
            gateway(name, TURNS, 50, &config, &plugins, &env)
        })
        .collect();
    let runs: Vec<HostRun> =
        gateways.into_iter().map(|g| finish_within(g, HOST_RUN_LIMIT, "a gateway").into()).collect();
    for run in &runs {
        run.assert_success();
        let stats = run.stats("mlflow");
        assert_eq!(stats["extra"]["otlp_traces_exported"], PER_GATEWAY, "{stats}\n{}", run.stderr);
        assert_eq!(stats["exported"], 0, "no direct copy of the traces (trackTraces: false): {stats}");
    }

    let total = GATEWAYS * PER_GATEWAY;
    let (_, traces) = mlflow.traces_once(&experiment, Duration::from_secs(120), |t| t.len() >= total);
    assert_eq!(traces.len(), total, "every turn of every gateway, once\n{}", collector.log());
    let gateway_runs = mlflow.runs(&experiment_id);
    assert_eq!(gateway_runs.len(), GATEWAYS, "each gateway's run of metrics");
    for name in &names {
        let mine = mlflow.search(&experiment_id, &format!("tags.`service.name` = '{name}'"));
        assert_eq!(mine.len(), PER_GATEWAY, "{name}'s turns, told apart by the service name");
        // Its run, tagged with the same service name: metrics that count the same turns and tokens
        // as its traces.
        let tagged = |r: &&Value| {
            r["data"]["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "service.name" && t["value"] == name.as_str())
        };
        let run = gateway_runs.iter().find(tagged).map(|r| r["info"]["run_id"].as_str().unwrap().to_string());
        let run_id = run.unwrap_or_else(|| panic!("a run tagged service.name={name}: {gateway_runs:#?}"));
        let outcomes = mlflow.metric_sum(&run_id, "message.outcome.completed")
            + mlflow.metric_sum(&run_id, "message.outcome.error");
        assert_eq!(outcomes, PER_GATEWAY as f64, "{name}'s run counts its turns");
        let tokens = metadata_sum(&mine, "mlflow.trace.tokenUsage", "total_tokens");
        assert_eq!(mlflow.metric_sum(&run_id, "tokens.total"), tokens, "{name}'s run: its traces' tokens");
        // What the guide says differs on this route: no trace is linked to the run.
        let linked = mlflow.search(&experiment_id, &format!("trace.run_id = '{run_id}'"));
        assert_eq!(linked.len(), 0, "the Collector's route links no trace to {name}'s run");
    }
}

/// `n` turns from one gateway through `collector`, waited for: the plugin's own count of what the
/// Collector accepted.
fn send_through(collector: &str, n: (usize, usize)) -> HostRun {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let name = unique("gw");
    let env = gateway_env(collector, &name, None);
    let child = gateway(&name, n, 100, &guide_gateway_config(), &plugins, &env);
    finish_within(child, HOST_RUN_LIMIT, "the gateway").into()
}

#[test]
fn a_collector_killed_while_mlflow_is_down_sends_what_it_had_accepted_once_restarted() {
    let mut server = DedicatedMlflow::start();
    let mlflow = server.client();
    let experiment = unique("collector-killed");
    let experiment_id = mlflow.create_experiment(&experiment);
    let mut collector = Collector::start(collector_env(&server.uri, &experiment_id, &no_backend()));
    server.stop();

    // With MLflow down, the Collector takes every turn into its queue on disk: the gateway has
    // nothing left to send.
    let run = send_through(&collector.endpoint, (4, 10));
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["extra"]["otlp_traces_exported"], 40, "the Collector accepted all: {stats}");

    // Killed, no shutdown: only its queue on disk holds the turns. Then back, and MLflow back.
    collector.kill();
    collector.start_again();
    server.start_again();
    let (_, traces) = mlflow.traces_once(&experiment, Duration::from_secs(120), |t| t.len() >= 40);
    assert_eq!(traces.len(), 40, "every accepted turn, once, after the Collector's restart\n{}", collector.log());
    let mut ids: Vec<&str> = traces.iter().map(|t| t["tags"]["openclaw.run_id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no turn twice");
}

#[test]
fn a_collector_absent_or_answering_503_at_gateway_start_loses_nothing() {
    let mlflow = Mlflow::from_env();
    let experiment = unique("collector-late");
    let experiment_id = mlflow.create_experiment(&experiment);
    let mut collector = Collector::configured(collector_env(&mlflow.uri, &experiment_id, &no_backend()));
    // In front of the Collector's address: 503 for the first requests (a Collector refusing load),
    // and before it starts, no answer at all (the proxy's upstream refuses connections).
    let proxy = FaultProxy::start(&collector.endpoint);
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::Status { code: 503, retry_after: None },
        times: Some(3),
    });

    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let name = unique("gw");
    let env = gateway_env(&proxy.url, &name, None);
    let child = gateway(&name, (3, 10), 100, &guide_gateway_config(), &plugins, &env);

    // The gateway runs while the Collector answers 503 and then not at all; it is started only once
    // the gateway has been refused.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while proxy.seen().iter().filter(|s| s.path.starts_with("/v1/traces")).count() < 4 {
        assert!(std::time::Instant::now() < deadline, "the gateway tried the Collector: {:?}", proxy.seen());
        std::thread::sleep(Duration::from_millis(50));
    }
    collector.start_again();
    let run: HostRun = finish_within(child, HOST_RUN_LIMIT, "the gateway").into();
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["extra"]["otlp_traces_exported"], 30, "{stats}");
    let (_, traces) = mlflow.traces_once(&experiment, Duration::from_secs(60), |t| t.len() >= 30);
    assert_eq!(traces.len(), 30, "every turn, once\n{}", collector.log());
}

/// A request the Collector took into its queue but answered after the gateway's timeout: the
/// gateway sends it again, so the Collector holds the same spans twice while MLflow is away. Every
/// turn lands, each trace counting its tokens once. (Merged into one request, as the guide's queue
/// once batched them, the copies made MLflow on SQLite count a trace's tokens four times, and MLflow
/// on PostgreSQL refuse the request with 400, which the Collector dropped: no turn landed.)
#[test]
fn a_request_the_collector_answered_too_late_is_counted_once_in_mlflow() {
    late_answer_lands_once(DedicatedMlflow::start());
    let pg = Postgres::start();
    late_answer_lands_once(DedicatedMlflow::start_on(Backend::Postgres(pg.url()), 1, false));
}

fn late_answer_lands_once(mut server: DedicatedMlflow) {
    let mlflow = server.client();
    let experiment = unique("collector-late-answer");
    let experiment_id = mlflow.create_experiment(&experiment);
    let collector = Collector::start(collector_env(&server.uri, &experiment_id, &no_backend()));
    server.stop();
    // The first request reaches the Collector at once; its answer is held past the gateway's 1 s.
    let proxy = FaultProxy::start(&collector.endpoint);
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::DelayResponse(Duration::from_secs(3)),
        times: Some(1),
    });
    let config = guide_gateway_config().replace("trackTraces: false,", "trackTraces: false, requestTimeoutMs: 1000,");
    assert!(config.contains("requestTimeoutMs: 1000"), "{config}");
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let name = unique("gw");
    let child = gateway(&name, (2, 10), 100, &config, &plugins, &gateway_env(&proxy.url, &name, None));
    let run: HostRun = finish_within(child, HOST_RUN_LIMIT, "the gateway").into();
    run.assert_success();
    assert_eq!(run.stats("mlflow")["extra"]["otlp_traces_exported"], 20, "{}", run.stderr);
    let posts: Vec<_> = proxy.seen().into_iter().filter(|s| s.path.starts_with("/v1/traces")).collect();
    assert!(
        matches!(posts.first().and_then(|p| p.fault.clone()), Some(Fault::DelayResponse(_))) && posts.len() >= 2,
        "the held request was sent again: {posts:?}"
    );

    server.start_again();
    let (_, found) = mlflow.traces_once(&experiment, Duration::from_secs(120), |t| t.len() >= 20);
    assert_eq!(found.len(), 20, "every turn, once\n{}", collector.log());
    for info in &found {
        let trace = mlflow.trace(info["trace_id"].as_str().unwrap());
        let calls: Vec<&Value> = trace.spans.iter().filter_map(|s| s.attr("mlflow.chat.tokenUsage")).collect();
        let spans_total: u64 = calls.iter().map(|u| u["total_tokens"].as_u64().unwrap()).sum();
        let trace_total = trace.metadata_json("mlflow.trace.tokenUsage").map(|t| t["total_tokens"].as_u64().unwrap());
        assert_eq!(
            trace_total,
            Some(spans_total),
            "{}: the trace's tokens are its model calls' once",
            trace.info["trace_id"]
        );
    }
}
