//! The package in the real OpenClaw gateway (`make test`: openclaw@2026.9.6 on Node 24, then the
//! floor, openclaw@2026.7.1 on Node 22, with MLflow 3.6.0), installed with
//! `openclaw plugins install` as an operator would, answering through the project's mock model, and
//! read back from the real MLflow server: what a user of the plugin would check.
//!
//! Each test starts its own OpenClaw installation; they run one at a time (a gateway takes most of
//! this machine's two cores while it starts).

use openclaw_plugin_tests::openclaw::{mlflow_lines, OpenClaw, Package};
use openclaw_plugin_tests::{free_port, unique, Mlflow, Span, Trace};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

static ONE_GATEWAY_AT_A_TIME: Mutex<()> = Mutex::new(());

fn installed_with(mlflow: &Mlflow, experiment: &str, extra: Value) -> OpenClaw {
    installed_as(Package::Folder, mlflow, experiment, extra)
}

fn installed_as(form: Package, mlflow: &Mlflow, experiment: &str, extra: Value) -> OpenClaw {
    let oc = OpenClaw::fresh();
    oc.install_package(form);
    let mut config = json!({"trackingUri": mlflow.uri, "experimentName": experiment, "flushIntervalMs": 500});
    config.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    oc.set("/plugins/entries/mlflow/hooks", json!({"allowConversationAccess": true}));
    oc.set("/plugins/entries/mlflow/config", config);
    oc
}

/// The experiment's traces once `expected` have landed.
fn traces_when(mlflow: &Mlflow, experiment: &str, expected: usize) -> (String, Vec<Value>) {
    let (id, traces) = mlflow.traces_once(experiment, Duration::from_secs(30), |t| t.len() >= expected);
    (id.unwrap_or_else(|| panic!("experiment {experiment} was never created")), traces)
}

/// Waits until MLflow holds at least the given number of traces in each session.
fn wait_for_sessions(mlflow: &Mlflow, experiment: &str, wanted: &[(&str, usize)]) {
    let all_there =
        |traces: &[Value]| wanted.iter().all(|(session, count)| in_session(traces, session).len() >= *count);
    let (_, traces) = mlflow.traces_once(experiment, Duration::from_secs(60), all_there);
    assert!(all_there(&traces), "sessions {wanted:?} not all there: {traces:#?}");
}

fn in_session<'a>(traces: &'a [Value], session: &str) -> Vec<&'a Value> {
    traces.iter().filter(|t| t["trace_metadata"]["mlflow.trace.session"] == session).collect()
}

fn the_one_in(mlflow: &Mlflow, traces: &[Value], session: &str) -> Trace {
    let found = in_session(traces, session);
    assert_eq!(found.len(), 1, "one trace in {session}: {found:#?}");
    mlflow.trace(found[0]["trace_id"].as_str().unwrap())
}

