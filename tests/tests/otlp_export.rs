//! The same telemetry to any OpenTelemetry backend: MLflow used as a plain OTLP endpoint (real
//! server), and a test OTLP receiver that decodes what arrives with the official protobuf
//! definitions (instruments, units, attributes, sums, headers, sampling).

use openclaw_plugin_tests::fault_proxy::{Fault, FaultProxy, Rule};
use openclaw_plugin_tests::otlp_receiver::OtlpReceiver;
use openclaw_plugin_tests::*;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric};
use std::collections::{BTreeMap, BTreeSet};

fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        _ => None,
    })
}

fn otlp_only_config(otlp: &str) -> String {
    format!("{{ diagnostics: {{ mlflow: {{ enabled: true, flushIntervalMs: 200, otlp: {{ {otlp} }} }} }} }}")
}

#[test]
fn mlflow_as_a_plain_otlp_endpoint_receives_the_traces_with_genai_attributes() {
    let mlflow = Mlflow::from_env();
    let experiment = mlflow.create_experiment(&unique("otlp-to-mlflow"));
    let config = otlp_only_config(&format!(
        r#"endpoint: "{}", headers: {{ "x-mlflow-experiment-id": "{experiment}" }}, metrics: false"#,
        mlflow.uri
    ));
    let run = run_host(&["demo"], &config, &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    run.assert_success();
    assert_eq!(run.stats("mlflow")["extra"]["otlp_traces_exported"], 6, "{}", run.stderr);
    assert!(mlflow.runs(&experiment).is_empty(), "no MLflow export configured, so no run");
    let traces: Vec<Trace> =
        mlflow.search(&experiment, "").iter().map(|t| mlflow.trace(t["trace_id"].as_str().unwrap())).collect();
    assert_eq!(traces.len(), 6);
    for trace in &traces {
        let root = trace.root();
        assert_eq!(root.attr_str("gen_ai.operation.name"), Some("invoke_agent"));
        assert_eq!(root.attr_str("gen_ai.agent.id"), trace.metadata("mlflow.trace.user"));
        assert_eq!(root.attr_str("gen_ai.conversation.id"), trace.metadata("mlflow.trace.session"));
        for span in trace.spans.iter().filter(|s| s.parent_id.is_some()) {
            if span.name.starts_with("llm.") {
                // MLflow takes the GenAI messages as the span's inputs and outputs.
                let inputs = span.attr("mlflow.spanInputs").and_then(|i| i.as_array()).expect("inputs");
                assert!(inputs[0]["parts"][0]["content"].is_string(), "{inputs:?}");
                assert_eq!(span.attr_str("gen_ai.operation.name"), Some("chat"));
                assert!(
                    span.attr_str("gen_ai.provider.name").is_some() && span.attr_str("gen_ai.request.model").is_some()
                );
                if span.status_code != "STATUS_CODE_ERROR" {
                    assert_eq!(
                        span.attr("mlflow.spanOutputs").map(|o| &o[0]["role"]),
                        Some(&serde_json::json!("assistant"))
                    );
                    for key in [
                        "gen_ai.usage.input_tokens",
                        "gen_ai.usage.output_tokens",
                        "gen_ai.usage.cache_read.input_tokens",
                        "gen_ai.usage.cache_write.input_tokens",
                    ] {
                        assert!(span.attr(key).and_then(|v| v.as_i64()).is_some(), "{} lacks {key}", span.name);
                    }
                } else {
                    assert_eq!(span.attr_str("error.type"), Some("error"));
                }
            } else {
                assert_eq!(span.attr_str("gen_ai.operation.name"), Some("execute_tool"));
                assert_eq!(span.attr_str("gen_ai.tool.name"), span.name.strip_prefix("tool."));
                assert!(span.attr_str("gen_ai.tool.call.id").is_some());
            }
        }
    }
    assert_eq!(mlflow.search(&experiment, "trace.status = 'ERROR'").len(), 1);
}

fn metrics_by_name(receiver: &OtlpReceiver) -> BTreeMap<String, Metric> {
    // Cumulative temporality: the last export holds the totals.
    let last = receiver.metrics().pop().expect("at least one metrics export");
    last.resource_metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics.iter())
        .flat_map(|sm| sm.metrics.iter())
        .map(|m| (m.name.clone(), m.clone()))
        .collect()
}

