//! `openclaw-host backfill`: a real OpenClaw store (tests/fixtures/openclaw-2026.9.6/state, after a
//! five-session gateway run) into a real MLflow, and a turn the live plugin sent in the real gateway,
//! backfilled afterwards: each turn lands once, with what the live plugin sends.

use openclaw_plugin_tests::openclaw::{OpenClaw, Package};
use openclaw_plugin_tests::*;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The fixture's state directory copied to a scratch place (SQLite puts its WAL files beside the
/// database even for a reader).
fn fixture_state() -> PathBuf {
    let dir = scratch_dir("backfill-state").join("state");
    let agent = dir.join("agents/main/agent");
    std::fs::create_dir_all(&agent).unwrap();
    std::fs::copy(
        fixture("openclaw-2026.9.6/state/agents/main/agent/openclaw-agent.sqlite"),
        agent.join("openclaw-agent.sqlite"),
    )
    .unwrap();
    dir
}

/// What the store says, read with SQL beside the backfill's own reader: per session key, the user
/// prompts, and the tokens and cost of all model calls.
struct StoreFacts {
    prompts: BTreeMap<String, Vec<String>>,
    total_tokens: u64,
    cost_usd: f64,
}

fn store_facts(state: &Path) -> StoreFacts {
    let db = Connection::open_with_flags(
        state.join("agents/main/agent/openclaw-agent.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut prompts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stmt = db
        .prepare(
            "SELECT w.session_key, json_extract(e.event_json, '$.message.content') FROM transcript_events e \
             JOIN session_windows w USING (session_id) WHERE json_extract(e.event_json, '$.message.role') = 'user'",
        )
        .unwrap();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap() {
        let (key, prompt) = row.unwrap();
        prompts.entry(key).or_default().push(prompt);
    }
    let (total_tokens, cost_usd) = db
        .query_row(
            "SELECT sum(json_extract(event_json, '$.message.usage.totalTokens')), sum(json_extract(event_json, '$.message.usage.cost.total')) \
             FROM transcript_events WHERE json_extract(event_json, '$.message.role') = 'assistant'",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, f64>(1)?)),
        )
        .unwrap();
    StoreFacts { prompts, total_tokens, cost_usd }
}

