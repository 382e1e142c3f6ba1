//! What an MLflow release before 3.14 needs beyond the OTLP request that 3.14 and later read
//! whole (`mlflow_release`): the request adapted to what the release reads (`adapt_request`), and
//! each trace's info completed over REST once its spans are in (`TraceInfoPatch`: session, user,
//! token usage, cost, tags). Pure functions over the encoded request; the destination makes the
//! calls (and links the traces to the run).
//!
//! The spool keeps the request as 3.14 and later take it, so a spool outlives a server upgrade.

use super::mlflow_release::MlflowRelease;
use super::mlflow_spans::mlflow_trace_id;
use crate::pricing::round_usd;
use opentelemetry::trace::TraceId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Read by 3.8-3.13 into the trace's metadata with JSON quotes kept (`"agent:main:main"`, which
/// no filter finds): left out, and the session and user set over REST instead.
const QUOTED_BY_OLDER_RELEASES: [&str; 2] = ["session.id", "user.id"];
/// Attributes `mlflow_spans` writes as JSON text, which 3.6 keeps as an (escaped) string.
const JSON_TEXT_ATTRIBUTES: [&str; 5] =
    ["mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.chat.tokenUsage", "mlflow.llm.cost", "mlflow.chat.tools"];
const TAG_PREFIX: &str = "mlflow.traceTag.";
/// The token counts MLflow sums into a trace's `mlflow.trace.tokenUsage`.
const TOKEN_KEYS: [&str; 5] =
    ["input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"];
const COST_KEYS: [&str; 3] = ["input_cost", "output_cost", "total_cost"];

fn spans_mut(request: &mut ExportTraceServiceRequest) -> impl Iterator<Item = &mut Span> {
    request.resource_spans.iter_mut().flat_map(|r| r.scope_spans.iter_mut()).flat_map(|s| s.spans.iter_mut())
}

fn spans(request: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
    request.resource_spans.iter().flat_map(|r| r.scope_spans.iter()).flat_map(|s| s.spans.iter())
}

/// The request as `release` reads it (3.6-3.13). A body that does not decode is sent as it is
/// (the server's refusal then says why).
pub fn adapt_request(body: Vec<u8>, release: MlflowRelease) -> Vec<u8> {
    let Ok(mut request) = ExportTraceServiceRequest::decode(body.as_slice()) else { return body };
    for span in spans_mut(&mut request) {
        span.attributes.retain(|kv| !QUOTED_BY_OLDER_RELEASES.contains(&kv.key.as_str()));
        if release.reads_json_text() {
            continue;
        }
        for kv in span.attributes.iter_mut().filter(|kv| JSON_TEXT_ATTRIBUTES.contains(&kv.key.as_str())) {
            if let Some(json) = string_value(kv).and_then(|text| serde_json::from_str::<Value>(text).ok()) {
                kv.value = Some(any_value(&json));
            }
        }
    }
    request.encode_to_vec()
}

