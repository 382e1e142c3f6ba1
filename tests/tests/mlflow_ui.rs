//! The browser test: the demo's turns in MLflow's Traces tab, read in headless Chromium as an
//! operator reads them (the Input preview, the Session, the State) and a failed turn's error text
//! in its trace view, where it shows only because its span carries an `exception` event.

use openclaw_plugin_tests::browser::read_traces_tab;
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

#[test]
fn the_traces_tab_shows_each_turns_input_session_and_state_and_a_failed_turns_error_text() {
    let mlflow = Mlflow::from_env();
    let name = unique("ui");
    let events_path = scratch_dir("ui").join("events.jsonl");
    run_host(
        &["demo", "--events-out", events_path.to_str().unwrap()],
        &mlflow_config(&mlflow, &name, ""),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    )
    .assert_success();
    let turns = turns(&read_events(&events_path));
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