#[test]
fn every_turn_of_the_real_gateway_lands_in_mlflow_once_with_what_a_user_looks_for() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_env();
    let experiment = unique("real-gateway");
    let oc = installed_with(&mlflow, &experiment, json!({}));
    oc.run(&["config", "validate"], &[], Duration::from_secs(60)).assert_success("openclaw config validate");

    // A one-shot local turn: the plugin starts in that process and flushes at its exit.
    let local = oc.local_turn("agent:main:local", "Please read hello.txt (local turn)");
    local.assert_success("openclaw agent --local");
    assert!(local.output.contains("PAPAYA"), "{}", local.output);

    // The gateway, and turns through it.
    let mut gateway = oc.start_gateway();
    oc.gateway_turn(&gateway, "agent:main:gw-tools", "Please read hello.txt (gateway turn)")
        .assert_success("tool turn");
    oc.gateway_turn(&gateway, "agent:main:gw-fail", "FAIL_MODEL (gateway turn)");
    oc.gateway_turn(&gateway, "agent:main:gw-badtool", "FAILING_TOOL (gateway turn)").assert_success("failing tool");
    oc.webchat_send(&gateway, "agent:main:webchat", "Please read hello.txt (webchat)", &unique("wc"))
        .assert_success("chat.send");
    oc.gateway_turn(&gateway, "agent:main:gw-sub", "SPAWN_SUBAGENT (gateway turn)").assert_success("subagent turn");
    let at_once: Vec<_> = (1..=2)
        .map(|i| {
            oc.spawn_gateway_turn(&gateway, &format!("agent:main:parallel-{i}"), "Please read hello.txt (at once)")
        })
        .collect();
    for mut turn in at_once {
        assert!(turn.wait().unwrap().success(), "a turn sent at the same time as another failed");
    }
    // The webchat turn runs on after chat.send answered, and the subagent's completion is announced
    // to its parent in a turn of its own. 2026.9 delivers that turn while the gateway runs; with
    // 2026.7.1 its trace lands only at the gateway's stop (none within a minute before).
    let announced_while_running = if oc.release() >= (2026, 9, 6) { 2 } else { 1 };
    wait_for_sessions(
        &mlflow,
        &experiment,
        &[("agent:main:webchat", 1), ("agent:main:gw-sub", announced_while_running)],
    );
    gateway.stop(Duration::from_secs(30));
    let log = gateway.output();

    // One trace per turn, nothing lost at shutdown.
    let (experiment_id, traces) = traces_when(&mlflow, &experiment, 10);
    let sessions: Vec<&str> =
        traces.iter().filter_map(|t| t["trace_metadata"]["mlflow.trace.session"].as_str()).collect();
    for session in [
        "agent:main:local",
        "agent:main:gw-tools",
        "agent:main:gw-fail",
        "agent:main:gw-badtool",
        "agent:main:webchat",
        "agent:main:parallel-1",
        "agent:main:parallel-2",
    ] {
        assert_eq!(in_session(&traces, session).len(), 1, "{session}: {sessions:?}");
    }

    // A turn with tool calls: previews, session, user, model and tool spans with tokens and cost.
    let tools = the_one_in(&mlflow, &traces, "agent:main:gw-tools");
    assert_eq!(tools.info["state"], "OK");
    assert!(tools.info["request_preview"].as_str().unwrap().contains("Please read hello.txt (gateway turn)"));
    assert!(tools.info["response_preview"].as_str().unwrap().contains("PAPAYA"), "{:#}", tools.info);
    assert_eq!(tools.metadata("mlflow.trace.user"), Some("main"));
    let names = tools.span_names();
    assert_eq!(names.iter().filter(|n| *n == "llm.mock.mock-model").count(), 2, "{names:?}");
    assert_eq!(names.iter().filter(|n| *n == "tool.read").count(), 1, "{names:?}");
    let call = tools.spans.iter().find(|s| s.name == "llm.mock.mock-model").unwrap();
    let usage = call.attr("mlflow.chat.tokenUsage").expect("usage on the model span");
    // The mock provider reports OpenAI-style (prompt 1200 of which 1000 cached, 20 completion);
    // OpenClaw turns that into input 200 + cacheRead 1000; MLflow's convention gives the prompt back.
    assert_eq!(
        (usage["input_tokens"].as_u64(), usage["cache_read_input_tokens"].as_u64(), usage["total_tokens"].as_u64()),
        (Some(1200), Some(1000), Some(1220)),
        "{usage}"
    );
    let cost = call.attr("mlflow.llm.cost").expect("cost on the model span");
    assert!(cost["total_cost"].as_f64().unwrap() > 0.0, "{cost}");
    assert_eq!(tools.tag("model"), Some("mock/mock-model"));
    // Each model call carries its conversation in OpenAI's chat format, which MLflow draws as one:
    // the first asked for `read`; the second received the prompt, that request and its result.
    let mut calls: Vec<&Span> = tools.spans.iter().filter(|s| s.name == "llm.mock.mock-model").collect();
    calls.sort_by_key(|s| s.start_ns);
    let asked = &calls[0].attr("mlflow.spanOutputs").expect("the first call's reply")["choices"][0]["message"];
    assert_eq!(asked["tool_calls"][0]["function"]["name"], "read", "{asked}");
    let arguments: Value =
        serde_json::from_str(asked["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["path"].as_str().is_some_and(|p| p.ends_with("hello.txt")), "{arguments}");
    let received = calls[1].attr("mlflow.spanInputs").expect("the second call's input")["messages"].clone();
    let roles: Vec<&str> = received.as_array().unwrap().iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles.last_chunk::<3>(), Some(&["user", "assistant", "tool"]), "{received:#}");
    let [prompt, request, result] = received.as_array().unwrap().last_chunk::<3>().unwrap();
    assert!(prompt["content"].as_str().unwrap().contains("Please read hello.txt (gateway turn)"), "{prompt}");
    assert_eq!(request["tool_calls"][0]["id"], result["tool_call_id"], "{request} / {result}");
    assert!(result["content"].as_str().unwrap().contains("PAPAYA"), "{result}");
    let answer = &calls[1].attr("mlflow.spanOutputs").expect("the second call's reply")["choices"][0]["message"];
    assert!(answer["content"].as_str().unwrap().contains("PAPAYA"), "{answer}");

    // A turn whose model call fails (500, then 429 on every retry): Error, with the error's text.
    let failed = the_one_in(&mlflow, &traces, "agent:main:gw-fail");
    assert_eq!(failed.info["state"], "ERROR", "{:#}", failed.info);
    assert!(failed.root().status_message.contains("429"), "root: {:?}", failed.root().status_message);
    let call_errors: Vec<&str> = failed
        .spans
        .iter()
        .filter(|s| s.status_code == "STATUS_CODE_ERROR" && s.name.starts_with("llm."))
        .map(|s| s.status_message.as_str())
        .collect();
    assert!(call_errors.iter().any(|m| m.contains("429")), "the last attempt's failure: {call_errors:?}");
    // 2026.9.6 reports each attempt as a model call of its own (the first got the 500); 2026.7.1
    // makes one call of them (its OpenAI client retries inside it) that fails with the last error.
    if oc.release() >= (2026, 9, 6) {
        assert!(
            call_errors.iter().any(|m| m.contains("500 mock: internal error")),
            "every attempt is in the one trace: {call_errors:?}"
        );
    }

    // A failing tool: its span failed, the turn did not.
    let bad_tool = the_one_in(&mlflow, &traces, "agent:main:gw-badtool");
    assert_eq!(bad_tool.info["state"], "OK");
    let tool = bad_tool.spans.iter().find(|s| s.name == "tool.read").expect("the tool span");
    assert_eq!(tool.status_code, "STATUS_CODE_ERROR", "{tool:?}");

    // The webchat turn has its channel; the subagent's trace is linked to its parent's.
    let webchat = the_one_in(&mlflow, &traces, "agent:main:webchat");
    assert!(webchat.info["request_preview"].as_str().unwrap().contains("(webchat)"));
    assert_eq!(webchat.tag("channel"), Some("webchat"), "{:#}", webchat.info["tags"]);
    let spawner = in_session(&traces, "agent:main:gw-sub");
    assert!(
        spawner.iter().any(|t| t["request_preview"].as_str().unwrap_or("").contains("SPAWN_SUBAGENT")),
        "{spawner:#?}"
    );
    // The model spawned through OpenClaw's Tool Search bridge (`tool_call`): the trace shows the
    // tool that ran, once.
    let spawning =
        spawner.iter().find(|t| t["request_preview"].as_str().unwrap_or("").contains("SPAWN_SUBAGENT")).unwrap();
    let spawning = mlflow.trace(spawning["trace_id"].as_str().unwrap());
    let tools: Vec<String> = spawning.span_names().into_iter().filter(|n| n.starts_with("tool.")).collect();
    assert_eq!(tools, ["tool.sessions_spawn"], "{:?}", spawning.span_names());
    // The completion OpenClaw announces to the parent reads as what it is, not as OpenClaw's wrapping.
    assert_eq!(spawner.len(), 2, "the spawning turn and the announce turn: {spawner:#?}");
    assert!(
        spawner.iter().any(|t| t["request_preview"] == "subagent hello-reader completed"),
        "the announce turn's Input: {spawner:#?}"
    );
    let child = traces
        .iter()
        .find(|t| {
            t["trace_metadata"]["mlflow.trace.session"].as_str().is_some_and(|s| s.starts_with("agent:main:subagent:"))
        })
        .expect("the subagent's own trace");
    let child = mlflow.trace(child["trace_id"].as_str().unwrap());
    assert_eq!(child.tag("openclaw.parent_session"), Some("agent:main:gw-sub"), "{:#}", child.info["tags"]);

    // Two runs (the one-shot process and the gateway), each FINISHED, their metrics equal to
    // their traces.
    let runs = mlflow.runs(&experiment_id);
    assert_eq!(runs.len(), 2, "one MLflow run per gateway process: {runs:#?}");
    for run in &runs {
        let run_id = run["info"]["run_id"].as_str().unwrap();
        assert_eq!(run["info"]["status"], "FINISHED", "{run:#}");
        let linked = mlflow.search(&experiment_id, &format!("trace.run_id = '{run_id}'")).len();
        let outcomes: f64 = ["completed", "error", "incomplete"]
            .iter()
            .map(|o| mlflow.metric_sum(run_id, &format!("message.outcome.{o}")))
            .sum();
        assert_eq!(outcomes as usize, linked, "run {run_id}: messages counted vs traces linked");
    }

    // The gateway's log, as `grep -i mlflow` shows it.
    let lines = mlflow_lines(&log);
    for expected in ["MLflow tracing SDK initialized", "MLflow run", "MLflow plugin stopped"] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "no {expected:?} in the gateway's log:\n{}",
            lines.join("\n")
        );
    }
    let stopped = lines.iter().find(|l| l.contains("MLflow plugin stopped")).unwrap();
    assert!(stopped.contains(" 0 failed"), "{stopped}");
}

