//! A trace's content as the generic OTLP destination sends it: in OpenTelemetry's GenAI
//! conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/), the attributes
//! OpenClaw's own `diagnostics-otel` writes and MLflow also reads. The spans are built once, in
//! MLflow's attributes (`mlflow_spans`); this rewrites their content, already redacted and cut:
//! - a model span's messages become `gen_ai.system_instructions` (the system prompt),
//!   `gen_ai.input.messages` and `gen_ai.output.messages` (`{role, parts, finish_reason}`), its
//!   tools `gen_ai.tool.definitions`;
//! - a tool span's parameters and result become `gen_ai.tool.call.arguments` and `.result`;
//! - the root keeps MLflow's attributes (a trace's Input and Response in MLflow behind a Collector
//!   read only those) and adds the messages.

use super::mlflow_spans::TraceSpans;
use crate::genai;
use opentelemetry::{Key, KeyValue, Value as OtelValue};
use serde_json::{json, Value};

const SPAN_TYPE: &str = "mlflow.spanType";
const SPAN_INPUTS: &str = "mlflow.spanInputs";
const SPAN_OUTPUTS: &str = "mlflow.spanOutputs";
const CHAT_TOOLS: &str = "mlflow.chat.tools";

/// `trace` with its content in the GenAI conventions.
pub fn to_genai(trace: &TraceSpans) -> TraceSpans {
    let mut spans = trace.spans.clone();
    for span in &mut spans {
        let kind = text_of(&span.attributes, SPAN_TYPE).unwrap_or_default();
        let attributes = std::mem::take(&mut span.attributes);
        span.attributes = match kind.as_str() {
            "CHAT_MODEL" => model_span(attributes),
            "TOOL" | "RETRIEVER" => tool_span(attributes),
            _ => root_span(attributes),
        };
    }
    TraceSpans { trace_id: trace.trace_id, spans, redacted: trace.redacted }
}

fn model_span(attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(attributes.len() + 1);
    for kv in attributes {
        let Some(text) = string(&kv.value) else {
            out.push(kv);
            continue;
        };
        match kv.key.as_str() {
            SPAN_INPUTS => {
                let messages = parse(text)["messages"].as_array().cloned().unwrap_or_default();
                let (system, conversation): (Vec<_>, Vec<_>) =
                    messages.into_iter().partition(|m| m["role"] == "system");
                let instructions: Vec<Value> =
                    system.iter().map(|m| json!({"type": "text", "content": m["content"]})).collect();
                push_json(&mut out, genai::SYSTEM_INSTRUCTIONS, instructions);
                push_json(&mut out, genai::INPUT_MESSAGES, conversation.iter().map(genai_message).collect());
            }
            SPAN_OUTPUTS => {
                let choices = parse(text)["choices"].as_array().cloned().unwrap_or_default();
                let messages = choices
                    .iter()
                    .map(|choice| {
                        let mut message = genai_message(&choice["message"]);
                        message["finish_reason"] = choice["finish_reason"].clone();
                        message
                    })
                    .collect();
                push_json(&mut out, genai::OUTPUT_MESSAGES, messages);
            }
            CHAT_TOOLS => {
                let tools = parse(text).as_array().cloned().unwrap_or_default();
                let definitions = tools
                    .iter()
                    .map(|tool| {
                        let f = &tool["function"];
                        let mut definition = json!({"type": "function", "name": f["name"]});
                        for key in ["description", "parameters"] {
                            if !f[key].is_null() {
                                definition[key] = f[key].clone();
                            }
                        }
                        definition
                    })
                    .collect();
                push_json(&mut out, genai::TOOL_DEFINITIONS, definitions);
            }
            _ => out.push(kv),
        }
    }
    out
}

fn tool_span(attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(|kv| match kv.key.as_str() {
            SPAN_INPUTS => KeyValue::new(genai::TOOL_CALL_ARGUMENTS, kv.value),
            SPAN_OUTPUTS => KeyValue::new(genai::TOOL_CALL_RESULT, kv.value),
            _ => kv,
        })
        .collect()
}

fn root_span(mut attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    let messages = |key: &str| {
        let text = text_of(&attributes, key)?;
        let messages = parse(&text)["messages"].as_array().cloned()?;
        Some(messages.iter().map(genai_message).collect::<Vec<_>>())
    };
    let input = messages(SPAN_INPUTS);
    let output = messages(SPAN_OUTPUTS);
    push_json(&mut attributes, genai::INPUT_MESSAGES, input.unwrap_or_default());
    push_json(&mut attributes, genai::OUTPUT_MESSAGES, output.unwrap_or_default());
    attributes
}

