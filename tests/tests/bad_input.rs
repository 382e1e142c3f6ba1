//! Bad input through the hooks: what a buggy or hostile host can send. Nothing may crash or grow
//! without bound; data that had to be changed is changed visibly; the rest lands in MLflow.

use openclaw_plugin_tests::*;
use serde_json::{json, Value};

fn tool_call(run_id: &str, session_key: &str, ts: u64, id: &str, params: Value, end: bool) -> Vec<Value> {
    let ctx = json!({"runId": run_id, "agentId": "main", "sessionKey": session_key, "sessionId": "s"});
    let mut lines = vec![json!({"hook": "before_tool_call", "ts": ts, "ctx": ctx,
        "event": {"toolName": "read", "params": params, "runId": run_id, "toolCallId": id}})];
    if end {
        lines.push(json!({"hook": "after_tool_call", "ts": ts + 5, "ctx": ctx,
            "event": {"toolName": "read", "params": {}, "runId": run_id, "toolCallId": id, "result": {"content": []}, "durationMs": 5}}));
    }
    lines
}

fn agent_end(run_id: &str, session_key: &str, ts: u64) -> Value {
    json!({"hook": "agent_end", "ts": ts, "ctx": {"runId": run_id, "agentId": "main", "sessionKey": session_key},
           "event": {"success": true, "durationMs": 100, "messages": []}})
}