#[test]
fn a_gateway_restarted_in_place_keeps_tracing() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_env();
    let experiment = unique("restarted");
    let oc = installed_with(&mlflow, &experiment, json!({}));
    let mut gateway = oc.start_gateway();
    oc.gateway_turn(&gateway, "agent:main:before", "Please read hello.txt (before the restart)")
        .assert_success("the turn before the restart");
    wait_for_sessions(&mlflow, &experiment, &[("agent:main:before", 1)]);

    // The gateway's own restart signal (SIGUSR1 until 2026.8, SIGUSR2 since), in this process:
    // gateway_stop, then gateway_start, as after a config change that needs a restart.
    let pid = gateway.pid();
    gateway.signal(if oc.release() >= (2026, 8, 0) { "USR2" } else { "USR1" });
    gateway.wait_until_ready(2);
    assert!(gateway.running(), "restarted in place, not exited:\n{}", gateway.output());
    assert_eq!(gateway.pid(), pid);
    oc.gateway_turn(&gateway, "agent:main:after", "Please read hello.txt (after the restart)")
        .assert_success("the turn after the restart");
    let (_, traces) =
        mlflow.traces_once(&experiment, Duration::from_secs(60), |t| !in_session(t, "agent:main:after").is_empty());
    assert_eq!(
        in_session(&traces, "agent:main:after").len(),
        1,
        "the turn after the restart is traced:\n{}",
        mlflow_lines(&gateway.output()).join("\n")
    );
    assert_eq!(in_session(&traces, "agent:main:before").len(), 1, "the turn before, once");
    gateway.stop(Duration::from_secs(30));
}

