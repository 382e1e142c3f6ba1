//! Traces in a real MLflow server: what an operator finds, filters and reads after the demo and
//! after a replay of a real OpenClaw recording, and how the settings change it.

use openclaw_plugin_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The events of each agent run (message, model-call and tool-call hooks), by run id.
fn runs(events: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut runs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in events {
        let hook = e["hook"].as_str().unwrap();
        if hook.starts_with("message_") || hook.starts_with("model_call_") || hook.starts_with("tool_call_") {
            runs.entry(e["ctx"]["run_id"].as_str().unwrap().to_string()).or_default().push(e.clone());
        }
    }
    runs
}

fn first<'a>(events: &'a [Value], hook: &str) -> &'a Value {
    events.iter().find(|e| e["hook"] == hook).unwrap_or_else(|| panic!("no {hook}"))
}

fn ms(e: &Value) -> u64 {
    e["ctx"]["ts_ms"].as_u64().unwrap()
}

/// "3.243s" -> 3243
fn duration_ms(text: &str) -> u64 {
    (text.trim_end_matches('s').parse::<f64>().unwrap() * 1000.0).round() as u64
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 + 1e-6 * b.abs()
}

/// The tools the README says are RETRIEVER spans without `retrieverTools`.
const RETRIEVAL_TOOLS: [&str; 7] =
    ["memory_search", "memory_get", "web_search", "web_fetch", "x_search", "sessions_search", "wiki_search"];

/// (name, type, start ms, end ms, failed) of the model and tool calls, from the hooks.
fn expected_children(events: &[Value]) -> Vec<(String, String, u64, u64, bool)> {
    let mut starts: BTreeMap<String, u64> = BTreeMap::new();
    let mut children = Vec::new();
    for e in events {
        let ev = &e["event"];
        match e["hook"].as_str().unwrap() {
            "model_call_start" => drop(starts.insert(ev["call_id"].as_str().unwrap().into(), ms(e))),
            "tool_call_start" => drop(starts.insert(ev["tool_call_id"].as_str().unwrap().into(), ms(e))),
            "model_call_end" => children.push((
                format!("llm.{}.{}", ev["provider"].as_str().unwrap(), ev["model"].as_str().unwrap()),
                "CHAT_MODEL".to_string(),
                starts[ev["call_id"].as_str().unwrap()],
                ms(e),
                ev["outcome"] != "completed",
            )),
            "tool_call_end" => children.push((
                format!("tool.{}", ev["tool_name"].as_str().unwrap()),
                if RETRIEVAL_TOOLS.contains(&ev["tool_name"].as_str().unwrap()) { "RETRIEVER" } else { "TOOL" }
                    .to_string(),
                starts[ev["tool_call_id"].as_str().unwrap()],
                ms(e),
                ev["outcome"] != "completed",
            )),
            _ => {}
        }
    }
    children.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    children
}

/// MLflow shows the first 1000 characters of a long text, then "...".
fn assert_preview(preview: &str, text: &str, what: &str) {
    if text.chars().count() <= 1000 {
        assert_eq!(preview, text, "{what}");
    } else {
        let shown = preview
            .strip_suffix("...")
            .unwrap_or_else(|| panic!("{what}: a long text's preview ends with ...: {preview}"));
        assert!(text.starts_with(shown) && shown.chars().count() >= 990, "{what}: {preview}");
    }
}

