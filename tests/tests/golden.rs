//! One mapping from OpenClaw's hooks: the shipped package (`dist/openclaw-mlflow`: `index.js`, the
//! addon, the plugin), driven under Node with the recorded hook calls of `tests/fixtures` the way the
//! gateway calls it, makes the same traces as `openclaw-host replay` of that recording, span for span
//! and attribute for attribute, all but the times (the live path stamps each hook when it runs).

use openclaw_plugin_tests::*;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::process::Command;

/// Attributes that differ by design: a duration (the live path's times are the driver's clock).
const DIFFERING_ATTRIBUTES: [&str; 1] = ["openclaw.latency_ms"];

/// A trace as compared: its previews, state, session and user, its tags but MLflow's bookkeeping,
/// and its spans (name, parent's name, status, attributes, events) without span ids or times. Trace
/// ids are derived from the experiment (each path writes to its own): each becomes the run it traces.
fn shape(trace: &Trace, run_of_trace: &HashMap<String, String>) -> Value {
    let name_of: HashMap<&str, &str> = trace.spans.iter().map(|s| (s.id.as_str(), s.name.as_str())).collect();
    let mut spans: Vec<Value> = trace
        .spans
        .iter()
        .map(|s| {
            let mut attributes = s.attributes.clone();
            for differing in DIFFERING_ATTRIBUTES {
                attributes.remove(differing);
            }
            let events: Vec<Value> = s.events.iter().map(|(name, attrs)| json!([name, attrs])).collect();
            json!({
                "name": s.name,
                "parent": s.parent_id.as_deref().map(|p| name_of.get(p).copied().unwrap_or("?")),
                "status": [s.status_code, s.status_message],
                "attributes": attributes,
                "events": events,
            })
        })
        .collect();
    spans.sort_by_key(Value::to_string);
    // MLflow's own, per experiment or process: the trace's size, its artifact location, the run it is
    // linked to.
    let kept = |map: &Value| -> Map<String, Value> {
        let map = map.as_object().cloned().unwrap_or_default();
        let own =
            |k: &str| k.starts_with("mlflow.trace.size") || k == "mlflow.sourceRun" || k == "mlflow.artifactLocation";
        map.into_iter().filter(|(k, _)| !own(k)).collect()
    };
    let mut shape = json!({
        "request_preview": trace.info["request_preview"],
        "response_preview": trace.info["response_preview"],
        "state": trace.info["state"],
        "tags": kept(&trace.info["tags"]),
        "metadata": kept(&trace.info["trace_metadata"]),
        "spans": spans,
    });
    name_traces_by_run(&mut shape, run_of_trace);
    shape
}

