//! Token counts land in MLflow's convention (input includes cache reads and writes), whatever
//! convention the host reported them in. The oracle is MLflow's own code
//! (`tests/oracle/mlflow_usage.py`): what its Anthropic and OpenAI integrations record for the
//! provider's response, and its `cost_per_token` on those numbers, against the real server.

use openclaw_plugin_tests::*;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// One model call: the provider's response usage (what MLflow's integration would see) and what
/// the host reports to the plugin for it.
struct Case {
    run_id: &'static str,
    provider: &'static str,
    model: &'static str,
    /// "anthropic" or "openai": which MLflow integration is the oracle.
    api: &'static str,
    provider_usage: Value,
    host_usage: Value,
}

fn cases() -> Vec<Case> {
    let anthropic = json!({"input_tokens": 2150, "output_tokens": 96,
                           "cache_read_input_tokens": 11800, "cache_creation_input_tokens": 300});
    let openai = json!({"prompt_tokens": 13950, "completion_tokens": 96, "total_tokens": 14046,
                        "prompt_tokens_details": {"cached_tokens": 11800}});
    // Models MLflow's bundled catalog prices and the plugin's table does not, so the server
    // estimates their cost from the span's tokens.
    vec![
        // OpenClaw reports every provider Anthropic-style: input without the cache.
        Case {
            run_id: "anthropic-via-openclaw",
            provider: "anthropic",
            model: "claude-3-haiku-20240307",
            api: "anthropic",
            provider_usage: anthropic.clone(),
            host_usage: json!({"input": 2150, "output": 96, "cacheRead": 11800, "cacheWrite": 300, "totalTokens": 14346}),
        },
        Case {
            run_id: "openai-via-openclaw",
            provider: "openai",
            model: "o1",
            api: "openai",
            provider_usage: openai.clone(),
            host_usage: json!({"input": 2150, "output": 96, "cacheRead": 11800, "cacheWrite": 0, "totalTokens": 14046}),
        },
        // A host that passes OpenAI's counts through: the prompt already holds the cached tokens.
        Case {
            run_id: "openai-passed-through",
            provider: "openai",
            model: "o1-2024-12-17",
            api: "openai",
            provider_usage: openai,
            host_usage: json!({"input": 13950, "output": 96, "cacheRead": 11800, "cacheWrite": 0, "totalTokens": 14046}),
        },
        // A total that agrees with neither convention: the parts win, in OpenClaw's convention.
        Case {
            run_id: "anthropic-odd-total",
            provider: "anthropic",
            model: "claude-3-haiku-20240307",
            api: "anthropic",
            provider_usage: anthropic,
            host_usage: json!({"input": 2150, "output": 96, "cacheRead": 11800, "cacheWrite": 300, "totalTokens": 99999}),
        },
    ]
}

/// MLflow's own answer for each case: `{"usage": {...}, "cost": [input_cost, output_cost]}`.
fn oracle(cases: &[Case]) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({"api": c.api, "usage": c.provider_usage, "model": c.model, "provider": c.provider}))
        .collect();
    let mut child = Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/oracle/mlflow_usage.py"))
        .env("MLFLOW_MODEL_CATALOG_URI", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the MLflow oracle with .venv's python (make venv)");
    child.stdin.take().unwrap().write_all(Value::Array(input).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
}

#[test]
fn spans_carry_usage_as_mlflows_integrations_record_it_and_the_server_prices_it_as_its_own_code_does() {
    let mlflow = Mlflow::from_env();
    let name = unique("tokens");
    let cases = cases();
    let expected = oracle(&cases);
    let t0 = now_ms() - 60_000;
    let runs: Vec<Vec<Value>> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let session = format!("agent:main:{}", c.run_id);
            let at = t0 + 1000 * i as u64;
            openclaw_model_run(c.run_id, &session, at, "hi", true, (c.provider, c.model), c.host_usage.clone())
        })
        .collect();
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let recording = write_recording(&runs);
    let run = run_host(&["replay", recording.to_str().unwrap()], &mlflow_config(&mlflow, &name, ""), &plugins);
    run.assert_success();
    let experiment = mlflow.experiment_id(&name).unwrap();

    for (case, expected) in cases.iter().zip(&expected) {
        let trace = mlflow.trace_of_run(&experiment, case.run_id);
        let span = trace.spans.iter().find(|s| s.name.starts_with("llm.")).unwrap();
        let usage = span.attr("mlflow.chat.tokenUsage").expect("usage on the model span");
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);

        // The same numbers MLflow's own integration records (a cache field it leaves out is 0 here).
        let keys =
            ["input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"];
        for key in keys {
            assert_eq!(
                n(usage, key),
                n(&expected["usage"], key),
                "{}: {key} in {usage} vs MLflow's {}",
                case.run_id,
                expected["usage"]
            );
        }
        assert_eq!(n(usage, "input_tokens") + n(usage, "output_tokens"), n(usage, "total_tokens"), "{}", case.run_id);
        assert_eq!(span.attr("gen_ai.usage.input_tokens").and_then(Value::as_u64), Some(n(usage, "input_tokens")));
        let totals = trace.metadata_json("mlflow.trace.tokenUsage").unwrap();
        assert_eq!(n(&totals, "input_tokens") + n(&totals, "output_tokens"), n(&totals, "total_tokens"));

        // The plugin does not price these models: the cost is the server's estimate, and it equals
        // MLflow's cost_per_token on the same numbers.
        assert_eq!(span.attr_str("openclaw.cost_source"), None, "{}", case.run_id);
        let cost =
            span.attr("mlflow.llm.cost").unwrap_or_else(|| panic!("{}: the server estimated no cost", case.run_id));
        let (input_cost, output_cost) = (expected["cost"][0].as_f64().unwrap(), expected["cost"][1].as_f64().unwrap());
        assert!(approx(cost["input_cost"].as_f64().unwrap(), input_cost), "{}: {cost} vs {input_cost}", case.run_id);
        assert!(approx(cost["output_cost"].as_f64().unwrap(), output_cost), "{}: {cost} vs {output_cost}", case.run_id);
        assert!(approx(cost["total_cost"].as_f64().unwrap(), input_cost + output_cost), "{}: {cost}", case.run_id);
    }
}