#[test]
fn openclaw_config_validate_names_a_mistyped_setting_and_a_bad_value() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_env();
    let oc = installed_with(&mlflow, &unique("validate"), json!({"batchsize": 5}));
    let ran = oc.run(&["config", "validate"], &[], Duration::from_secs(60));
    assert!(!ran.status.success(), "a mistyped key was accepted:\n{}", ran.output);
    assert!(ran.output.contains("batchsize"), "the message names the key:\n{}", ran.output);

    oc.set("/plugins/entries/mlflow/config", json!({"trackingUri": mlflow.uri, "batchSize": 0}));
    let ran = oc.run(&["config", "validate"], &[], Duration::from_secs(60));
    assert!(!ran.status.success(), "batchSize 0 was accepted:\n{}", ran.output);
    assert!(ran.output.contains("batchSize"), "the message names the key:\n{}", ran.output);
}

#[test]
fn without_conversation_access_one_log_line_says_what_to_set() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_env();
    let oc = installed_with(&mlflow, &unique("no-access"), json!({}));
    oc.set("/plugins/entries/mlflow/hooks", json!({}));
    let ran = oc.local_turn("agent:main:main", "Please read hello.txt");
    ran.assert_success("openclaw agent --local");
    let ours: Vec<&str> = ran
        .output
        .lines()
        .filter(|l| l.contains("MLflow: plugins.entries.mlflow.hooks.allowConversationAccess"))
        .collect();
    assert_eq!(ours.len(), 1, "exactly one line:\n{}", ran.output);
    assert!(ours[0].contains("set plugins.entries.mlflow.hooks.allowConversationAccess: true"), "{}", ours[0]);
}