fn histogram_points(m: &Metric) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
    match m.data.as_ref().unwrap() {
        metric::Data::Histogram(h) => h
            .data_points
            .iter()
            .map(|p| (p.attributes.clone(), p.count, p.sum.unwrap_or(0.0), p.explicit_bounds.clone()))
            .collect(),
        other => panic!("{} is not a histogram: {other:?}", m.name),
    }
}

fn sum_points(m: &Metric) -> Vec<(Vec<KeyValue>, f64)> {
    match m.data.as_ref().unwrap() {
        metric::Data::Sum(s) => s
            .data_points
            .iter()
            .map(|p| {
                let v = match p.value.unwrap() {
                    opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i) => i as f64,
                    opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(d) => d,
                };
                (p.attributes.clone(), v)
            })
            .collect(),
        other => panic!("{} is not a sum: {other:?}", m.name),
    }
}

#[test]
fn an_otlp_backend_gets_genai_metrics_whose_sums_match_the_mlflow_traces_side_by_side() {
    let mlflow = Mlflow::from_env();
    let receiver = OtlpReceiver::start();
    let name = unique("side-by-side");
    let config = mlflow_config(
        &mlflow,
        &name,
        &format!(r#"otlp: {{ endpoint: "{}", headers: {{ "x-team": "openclaw-tests" }} }}"#, receiver.url),
    );
    let events_path = scratch_dir("otlp-metrics").join("events.jsonl");
    let run = run_host(
        &["demo", "--events-out", events_path.to_str().unwrap()],
        &config,
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 6, "MLflow export: {stats}");
    assert_eq!(stats["extra"]["otlp_traces_exported"], 6, "OTLP export: {stats}");

    // Custom headers on every request, traces and metrics.
    for r in receiver.requests("/v1/traces").iter().chain(receiver.requests("/v1/metrics").iter()) {
        assert_eq!(r.headers.get("x-team").map(String::as_str), Some("openclaw-tests"), "{}", r.path);
        assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/x-protobuf"));
    }
    let spans: usize = receiver
        .traces()
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let events = read_events(&events_path);
    let calls = events.iter().filter(|e| e["hook"] == "model_call_end" || e["hook"] == "tool_call_end").count();
    assert_eq!(spans, 6 + calls, "every span reached the OTLP backend");

    let metrics = metrics_by_name(&receiver);
    let names: BTreeSet<&str> = metrics.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "gen_ai.client.operation.duration",
            "gen_ai.client.token.usage",
            "openclaw.cost",
            "openclaw.messages",
            "openclaw.tokens"
        ])
    );
    let units: BTreeMap<&str, &str> = metrics.iter().map(|(n, m)| (n.as_str(), m.unit.as_str())).collect();
    assert_eq!(units["gen_ai.client.token.usage"], "{token}");
    assert_eq!(units["gen_ai.client.operation.duration"], "s");
    assert_eq!(units["openclaw.cost"], "USD");

    // Low cardinality: no session key, run id or user content among the attributes.
    let allowed = [
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.token.type",
        "error.type",
        "openclaw.outcome",
        "openclaw.channel",
    ];
    for m in metrics.values() {
        let attributes: Vec<Vec<KeyValue>> = match m.data.as_ref().unwrap() {
            metric::Data::Histogram(_) => histogram_points(m).into_iter().map(|p| p.0).collect(),
            _ => sum_points(m).into_iter().map(|p| p.0).collect(),
        };
        for kv in attributes.iter().flatten() {
            assert!(allowed.contains(&kv.key.as_str()), "{} has attribute {}", m.name, kv.key);
        }
    }

    // Sums equal the events and MLflow's trace totals.
    let model_ends: Vec<&serde_json::Value> = events.iter().filter(|e| e["hook"] == "model_call_end").collect();
    let usage_sum = |k: &str| model_ends.iter().filter_map(|e| e["event"]["usage"][k].as_u64()).sum::<u64>() as f64;
    // The GenAI convention's input holds the cache reads and writes the host reports beside it.
    let input_sum = usage_sum("input") + usage_sum("cache_read") + usage_sum("cache_write");
    let expected = |kind: &str| if kind == "input" { input_sum } else { usage_sum(kind) };
    let token_usage = histogram_points(&metrics["gen_ai.client.token.usage"]);
    for kind in ["input", "output"] {
        let sum: f64 =
            token_usage.iter().filter(|p| attr(&p.0, "gen_ai.token.type").as_deref() == Some(kind)).map(|p| p.2).sum();
        assert_eq!(sum, expected(kind), "token usage {kind}");
    }
    assert_eq!(
        token_usage[0].3,
        vec![
            1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
            67108864.0
        ]
    );
    let durations = histogram_points(&metrics["gen_ai.client.operation.duration"]);
    assert_eq!(durations.iter().map(|p| p.1).sum::<u64>(), model_ends.len() as u64, "one duration per model call");
    let duration_sum: f64 = model_ends.iter().map(|e| e["event"]["duration_ms"].as_f64().unwrap() / 1000.0).sum();
    assert!((durations.iter().map(|p| p.2).sum::<f64>() - duration_sum).abs() < 1e-6);
    let tokens = sum_points(&metrics["openclaw.tokens"]);
    for kind in ["input", "output", "cache_read", "cache_write"] {
        let sum: f64 =
            tokens.iter().filter(|p| attr(&p.0, "gen_ai.token.type").as_deref() == Some(kind)).map(|p| p.1).sum();
        assert_eq!(sum, expected(kind), "openclaw.tokens {kind}");
    }
    let experiment = mlflow.experiment_id(&name).unwrap();
    let trace_cost: f64 = mlflow
        .search(&experiment, "")
        .iter()
        .map(|t| mlflow.trace(t["trace_id"].as_str().unwrap()))
        .filter_map(|t| t.metadata_json("mlflow.trace.cost"))
        .map(|c| c["total_cost"].as_f64().unwrap())
        .sum();
    let cost: f64 = sum_points(&metrics["openclaw.cost"]).iter().map(|p| p.1).sum();
    assert!((cost - trace_cost).abs() < 1e-9, "OTLP cost {cost} vs MLflow traces {trace_cost}");
    let messages = sum_points(&metrics["openclaw.messages"]);
    let by_outcome = |o: &str| {
        messages.iter().filter(|p| attr(&p.0, "openclaw.outcome").as_deref() == Some(o)).map(|p| p.1).sum::<f64>()
    };
    let ends: Vec<&serde_json::Value> = events.iter().filter(|e| e["hook"] == "message_end").collect();
    assert_eq!(by_outcome("completed"), ends.iter().filter(|e| e["event"]["outcome"] == "completed").count() as f64);
    assert_eq!(by_outcome("error"), ends.iter().filter(|e| e["event"]["outcome"] == "error").count() as f64);
}