fn name_traces_by_run(value: &mut Value, run_of_trace: &HashMap<String, String>) {
    match value {
        Value::String(text) => {
            if let Some(run) = run_of_trace.get(text.as_str()) {
                *text = format!("<the trace of run {run}>");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| name_traces_by_run(v, run_of_trace)),
        Value::Object(fields) => fields.values_mut().for_each(|v| name_traces_by_run(v, run_of_trace)),
        _ => {}
    }
}

/// Each trace's id and the run it traces.
fn runs_by_trace(mlflow: &Mlflow, experiment: &str) -> HashMap<String, String> {
    let found = mlflow.search(&mlflow.experiment_id(experiment).expect("the experiment"), "");
    let run = |t: &Value| t["tags"]["openclaw.run_id"].as_str().expect("a run id tag").to_string();
    found.iter().map(|t| (t["trace_id"].as_str().unwrap().to_string(), run(t))).collect()
}

fn sorted_runs(runs_by_trace: &HashMap<String, String>) -> Vec<String> {
    let mut runs: Vec<String> = runs_by_trace.values().cloned().collect();
    runs.sort();
    runs
}

#[test]
fn the_package_under_node_and_replay_make_the_same_traces_of_the_same_hooks() {
    let (runs, _) = package_and_replay_agree(&real_recording(), json!(true));
    assert_eq!(runs.len(), 6, "the recording's six runs, replayed");
}

/// The parts read only on request (the system prompt, the tool definitions: `llm_input`'s largest
/// fields) read alike, from the recording (tools as names) and from tools given as objects with
/// their schemas.
#[test]
fn the_system_prompt_and_tool_definitions_are_read_alike_when_captured() {
    let mut hooks: Vec<Value> =
        std::fs::read_to_string(real_recording()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Before the recording's first hook (it ends with its own end marker).
    let t0 = hooks[0]["ts"].as_u64().unwrap() - 60_000;
    let ctx =
        json!({"runId": "run-tools", "agentId": "main", "sessionKey": "agent:main:tools", "sessionId": "s-tools"});
    let schema = json!({"type": "object", "properties": {"query": {"type": "string", "description": "what to find"},
        "limit": {"type": "integer", "minimum": 1}}, "required": ["query"]});
    let tools = json!([
        {"name": "memory_search", "label": "Memory", "description": "Search the memory files.", "parameters": schema},
        {"name": "read", "description": "Read a file.", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
        "bare_name",
    ]);
    let llm_input = json!({"runId": "run-tools", "provider": "openai", "model": "gpt-5-mini", "prompt": "find it",
        "systemPrompt": "You are terse.\n## Tooling\n- memory_search", "historyMessages": [], "tools": tools});
    let call =
        json!({"runId": "run-tools", "callId": "run-tools:model:1", "provider": "openai", "model": "gpt-5-mini"});
    let mut ended = call.clone();
    ended["durationMs"] = json!(40);
    ended["outcome"] = json!("completed");
    let answer = json!({"role": "assistant", "content": [{"type": "text", "text": "found"}],
        "usage": {"input": 10, "output": 5, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 15}});
    let run = [
        ("llm_input", llm_input),
        ("model_call_started", call),
        ("model_call_ended", ended),
        ("before_message_write", json!({"message": answer})),
        ("agent_end", json!({"success": true, "durationMs": 100, "messages": []})),
    ];
    let run = run
        .into_iter()
        .enumerate()
        .map(|(i, (hook, event))| json!({"hook": hook, "ts": t0 + 10 * i as u64, "event": event, "ctx": ctx}));
    hooks.splice(0..0, run);
    let parts = json!({"systemPrompt": true, "toolDefinitions": true});
    let (runs, live) = package_and_replay_agree(&write_recording(&[hooks]), parts);
    assert_eq!(runs.len(), 7, "the recording's six runs and the one with tool objects");
    let trace = Mlflow::from_env().trace_of_run(&live, "run-tools");
    let model = trace.spans.iter().find(|s| s.name == "llm.openai.gpt-5-mini").expect("the model call");
    assert_eq!(
        model.attr("mlflow.spanInputs").unwrap()["messages"][0]["content"],
        "You are terse.\n## Tooling\n- memory_search"
    );
    let offered = model.attr("mlflow.chat.tools").and_then(Value::as_array).expect("the tools offered");
    assert_eq!(
        offered[0]["function"],
        json!({"name": "memory_search", "description": "Search the memory files.", "parameters": schema})
    );
    assert_eq!(offered[2], json!({"type": "function", "function": {"name": "bare_name"}}));
}

#[test]
fn ids_names_and_texts_around_the_addons_short_read_are_read_whole_or_cut_alike() {
    // The addon reads a string shorter than 252 bytes in one call and a longer one in three; a
    // character of 2 or 4 bytes across that bound must not be lost, doubled or taken for the end.
    let t0 = now_ms() - 60_000;
    let runs: Vec<Vec<Value>> = (246..=254)
        .map(|k| {
            let (crab, accent) = (format!("{}\u{1F980}", "x".repeat(k)), format!("{}\u{e9}", "y".repeat(k + 1)));
            let run_id = format!("run-{crab}");
            let ctx = json!({"runId": run_id, "agentId": "main", "sessionKey": format!("agent:main:{accent}"), "sessionId": crab});
            let call = json!({"runId": run_id, "callId": accent, "provider": "openai", "model": crab});
            let ended = json!({"runId": run_id, "callId": accent, "provider": "openai", "model": crab, "durationMs": 40, "outcome": "completed"});
            let answer = json!({"role": "assistant", "content": [{"type": "text", "text": accent}],
                "usage": {"input": 10, "output": 5, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 15}});
            let tool = json!({"runId": run_id, "toolName": accent, "toolCallId": crab, "params": {"path": crab}});
            let mut done = tool.clone();
            done["result"] = json!({"content": [{"type": "text", "text": accent}]});
            done["durationMs"] = json!(3);
            let hooks = [
                ("llm_input", json!({"runId": run_id, "prompt": crab, "provider": "openai", "model": crab})),
                ("model_call_started", call),
                ("before_tool_call", tool),
                ("after_tool_call", done),
                ("model_call_ended", ended),
                ("before_message_write", json!({"message": answer})),
                ("agent_end", json!({"success": true, "durationMs": 100, "messages": []})),
            ];
            hooks
                .into_iter()
                .enumerate()
                .map(|(i, (hook, event))| json!({"hook": hook, "ts": t0 + 10 * i as u64, "event": event, "ctx": ctx}))
                .collect()
        })
        .collect();
    let (agreed, _) = package_and_replay_agree(&write_recording(&runs), json!(true));
    assert_eq!(agreed.len(), runs.len(), "every run traced");
    assert!(agreed.iter().all(|run| run.ends_with('\u{1F980}')), "run ids whole: {agreed:?}");
}

/// Replays `recording` into one experiment and drives the shipped package under Node with it into
/// another, both with `capture_content` as `captureContent`, and asserts that each run's trace is
/// the same in both; the runs traced, and the package's experiment.
fn package_and_replay_agree(recording: &std::path::Path, capture_content: Value) -> (Vec<String>, String) {
    let mlflow = Mlflow::from_env();
    let (replayed, live) = (unique("golden-replay"), unique("golden-live"));
    let capture = format!("captureContent: {capture_content}");
    replay(recording, &mlflow_config(&mlflow, &replayed, &capture), &[], &[]).assert_success();

    let node =
        std::env::var_os("OPENCLAW_TEST_NODE").expect("OPENCLAW_TEST_NODE: the Node that `make gateway` installs");
    let package = workspace_root().join("dist/openclaw-mlflow");
    assert!(package.join("index.js").exists(), "{}: run `make package`", package.display());
    let state = scratch_dir("golden-state");
    let config = json!({"trackingUri": mlflow.uri, "experimentName": live, "flushIntervalMs": 200,
        "captureContent": capture_content});
    let driven = run_within(
        Command::new(node)
            .arg(workspace_root().join("tests/golden/drive_package.mjs"))
            .arg(&package)
            .arg(recording)
            .arg(config.to_string())
            .env("HOME", &state)
            .env("OPENCLAW_STATE_DIR", &state)
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT"),
        HOST_RUN_LIMIT,
        "the package driven under node",
    );
    let log = String::from_utf8_lossy(&driven.stderr);
    assert!(driven.status.success(), "the driver failed:\n{log}");
    assert!(!log.contains("error:"), "the package logged an error:\n{log}");

    let (replayed_traces, live_traces) = (runs_by_trace(&mlflow, &replayed), runs_by_trace(&mlflow, &live));
    let runs = sorted_runs(&replayed_traces);
    assert_eq!(sorted_runs(&live_traces), runs, "the same runs through the package");
    let (replayed_id, live_id) = (mlflow.experiment_id(&replayed).unwrap(), mlflow.experiment_id(&live).unwrap());
    for run in &runs {
        let expected = shape(&mlflow.trace_of_run(&replayed_id, run), &replayed_traces);
        let actual = shape(&mlflow.trace_of_run(&live_id, run), &live_traces);
        assert!(
            actual == expected,
            "run {run}: the package's trace differs from replay's, first at (package vs replay)\n{}",
            first_difference(&actual, &expected, "")
        );
    }
    (runs, live_id)
}

/// Where two JSON values first differ, as a path and the two values.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find(|k| x.get(*k) != y.get(*k))
                .map(|k| {
                    first_difference(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &format!("{at}.{k}"),
                    )
                })
                .unwrap_or_default()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| p != q)
            .map(|(i, (p, q))| first_difference(p, q, &format!("{at}[{i}]")))
            .unwrap_or_default(),
        _ => format!("{at}: {a} vs {b}"),
    }
}