#[test]
fn with_mlflow_unreachable_the_gateway_answers_and_the_next_process_delivers_the_spooled_turn() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_uri(&format!("http://127.0.0.1:{}", free_port()));
    // Installed from the packed tarball (the other tests install the folder): the native plugin's
    // own log lines below prove its libraries load from where npm-pack puts them.
    let experiment = unique("after-outage");
    let oc = installed_as(Package::Packed, &mlflow, &experiment, json!({}));
    let with = oc.local_turn("agent:main:main", "Please read hello.txt (MLflow down)");
    with.assert_success("openclaw agent --local with MLflow unreachable");
    assert!(with.output.contains("The file says: Hello from the test workspace"), "{}", with.output);
    let started = mlflow_lines(&with.output).into_iter().find(|l| l.contains("MLflow host started in the gateway"));
    assert!(
        started.is_some_and(|l| l.contains("mlflow 0.1.0")),
        "the native host started the plugin:\n{}",
        with.output
    );
    assert!(
        mlflow_lines(&with.output).iter().any(|l| l.contains("1 trace(s) stay in the spool for the next start")),
        "the log says what was not sent and where it waits:\n{}",
        with.output
    );

    // The gateway's CLI lists it, for this experiment.
    let listed = oc.run(&["mlflow", "spool", "list"], &[], Duration::from_secs(120));
    listed.assert_success("openclaw mlflow spool list");
    let waiting = format!("1 trace(s) for experiment \"{experiment}\" at {} [sent at the next start]", mlflow.uri);
    assert!(listed.output.contains(&waiting), "{}", listed.output);

    // The next gateway process, with the tracking URI corrected, delivers the turn the outage
    // left in the spool (in the gateway's state directory) beside its own: each once.
    let healthy = Mlflow::from_env();
    oc.set("/plugins/entries/mlflow/config/trackingUri", json!(healthy.uri));
    let after = oc.local_turn("agent:main:after", "Please read hello.txt (MLflow back)");
    after.assert_success("openclaw agent --local with MLflow back");
    assert!(
        mlflow_lines(&after.output).iter().any(|l| l.contains("1 left by an earlier process")),
        "it took over the spool:\n{}",
        after.output
    );
    let (_, traces) = traces_when(&healthy, &experiment, 2);
    assert_eq!(in_session(&traces, "agent:main:main").len(), 1, "the outage's turn, once: {traces:#?}");
    assert_eq!(in_session(&traces, "agent:main:after").len(), 1, "the new turn, once: {traces:#?}");
}

/// The JSON report `openclaw mlflow doctor --json` printed among the CLI's other lines.
fn doctor_report(output: &str) -> Value {
    output
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v.get("checks").is_some()))
        .unwrap_or_else(|| panic!("no JSON report in:\n{output}"))
}

fn doctor_verdict<'a>(report: &'a Value, name: &str) -> &'a str {
    let checks = report["checks"].as_array().unwrap();
    checks.iter().find(|c| c["name"] == name).and_then(|c| c["verdict"].as_str()).unwrap_or("missing")
}

