//! The MLflow run of a plugin start: its metrics, what a logged value means, its link to the
//! traces, and the switches that turn parts off. Against the real MLflow server.

use openclaw_plugin_tests::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 + 1e-6 * b.abs()
}

/// The one run of a single plugin start, and the traces of the experiment.
fn run_and_traces(mlflow: &Mlflow, experiment: &str) -> (Value, Vec<Trace>) {
    let runs = mlflow.runs(experiment);
    assert_eq!(runs.len(), 1, "one run per plugin start: {runs:?}");
    let traces = mlflow.search(experiment, "").iter().map(|t| mlflow.trace(t["trace_id"].as_str().unwrap())).collect();
    (runs[0].clone(), traces)
}

fn llm_spans(traces: &[Trace]) -> impl Iterator<Item = &Span> {
    traces.iter().flat_map(|t| t.spans.iter()).filter(|s| s.name.starts_with("llm."))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Summed over the run, the token, cost, request and outcome metrics equal the traces' totals.
fn assert_metrics_equal_trace_totals(mlflow: &Mlflow, run_id: &str, traces: &[Trace]) {
    for (metric, field) in [
        ("tokens.input", "input_tokens"),
        ("tokens.output", "output_tokens"),
        ("tokens.total", "total_tokens"),
        ("tokens.cache_read", "cache_read_input_tokens"),
        ("tokens.cache_write", "cache_creation_input_tokens"),
    ] {
        let from_traces: f64 = traces
            .iter()
            .filter_map(|t| t.metadata_json("mlflow.trace.tokenUsage"))
            .map(|u| u[field].as_f64().unwrap())
            .sum();
        assert_eq!(mlflow.metric_sum(run_id, metric), from_traces, "{metric}");
    }
    let cost: f64 = traces
        .iter()
        .filter_map(|t| t.metadata_json("mlflow.trace.cost"))
        .map(|c| c["total_cost"].as_f64().unwrap())
        .sum();
    assert!(
        approx(mlflow.metric_sum(run_id, "cost.usd"), cost),
        "cost.usd {} vs traces {cost}",
        mlflow.metric_sum(run_id, "cost.usd")
    );
    let by_state = |state: &str| traces.iter().filter(|t| t.info["state"] == state).count() as f64;
    assert_eq!(mlflow.metric_sum(run_id, "message.outcome.completed"), by_state("OK"));
    assert_eq!(mlflow.metric_sum(run_id, "message.outcome.error"), by_state("ERROR"));
    let mut requests: BTreeMap<String, f64> = BTreeMap::new();
    for span in llm_spans(traces) {
        *requests.entry(span.attr_str("gen_ai.request.model").unwrap().to_string()).or_default() += 1.0;
    }
    for (model, n) in requests {
        assert_eq!(mlflow.metric_sum(run_id, &format!("model.{model}.requests")), n, "{model}");
    }
}

#[test]
fn the_demo_run_holds_metrics_equal_to_the_trace_totals_and_links_the_traces() {
    let mlflow = Mlflow::from_env();
    let name = unique("metrics-demo");
    // One flush window: the whole demo is one step.
    let run = run_host(
        &["demo"],
        &mlflow_config(&mlflow, &name, "flushIntervalMs: 600000"),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();
    let (mlflow_run, traces) = run_and_traces(&mlflow, &experiment);
    assert_eq!(traces.len(), 6);
    let info = &mlflow_run["info"];
    let run_id = info["run_id"].as_str().unwrap();
    assert_eq!(info["status"], "FINISHED", "ended on shutdown");
    assert!(info["run_name"].as_str().unwrap().starts_with("openclaw-gateway@"), "{info}");
    let tags: BTreeMap<&str, &str> = mlflow_run["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap(), t["value"].as_str().unwrap()))
        .collect();
    assert_eq!(tags.get("openclaw.plugin_version"), Some(&"0.1.0"));
    assert!(tags.contains_key("host.name"));

    assert_eq!(
        mlflow.search(&experiment, &format!("trace.run_id = '{run_id}'")).len(),
        6,
        "every trace linked to the run"
    );
    assert_metrics_equal_trace_totals(&mlflow, run_id, &traces);

    // One window: the latencies are the means over the calls and messages.
    let model_ms: Vec<f64> = llm_spans(&traces).map(|s| (s.end_ms() - s.start_ms()) as f64).collect();
    let history = mlflow.metric_history(run_id, "latency.model_ms");
    assert_eq!(history.len(), 1);
    assert!(approx(history[0]["value"].as_f64().unwrap(), mean(&model_ms)));
    let message_ms: Vec<f64> = traces.iter().map(|t| (t.root().end_ms() - t.root().start_ms()) as f64).collect();
    assert!(approx(
        mlflow.metric_history(run_id, "latency.message_ms")[0]["value"].as_f64().unwrap(),
        mean(&message_ms)
    ));
}

#[test]
fn each_flush_window_logs_one_step_and_the_steps_sum_to_the_traces() {
    let mlflow = Mlflow::from_env();
    let name = unique("metrics-windows");
    // 40 messages over about 2 s, windows of 300 ms: several steps.
    let config = mlflow_config(&mlflow, &name, "flushIntervalMs: 300");
    let run = run_host(
        &["bench", "--sessions", "4", "--messages", "10", "--threads", "2", "--rate", "20"],
        &config,
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();
    let (mlflow_run, traces) = run_and_traces(&mlflow, &experiment);
    assert_eq!(traces.len(), 40);
    let run_id = mlflow_run["info"]["run_id"].as_str().unwrap();
    let history = mlflow.metric_history(run_id, "message.outcome.completed");
    assert!(history.len() >= 3, "several windows expected: {history:?}");
    for (i, pair) in history.windows(2).enumerate() {
        assert!(pair[0]["step"].as_u64() < pair[1]["step"].as_u64(), "steps increase: {history:?}");
        assert!(pair[0]["timestamp"].as_u64() <= pair[1]["timestamp"].as_u64(), "window {i}");
    }
    assert_metrics_equal_trace_totals(&mlflow, run_id, &traces);
}

#[test]
fn the_replayed_recording_run_holds_metrics_equal_to_its_traces() {
    let mlflow = Mlflow::from_env();
    let name = unique("metrics-replay");
    let fixture = fixture("openclaw-2026.9.6/hooks.jsonl");
    let run = run_host(
        &["replay", fixture.to_str().unwrap()],
        &mlflow_config(&mlflow, &name, ""),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();
    let (mlflow_run, traces) = run_and_traces(&mlflow, &experiment);
    assert_eq!(traces.len(), 6);
    let run_id = mlflow_run["info"]["run_id"].as_str().unwrap();
    assert_metrics_equal_trace_totals(&mlflow, run_id, &traces);
    assert_eq!(mlflow.metric_sum(run_id, "model.mock-model.requests"), 11.0);
}

/// For one switch turned off: what must be missing from the run's metrics and from the spans.
fn check_switch(setting: &str, absent_metrics: &[&str], absent_span_attribute: Option<&str>, expect_traces: usize) {
    let mlflow = Mlflow::from_env();
    let name = unique("switch");
    let run = run_host(&["demo"], &mlflow_config(&mlflow, &name, setting), &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    run.assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();
    let (mlflow_run, traces) = run_and_traces(&mlflow, &experiment);
    assert_eq!(traces.len(), expect_traces, "{setting}");
    let keys = mlflow.metric_keys(mlflow_run["info"]["run_id"].as_str().unwrap());
    assert!(
        keys.iter().any(|k| k == "message.outcome.completed"),
        "{setting}: the run still counts messages: {keys:?}"
    );
    for prefix in absent_metrics {
        assert!(!keys.iter().any(|k| k.starts_with(prefix)), "{setting}: {prefix}* still logged: {keys:?}");
    }
    for other in ["tokens.", "cost.usd", "latency."] {
        if !absent_metrics.contains(&other) {
            assert!(keys.iter().any(|k| k.starts_with(other)), "{setting}: {other}* missing: {keys:?}");
        }
    }
    if let Some(attribute) = absent_span_attribute {
        let spans: Vec<&Span> = llm_spans(&traces).collect();
        assert!(!spans.is_empty());
        assert!(spans.iter().all(|s| s.attr(attribute).is_none()), "{setting}: spans still carry {attribute}");
    }
}

#[test]
fn track_token_usage_false_removes_token_metrics_and_span_usage() {
    check_switch("trackTokenUsage: false", &["tokens."], Some("mlflow.chat.tokenUsage"), 6);
}

#[test]
fn track_costs_false_removes_the_cost_metric_and_span_costs() {
    check_switch("trackCosts: false", &["cost.usd"], Some("openclaw.cost_source"), 6);
}

#[test]
fn track_latency_false_removes_latency_metrics_and_span_latency() {
    check_switch("trackLatency: false", &["latency."], Some("openclaw.latency_ms"), 6);
}

#[test]
fn track_traces_false_sends_metrics_only() {
    check_switch("trackTraces: false", &[], None, 0);
}
