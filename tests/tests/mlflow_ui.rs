//! The browser test: the demo's turns in MLflow's Traces tab, read in headless Chromium as an
//! operator reads them (the Input preview, the Session, the State) and a failed turn's error text
//! in its trace view, where it shows only because its span carries an `exception` event; and a
//! tool-calling turn's model call, whose pane shows the conversation the model received (with the
//! system prompt and the tools offered when those are captured).

use openclaw_plugin_tests::browser::{read_overview_tab, read_span, read_traces_tab};
use openclaw_plugin_tests::*;
use serde_json::Value;

/// One agent turn as the host drove it: its prompt, session, and error if it failed.
struct Turn {
    prompt: String,
    session: String,
    error: Option<String>,
}

fn turns(events: &[Value]) -> Vec<Turn> {
    let mut turns = Vec::new();
    for start in events.iter().filter(|e| e["hook"] == "message_start") {
        let run_id = &start["ctx"]["run_id"];
        let end = events
            .iter()
            .find(|e| e["hook"] == "message_end" && &e["ctx"]["run_id"] == run_id)
            .expect("every demo turn ends");
        turns.push(Turn {
            prompt: start["event"]["prompt"].as_str().unwrap().into(),
            session: start["ctx"]["session_key"].as_str().unwrap().into(),
            error: (end["event"]["outcome"] != "completed").then(|| end["event"]["error"].as_str().unwrap().into()),
        });
    }
    turns
}

/// The first words of a prompt: what the Input column shows of it before any cut or redaction.
fn opening(prompt: &str) -> &str {
    let end = prompt.char_indices().nth(40).map_or(prompt.len(), |(i, _)| i);
    &prompt[..end]
}

/// `openclaw-host demo` into a new experiment: its name and the hook calls the demo made.
fn demo_into(mlflow: &Mlflow, prefix: &str) -> (String, Vec<Value>) {
    let name = unique(prefix);
    let events_path = scratch_dir(prefix).join("events.jsonl");
    run_host(
        &["demo", "--events-out", events_path.to_str().unwrap()],
        &mlflow_config(mlflow, &name, ""),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    )
    .assert_success();
    (name, read_events(&events_path))
}

#[test]
fn the_traces_tab_shows_each_turns_input_session_and_state_and_a_failed_turns_error_text() {
    let mlflow = Mlflow::from_env();
    let (name, events) = demo_into(&mlflow, "ui");
    let turns = turns(&events);
    let failed = turns.iter().find(|t| t.error.is_some()).expect("the demo has a failed turn");
    let experiment = mlflow.experiment_id(&name).unwrap();

    let tab = read_traces_tab(&mlflow.uri, &experiment, opening(&failed.prompt));

    assert_eq!(tab.rows.len(), turns.len(), "one row per turn: {:?}", tab.rows);
    for turn in &turns {
        let row = tab
            .rows
            .iter()
            .find(|r| r["Input"].starts_with(opening(&turn.prompt)) && r["Session"] == turn.session)
            .unwrap_or_else(|| panic!("no row shows {:?} in session {}: {:?}", turn.prompt, turn.session, tab.rows));
        let state = if turn.error.is_some() { "Error" } else { "OK" };
        assert_eq!(row["State"], state, "State of {:?}", turn.prompt);
    }

    let error = failed.error.as_deref().unwrap();
    let view = &tab.trace_view;
    assert!(view.contains("Error"), "the trace view says Error: {view}");
    assert!(view.contains("exception.message") && view.contains(error), "the trace view shows {error:?}: {view}");
}

/// The lines of `text` from `start` on, for asserting what follows what on the page.
fn lines_from<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let at = lines.iter().position(|l| *l == start).unwrap_or_else(|| panic!("no line {start:?} in {text}"));
    lines[at..].to_vec()
}

/// Something of a tool's result that shows as one line on the page: a JSON result is drawn as a
/// code block, token by token, so one of its longer strings; a text, its opening words.
fn recognisable(result: &str) -> String {
    fn longest(v: &Value) -> Option<&str> {
        match v {
            Value::String(s) => Some(s.as_str()),
            Value::Array(items) => items.iter().filter_map(longest).max_by_key(|s| s.len()),
            Value::Object(fields) => fields.values().filter_map(longest).max_by_key(|s| s.len()),
            _ => None,
        }
    }
    match serde_json::from_str::<Value>(result) {
        Ok(json) => longest(&json).unwrap_or(result).to_string(),
        Err(_) => opening(result).to_string(),
    }
}