#[test]
fn openclaw_mlflow_doctor_runs_the_checks_from_the_real_gateways_cli() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_env();
    let experiment = unique("gateway-doctor");
    let oc = installed_with(&mlflow, &experiment, json!({}));
    let help = oc.run(&["--help"], &[], Duration::from_secs(60));
    assert!(help.output.contains("mlflow"), "the command is listed in openclaw --help:\n{}", help.output);

    let ran = oc.run(&["mlflow", "doctor", "--json"], &[], Duration::from_secs(120));
    let report = doctor_report(&ran.output);
    assert!(ran.status.success(), "exit 0 when every check passes: {report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(doctor_verdict(&report, "plugin section"), "pass", "{report:#}");
    assert_eq!(doctor_verdict(&report, "test trace"), "pass", "{report:#}");
    // The test trace went from the gateway's CLI into the configured experiment.
    let (id, traces) = traces_when(&mlflow, &experiment, 2);
    assert_eq!(in_session(&traces, "agent:mlflow-doctor:doctor").len(), 2, "experiment {id}: {traces:#?}");

    // Without the hook permission OpenClaw would block the turn hooks: the doctor says so, exit 1.
    oc.set("/plugins/entries/mlflow/hooks", json!({}));
    let ran = oc.run(&["mlflow", "doctor", "--json"], &[], Duration::from_secs(120));
    let report = doctor_report(&ran.output);
    assert_eq!(ran.status.code(), Some(1), "{report:#}");
    assert_eq!(doctor_verdict(&report, "conversation hooks"), "fail", "{report:#}");
}

/// An operator edits the plugin's settings in the running gateway's config file: OpenClaw reloads
/// the plugin in the same process (no restart), and the next turn follows the new settings. Here
/// another experiment, and content capture turned off, which must not wait for a restart.
#[test]
fn an_edit_to_the_plugins_settings_applies_from_the_next_turn_without_a_restart() {
    let _one = ONE_GATEWAY_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mlflow = Mlflow::from_env();
    let (before, after) = (unique("edited-before"), unique("edited-after"));
    let oc = installed_with(&mlflow, &before, json!({}));
    let mut gateway = oc.start_gateway();
    let pid = gateway.pid();
    oc.gateway_turn(&gateway, "agent:main:before", "Please read hello.txt (before the edit)")
        .assert_success("the turn before the edit");
    wait_for_sessions(&mlflow, &before, &[("agent:main:before", 1)]);

    let settings =
        json!({"trackingUri": mlflow.uri, "experimentName": after, "flushIntervalMs": 500, "captureContent": false});
    oc.set("/plugins/entries/mlflow/config", settings);
    let started_again = format!("experiment=Name(\"{after}\")");
    let applied = |output: &str| output.lines().any(|l| l.contains("MLflow plugin") && l.contains(&started_again));
    gateway.wait_for_output(applied, Duration::from_secs(60), "the edit was not applied");
    assert!(gateway.running(), "reloaded in place, not exited:\n{}", gateway.output());
    assert_eq!(gateway.pid(), pid);
    let output = gateway.output();
    let starts = output.lines().filter(|l| l.contains("MLflow plugin 0.1.0 starting")).count();
    assert_eq!(starts, 2, "started once, then once with the edit:\n{}", mlflow_lines(&output).join("\n"));
    oc.gateway_turn(&gateway, "agent:main:after", "Please read hello.txt (after the edit)")
        .assert_success("the turn after the edit");

    let (_, traces) = traces_when(&mlflow, &after, 1);
    let edited = the_one_in(&mlflow, &traces, "agent:main:after");
    for preview in ["request_preview", "response_preview"] {
        assert_eq!(edited.info[preview].as_str().unwrap_or(""), "", "captureContent: false applies: {}", edited.info);
    }
    assert!(edited.spans.iter().any(|s| s.attr("mlflow.chat.tokenUsage").is_some()), "still the turn's tokens");
    gateway.stop(Duration::from_secs(30));
    let first = mlflow.experiment_id(&before).unwrap();
    let kept = mlflow.search(&first, "");
    assert_eq!(kept.len(), 1, "the first experiment keeps only the turn before the edit: {kept:#?}");
    assert_eq!(in_session(&kept, "agent:main:before").len(), 1);
}