/// Everything a user checks on the trace of one run, against the hook calls that made it.
fn check_trace(mlflow: &Mlflow, experiment: &str, run_id: &str, events: &[Value]) -> Trace {
    let trace = mlflow.trace_of_run(experiment, run_id);
    let start = first(events, "message_start");
    let end = first(events, "message_end");
    let ctx = &start["ctx"];

    // Session and user, as MLflow's columns and filters see them.
    assert_eq!(trace.metadata("mlflow.trace.session"), ctx["session_key"].as_str(), "session of {run_id}");
    assert_eq!(trace.metadata("mlflow.trace.user"), ctx["agent_id"].as_str(), "user of {run_id}");

    // Request and response previews.
    let prompt = start["event"]["prompt"].as_str().unwrap();
    let preview = trace.info["request_preview"].as_str().unwrap_or("");
    if prompt.contains("hunter2") {
        assert!(!preview.contains("hunter2") && preview.contains("[REDACTED]"), "secret in preview: {preview}");
    } else {
        assert_preview(preview, prompt, &format!("request preview of {run_id}"));
    }
    let response = end["event"]["response"].as_str().unwrap();
    assert_preview(
        trace.info["response_preview"].as_str().unwrap_or(""),
        response,
        &format!("response preview of {run_id}"),
    );

    // Status and error text.
    let failed = end["event"]["outcome"] != "completed";
    assert_eq!(trace.info["state"], if failed { "ERROR" } else { "OK" }, "state of {run_id}");
    let root = trace.root();
    if failed {
        let error = end["event"]["error"].as_str().unwrap();
        assert_eq!(root.status_message, error);
        // What MLflow's UI shows: the exception event's type and text.
        assert_eq!(root.exception(), Some(("MessageFailed", error)), "the failure of {run_id}");
    } else {
        assert_eq!(root.exception(), None);
    }

    // The span tree: one root, every call a child of it, with the hooks' times.
    assert_eq!(root.name, "message.process");
    assert_eq!(root.attr_str("mlflow.spanType"), Some("AGENT"));
    assert_eq!(root.start_ms(), ms(start), "root start of {run_id}");
    assert_eq!(root.end_ms(), ms(end), "root end of {run_id}");
    assert_eq!(duration_ms(trace.info["execution_duration"].as_str().unwrap()), ms(end) - ms(start));
    let mut children: Vec<&Span> = trace.spans.iter().filter(|s| s.parent_id.is_some()).collect();
    for child in &children {
        assert_eq!(child.parent_id.as_deref(), Some(root.id.as_str()), "{} is not under the root", child.name);
        // A failed call shows its error in the UI: an exception event with the status's text.
        let kind = if child.name.starts_with("tool.") { "ToolCallFailed" } else { "ModelCallFailed" };
        let expected = (child.status_code == "STATUS_CODE_ERROR").then_some((kind, child.status_message.as_str()));
        assert_eq!(child.exception(), expected, "the exception of {} in {run_id}", child.name);
    }
    children.sort_by(|a, b| (a.start_ms(), &a.name).cmp(&(b.start_ms(), &b.name)));
    let actual: Vec<(String, String, u64, u64, bool)> = children
        .iter()
        .map(|s| {
            let kind = s.attr_str("mlflow.spanType").unwrap_or("").to_string();
            (s.name.clone(), kind, s.start_ms(), s.end_ms(), s.status_code == "STATUS_CODE_ERROR")
        })
        .collect();
    assert_eq!(actual, expected_children(events), "spans of {run_id}");

    // Tokens: the trace's totals are the sums over its model calls, in MLflow's convention (the
    // host reports OpenClaw's: input without the cache; MLflow's input holds cache reads and writes).
    let usages: Vec<&Value> = events
        .iter()
        .filter(|e| e["hook"] == "model_call_end")
        .map(|e| &e["event"]["usage"])
        .filter(|u| !u.is_null())
        .collect();
    let sum = |k: &str| usages.iter().map(|u| u[k].as_u64().unwrap()).sum::<u64>();
    let prompt = sum("input") + sum("cache_read") + sum("cache_write");
    match trace.metadata_json("mlflow.trace.tokenUsage") {
        Some(t) => {
            assert_eq!(t["input_tokens"], prompt, "input tokens of {run_id}");
            assert_eq!(t["output_tokens"], sum("output"), "output tokens of {run_id}");
            assert_eq!(t["total_tokens"], prompt + sum("output"), "total tokens of {run_id}");
            assert_eq!(sum("total"), prompt + sum("output"), "the host's own total of {run_id}");
            assert_eq!(t["cache_read_input_tokens"], sum("cache_read"), "cache reads of {run_id}");
            assert_eq!(t["cache_creation_input_tokens"], sum("cache_write"), "cache writes of {run_id}");
        }
        None => assert!(usages.is_empty(), "{run_id} has usage but the trace has no token usage"),
    }

    // Cost: the host's figure where it gave one, else the price table; the trace total is the sum.
    let mut span_costs = 0.0;
    for (span, e) in children
        .iter()
        .filter(|s| s.name.starts_with("llm."))
        .zip(events.iter().filter(|e| e["hook"] == "model_call_end"))
    {
        let Some(cost) = span.attr("mlflow.llm.cost") else { continue };
        let total = cost["total_cost"].as_f64().unwrap();
        span_costs += total;
        for part in ["input_cost", "output_cost", "total_cost"] {
            // Rounded to 10 decimal places (a ten-billionth of a dollar): no float noise shown.
            let v = cost[part].as_f64().unwrap();
            assert_eq!((v * 1e10).round() / 1e10, v, "{} {part}", span.name);
        }
        match e["event"]["cost_usd"]["total"].as_f64() {
            Some(host_total) => {
                assert!(approx(total, host_total), "{}: {total} vs the host's {host_total}", span.name);
                assert_eq!(span.attr_str("openclaw.cost_source"), Some("host"));
            }
            None => assert_eq!(span.attr_str("openclaw.cost_source"), Some("price_table"), "{}", span.name),
        }
    }
    if let Some(cost) = trace.metadata_json("mlflow.trace.cost") {
        assert!(approx(cost["total_cost"].as_f64().unwrap(), span_costs), "trace cost {cost} vs spans {span_costs}");
    }
    trace
}

fn assert_no_secret(trace: &Trace, secret: &str) {
    for span in &trace.spans {
        let text = format!("{:?} {}", span.attributes, span.status_message);
        assert!(!text.contains(secret), "{secret} leaked into span {}: {text}", span.name);
    }
}