/// `wanted` appear in `lines` in this order (other lines may come between).
fn in_order(lines: &[&str], wanted: &[&str]) -> bool {
    let mut rest = lines.iter();
    wanted.iter().all(|w| rest.any(|l| l.contains(w)))
}

#[test]
fn a_tool_calling_turns_second_model_call_shows_the_conversation_it_received_and_its_answer() {
    let mlflow = Mlflow::from_env();
    let (name, events) = demo_into(&mlflow, "ui-chat");
    // A demo turn that calls one tool between two model calls: what its second call received.
    fn of_run<'a>(events: &'a [Value], run: &'a Value) -> impl Iterator<Item = &'a Value> {
        events.iter().filter(move |e| &e["ctx"]["run_id"] == run)
    }
    let start = events
        .iter()
        .filter(|e| e["hook"] == "message_start")
        .find(|s| {
            let hooks: Vec<&str> = of_run(&events, &s["ctx"]["run_id"]).map(|e| e["hook"].as_str().unwrap()).collect();
            hooks.iter().filter(|h| **h == "tool_call_end").count() == 1
                && hooks.iter().filter(|h| **h == "model_call_end").count() == 2
        })
        .expect("the demo has a turn with one tool call between two model calls");
    let run = &start["ctx"]["run_id"];
    let prompt = start["event"]["prompt"].as_str().unwrap();
    let tool = of_run(&events, run).find(|e| e["hook"] == "tool_call_end").unwrap();
    let tool_name = tool["event"]["tool_name"].as_str().unwrap();
    let tool_start = of_run(&events, run).find(|e| e["hook"] == "tool_call_start").unwrap();
    let params: Value = serde_json::from_str(tool_start["event"]["params"].as_str().unwrap()).unwrap();
    let (param, value) = params.as_object().unwrap().iter().next().unwrap();
    let result = tool["event"]["result"].as_str().unwrap();
    let model_ends: Vec<&Value> = of_run(&events, run).filter(|e| e["hook"] == "model_call_end").collect();
    let answer = model_ends[1]["event"]["response"].as_str().unwrap();
    let span_name = format!(
        "llm.{}.{}",
        model_ends[1]["event"]["provider"].as_str().unwrap(),
        model_ends[1]["event"]["model"].as_str().unwrap()
    );
    let experiment = mlflow.experiment_id(&name).unwrap();

    let pane = read_span(&mlflow.uri, &experiment, opening(prompt), &span_name, 1);

    assert!(pane.tabs.iter().any(|t| t.starts_with("Inputs")), "{:?}", pane.tabs);
    // MLflow draws messages in chat format as turns: who said it, then what.
    let inputs = lines_from(&pane.panel, "Inputs");
    let asked = [
        "User",
        opening(prompt),
        "Assistant",
        "Tool calls",
        tool_name,
        param,
        value.as_str().unwrap(),
        tool_name,
        &recognisable(result),
        "Outputs",
        "Assistant",
    ];
    assert!(in_order(&inputs, &asked), "the model call's pane shows {asked:?} in order:\n{}", pane.panel);
    // The answer as rendered (markdown: "1) " opens a list, so only its last sentence is literal).
    let last_sentence = answer.rsplit(". ").next().unwrap().trim_end_matches('.');
    let outputs = lines_from(&pane.panel, "Outputs");
    assert!(outputs.iter().any(|l| l.contains(last_sentence)), "the answer {answer:?} in:\n{}", pane.panel);
}

/// A retrieval tool's span (the demo's subagent fetches a page) shows its documents as MLflow draws
/// retrieved documents: each one's text and where it came from.
#[test]
fn a_retrieval_span_shows_the_documents_it_found_with_their_source() {
    let mlflow = Mlflow::from_env();
    let (name, events) = demo_into(&mlflow, "ui-retriever");
    let fetch = events
        .iter()
        .find(|e| e["hook"] == "tool_call_end" && e["event"]["tool_name"] == "web_fetch")
        .expect("the demo fetches a page");
    let documents: Value = serde_json::from_str(fetch["event"]["documents"].as_str().unwrap()).unwrap();
    let (uri, text) = (documents[0]["uri"].as_str().unwrap(), documents[0]["content"].as_str().unwrap());
    let run = &fetch["ctx"]["run_id"];
    let start = events.iter().find(|e| e["hook"] == "message_start" && &e["ctx"]["run_id"] == run).unwrap();
    let experiment = mlflow.experiment_id(&name).unwrap();

    let pane =
        read_span(&mlflow.uri, &experiment, opening(start["event"]["prompt"].as_str().unwrap()), "tool.web_fetch", 0);

    let outputs = lines_from(&pane.panel, "Outputs");
    // MLflow's document view: the text, then the metadata, `doc_uri` first.
    assert!(in_order(&outputs, &[opening(text), "doc_uri", uri]), "the document's text and source:\n{}", pane.panel);
}