#[test]
fn sampling_keeps_whole_traces_in_the_configured_fraction() {
    let receiver = OtlpReceiver::start();
    let config = otlp_only_config(&format!(r#"endpoint: "{}", sampleRate: 0.25, metrics: false"#, receiver.url));
    let run = run_host(
        &["bench", "--sessions", "8", "--messages", "100", "--threads", "2"],
        &config,
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let stats = run.stats("mlflow");
    let (kept, left_out) = (
        stats["extra"]["otlp_traces_exported"].as_u64().unwrap(),
        stats["extra"]["otlp_traces_sampled_out"].as_u64().unwrap(),
    );
    assert_eq!(kept + left_out, 800, "{stats}");
    // Binomial(800, 0.25): mean 200, sd 12.2; +-50 is over 4 sd.
    assert!((150..=250).contains(&kept), "kept {kept} of 800 at 0.25");
    let mut spans_per_trace: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for request in receiver.traces() {
        for span in request.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
            *spans_per_trace.entry(span.trace_id.clone()).or_default() += 1;
        }
    }
    assert_eq!(spans_per_trace.len() as u64, kept);
    assert!(spans_per_trace.values().all(|&n| n == 4), "a kept trace is kept whole (root, 2 model calls, 1 tool)");
}

#[test]
fn the_otel_environment_fills_the_otlp_settings() {
    let receiver = OtlpReceiver::start();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-env=yes%21,x-other=2"),
        ("OTEL_SERVICE_NAME", "gateway-from-env"),
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.0"),
    ];
    let run = run_host_with_env(&["demo"], &otlp_only_config(""), &plugins_dir(&[built(MLFLOW_PLUGIN)]), &env);
    run.assert_success();
    let requests = receiver.requests("/v1/traces");
    assert!(!requests.is_empty(), "{}", run.stderr);
    assert_eq!(requests[0].headers.get("x-env").map(String::as_str), Some("yes!"));
    let traces = receiver.traces();
    let service = traces[0].resource_spans[0].resource.as_ref().map(|r| attr(&r.attributes, "service.name"));
    assert_eq!(service, Some(Some("gateway-from-env".to_string())));
    assert_eq!(run.stats("mlflow")["extra"]["otlp_traces_exported"], 6);
    assert!(!receiver.requests("/v1/metrics").is_empty(), "metrics go to the same endpoint");
}

#[test]
fn a_protocol_other_than_http_protobuf_is_refused_at_init() {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let run =
        run_host(&["check"], &otlp_only_config(r#"endpoint: "http://127.0.0.1:4317", protocol: "grpc""#), &plugins);
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains(r#"mlflow config `otlp.protocol`: expected "http/protobuf" (the only OTLP protocol this plugin speaks), got "grpc""#), "{}", run.stderr);
    let env = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
    let run = run_host_with_env(&["check"], &otlp_only_config(r#"endpoint: "http://127.0.0.1:4317""#), &plugins, &env);
    assert!(run.stderr.contains(r#"OTEL_EXPORTER_OTLP_PROTOCOL: expected "http/protobuf""#), "{}", run.stderr);
    let run = run_host(&["check"], &otlp_only_config(r#"sampleRate: 2"#), &plugins);
    assert!(
        run.stderr.contains("mlflow config `otlp.sampleRate`: expected a number from 0 to 1, got 2"),
        "{}",
        run.stderr
    );
}

/// The generic OTLP destination carries the same content parts as MLflow's spans, in the GenAI
/// conventions' attributes: the same turn replayed to both, span by span.
#[test]
fn an_otlp_backend_gets_the_content_parts_as_genai_messages_the_same_as_mlflows_spans() {
    let mlflow = Mlflow::from_env();
    let receiver = OtlpReceiver::start();
    let name = unique("genai-content");
    let extra = format!(
        r#"captureContent: {{ systemPrompt: true, toolDefinitions: true }}, otlp: {{ endpoint: "{}", metrics: false }}"#,
        receiver.url
    );
    replay(&real_recording(), &mlflow_config(&mlflow, &name, &extra), &[], &[]).assert_success();
    let received: BTreeMap<(String, u64), Vec<KeyValue>> = receiver
        .traces()
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| ((s.name.clone(), s.start_time_unix_nano), s.attributes.clone()))
        .collect();
    let json = |attributes: &[KeyValue], key: &str| -> serde_json::Value {
        attr(attributes, key).map_or(serde_json::Value::Null, |t| serde_json::from_str(&t).unwrap())
    };
    let experiment = mlflow.experiment_id(&name).unwrap();
    let (mut models, mut tools) = (0, 0);
    for t in mlflow.search(&experiment, "") {
        for span in mlflow.trace(t["trace_id"].as_str().unwrap()).spans {
            let otlp = &received[&(span.name.clone(), span.start_ns)];
            if span.name.starts_with("llm.") {
                models += 1;
                let messages = span.attr("mlflow.spanInputs").unwrap()["messages"].as_array().unwrap().clone();
                let instructions = json(otlp, "gen_ai.system_instructions");
                assert_eq!(instructions, serde_json::json!([{"type": "text", "content": messages[0]["content"]}]));
                let input = json(otlp, "gen_ai.input.messages");
                let input = input.as_array().expect("gen_ai.input.messages");
                assert_eq!(input.len(), messages.len() - 1, "{}: all but the system prompt", span.name);
                for (genai, chat) in input.iter().zip(&messages[1..]) {
                    assert_eq!(genai["role"], chat["role"]);
                    match chat["role"].as_str().unwrap() {
                        "tool" => {
                            assert_eq!(genai["parts"][0]["type"], "tool_call_response");
                            assert_eq!(genai["parts"][0]["id"], chat["tool_call_id"]);
                            assert_eq!(genai["parts"][0]["response"], chat["content"]);
                        }
                        _ if chat["content"].is_string() => assert_eq!(genai["parts"][0]["content"], chat["content"]),
                        _ => {}
                    }
                }
                let reply = &span.attr("mlflow.spanOutputs").unwrap()["choices"][0];
                let output = json(otlp, "gen_ai.output.messages");
                assert_eq!(output[0]["finish_reason"], reply["finish_reason"]);
                let asked = reply["message"]["tool_calls"].as_array().map_or(0, Vec::len);
                let calls = output[0]["parts"].as_array().unwrap().iter().filter(|p| p["type"] == "tool_call").count();
                assert_eq!(calls, asked, "{}: the tool calls it asked for", span.name);
                let offered = span.attr("mlflow.chat.tools").unwrap().as_array().unwrap().len();
                assert_eq!(json(otlp, "gen_ai.tool.definitions").as_array().unwrap().len(), offered);
            } else if span.name.starts_with("tool.") {
                tools += 1;
                assert_eq!(
                    attr(otlp, "gen_ai.tool.call.arguments")
                        .map(|a| serde_json::from_str::<serde_json::Value>(&a).unwrap()),
                    span.attr("mlflow.spanInputs").cloned()
                );
                assert!(attr(otlp, "gen_ai.tool.call.result").is_some(), "{}", span.name);
            } else {
                assert_eq!(attr(otlp, "mlflow.spanInputs").is_some(), span.attr("mlflow.spanInputs").is_some());
                let prompt = json(otlp, "gen_ai.input.messages");
                assert_eq!(
                    prompt[0]["parts"][0]["content"],
                    span.attr("mlflow.spanInputs").unwrap()["messages"][0]["content"]
                );
            }
            if span.parent_id.is_some() {
                for key in ["mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.chat.tools"] {
                    assert!(attr(otlp, key).is_none(), "{} keeps {key} in the OTLP export", span.name);
                }
            }
        }
    }
    assert_eq!((models, tools), (11, 5));
}

#[test]
fn refused_credentials_keep_the_traces_and_a_request_too_large_is_sent_again_in_halves() {
    let receiver = OtlpReceiver::start();
    let proxy = FaultProxy::start(&receiver.url);
    // Two requests find the credentials refused, the next one is too large.
    let refuse = |code, times| Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::Status { code, retry_after: None },
        times: Some(times),
    };
    proxy.add(refuse(401, 2));
    proxy.add(refuse(413, 1));
    let config = otlp_only_config(&format!(r#"endpoint: "{}", metrics: false"#, proxy.url));
    let run = run_host(&["demo"], &config, &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["extra"]["otlp_traces_exported"], 6, "{stats}\n{}", run.stderr);
    assert_eq!(stats["extra"]["otlp_traces_failed"], 0, "{stats}");
    let credentials = run.stderr.matches("OTLP endpoint refused our credentials (401)").count();
    assert_eq!(credentials, 1, "said once, not per retry:\n{}", run.stderr);

    let statuses: Vec<Option<u16>> = proxy
        .seen()
        .iter()
        .filter(|s| s.path == "/v1/traces")
        .map(|s| match s.fault {
            Some(Fault::Status { code, .. }) => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(&statuses[..3], &[Some(401), Some(401), Some(413)], "{statuses:?}");
    // The request refused as too large came back as two, which carried its traces between them.
    let arrived: Vec<usize> = receiver
        .traces()
        .iter()
        .map(|r| {
            let ids: BTreeSet<&Vec<u8>> = r
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| &s.trace_id)
                .collect();
            ids.len()
        })
        .collect();
    assert_eq!(arrived.iter().sum::<usize>(), 6, "every trace once: {arrived:?}");
    assert!(arrived.len() >= 2 && statuses.len() == 3 + arrived.len(), "{arrived:?} after {statuses:?}");
}

#[test]
fn spans_a_backend_rejects_from_an_accepted_request_are_counted_and_said_once() {
    let receiver = OtlpReceiver::start();
    receiver.answer_partial_success(2, "span attributes over the limit");
    let config = otlp_only_config(&format!(r#"endpoint: "{}", metrics: false"#, receiver.url));
    let run = run_host(&["demo"], &config, &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    run.assert_success();
    let stats = run.stats("mlflow");
    let requests = receiver.traces().len() as u64;
    assert_eq!(stats["extra"]["otlp_traces_exported"], 6, "accepted all the same: {stats}");
    assert_eq!(stats["extra"]["otlp_spans_rejected"], 2 * requests, "two per request, {requests} request(s): {stats}");
    let said: Vec<&str> = run.stderr.lines().filter(|l| l.contains("rejected 2 of its span(s)")).collect();
    assert_eq!(said.len(), 1, "once a minute at most:\n{}", run.stderr);
    assert!(said[0].contains("span attributes over the limit"), "{}", said[0]);
}