/// An OpenAI chat message (as `mlflow_spans` writes them) as a GenAI one: `{role, parts}`, parts
/// `text`, `tool_call` (`id`, `name`, `arguments` as JSON) and `tool_call_response` (`id`,
/// `response`).
fn genai_message(message: &Value) -> Value {
    let role = message["role"].as_str().unwrap_or("user");
    let mut parts = Vec::new();
    match (role, message["content"].as_str()) {
        ("tool", content) => parts.push(json!({
            "type": "tool_call_response",
            "id": message["tool_call_id"],
            "response": content.unwrap_or_default(),
        })),
        (_, Some(content)) => parts.push(json!({"type": "text", "content": content})),
        (_, None) => {}
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let arguments = &call["function"]["arguments"];
        let arguments = arguments.as_str().and_then(|a| serde_json::from_str(a).ok()).unwrap_or(arguments.clone());
        parts.push(json!({
            "type": "tool_call",
            "id": call["id"],
            "name": call["function"]["name"],
            "arguments": arguments,
        }));
    }
    json!({"role": role, "parts": parts})
}

fn push_json(attributes: &mut Vec<KeyValue>, key: &'static str, items: Vec<Value>) {
    if !items.is_empty() {
        attributes.push(KeyValue::new(key, Value::Array(items).to_string()));
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn string(value: &OtelValue) -> Option<&str> {
    match value {
        OtelValue::String(s) => Some(s.as_str()),
        _ => None,
    }
}

fn text_of(attributes: &[KeyValue], key: &str) -> Option<String> {
    let key = Key::from(key.to_string());
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| string(&kv.value)).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&'static str, Value)]) -> Vec<KeyValue> {
        pairs.iter().map(|(k, v)| KeyValue::new(*k, v.as_str().map_or(v.to_string(), str::to_string))).collect()
    }

    fn json_attr(attributes: &[KeyValue], key: &str) -> Value {
        text_of(attributes, key).map_or(Value::Null, |t| parse(&t))
    }

    #[test]
    fn a_model_calls_messages_and_tools_become_the_conventions_attributes() {
        let inputs = json!({"messages": [
            {"role": "system", "content": "You are a personal assistant."},
            {"role": "user", "content": "read hello.txt"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": "{\"path\":\"hello.txt\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "name": "read", "content": "hello"},
        ]});
        let outputs = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "It says hello."}, "finish_reason": "stop"}]});
        let tools = json!([{"type": "function", "function": {"name": "read", "description": "Read files", "parameters": {"type": "object"}}}]);
        let out = model_span(attrs(&[
            (SPAN_TYPE, json!("CHAT_MODEL")),
            (SPAN_INPUTS, Value::String(inputs.to_string())),
            (SPAN_OUTPUTS, Value::String(outputs.to_string())),
            (CHAT_TOOLS, Value::String(tools.to_string())),
        ]));
        assert_eq!(
            json_attr(&out, genai::SYSTEM_INSTRUCTIONS),
            json!([{"type": "text", "content": "You are a personal assistant."}])
        );
        assert_eq!(
            json_attr(&out, genai::INPUT_MESSAGES),
            json!([
                {"role": "user", "parts": [{"type": "text", "content": "read hello.txt"}]},
                {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "read", "arguments": {"path": "hello.txt"}}]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "hello"}]},
            ])
        );
        assert_eq!(
            json_attr(&out, genai::OUTPUT_MESSAGES),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "It says hello."}], "finish_reason": "stop"}])
        );
        assert_eq!(
            json_attr(&out, genai::TOOL_DEFINITIONS),
            json!([{"type": "function", "name": "read", "description": "Read files", "parameters": {"type": "object"}}])
        );
        for gone in [SPAN_INPUTS, SPAN_OUTPUTS, CHAT_TOOLS] {
            assert!(text_of(&out, gone).is_none(), "{gone} stays");
        }
        assert_eq!(text_of(&out, SPAN_TYPE).as_deref(), Some("CHAT_MODEL"));
    }

    #[test]
    fn a_tool_calls_payloads_are_its_arguments_and_result_and_the_root_keeps_mlflows_previews() {
        let out = tool_span(attrs(&[(SPAN_INPUTS, json!("{\"path\":\"a\"}")), (SPAN_OUTPUTS, json!("\"text\""))]));
        assert_eq!(text_of(&out, genai::TOOL_CALL_ARGUMENTS).as_deref(), Some("{\"path\":\"a\"}"));
        assert_eq!(text_of(&out, genai::TOOL_CALL_RESULT).as_deref(), Some("\"text\""));
        let prompt = json!({"messages": [{"role": "user", "content": "hi"}]}).to_string();
        let root = root_span(attrs(&[(SPAN_INPUTS, Value::String(prompt.clone()))]));
        assert_eq!(text_of(&root, SPAN_INPUTS), Some(prompt));
        assert_eq!(
            json_attr(&root, genai::INPUT_MESSAGES),
            json!([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}])
        );
        assert!(text_of(&root, genai::OUTPUT_MESSAGES).is_none(), "no answer, no output messages");
    }
}