/// MLflow's Overview (an experiment's first page) charts our traces as they are: the recording's six
/// turns on the Usage tab, and on the Tool calls tab each tool that ran, with its calls and success
/// rate; the Tool Search bridge's `tool_call` is no tool of its own there.
#[test]
fn the_overview_counts_the_turns_and_the_tools_that_ran() {
    let mlflow = Mlflow::from_env();
    let name = unique("ui-overview");
    replay(&real_recording(), &mlflow_config(&mlflow, &name, ""), &["--shift-to-now"], &[]).assert_success();
    let recording: Vec<Value> =
        std::fs::read_to_string(real_recording()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let turns = recording.iter().filter(|l| l["hook"] == "agent_end").count();
    let reads =
        recording.iter().filter(|l| l["hook"] == "before_tool_call" && l["event"]["toolName"] == "read").count();
    let experiment = mlflow.experiment_id(&name).unwrap();

    let usage = read_overview_tab(&mlflow.uri, &experiment, "Usage", &["Traces", "Token Usage"]);
    let usage = lines_from(&usage, "Traces");
    assert_eq!(usage[1], turns.to_string(), "the Traces chart's count:\n{usage:#?}");

    let tools = read_overview_tab(
        &mlflow.uri,
        &experiment,
        "Tool calls",
        &[r#"button "tool.read""#, r#"button "tool.sessions_spawn""#],
    );
    let tools: Vec<&str> = tools.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    // The table: Tool, Calls, Success, Latency (AVG), a line each.
    let row = |tool: &str| -> Vec<&str> {
        let at = tools.iter().position(|l| *l == tool).unwrap_or_else(|| panic!("no row {tool}: {tools:#?}"));
        tools[at + 1..at + 3].to_vec()
    };
    assert_eq!(row("tool.read"), [reads.to_string().as_str(), "100.00%"], "{tools:#?}");
    assert_eq!(row("tool.sessions_spawn"), ["1", "100.00%"], "{tools:#?}");
    assert!(!tools.iter().any(|l| l.contains("tool_call")), "the bridge is no tool: {tools:#?}");
}

/// With the system prompt and the tool definitions captured, a model call's pane shows the
/// system prompt as the conversation's first turn and the tools the model was offered.
#[test]
fn a_model_calls_pane_shows_the_system_prompt_and_the_tools_offered_when_captured() {
    let mlflow = Mlflow::from_env();
    let name = unique("ui-tools");
    let run_id = unique("run");
    let session = "agent:main:ui-tools";
    let prompt = "Which notes mention the quarterly review?";
    let mut run = openclaw_run(&run_id, session, now_ms() - 60_000, prompt, true);
    let system = "You are a personal assistant running inside OpenClaw. Answer briefly.";
    let tools = serde_json::json!([
        {"name": "memory_search", "description": "Search the memory files for a query.",
         "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
        {"name": "web_fetch", "description": "Fetch a web page as text.",
         "parameters": {"type": "object", "properties": {"url": {"type": "string"}}}},
    ]);
    let llm_input = serde_json::json!({"runId": run_id, "provider": "openai", "model": "gpt-5-mini", "prompt": prompt,
        "systemPrompt": system, "historyMessages": [], "tools": tools});
    let ts = run[0]["ts"].as_u64().unwrap() + 1;
    run.insert(1, serde_json::json!({"hook": "llm_input", "ts": ts, "ctx": run[0]["ctx"], "event": llm_input}));
    let parts = "captureContent: { systemPrompt: true, toolDefinitions: true }";
    replay(&write_recording(&[run]), &mlflow_config(&mlflow, &name, parts), &[], &[]).assert_success();

    let pane =
        read_span(&mlflow.uri, &mlflow.experiment_id(&name).unwrap(), opening(prompt), "llm.openai.gpt-5-mini", 0);
    let lines = lines_from(&pane.panel, "Tools");
    let shown = ["Tools", "(2)", "Inputs", "System", system, "User", prompt, "Outputs", "Assistant", "Hello!"];
    assert!(in_order(&lines, &shown), "the model call's pane shows {shown:?} in order:\n{}", pane.panel);
}