fn backfill(state: &Path, config: &str, extra: &[&str]) -> HostRun {
    let mut args = vec!["backfill", "--state-dir", state.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_host(&args, config, &plugins_dir(&[built(MLFLOW_PLUGIN)]))
}

#[test]
fn backfilling_a_real_store_twice_lands_each_turn_once_with_its_session_prompt_tokens_cost_and_times() {
    let mlflow = Mlflow::from_env();
    let name = unique("backfill");
    let config = mlflow_config(&mlflow, &name, "");
    let state = fixture_state();
    let facts = store_facts(&state);

    let dry = backfill(&state, &config, &["--dry-run"]);
    dry.assert_success();
    assert!(dry.stdout.contains("6 turns in 5 sessions of 1 agent(s) would be sent"), "{}", dry.stdout);
    assert!(mlflow.experiment_id(&name).is_none(), "a dry run sends nothing");

    let first = backfill(&state, &config, &[]);
    first.assert_success();
    assert_eq!(first.stats("mlflow")["exported"], 6, "{}", first.stderr);
    // Again: the progress record says all was delivered; nothing is sent.
    let again = backfill(&state, &config, &[]);
    again.assert_success();
    assert!(again.stdout.contains("6 already delivered by an earlier backfill"), "{}", again.stdout);
    assert_eq!(again.stats("mlflow")["exported"], 0);
    // And with the record gone, everything is sent again and lands on the same traces.
    std::fs::remove_dir_all(state.join("mlflow/backfill")).unwrap();
    let resent = backfill(&state, &config, &[]);
    assert_eq!(resent.stats("mlflow")["exported"], 6, "{}", resent.stderr);

    let experiment = mlflow.experiment_id(&name).unwrap();
    let traces = mlflow.search(&experiment, "");
    assert_eq!(traces.len(), 6, "each turn once: {traces:#?}");
    let mut tokens = 0;
    let mut cost = 0.0;
    for t in &traces {
        let trace = mlflow.trace(t["trace_id"].as_str().unwrap());
        let session = trace.metadata("mlflow.trace.session").expect("a session").to_string();
        assert_eq!(trace.metadata("mlflow.trace.user"), Some("main"));
        assert_eq!(trace.info["state"], "OK");
        let preview = t["request_preview"].as_str().unwrap_or("");
        let prompts = &facts.prompts.get(&session).cloned().unwrap_or_default();
        // Five turns have the user's prompt; the subagent's announcement has none in the store.
        assert!(
            preview.is_empty()
                || prompts.iter().any(|p| p.starts_with(preview) || preview.starts_with(&p[..p.len().min(40)])),
            "{session}: preview {preview:?} is one of {prompts:?}"
        );
        assert_eq!(trace.root().name, "message.process");
        // The turn's original time (2026-11-25, the fixture's run), not the backfill's.
        assert!(t["request_time"].as_str().unwrap().starts_with("2026-11-25T22:20"), "{t}");
        for span in trace.spans.iter().filter(|s| s.name.starts_with("llm.")) {
            assert_eq!(span.name, "llm.mock.mock-model");
            assert_eq!(span.attr_str("openclaw.cost_source"), Some("host"), "the store's own cost");
            tokens += span.attr("gen_ai.usage.input_tokens").and_then(Value::as_u64).unwrap()
                + span.attr("gen_ai.usage.output_tokens").and_then(Value::as_u64).unwrap();
            cost += span.attr("mlflow.llm.cost").and_then(|c| c["total_cost"].as_f64()).unwrap_or(0.0);
        }
        assert!(trace
            .spans
            .iter()
            .all(|s| s.name.starts_with("llm.") || s.name.starts_with("tool.") || s.name == "message.process"));
    }
    let sessions: Vec<String> =
        traces.iter().map(|t| t["trace_metadata"]["mlflow.trace.session"].as_str().unwrap().to_string()).collect();
    for key in facts.prompts.keys() {
        assert!(sessions.contains(key), "a trace in {key}: {sessions:?}");
    }
    assert_eq!(tokens, facts.total_tokens, "the model calls' tokens, as the store has them");
    assert!((cost - facts.cost_usd).abs() < 1e-9, "cost {cost} vs the store's {}", facts.cost_usd);
}

#[test]
fn a_backfill_to_an_otlp_endpoint_only_completes_and_delivers_every_turn_there() {
    let receiver = otlp_receiver::OtlpReceiver::start();
    let state = fixture_state();
    let config = format!(
        r#"{{ plugins: {{ entries: {{ mlflow: {{ config: {{ otlp: {{ endpoint: "{}", metrics: false }} }} }} }} }} }}"#,
        receiver.url
    );
    let run = backfill(&state, &config, &[]);
    run.assert_success();
    assert!(run.stdout.contains("backfill: 6 turns from"), "{}\n{}", run.stdout, run.stderr);
    let roots: usize = receiver
        .traces()
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter(|span| span.parent_span_id.is_empty())
        .count();
    assert_eq!(roots, 6, "one root span per turn of the store");
}

#[test]
fn a_store_of_an_unknown_schema_version_is_refused_with_a_clear_error() {
    let state = fixture_state();
    let db = state.join("agents/main/agent/openclaw-agent.sqlite");
    Connection::open(&db).unwrap().execute("UPDATE schema_meta SET schema_version = 99", []).unwrap();
    let run = backfill(
        &state,
        r#"{ diagnostics: { mlflow: { enabled: true, trackingUri: "http://127.0.0.1:9" } } }"#,
        &["--dry-run"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("store schema version 99 is not one this backfill reads (23 (OpenClaw 2026.9.6))"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_turn_the_live_plugin_sent_in_the_real_gateway_is_not_sent_again_by_backfill() {
    let mlflow = Mlflow::from_env();
    let experiment = unique("live-then-backfill");
    let oc = OpenClaw::fresh();
    oc.install_package(Package::Folder);
    oc.set("/plugins/entries/mlflow/hooks", json!({"allowConversationAccess": true}));
    oc.set("/plugins/entries/mlflow/config", json!({"trackingUri": mlflow.uri, "experimentName": experiment}));
    oc.local_turn("agent:main:main", "Please read hello.txt and tell me what it says.").assert_success("a live turn");
    let id = mlflow.experiment_id(&experiment).expect("the live plugin created the experiment");
    let live = mlflow.search(&id, "");
    assert_eq!(live.len(), 1, "{live:#?}");

    // The gateway's own configuration and state directory: the same destination, the same store.
    let config = std::fs::read_to_string(&oc.config_path).unwrap();
    let run = backfill(&oc.state_dir, &config, &[]);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 1, "the turn is sent: {}", run.stderr);
    let after = mlflow.search(&id, "");
    assert_eq!(after.len(), 1, "and lands on the live trace: {after:#?}");
    assert_eq!(after[0]["trace_id"], live[0]["trace_id"]);
}

/// The first transcript row of the fixture's store: (session id, seq).
fn first_row(db: &Connection) -> (String, i64) {
    db.query_row("SELECT session_id, seq FROM transcript_events ORDER BY session_id, seq LIMIT 1", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

#[test]
fn a_compressed_row_beyond_openclaws_bounds_is_named_and_not_decoded() {
    let state = fixture_state();
    let db = Connection::open(state.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    let (session, seq) = first_row(&db);
    // A crafted store: OpenClaw's own CHECK constraints (its bounds) are switched off to write it.
    db.execute_batch("PRAGMA ignore_check_constraints = ON").unwrap();
    // 24 KB that decode to 200 MB: once claiming 100 bytes, once claiming all of it.
    let bomb = zstd::encode_all(std::io::Read::take(std::io::repeat(b' '), 200 << 20), 19).unwrap();
    let config = r#"{ diagnostics: { mlflow: { enabled: true, trackingUri: "http://127.0.0.1:9" } } }"#;
    for (recorded, says) in
        [(100i64, "does not decode to its recorded size of 100 bytes"), (200 << 20, "out of OpenClaw's bounds")]
    {
        db.execute(
            "UPDATE transcript_events SET event_json = NULL, event_zstd = ?1, event_utf8_bytes = ?2, \
             navigation_json = coalesce(navigation_json, '{}') WHERE session_id = ?3 AND seq = ?4",
            rusqlite::params![bomb, recorded, session, seq],
        )
        .unwrap();
        let run = backfill(&state, config, &["--dry-run"]);
        let line = format!("session {session} entry {seq}: ");
        assert!(run.stderr.lines().any(|l| l.contains(&line) && l.contains(says)), "{}", run.stderr);
    }
}

#[test]
fn a_store_whose_transcript_is_a_view_is_refused_at_once() {
    let state = fixture_state();
    let db = Connection::open(state.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    // A view that yields rows without end (the reader would spin and write until killed).
    db.execute_batch(
        "PRAGMA foreign_keys = OFF; ALTER TABLE transcript_events RENAME TO transcript_events_real;
         CREATE VIEW transcript_events AS WITH RECURSIVE n(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM n)
         SELECT (SELECT session_id FROM session_windows LIMIT 1) AS session_id, seq,
                '{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":\"again\"}}' AS event_json,
                NULL AS event_zstd, NULL AS event_utf8_bytes FROM n;",
    )
    .unwrap();
    drop(db);
    let config = r#"{ diagnostics: { mlflow: { enabled: true, trackingUri: "http://127.0.0.1:9" } } }"#;
    let args = ["backfill", "--state-dir", state.to_str().unwrap(), "--dry-run"];
    let mut child = host_command(&args, config, &plugins_dir(&[built(MLFLOW_PLUGIN)]), &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("backfill of a store with a view ran past 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("transcript_events is a view, not OpenClaw's table"), "{stderr}");
}