#[test]
fn the_demo_lands_in_mlflow_as_one_complete_trace_per_message() {
    let mlflow = Mlflow::from_env();
    let name = unique("demo");
    let events_path = scratch_dir("demo").join("events.jsonl");
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let run = run_host(
        &["demo", "--verbose", "--events-out", events_path.to_str().unwrap()],
        &mlflow_config(&mlflow, &name, ""),
        &plugins,
    );
    run.assert_success();
    let events = read_events(&events_path);
    let runs = runs(&events);

    let stats = run.stats("mlflow");
    assert_eq!(stats["accepted"], events.len() as u64, "every hook call was taken in: {stats}");
    assert_eq!(stats["dropped"], 0);
    assert_eq!(stats["exported"], runs.len() as u64);
    assert_eq!(stats["failed"], 0);

    let experiment = mlflow.experiment_id(&name).expect("the plugin creates the experiment by name");
    assert_eq!(mlflow.search(&experiment, "").len(), runs.len());
    let mut traces = BTreeMap::new();
    for (run_id, run_events) in &runs {
        let trace = check_trace(&mlflow, &experiment, run_id, run_events);
        assert_no_secret(&trace, "hunter2");
        traces.insert(run_id.clone(), trace);
    }

    // The filters operators use.
    let count = |filter: &str| mlflow.search(&experiment, filter).len();
    let runs_where = |f: &dyn Fn(&[Value]) -> bool| runs.values().filter(|r| f(r)).count();
    assert_eq!(
        count("metadata.`mlflow.trace.session` = 'agent:shadowman:main'"),
        runs_where(&|r| r[0]["ctx"]["session_key"] == "agent:shadowman:main")
    );
    assert_eq!(
        count("metadata.`mlflow.trace.user` = 'researcher'"),
        runs_where(&|r| r[0]["ctx"]["agent_id"] == "researcher")
    );
    assert_eq!(
        count("trace.status = 'ERROR'"),
        runs_where(&|r| first(r, "message_end")["event"]["outcome"] != "completed")
    );
    assert_eq!(count("span.name = 'tool.read'"), runs_where(&|r| r.iter().any(|e| e["event"]["tool_name"] == "read")));
    assert_eq!(count("tags.model = 'google/gemini-2.5-flash'"), 1);

    // A failed tool is marked on its span and does not fail the message.
    let failed_tool_run = runs
        .iter()
        .find(|(_, r)| r.iter().any(|e| e["hook"] == "tool_call_end" && e["event"]["outcome"] == "error"))
        .unwrap();
    let trace = &traces[failed_tool_run.0];
    assert_eq!(trace.info["state"], "OK");
    let tool = trace.spans.iter().find(|s| s.status_code == "STATUS_CODE_ERROR").unwrap();
    assert!(tool.name.starts_with("tool.") && tool.status_message.starts_with("ENOENT"), "{tool:?}");
    assert_eq!(tool.exception(), Some(("ToolCallFailed", tool.status_message.as_str())), "visibly failed in the UI");
    assert!(
        trace.spans.iter().filter(|s| s.id != tool.id).all(|s| s.exception().is_none()),
        "only the failed span carries an exception"
    );

    // The subagent's run is its own trace in its own session, linked both ways.
    let spawn = events.iter().find(|e| e["hook"] == "subagent_spawned").unwrap();
    let child_session = spawn["event"]["child_session_key"].as_str().unwrap();
    let parent = &traces[spawn["ctx"]["run_id"].as_str().unwrap()];
    let (_, child) =
        traces.iter().find(|(_, t)| t.metadata("mlflow.trace.session") == Some(child_session)).expect("subagent trace");
    assert_eq!(child.tag("openclaw.parent_trace_id"), parent.info["trace_id"].as_str());
    assert_eq!(child.tag("openclaw.parent_session"), spawn["ctx"]["session_key"].as_str());
    assert_eq!(parent.tag("openclaw.subagent_sessions"), Some(child_session));

    // A model priced by the plugin's table (the host gave no cost): gpt-5-mini at $0.25/M input,
    // $0.025/M cached input, $2/M output.
    let gpt = traces.values().flat_map(|t| t.spans.iter()).find(|s| s.name == "llm.openai.gpt-5-mini").unwrap();
    let usage = gpt.attr("mlflow.chat.tokenUsage").unwrap();
    let cache_read = usage["cache_read_input_tokens"].as_f64().unwrap();
    let fresh =
        usage["input_tokens"].as_f64().unwrap() - cache_read - usage["cache_creation_input_tokens"].as_f64().unwrap();
    let expected = fresh * 0.25e-6 + cache_read * 0.025e-6 + usage["output_tokens"].as_f64().unwrap() * 2.0e-6;
    assert!(approx(gpt.attr("mlflow.llm.cost").unwrap()["total_cost"].as_f64().unwrap(), expected));

    // The log lines the seed documents, as `grep -i mlflow` shows them.
    for line in [
        format!("MLFlow experiment ID: {experiment}"),
        "MLflow tracing SDK initialized".into(),
        "Creating MLflow trace for sessionKey=agent:shadowman:main".into(),
        "Set trace metadata: mlflow.trace.session=agent:shadowman:main mlflow.trace.user=shadowman".into(),
        "MLflow span created: spanId=".into(),
    ] {
        assert!(run.stderr.contains(&line), "log lacks {line:?}:\n{}", run.stderr);
    }
    for trace in traces.values() {
        let line = format!("Flushed trace {} to MLflow", trace.info["trace_id"].as_str().unwrap());
        assert!(run.stderr.contains(&line), "log lacks {line:?}");
    }
}