#[test]
fn bad_input_is_sanitised_or_counted_and_everything_else_lands() {
    let mlflow = Mlflow::from_env();
    let name = unique("bad-input");
    let t0 = now_ms() - 60_000;
    let session = "agent:main:main";
    let huge = format!("{}END", "x".repeat(5_000_000));
    let controls = "NUL[\u{0}] bell[\u{7}] escape[\u{1b}[31m] tab[\t] done";
    let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let mut recording = vec![
        openclaw_run("huge", session, t0, &huge, true),
        openclaw_run("controls", session, t0 + 1000, controls, true),
    ];
    // Tool parameters: nested deeper than any JSON parser's limit, and not JSON at all.
    let mut params = openclaw_run("params", session, t0 + 2000, "tools with odd parameters", false);
    params.extend(tool_call("params", session, t0 + 2050, "deep", Value::String(deep.clone()), true));
    params.extend(tool_call("params", session, t0 + 2060, "invalid", Value::String("{not json".into()), true));
    params.push(agent_end("params", session, t0 + 2100));
    recording.push(params);
    // An end whose start was never seen (the recording begins mid-run).
    recording.push(vec![agent_end("end-only", session, t0 + 3000)]);
    // Duplicate starts, a duplicate end, and events after the end.
    let mut dup = openclaw_run("dup", session, t0 + 4000, "twice", false);
    dup.extend(tool_call("dup", session, t0 + 4010, "t1", json!({"path": "a"}), false));
    dup.extend(tool_call("dup", session, t0 + 4011, "t1", json!({"path": "a"}), true));
    dup.push(agent_end("dup", session, t0 + 4100));
    dup.extend(tool_call("dup", session, t0 + 4200, "late", json!({}), true));
    recording.push(dup);
    // A start that never ends.
    recording.push(openclaw_run("no-end", session, t0 + 5000, "hello?", false));

    let path = write_recording(&recording);
    let config = mlflow_config(&mlflow, &name, "messageTimeoutMs: 1000");
    let run = run_host(
        &["replay", path.to_str().unwrap(), "--linger-ms", "3000"],
        &config,
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 6, "{stats}");
    assert_eq!(stats["failed"], 0);
    assert_eq!(stats["extra"]["traces_incomplete"], 1, "{stats}");
    assert_eq!(stats["extra"]["events_late"], 2, "the late tool call's start and end: {stats}");

    let experiment = mlflow.experiment_id(&name).unwrap();
    let trace = |run_id: &str| {
        let found = mlflow.search(&experiment, &format!("tags.`openclaw.run_id` = '{run_id}'"));
        assert_eq!(found.len(), 1, "{run_id}");
        mlflow.trace(found[0]["trace_id"].as_str().unwrap())
    };

    // 5 MB prompt: cut to maxContentBytes with a marker saying how long it was.
    let huge_trace = trace("huge");
    let inputs =
        huge_trace.root().attr("mlflow.spanInputs").unwrap()["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(inputs.len() < 9000, "cut: {} bytes", inputs.len());
    assert!(
        inputs.ends_with("…[truncated by openclaw-mlflow: 5000003 characters in all]"),
        "{}",
        &inputs[inputs.len() - 80..]
    );

    // Control characters arrive intact (JSON-escaped on the wire) and the trace is fine.
    let controls_trace = trace("controls");
    assert_eq!(controls_trace.info["state"], "OK");
    assert_eq!(controls_trace.root().attr("mlflow.spanInputs").unwrap()["messages"][0]["content"], controls);

    // Unparseable parameters travel as a JSON string instead of breaking the span.
    let params_trace = trace("params");
    let tools: Vec<&Span> = params_trace.spans.iter().filter(|s| s.name == "tool.read").collect();
    assert_eq!(tools.len(), 2);
    let inputs: Vec<&Value> = tools.iter().map(|s| s.attr("mlflow.spanInputs").unwrap()).collect();
    assert!(inputs.iter().any(|v| v.as_str() == Some(deep.as_str())), "deep nesting kept as text");
    assert!(inputs.iter().any(|v| v.as_str() == Some("{not json")));

    // The end without a start is rebuilt from its duration.
    let end_only = trace("end-only");
    assert_eq!(end_only.root().end_ms() - end_only.root().start_ms(), 100);

    // Duplicates: one tool span (the first start), the late call is not in the trace.
    let dup = trace("dup");
    assert_eq!(dup.span_names().iter().filter(|n| n.starts_with("tool.")).count(), 1, "{:?}", dup.span_names());

    // The message that never ended was sent, marked.
    let no_end = trace("no-end");
    assert_eq!(no_end.tag("openclaw.incomplete"), Some("true"));
}

/// A run whose tool fails with `error` and whose turn fails with it too; `tool` names the tool.
fn failing_run(run_id: &str, session_key: &str, t0: u64, tool: &str, error: &str) -> Vec<Value> {
    let ctx = json!({"runId": run_id, "agentId": "main", "sessionKey": session_key, "sessionId": "s"});
    let mut lines = openclaw_run(run_id, session_key, t0, "open my plan", false);
    lines.push(json!({"hook": "before_tool_call", "ts": t0 + 60, "ctx": ctx,
        "event": {"toolName": tool, "params": {"path": "plan.txt"}, "runId": run_id, "toolCallId": "t1"}}));
    lines.push(json!({"hook": "after_tool_call", "ts": t0 + 70, "ctx": ctx,
        "event": {"toolName": tool, "params": {}, "runId": run_id, "toolCallId": "t1", "error": error, "durationMs": 10}}));
    lines.push(json!({"hook": "agent_end", "ts": t0 + 80, "ctx": ctx,
        "event": {"success": false, "error": error, "durationMs": 80, "messages": []}}));
    lines
}

/// The trace of `run_id`, and as MLflow returns it, whole, as text.
fn trace_text(mlflow: &Mlflow, experiment: &str, run_id: &str) -> (Trace, String) {
    let id = mlflow.trace_id_of_run(experiment, run_id);
    (mlflow.trace(&id), mlflow.trace_record(&id).to_string())
}

#[test]
fn error_texts_follow_the_content_rules_and_ids_and_names_are_bounded() {
    let mlflow = Mlflow::from_env();
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let t0 = now_ms() - 60_000;
    let quoted = "cannot open plan.txt: the user wrote QUOTED-USER-INPUT-4711";

    // captureContent false: the failure shows, the error's text (it quotes the user) does not.
    let name = unique("errors-uncaptured");
    let path = write_recording(&[failing_run("off", "agent:main:main", t0, "read", quoted)]);
    let run = run_host(
        &["replay", path.to_str().unwrap()],
        &mlflow_config(&mlflow, &name, "captureContent: false"),
        &plugins,
    );
    run.assert_success();
    let (trace, whole) = trace_text(&mlflow, &mlflow.experiment_id(&name).unwrap(), "off");
    assert!(!whole.contains("QUOTED-USER-INPUT"), "the error text was exported: {whole}");
    let tool = trace.spans.iter().find(|s| s.name == "tool.read").expect("the tool span");
    assert_eq!(tool.status_code, "STATUS_CODE_ERROR", "still failed");

    // Captured: a 20 MB error is cut like content; a 2 MB tool name and session key to 1 KiB.
    let name = unique("errors-bounded");
    let huge_error = format!("{quoted} {}", "e".repeat(20_000_000));
    let huge_tool = "t".repeat(2_000_000);
    let huge_session = format!("agent:main:{}", "s".repeat(2_000_000));
    let path = write_recording(&[failing_run("on", &huge_session, t0, &huge_tool, &huge_error)]);
    let run = run_host(&["replay", path.to_str().unwrap()], &mlflow_config(&mlflow, &name, ""), &plugins);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 1, "{}", run.stderr);
    let (trace, whole) = trace_text(&mlflow, &mlflow.experiment_id(&name).unwrap(), "on");
    assert!(whole.len() < 200_000, "the whole trace is {} bytes", whole.len());
    let tool = trace.spans.iter().find(|s| s.name.starts_with("tool.t")).expect("the tool span");
    assert!(tool.name.len() <= 1024 + "tool.".len(), "tool name of {} bytes", tool.name.len());
    let (_, message) = tool.exception().expect("the tool's error");
    assert!(message.contains("QUOTED-USER-INPUT") && message.len() < 9000, "{} bytes", message.len());
}
