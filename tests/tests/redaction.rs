//! Secrets in a conversation never reach MLflow, wherever they sit: in the prompt, inline in a
//! tool's parameters, at the start of a line in them, inside a result object, across the
//! `maxContentBytes` cut, in an error text, in the system prompt and the tools offered; with
//! content capture on (redacted) and off (not sent).
//! Replayed through `openclaw-host` into the real MLflow; what MLflow returns is searched whole.

use openclaw_plugin_tests::*;
use serde_json::{json, Value};

const GITHUB: &str = "ghp_R3dact10nTest0000000000000000000000AB";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYREDACTTEST1";
const OPENAI: &str = "sk-proj-R3dact10nTestR3dact10nTest0000";
const STRIPE: &str = "sk_live_R3dact10nTest00000000";

/// A 2048-bit RSA key's shape: a BEGIN line, base64 lines, an END line (about 1.7 KB).
fn private_key() -> (String, Vec<String>) {
    let lines: Vec<String> = (0..26).map(|i| format!("MIIE{i:02}{}", "Qk9HVVNLRVlNQVRFUklBTA".repeat(3))).collect();
    let block = format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----", lines.join("\n"));
    (block, lines)
}

/// One turn with the secrets in every place a conversation puts text.
fn turn(run_id: &str, t0: u64) -> Vec<Value> {
    let session = format!("agent:main:{run_id}");
    let ctx = json!({"runId": run_id, "agentId": "main", "sessionKey": session, "sessionId": "s"});
    let (key, _) = private_key();
    // The key starts just before the 900-byte cut and ends well after it.
    let prompt = format!("{}\n{key}\nand my token {OPENAI}", "p".repeat(850));
    let mut lines = openclaw_run(run_id, &session, t0, &prompt, false);
    // The system prompt and the tools offered (captured only when asked for).
    let tools = json!([{"name": "deploy", "description": format!("Deploys with the key {STRIPE}."),
        "parameters": {"type": "object", "properties": {"token": {"type": "string", "default": OPENAI}}}}]);
    let llm_input = json!({"runId": run_id, "provider": "openai", "model": "gpt-5-mini", "prompt": prompt,
        "systemPrompt": format!("Deploy with the token {GITHUB} when asked."), "historyMessages": [], "tools": tools});
    lines.insert(1, json!({"hook": "llm_input", "ts": t0 + 1, "ctx": ctx, "event": llm_input}));
    // A `write` tool call with `params`; `ending` (its result or error) merged into its end.
    let tool = |id: &str, ts: u64, params: Value, ending: Value| {
        let mut end = json!({"toolName": "write", "params": {}, "runId": run_id, "toolCallId": id, "durationMs": 5});
        end.as_object_mut().unwrap().extend(ending.as_object().unwrap().clone());
        vec![
            json!({"hook": "before_tool_call", "ts": ts, "ctx": ctx,
                   "event": {"toolName": "write", "params": params, "runId": run_id, "toolCallId": id}}),
            json!({"hook": "after_tool_call", "ts": ts + 5, "ctx": ctx, "event": end}),
        ]
    };
    lines.extend(tool(
        "inline",
        t0 + 60,
        json!({"path": "a.env", "content": format!("STRIPE={STRIPE} and more")}),
        json!({"result": {"content": []}}),
    ));
    lines.extend(tool(
        "newline",
        t0 + 70,
        json!({"path": "b.txt", "content": format!("first line\n{GITHUB}\nthird line")}),
        json!({"result": {"content": []}}),
    ));
    lines.extend(tool(
        "result",
        t0 + 80,
        json!({"path": "c"}),
        json!({"result": {"details": {"creds": {"aws_secret_access_key": AWS_SECRET}}}}),
    ));
    lines.extend(tool(
        "error",
        t0 + 90,
        json!({"path": "d"}),
        json!({"error": format!("auth failed for Authorization: Bearer {OPENAI}")}),
    ));
    lines.push(json!({"hook": "agent_end", "ts": t0 + 100, "ctx": ctx, "event": {"success": true, "durationMs": 100, "messages": []}}));
    lines
}

/// The turn replayed into experiment `name` with settings `extra`: its trace as MLflow returns it,
/// as text.
fn replayed_trace_text(mlflow: &Mlflow, name: &str, run_id: &str, extra: &str) -> String {
    let path = write_recording(&[turn(run_id, now_ms() - 60_000)]);
    let run = replay(&path, &mlflow_config(mlflow, name, extra), &[], &[]);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 1, "{}", run.stderr);
    let id = mlflow.trace_id_of_run(&mlflow.experiment_id(name).unwrap(), run_id);
    mlflow.trace_record(&id).to_string()
}

#[test]
fn no_secret_reaches_mlflow_wherever_it_sits_in_a_turn() {
    let mlflow = Mlflow::from_env();
    let (_, key_lines) = private_key();
    let secrets = [GITHUB, AWS_SECRET, OPENAI, STRIPE];

    let name = unique("redaction-on");
    let every_part = "captureContent: { systemPrompt: true, toolDefinitions: true }";
    let text = replayed_trace_text(&mlflow, &name, "redact-on", &format!("maxContentBytes: 900, {every_part}"));
    for secret in secrets.iter().copied().chain(key_lines.iter().map(String::as_str)) {
        assert!(!text.contains(secret), "{secret} reached MLflow");
    }
    // What is not secret is there, and the key is said to have been there.
    assert!(
        text.contains("first line") && text.contains("[REDACTED PRIVATE KEY]") && text.contains("[REDACTED]"),
        "{text}"
    );
    assert!(text.contains("Deploy with the token [REDACTED] when asked."), "the system prompt: {text}");
    assert!(text.contains("Deploys with the key [REDACTED]."), "the tool's description: {text}");

    let name = unique("redaction-off");
    let text = replayed_trace_text(&mlflow, &name, "redact-off", "captureContent: false");
    for secret in
        secrets.iter().copied().chain(key_lines.iter().map(String::as_str)).chain(["first line", "auth failed"])
    {
        assert!(!text.contains(secret), "{secret} reached MLflow without content capture");
    }
}