#[test]
fn the_real_openclaw_recording_replays_into_mlflow_with_its_tokens_and_costs() {
    let mlflow = Mlflow::from_env();
    let name = unique("replay");
    let events_path = scratch_dir("replay").join("events.jsonl");
    let fixture = fixture("openclaw-2026.9.6/hooks.jsonl");
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let args = ["replay", fixture.to_str().unwrap(), "--events-out", events_path.to_str().unwrap()];
    let run = run_host(&args, &mlflow_config(&mlflow, &name, ""), &plugins);
    run.assert_success();
    let events = read_events(&events_path);
    // The copy of the conversations is this user's alone, whatever the umask.
    let mode = std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(&events_path).unwrap()) & 0o777;
    assert_eq!(mode, 0o600, "--events-out");
    let runs = runs(&events);
    assert_eq!(runs.len(), 6, "the recording has six agent runs");
    assert_eq!(run.stats("mlflow")["exported"], 6);

    let experiment = mlflow.experiment_id(&name).unwrap();
    assert_eq!(mlflow.search(&experiment, "").len(), 6);

    // OpenClaw's own per-run totals (llm_output), an independent source for the sums.
    let recording: Vec<Value> =
        std::fs::read_to_string(&fixture).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (run_id, run_events) in &runs {
        let trace = check_trace(&mlflow, &experiment, run_id, run_events);
        let output = recording
            .iter()
            .find(|l| l["hook"] == "llm_output" && l["event"]["runId"] == run_id.as_str())
            .expect("llm_output");
        let usage = trace.metadata_json("mlflow.trace.tokenUsage").unwrap();
        assert_eq!(usage["total_tokens"], output["event"]["usage"]["total"], "{run_id}");
        let reported = &output["event"]["usage"];
        let prompt = ["input", "cacheRead", "cacheWrite"].iter().map(|k| reported[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(usage["input_tokens"], prompt, "{run_id}: OpenClaw's input + cache reads + cache writes");
        let cost = trace.metadata_json("mlflow.trace.cost").unwrap();
        assert!(
            approx(cost["total_cost"].as_f64().unwrap(), output["event"]["usage"]["cost"]["total"].as_f64().unwrap()),
            "{run_id}"
        );
        let recorded_calls = recording
            .iter()
            .filter(|l| l["hook"] == "model_call_started" && l["event"]["runId"] == run_id.as_str())
            .count();
        assert_eq!(trace.spans.iter().filter(|s| s.name == "llm.mock.mock-model").count(), recorded_calls, "{run_id}");
    }

    let count = |filter: &str| mlflow.search(&experiment, filter).len();
    assert_eq!(count("metadata.`mlflow.trace.session` = 'agent:main:subagent-demo'"), 2);
    assert_eq!(count("metadata.`mlflow.trace.user` = 'main'"), 6);
    let spawn = recording.iter().find(|l| l["hook"] == "subagent_spawned").unwrap();
    let child_key = spawn["event"]["childSessionKey"].as_str().unwrap();
    let child = mlflow.search(&experiment, &format!("metadata.`mlflow.trace.session` = '{child_key}'"));
    assert_eq!(child.len(), 1);
    // The parent is the requester session's run that was under way when the subagent was spawned
    // (OpenClaw's subagent_spawned names the child's run, not the parent's).
    let requester = spawn["ctx"]["requesterSessionKey"].as_str().unwrap();
    let spawned_at = spawn["ts"].as_u64().unwrap();
    // The completion OpenClaw announced to the parent reads as what it is, not as OpenClaw's wrapping.
    let requester_traces = mlflow.search(&experiment, &format!("metadata.`mlflow.trace.session` = '{requester}'"));
    assert!(
        requester_traces.iter().any(|t| t["request_preview"] == "subagent hello-reader completed"),
        "the announce turn's Input: {requester_traces:#?}"
    );
    let (parent_run, _) = runs
        .iter()
        .find(|(_, r)| {
            r[0]["ctx"]["session_key"] == requester
                && ms(first(r, "message_start")) <= spawned_at
                && spawned_at <= ms(first(r, "message_end"))
        })
        .expect("the requester's run under way at the spawn");
    let parent = mlflow.trace_of_run(&experiment, parent_run);
    assert_eq!(parent.tag("openclaw.subagent_sessions"), Some(child_key));
    // The model spawned the subagent through OpenClaw's Tool Search bridge (`tool_call`): the trace
    // shows the tool that ran, once.
    let tools: Vec<String> = parent.span_names().into_iter().filter(|n| n.starts_with("tool.")).collect();
    assert_eq!(tools, ["tool.sessions_spawn"], "{:?}", parent.span_names());
    let child = mlflow.trace(child[0]["trace_id"].as_str().unwrap());
    assert_eq!(child.tag("openclaw.parent_trace_id"), parent.info["trace_id"].as_str());
}

/// `replay --shift-to-now`: a month-old recording's times move together so that its last event is
/// now; its traces land where MLflow's default "Last 7 days" view shows them, durations unchanged.
#[test]
fn a_month_old_recording_replayed_shifted_to_now_lands_in_the_last_seven_days() {
    let mlflow = Mlflow::from_env();
    let month_ago = now_ms() - 30 * 86_400_000;
    let runs: Vec<_> = (0..3)
        .map(|i| openclaw_run(&unique("old"), "agent:main:main", month_ago + i * 1000, "from last month", true))
        .collect();
    let recording = write_recording(&runs);
    let dir = scratch_dir("shifted");
    let (as_recorded, shifted) = (dir.join("as-recorded.jsonl"), dir.join("shifted.jsonl"));
    let name = unique("shifted");
    let before = now_ms();
    let config = mlflow_config(&mlflow, &unique("as-recorded"), "");
    replay(&recording, &config, &["--events-out", as_recorded.to_str().unwrap()], &[]).assert_success();
    let args = ["--shift-to-now", "--events-out", shifted.to_str().unwrap()];
    replay(&recording, &mlflow_config(&mlflow, &name, ""), &args, &[]).assert_success();
    let ts = |path: &Path| read_events(path).iter().map(|e| e["ctx"]["ts_ms"].as_u64().unwrap()).collect::<Vec<_>>();
    let (old, new) = (ts(&as_recorded), ts(&shifted));
    let last = *new.iter().max().unwrap();
    assert!(last >= before && last <= now_ms(), "the last event is now");
    let delta = last - old.iter().max().unwrap();
    assert_eq!(new, old.iter().map(|t| t + delta).collect::<Vec<_>>(), "every time moved by the same amount");
    let experiment = mlflow.experiment_id(&name).unwrap();
    let week_ago = before - 7 * 86_400_000;
    assert_eq!(mlflow.search(&experiment, &format!("trace.timestamp_ms > {week_ago}")).len(), 3, "in the last 7 days");
}

/// A turn's trace id comes from its identity and the experiment: replaying a recording again (as
/// `make demo` does on every run) updates its traces instead of adding copies, and the same
/// recording in another experiment is a trace of its own there.
#[test]
fn replaying_a_recording_again_adds_no_copies_and_another_experiment_gets_its_own() {
    let mlflow = Mlflow::from_env();
    let fixture = fixture("openclaw-2026.9.6/hooks.jsonl");
    let (name, other) = (unique("again"), unique("again-elsewhere"));
    for _ in 0..2 {
        let run = replay(&fixture, &mlflow_config(&mlflow, &name, ""), &["--shift-to-now"], &[]);
        assert_eq!(run.assert_success().stats("mlflow")["exported"], 6);
    }
    replay(&fixture, &mlflow_config(&mlflow, &other, ""), &["--shift-to-now"], &[]).assert_success();
    let ids = |experiment: &str| -> Vec<String> {
        let found = mlflow.search(&mlflow.experiment_id(experiment).unwrap(), "");
        found.iter().map(|t| t["trace_id"].as_str().unwrap().to_string()).collect()
    };
    let (here, there) = (ids(&name), ids(&other));
    assert_eq!(here.len(), 6, "six runs, each once, after two replays");
    assert_eq!(there.len(), 6);
    assert!(here.iter().all(|id| !there.contains(id)), "no trace shared between the experiments");
    for id in &here {
        let trace = mlflow.trace(id);
        let mut span_ids: Vec<&str> = trace.spans.iter().map(|s| s.id.as_str()).collect();
        let n = span_ids.len();
        span_ids.sort();
        span_ids.dedup();
        assert_eq!(span_ids.len(), n, "no span twice in {id}");
    }
}

#[test]
fn a_session_key_over_mlflows_limit_is_shortened_and_the_batch_lands_whole() {
    let mlflow = Mlflow::from_env();
    let name = unique("long-session");
    let long_key = format!("agent:main:telegram:group:{}", "g".repeat(400));
    let t0 = now_ms() - 10_000;
    let recording = write_recording(&[
        openclaw_run("long-1", &long_key, t0, "from the long session", true),
        openclaw_run("short-1", "agent:main:main", t0 + 100, "from a normal session", true),
    ]);
    let run = replay(&recording, &mlflow_config(&mlflow, &name, "batchSize: 10"), &[], &[]);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 2);
    assert_eq!(run.stats("mlflow")["failed"], 0);
    let experiment = mlflow.experiment_id(&name).unwrap();
    let long = mlflow.trace_of_run(&experiment, "long-1");
    let session = long.metadata("mlflow.trace.session").unwrap();
    assert_eq!(session.chars().count(), 250);
    assert!(long_key.starts_with(&session[..200]));
    assert_eq!(mlflow.search(&experiment, &format!("metadata.`mlflow.trace.session` = '{session}'")).len(), 1);
    assert_eq!(mlflow.trace_of_run(&experiment, "short-1").metadata("mlflow.trace.session"), Some("agent:main:main"));
}