fn string_value(kv: &KeyValue) -> Option<&str> {
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// JSON as OTLP's structured value: objects as key-value lists, arrays as arrays.
fn any_value(json: &Value) -> AnyValue {
    let value = match json {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        }),
        Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
        Value::Array(items) => {
            Some(any_value::Value::ArrayValue(ArrayValue { values: items.iter().map(any_value).collect() }))
        }
        Value::Object(fields) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: fields
                .iter()
                .map(|(k, v)| KeyValue { key: k.clone(), value: Some(any_value(v)), ..Default::default() })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// What a release before 3.14 does not take from the spans of one trace, to merge into the
/// trace's info as the server has it (`POST /api/3.0/mlflow/traces` replaces the info, so the
/// server's own fields are read first and kept).
#[derive(Debug, PartialEq)]
pub struct TraceInfoPatch {
    /// `tr-...`
    pub trace_id: String,
    metadata: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

impl TraceInfoPatch {
    /// One patch per trace whose root span `body` holds (our requests hold whole traces).
    pub fn from_request(body: &[u8]) -> Vec<TraceInfoPatch> {
        let Ok(request) = ExportTraceServiceRequest::decode(body) else { return Vec::new() };
        let mut by_trace: BTreeMap<Vec<u8>, Vec<&Span>> = BTreeMap::new();
        for span in spans(&request) {
            by_trace.entry(span.trace_id.clone()).or_default().push(span);
        }
        by_trace.into_values().filter_map(|spans| TraceInfoPatch::of_trace(&spans)).collect()
    }

    fn of_trace(spans: &[&Span]) -> Option<TraceInfoPatch> {
        let root = spans.iter().find(|s| s.parent_span_id.is_empty())?;
        let id: [u8; 16] = root.trace_id.as_slice().try_into().ok()?;
        let mut metadata = BTreeMap::new();
        let mut tags = BTreeMap::new();
        for kv in &root.attributes {
            let Some(text) = string_value(kv) else { continue };
            match kv.key.as_str() {
                "session.id" => drop(metadata.insert("mlflow.trace.session".to_string(), text.to_string())),
                "user.id" => drop(metadata.insert("mlflow.trace.user".to_string(), text.to_string())),
                key => {
                    if let Some(tag) = key.strip_prefix(TAG_PREFIX) {
                        tags.insert(tag.to_string(), text.to_string());
                    }
                }
            }
        }
        if let Some(usage) = sum_over(spans, "mlflow.chat.tokenUsage", &TOKEN_KEYS, |n| json!(n as u64)) {
            metadata.insert("mlflow.trace.tokenUsage".into(), usage);
        }
        if let Some(cost) = sum_over(spans, "mlflow.llm.cost", &COST_KEYS, |n| json!(round_usd(n))) {
            metadata.insert("mlflow.trace.cost".into(), cost);
        }
        Some(TraceInfoPatch { trace_id: mlflow_trace_id(TraceId::from_bytes(id)), metadata, tags })
    }

    /// Merges the patch into `info` (a `trace_info` as `GET /api/3.0/mlflow/traces/{id}` gives it).
    pub fn apply(&self, info: &mut Value) {
        for (field, entries) in [("trace_metadata", &self.metadata), ("tags", &self.tags)] {
            if !info[field].is_object() {
                info[field] = Value::Object(Map::new());
            }
            for (key, value) in entries {
                info[field][key] = Value::String(value.clone());
            }
        }
    }
}

/// The sums of `keys` over the spans' `attribute` (JSON text objects), as JSON text; `None` when no
/// span has it.
fn sum_over(spans: &[&Span], attribute: &str, keys: &[&str], number: impl Fn(f64) -> Value) -> Option<String> {
    let mut sums = vec![0.0; keys.len()];
    let mut any = false;
    for kv in spans.iter().flat_map(|s| s.attributes.iter()).filter(|kv| kv.key == attribute) {
        let Some(parts) = string_value(kv).and_then(|t| serde_json::from_str::<Value>(t).ok()) else { continue };
        any = true;
        for (sum, key) in sums.iter_mut().zip(keys) {
            *sum += parts[*key].as_f64().unwrap_or(0.0);
        }
    }
    any.then(|| {
        let fields: Map<String, Value> = keys.iter().zip(sums).map(|(k, s)| (k.to_string(), number(s))).collect();
        Value::Object(fields).to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
            ..Default::default()
        }
    }

    fn span(id: u8, parent: Option<u8>, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            attributes,
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> Vec<u8> {
        let scope_spans = vec![ScopeSpans { spans, ..Default::default() }];
        ExportTraceServiceRequest { resource_spans: vec![ResourceSpans { scope_spans, ..Default::default() }] }
            .encode_to_vec()
    }

    fn turn() -> Vec<u8> {
        request(vec![
            span(
                1,
                None,
                vec![
                    kv("session.id", "agent:main:main"),
                    kv("user.id", "main"),
                    kv("mlflow.spanInputs", r#"{"messages":[{"role":"user","content":"hi"}]}"#),
                    kv("mlflow.traceTag.model", "gpt-5-mini"),
                ],
            ),
            span(
                2,
                Some(1),
                vec![
                    kv(
                        "mlflow.chat.tokenUsage",
                        r#"{"input_tokens":10,"output_tokens":2,"total_tokens":12,"cache_read_input_tokens":4,"cache_creation_input_tokens":0}"#,
                    ),
                    kv("mlflow.llm.cost", r#"{"input_cost":0.1,"output_cost":0.2,"total_cost":0.3}"#),
                ],
            ),
            span(
                3,
                Some(1),
                vec![
                    kv(
                        "mlflow.chat.tokenUsage",
                        r#"{"input_tokens":5,"output_tokens":1,"total_tokens":6,"cache_read_input_tokens":0,"cache_creation_input_tokens":3}"#,
                    ),
                    kv("mlflow.llm.cost", r#"{"input_cost":0.2,"output_cost":0.1,"total_cost":0.3}"#),
                ],
            ),
        ])
    }

    fn attribute<'a>(request: &'a ExportTraceServiceRequest, span: usize, key: &str) -> Option<&'a AnyValue> {
        spans(request).nth(span)?.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()
    }

    #[test]
    fn releases_before_3_7_get_structured_values_and_none_gets_the_quoted_session() {
        let for_3_6 =
            ExportTraceServiceRequest::decode(adapt_request(turn(), MlflowRelease(3, 6, 0)).as_slice()).unwrap();
        assert_eq!(attribute(&for_3_6, 0, "session.id"), None);
        assert_eq!(attribute(&for_3_6, 0, "user.id"), None);
        let Some(any_value::Value::KvlistValue(inputs)) = &attribute(&for_3_6, 0, "mlflow.spanInputs").unwrap().value
        else {
            panic!("inputs as a key-value list")
        };
        assert_eq!(inputs.values[0].key, "messages");
        let usage = attribute(&for_3_6, 1, "mlflow.chat.tokenUsage").unwrap();
        assert!(matches!(usage.value, Some(any_value::Value::KvlistValue(_))), "{usage:?}");

        let for_3_10 =
            ExportTraceServiceRequest::decode(adapt_request(turn(), MlflowRelease(3, 10, 1)).as_slice()).unwrap();
        assert_eq!(attribute(&for_3_10, 0, "session.id"), None);
        let inputs = attribute(&for_3_10, 0, "mlflow.spanInputs").unwrap();
        assert!(matches!(inputs.value, Some(any_value::Value::StringValue(_))), "JSON text from 3.7: {inputs:?}");
    }

    #[test]
    fn a_patch_carries_the_session_user_tags_and_the_sums_of_the_model_calls() {
        let patches = TraceInfoPatch::from_request(&turn());
        assert_eq!(patches.len(), 1);
        let mut info = json!({"trace_id": "tr-07070707070707070707070707070707", "tags": {"mlflow.trace.spansLocation": "TRACKING_STORE"}});
        patches[0].apply(&mut info);
        assert_eq!(patches[0].trace_id, info["trace_id"]);
        assert_eq!(info["trace_metadata"]["mlflow.trace.session"], "agent:main:main");
        assert_eq!(info["trace_metadata"]["mlflow.trace.user"], "main");
        assert_eq!(info["tags"]["model"], "gpt-5-mini");
        assert_eq!(info["tags"]["mlflow.trace.spansLocation"], "TRACKING_STORE", "the server's own tags are kept");
        let usage: Value =
            serde_json::from_str(info["trace_metadata"]["mlflow.trace.tokenUsage"].as_str().unwrap()).unwrap();
        assert_eq!(
            usage,
            json!({"input_tokens": 15, "output_tokens": 3, "total_tokens": 18, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 3})
        );
        let cost: Value = serde_json::from_str(info["trace_metadata"]["mlflow.trace.cost"].as_str().unwrap()).unwrap();
        assert_eq!(cost, json!({"input_cost": 0.3, "output_cost": 0.3, "total_cost": 0.6}));
    }

    #[test]
    fn spans_without_their_root_make_no_patch() {
        assert_eq!(TraceInfoPatch::from_request(&request(vec![span(2, Some(1), vec![])])), Vec::new());
        assert_eq!(TraceInfoPatch::from_request(b"not protobuf \xff"), Vec::new());
    }
}
