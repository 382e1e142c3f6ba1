//! The first layer: the plugin's section of the configuration file as written. serde decides which
//! keys exist (an unknown key is refused, with the list of known ones); values stay JSON here, so
//! that validation can say, for each key, what it expects and what it got.

use serde::Deserialize;
use serde_json::Value;

/// `diagnostics.mlflow` or `plugins.entries.mlflow.config`. A key set to `null` counts as unset.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSettings {
    pub enabled: Option<Value>,
    // destination
    pub tracking_uri: Option<Value>,
    pub experiment_id: Option<Value>,
    pub experiment_name: Option<Value>,
    pub workspace: Option<Value>,
    pub tracking_token: Option<Value>,
    pub tracking_username: Option<Value>,
    pub tracking_password: Option<Value>,
    pub ca_bundle: Option<Value>,
    pub insecure_skip_verify: Option<Value>,
    pub request_timeout_ms: Option<Value>,
    /// Read as `FileOtlp` on its own, so that its keys are named `otlp.<key>`.
    pub otlp: Option<Value>,
    // signals
    pub track_traces: Option<Value>,
    pub track_token_usage: Option<Value>,
    pub track_costs: Option<Value>,
    pub track_latency: Option<Value>,
    pub pricing: Option<Value>,
    // capture
    pub capture_content: Option<Value>,
    pub max_content_bytes: Option<Value>,
    pub max_history_messages: Option<Value>,
    pub redact_patterns: Option<Value>,
    pub retriever_tools: Option<Value>,
    // batching
    pub batch_size: Option<Value>,
    pub flush_interval_ms: Option<Value>,
    pub max_concurrent_requests: Option<Value>,
    // limits
    pub message_timeout_ms: Option<Value>,
    pub queue_capacity: Option<Value>,
    pub max_queue_bytes: Option<Value>,
    pub max_trace_bytes: Option<Value>,
    pub max_buffered_traces: Option<Value>,
    // durability
    pub spool: Option<Value>,
    pub spool_dir: Option<Value>,
    pub max_spool_bytes: Option<Value>,
}

/// The `otlp` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileOtlp {
    pub endpoint: Option<Value>,
    pub traces_endpoint: Option<Value>,
    pub metrics_endpoint: Option<Value>,
    pub headers: Option<Value>,
    pub traces: Option<Value>,
    pub metrics: Option<Value>,
    pub service_name: Option<Value>,
    pub sample_rate: Option<Value>,
    pub protocol: Option<Value>,
}

impl FileSettings {
    /// Parses the section's JSON text.
    pub fn parse(json: &str) -> Result<FileSettings, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("mlflow config: not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err(format!("mlflow config: expected an object of settings, got {value}"));
        }
        FileSettings::deserialize(value).map_err(|e| shape_error("", &e))
    }
}

impl FileOtlp {
    pub fn parse(value: Value) -> Result<FileOtlp, String> {
        if !value.is_object() {
            return Err(format!("mlflow config `otlp`: expected an object of OTLP export settings, got {value}"));
        }
        FileOtlp::deserialize(value).map_err(|e| shape_error("otlp.", &e))
    }
}

/// serde's "unknown field `x`, expected one of `a`, `b`" as the plugin says it everywhere:
/// "mlflow config: unknown key `x`; known keys: a, b" (with `prefix` for a nested section).
fn shape_error(prefix: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let Some(rest) = text.strip_prefix("unknown field `") else { return format!("mlflow config: {text}") };
    let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
    let known = expected.trim_start_matches(", expected ").trim_start_matches("one of ").replace('`', "");
    format!("mlflow config: unknown key `{prefix}{key}`; known keys: {known}")
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// The keys serde accepts, read from its own refusal of a key that cannot exist.
    pub fn known_keys(parse: impl Fn(Value) -> Result<(), String>) -> Vec<String> {
        let err = parse(serde_json::json!({ "\u{0}": 0 })).unwrap_err();
        let known = err.split_once("known keys: ").expect("an unknown-key message").1;
        let mut keys: Vec<String> = known.split(", ").map(str::to_string).collect();
        keys.sort();
        keys
    }

    #[test]
    fn unknown_keys_are_named_with_their_section_and_the_known_ones_listed() {
        let err = FileSettings::parse(r#"{"trackCost": true}"#).unwrap_err();
        assert!(err.starts_with("mlflow config: unknown key `trackCost`; known keys: enabled, trackingUri,"), "{err}");
        let err = FileOtlp::parse(serde_json::json!({"endpoints": "x"})).unwrap_err();
        assert!(err.starts_with("mlflow config: unknown key `otlp.endpoints`; known keys: endpoint,"), "{err}");
        assert_eq!(err.matches('`').count(), 2, "the known keys are listed without quotes: {err}");
    }
}