#[test]
fn the_experiment_is_found_by_id_or_by_existing_name_and_the_id_wins() {
    let mlflow = Mlflow::from_env();
    let t0 = now_ms() - 10_000;

    let by_id = mlflow.create_experiment(&unique("by-id"));
    let unused_name = unique("never-created");
    let config = format!(
        r#"{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{}", experimentId: "{by_id}", experimentName: "{unused_name}" }} }} }}"#,
        mlflow.uri
    );
    replay(&write_recording(&[openclaw_run("exp-id-1", "agent:main:main", t0, "by id", true)]), &config, &[], &[])
        .assert_success();
    assert_eq!(mlflow.search(&by_id, "").len(), 1);
    assert_eq!(mlflow.experiment_id(&unused_name), None, "the name must not be used when an ID is given");

    let name = unique("by-name");
    let existing = mlflow.create_experiment(&name);
    replay(
        &write_recording(&[openclaw_run("exp-name-1", "agent:main:main", t0, "by name", true)]),
        &mlflow_config(&mlflow, &name, ""),
        &[],
        &[],
    )
    .assert_success();
    assert_eq!(mlflow.search(&existing, "").len(), 1);
}

#[test]
fn the_environment_fills_what_the_file_leaves_unset_and_the_file_wins() {
    let mlflow = Mlflow::from_env();
    let t0 = now_ms() - 10_000;
    let env_name = unique("from-env");
    let config = "{ diagnostics: { mlflow: { enabled: true } } }";
    let env = [("MLFLOW_TRACKING_URI", mlflow.uri.as_str()), ("MLFLOW_EXPERIMENT_NAME", env_name.as_str())];
    replay(&write_recording(&[openclaw_run("env-1", "agent:main:main", t0, "env", true)]), config, &[], &env)
        .assert_success();
    assert_eq!(
        mlflow.search(&mlflow.experiment_id(&env_name).expect("created from MLFLOW_EXPERIMENT_NAME"), "").len(),
        1
    );

    // The file's experiment wins over MLFLOW_EXPERIMENT_ID.
    let file_name = unique("from-file");
    let env_id = mlflow.create_experiment(&unique("env-id"));
    let env = [("MLFLOW_EXPERIMENT_ID", env_id.as_str())];
    replay(
        &write_recording(&[openclaw_run("env-2", "agent:main:main", t0, "file", true)]),
        &mlflow_config(&mlflow, &file_name, ""),
        &[],
        &env,
    )
    .assert_success();
    assert_eq!(mlflow.search(&mlflow.experiment_id(&file_name).unwrap(), "").len(), 1);
    assert_eq!(mlflow.search(&env_id, "").len(), 0);
}

#[test]
fn with_capture_content_off_no_prompt_answer_or_tool_payload_leaves_the_process() {
    let mlflow = Mlflow::from_env();
    let name = unique("no-content");
    let run = run_host(
        &["demo"],
        &mlflow_config(&mlflow, &name, "captureContent: false"),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();
    let traces = mlflow.search(&experiment, "");
    assert_eq!(traces.len(), 6);
    for t in traces {
        assert!(t["request_preview"].as_str().unwrap_or("").is_empty(), "{t}");
        assert!(t["response_preview"].as_str().unwrap_or("").is_empty(), "{t}");
        let trace = mlflow.trace(t["trace_id"].as_str().unwrap());
        for span in &trace.spans {
            for key in ["mlflow.spanInputs", "mlflow.spanOutputs"] {
                assert!(
                    span.attr(key).is_none_or(|v| v.is_null() || v.as_object().is_some_and(|o| o.is_empty())),
                    "{} has {key}: {:?}",
                    span.name,
                    span.attr(key)
                );
            }
        }
        // Token usage still arrives: only content is withheld.
        assert!(
            trace.spans.iter().any(|s| s.attr("mlflow.chat.tokenUsage").is_some()) || trace.info["state"] == "ERROR"
        );
    }
}

#[test]
fn a_message_that_never_ends_is_sent_marked_incomplete_after_the_timeout() {
    let mlflow = Mlflow::from_env();
    let name = unique("incomplete");
    let t0 = now_ms() - 10_000;
    let recording = write_recording(&[openclaw_run("never-ends", "agent:main:main", t0, "hello?", false)]);
    let run =
        replay(&recording, &mlflow_config(&mlflow, &name, "messageTimeoutMs: 1000"), &["--linger-ms", "3500"], &[]);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["extra"]["traces_incomplete"], 1);
    let experiment = mlflow.experiment_id(&name).unwrap();
    let trace = mlflow.trace_of_run(&experiment, "never-ends");
    assert_eq!(trace.info["state"], "ERROR");
    assert_eq!(trace.tag("openclaw.incomplete"), Some("true"));
    assert!(trace.root().status_message.contains("did not end within 1 s"), "{}", trace.root().status_message);
    assert_eq!(trace.root().exception(), Some(("MessageIncomplete", trace.root().status_message.as_str())));
    assert_eq!(trace.spans.iter().filter(|s| s.name == "llm.openai.gpt-5-mini").count(), 1, "what arrived is kept");
}

#[test]
fn with_mlflow_unreachable_init_returns_and_shutdown_keeps_its_budget() {
    let config =
        r#"{ diagnostics: { mlflow: { enabled: true, trackingUri: "http://127.0.0.1:9", experimentName: "x" } } }"#;
    let started = std::time::Instant::now();
    let run = run_host(&["demo", "--shutdown-ms", "1500"], config, &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    let elapsed = started.elapsed();
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 0);
    assert_eq!(stats["failed"], 0, "nothing is lost: the spool keeps it for the next start: {stats}");
    let said =
        run.stderr.lines().find(|l| l.contains("plugin mlflow shutdown:")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        said.contains("6 trace(s) and ")
            && said.ends_with(
                "metric value(s) for mlflow could not be delivered before the shutdown deadline; \
                 6 trace(s) stay in the spool for the next start"
            ),
        "{said}"
    );
    // Generous: the point is that it does not wait for request timeouts and retries.
    assert!(elapsed < std::time::Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn a_host_built_against_interface_0_1_0_drives_the_current_plugin() {
    let mlflow = Mlflow::from_env();
    let name = unique("old-host");
    // The interface is under test, not the spool: without one, the trace cannot wait behind the
    // first fsyncs of a disk the rest of the suite keeps busy (a CI run once spent both 20 s
    // budgets before the spool was open). The state directory keeps the run out of $HOME.
    let config = serde_json::json!({
        "enabled": true, "trackingUri": mlflow.uri, "experimentName": name, "flushIntervalMs": 200, "spool": false
    });
    let mut old_host = std::process::Command::new(built("old-host"));
    old_host.env("OPENCLAW_STATE_DIR", scratch_dir("old-host")).arg(built(MLFLOW_PLUGIN)).arg(config.to_string());
    let output = run_within(old_host.arg("old-host-run-1"), HOST_RUN_LIMIT, "old-host");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("STATS accepted=4 dropped=0 exported=1 failed=0"), "{stdout}\n{stderr}");
    let trace = mlflow.trace_of_run(&mlflow.experiment_id(&name).unwrap(), "old-host-run-1");
    assert_eq!(trace.info["request_preview"], "hello from an old host");
    assert_eq!(trace.span_names(), vec!["message.process", "llm.openai.gpt-5-mini"]);
    // Fields the old interface lacks (channel, trigger, a model call's reply) are simply absent.
    assert_eq!(trace.tag("channel"), None);
    assert!(trace.spans[1].attr("mlflow.spanOutputs").is_none());
}

/// A finished message is sent at once rather than held for the flush window: with a one-minute
/// window, the demo's six messages are searchable while the host is still running, before any
/// flush or shutdown would have sent them.
#[test]
fn finished_messages_are_searchable_while_the_host_runs_not_after_the_flush_window() {
    let mlflow = Mlflow::from_env();
    let name = unique("eager");
    let config = format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{}\", experimentName: \"{name}\", flushIntervalMs: 60000 }} }} }}",
        mlflow.uri
    );
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let host = std::thread::spawn(move || run_host(&["demo", "--linger-ms", "20000"], &config, &plugins));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut searchable = 0;
    while std::time::Instant::now() < deadline && !host.is_finished() {
        if let Some(experiment) = mlflow.experiment_id(&name) {
            searchable = mlflow.search(&experiment, "").len();
            if searchable == 6 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(!host.is_finished(), "the host stopped (and flushed) before the traces were searchable");
    assert_eq!(searchable, 6, "the demo's six messages, searchable while the host lingers");
    host.join().unwrap().assert_success();
}

/// Retrieval tools are RETRIEVER spans whose outputs are MLflow documents (what its retrieval judges
/// and document view read): a memory search the model called through OpenClaw's Tool Search bridge,
/// with its hits' files and lines, and a tool the operator named in `retrieverTools`, whose text
/// result is one document. Other tools stay TOOL spans.
#[test]
fn retrieval_tools_are_retriever_spans_with_their_documents() {
    let mlflow = Mlflow::from_env();
    let name = unique("retriever");
    let run_id = unique("run");
    let mut run = openclaw_run(&run_id, "agent:main:recall", now_ms() - 10_000, "What does Dana prefer?", true);
    let end = run.pop().unwrap();
    let ctx = run[0]["ctx"].clone();
    let t = end["ts"].as_u64().unwrap() - 4;
    let tool = |hook: &str, ts: u64, event: Value| json!({"hook": hook, "ts": ts, "event": event, "ctx": ctx});
    let hits = json!({"results": [
        {"path": "memory/2026-11-20.md", "startLine": 3, "endLine": 7, "score": 0.82, "snippet": "Dana prefers Tuesday calls"}
    ]});
    let bridge_args = json!({"id": "memory_search", "args": {"query": "Dana preferences"}});
    let inner_id = "tool_search_code:call_m1:memory_search:1";
    run.extend([
        tool("before_tool_call", t, json!({"toolName": "tool_call", "toolCallId": "call_m1", "params": bridge_args})),
        tool("before_tool_call", t, json!({"toolName": "memory_search", "toolCallId": inner_id, "params": {"query": "Dana preferences"}})),
        tool("after_tool_call", t + 1, json!({"toolName": "memory_search", "toolCallId": inner_id, "params": {"query": "Dana preferences"},
            "result": {"content": [{"type": "text", "text": hits.to_string()}], "details": hits}, "durationMs": 1})),
        tool("after_tool_call", t + 1, json!({"toolName": "tool_call", "toolCallId": "call_m1", "params": bridge_args,
            "result": {"content": [{"type": "text", "text": "{\"tool\": {\"name\": \"memory_search\"}}"}]}, "durationMs": 1})),
        tool("before_tool_call", t + 2, json!({"toolName": "kb_lookup", "toolCallId": "call_k1", "params": {"q": "Dana"}})),
        tool("after_tool_call", t + 3, json!({"toolName": "kb_lookup", "toolCallId": "call_k1", "params": {"q": "Dana"},
            "result": {"content": [{"type": "text", "text": "Dana: account manager since 2024"}]}, "durationMs": 1})),
        tool("before_tool_call", t + 3, json!({"toolName": "read", "toolCallId": "call_r1", "params": {"path": "a.md"}})),
        tool("after_tool_call", t + 3, json!({"toolName": "read", "toolCallId": "call_r1", "params": {"path": "a.md"},
            "result": {"content": [{"type": "text", "text": "a"}]}, "durationMs": 0})),
    ]);
    run.push(end);
    let recording = write_recording(&[run]);
    replay(&recording, &mlflow_config(&mlflow, &name, "retrieverTools: [\"kb_lookup\"]"), &[], &[]).assert_success();

    let trace = mlflow.trace_of_run(&mlflow.experiment_id(&name).unwrap(), &run_id);
    let span = |name: &str| {
        trace.spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name}: {:?}", trace.span_names()))
    };
    assert!(!trace.span_names().contains(&"tool.tool_call".to_string()), "{:?}", trace.span_names());
    let memory = span("tool.memory_search");
    assert_eq!(memory.attr_str("mlflow.spanType"), Some("RETRIEVER"));
    assert_eq!(memory.attr("mlflow.spanInputs"), Some(&json!({"query": "Dana preferences"})));
    assert_eq!(
        memory.attr("mlflow.spanOutputs"),
        Some(&json!([{"page_content": "Dana prefers Tuesday calls",
                      "metadata": {"doc_uri": "memory/2026-11-20.md#L3-L7", "score": 0.82}}]))
    );
    let lookup = span("tool.kb_lookup");
    assert_eq!(lookup.attr_str("mlflow.spanType"), Some("RETRIEVER"));
    let documents = lookup.attr("mlflow.spanOutputs").and_then(Value::as_array).expect("documents");
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(documents[0]["page_content"], "Dana: account manager since 2024");
    // No source to name: MLflow 3.6 stores the empty metadata as null.
    assert!(documents[0]["metadata"].as_object().is_none_or(|m| m.is_empty()), "{documents:?}");
    assert_eq!(span("tool.read").attr_str("mlflow.spanType"), Some("TOOL"));
}

/// `captureContent` as parts: the system prompt and the tool definitions added, the previews and
/// the tool outputs left out; each span shows what was asked for and nothing else.
#[test]
fn content_parts_choose_what_each_span_shows() {
    let mlflow = Mlflow::from_env();
    let name = unique("content-parts");
    let parts = "captureContent: { systemPrompt: true, toolDefinitions: true, previews: false, toolOutputs: false }";
    replay(&real_recording(), &mlflow_config(&mlflow, &name, parts), &[], &[]).assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();
    let found = mlflow.search(&experiment, "");
    assert_eq!(found.len(), 6);
    let mut model_spans = 0;
    let mut later_calls_with_a_tool_result = 0;
    for t in found {
        assert!(t["request_preview"].as_str().unwrap_or("").is_empty(), "previews off: {t}");
        assert!(t["response_preview"].as_str().unwrap_or("").is_empty(), "previews off: {t}");
        let trace = mlflow.trace(t["trace_id"].as_str().unwrap());
        for (nth, span) in trace.spans.iter().filter(|s| s.name.starts_with("llm.")).enumerate() {
            model_spans += 1;
            let messages = span.attr("mlflow.spanInputs").map(|i| i["messages"].clone()).unwrap_or_default();
            let messages = messages.as_array().unwrap_or_else(|| panic!("{} has no input messages", span.name));
            assert_eq!(messages[0]["role"], "system", "{}: {:?}", span.name, messages[0]);
            assert!(messages[0]["content"].as_str().unwrap().contains("You are a personal assistant"));
            assert_eq!(messages.iter().filter(|m| m["role"] == "system").count(), 1);
            let tool_result = |m: &Value| m["role"] == "tool" && m["content"].as_str().is_some_and(|c| !c.is_empty());
            if nth > 0 && messages.iter().any(tool_result) {
                later_calls_with_a_tool_result += 1;
            }
            let tools = span.attr("mlflow.chat.tools").and_then(Value::as_array).expect("the tools offered");
            assert!(
                tools.iter().any(|t| t == &json!({"type": "function", "function": {"name": "memory_search"}})),
                "{tools:?}"
            );
        }
        for span in trace.spans.iter().filter(|s| s.name.starts_with("tool.")) {
            assert!(span.attr("mlflow.spanInputs").is_some(), "{}: tool inputs are on", span.name);
            assert!(
                span.attr("mlflow.spanOutputs").is_none_or(Value::is_null),
                "{}: tool outputs are off: {:?}",
                span.name,
                span.attr("mlflow.spanOutputs")
            );
        }
    }
    assert_eq!(model_spans, 11);
    // Each of a run's later calls (5) followed a tool call; its result is still what it received.
    assert_eq!(later_calls_with_a_tool_result, 5);
}

/// A turn whose trace outgrows `maxTraceBytes` (a long tool loop) lands in parts: each part but the
/// last marked incomplete and linked to the next, the next linked back, all in the turn's session,
/// and together the parts hold every model call and tool call of the turn, its tokens once.
#[test]
fn a_turn_larger_than_max_trace_bytes_lands_in_linked_parts_holding_all_of_it() {
    let mlflow = Mlflow::from_env();
    let name = unique("trace-parts");
    // 60 rounds of a model call (15 tokens) and a tool call with a 2-3 KB result: several times
    // the smallest cap the setting takes.
    let (run_id, session, rounds) = ("long-loop", "agent:main:long-loop", 60u64);
    let t0 = now_ms() - 60_000;
    let ctx = json!({"runId": run_id, "agentId": "main", "sessionKey": session, "sessionId": "s"});
    let mut lines = openclaw_run(run_id, session, t0, "Read every file", false);
    let first_call = lines[1..3].to_vec();
    let answer = lines[3].clone();
    for round in 1..rounds {
        let ts = t0 + 100 * round;
        for call in &first_call {
            let mut call = call.clone();
            call["event"]["callId"] = json!(format!("{run_id}:model:{}", round + 1));
            call["ts"] = json!(ts + call["ts"].as_u64().unwrap() - t0);
            lines.push(call);
        }
        let mut written = answer.clone();
        written["ts"] = json!(ts + 46);
        lines.push(written);
        let id = format!("read-{round}");
        lines.push(json!({"hook": "before_tool_call", "ts": ts + 60, "ctx": ctx,
            "event": {"toolName": "read", "params": {"path": format!("{round}.txt")}, "runId": run_id, "toolCallId": id}}));
        lines.push(json!({"hook": "after_tool_call", "ts": ts + 65, "ctx": ctx,
            "event": {"toolName": "read", "params": {}, "runId": run_id, "toolCallId": id, "durationMs": 5,
                      "result": {"content": [{"type": "text", "text": format!("{round} ").repeat(1024)}]}}}));
    }
    lines.push(json!({"hook": "agent_end", "ts": t0 + 100 * rounds, "ctx": ctx,
        "event": {"success": true, "durationMs": 100 * rounds, "messages": [answer["event"]["message"]]}}));
    let run = replay(&write_recording(&[lines]), &mlflow_config(&mlflow, &name, "maxTraceBytes: 65536"), &[], &[]);
    run.assert_success();

    let experiment = mlflow.experiment_id(&name).unwrap();
    let parts: Vec<Trace> = mlflow
        .search(&experiment, &format!("tags.`openclaw.run_id` = '{run_id}'"))
        .iter()
        .map(|t| mlflow.trace(t["trace_id"].as_str().unwrap()))
        .collect();
    assert!(parts.len() >= 3, "the turn in parts: {} part(s)", parts.len());
    // The chain, from the part that continues none.
    let by_id = |id: &str| parts.iter().find(|p| p.info["trace_id"] == id);
    let mut chain = vec![parts.iter().find(|p| p.tag("openclaw.continues_trace_id").is_none()).expect("a first part")];
    while let Some(next) = chain.last().unwrap().tag("openclaw.continued_in_trace_id") {
        let next = by_id(next).unwrap_or_else(|| panic!("part {next} is not in MLflow"));
        assert_eq!(
            next.tag("openclaw.continues_trace_id"),
            chain.last().unwrap().info["trace_id"].as_str(),
            "linked back"
        );
        chain.push(next);
    }
    assert_eq!(chain.len(), parts.len(), "one chain through every part");
    for (i, part) in chain.iter().enumerate() {
        let last = i + 1 == chain.len();
        assert_eq!(part.metadata("mlflow.trace.session"), Some(session), "each part in the turn's session");
        assert_eq!(part.tag("openclaw.incomplete").is_some(), !last, "part {i} of {}: {}", chain.len(), part.info);
        assert_eq!(part.info["state"], if last { "OK" } else { "ERROR" }, "part {i}");
    }
    let spans = || chain.iter().flat_map(|p| p.spans.iter());
    let calls = spans().filter(|s| s.attr("mlflow.chat.tokenUsage").is_some()).count();
    let tools = spans().filter(|s| s.name == "tool.read").count();
    let tokens: u64 = chain
        .iter()
        .map(|p| p.metadata_json("mlflow.trace.tokenUsage").map_or(0, |u| u["total_tokens"].as_u64().unwrap()))
        .sum();
    assert_eq!(
        (calls, tools, tokens),
        (rounds as usize, rounds as usize - 1, 15 * rounds),
        "every call once, across the parts"
    );
}
