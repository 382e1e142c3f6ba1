//! The plugin's settings: the `diagnostics.mlflow` section (or `plugins.entries.mlflow.config`),
//! completed from the MLflow environment variables, validated once at `init`.
//!
//! Precedence, per setting: the file, else the environment, else the default. The experiment is one
//! setting: when the file names an experiment (`experimentId` or `experimentName`) the environment's
//! `MLFLOW_EXPERIMENT_*` are not consulted; otherwise `MLFLOW_EXPERIMENT_ID`, else
//! `MLFLOW_EXPERIMENT_NAME`, else "openclaw-default". An ID always wins over a name.

use crate::pricing::{ModelPrice, PriceTable};
use serde_json::{Map, Value};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum ExperimentRef {
    Id(String),
    Name(String),
}

#[derive(Clone, PartialEq)]
pub enum Auth {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

// Never print credentials, not even in a debug dump of the configuration.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(<redacted>)",
            Auth::Basic { .. } => "Basic(<redacted>)",
        })
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub enabled: bool,
    /// Without a trailing slash; `None` when only the `otlp` export is configured.
    pub tracking_uri: Option<String>,
    /// The generic OpenTelemetry export, when the `otlp` section is there.
    pub otlp: Option<OtlpConfig>,
    pub experiment: ExperimentRef,
    pub auth: Auth,
    pub track_token_usage: bool,
    pub track_costs: bool,
    pub track_latency: bool,
    pub track_traces: bool,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub capture_content: bool,
    pub max_content_bytes: usize,
    pub redact_patterns: Vec<String>,
    pub prices: PriceTable,
    pub message_timeout: Duration,
    pub queue_capacity: usize,
    pub max_queue_bytes: usize,
    pub max_buffered_traces: usize,
    pub request_timeout: Duration,
    pub tls: TlsSettings,
}

/// TLS to MLflow and the OTLP endpoint: rustls with the system's roots, plus an optional extra CA
/// bundle; verification can be switched off (for a lab server only: loudly logged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsSettings {
    /// PEM file of extra CA certificates (read at `init`).
    pub ca_bundle: Option<std::path::PathBuf>,
    pub insecure_skip_verify: bool,
}

pub const KNOWN_KEYS: &[&str] = &[
    "enabled",
    "trackingUri",
    "experimentName",
    "experimentId",
    "trackTokenUsage",
    "trackCosts",
    "trackLatency",
    "trackTraces",
    "batchSize",
    "flushIntervalMs",
    "captureContent",
    "maxContentBytes",
    "redactPatterns",
    "pricing",
    "messageTimeoutMs",
    "queueCapacity",
    "maxQueueBytes",
    "maxBufferedTraces",
    "requestTimeoutMs",
    "otlp",
    "caBundle",
    "insecureSkipVerify",
    "trackingToken",
    "trackingUsername",
    "trackingPassword",
];

pub const OTLP_KEYS: &[&str] = &[
    "endpoint",
    "tracesEndpoint",
    "metricsEndpoint",
    "headers",
    "traces",
    "metrics",
    "serviceName",
    "sampleRate",
    "protocol",
];

/// The `otlp` section: the same telemetry to any OTLP/HTTP backend.
#[derive(Clone, PartialEq)]
pub struct OtlpConfig {
    /// Full URL of the traces endpoint (`{endpoint}/v1/traces` unless given per signal).
    pub traces_endpoint: String,
    pub metrics_endpoint: String,
    pub headers: Vec<(String, String)>,
    pub traces: bool,
    pub metrics: bool,
    pub service_name: String,
    /// Fraction of messages whose whole trace is kept (root-based).
    pub sample_rate: f64,
}

// Header values are often credentials: never printed.
impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpConfig")
            .field("traces_endpoint", &self.traces_endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("headers", &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("traces", &self.traces)
            .field("metrics", &self.metrics)
            .field("service_name", &self.service_name)
            .field("sample_rate", &self.sample_rate)
            .finish()
    }
}

const PROTOCOL: &str = "http/protobuf";

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,key2=value2`, values percent-encoded.
fn env_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), percent_decode(v.trim()))),
            _ => Err("OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas".to_string()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The sample rate from `OTEL_TRACES_SAMPLER`/`_ARG` (the ratio samplers; `always_on`/`off`).
fn env_sample_rate(env: &dyn Env) -> Result<Option<f64>, String> {
    let Some(sampler) = env.var("OTEL_TRACES_SAMPLER") else { return Ok(None) };
    let arg = || -> Result<f64, String> {
        match env.var("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1, got {a:?}")),
        }
    };
    match sampler.trim() {
        "always_on" | "parentbased_always_on" => Ok(Some(1.0)),
        "always_off" | "parentbased_always_off" => Ok(Some(0.0)),
        "traceidratio" | "parentbased_traceidratio" => arg().map(Some),
        other => Err(format!(
            "OTEL_TRACES_SAMPLER: expected always_on, always_off, traceidratio or parentbased_traceidratio, got {other:?}"
        )),
    }
}

fn otlp_url(source: &str, uri: &str) -> Result<String, String> {
    http_uri(source, uri).map_err(|_| format!("{source}: expected an http:// or https:// URL, got {uri:?}"))
}

fn parse_otlp(value: &Value, env: &dyn Env) -> Result<OtlpConfig, String> {
    let map = value.as_object().ok_or_else(|| err("otlp", "an object of OTLP export settings", value))?;
    if let Some(unknown) = map.keys().find(|k| !OTLP_KEYS.contains(&k.as_str())) {
        return Err(format!("mlflow config: unknown key `otlp.{unknown}`; known keys: {}", OTLP_KEYS.join(", ")));
    }
    // Only OTLP/HTTP with protobuf is spoken; anything else is refused rather than sending nothing.
    let protocols = [
        ("mlflow config `otlp.protocol`", string(map, "protocol")?),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", env.var("OTEL_EXPORTER_OTLP_PROTOCOL")),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", env.var("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")),
    ];
    for (source, protocol) in protocols {
        if let Some(p) = protocol.filter(|p| p.trim() != PROTOCOL) {
            return Err(format!(
                "{source}: expected \"{PROTOCOL}\" (the only OTLP protocol this plugin speaks), got {p:?}"
            ));
        }
    }
    let base = match string(map, "endpoint")? {
        Some(e) => Some(otlp_url("mlflow config `otlp.endpoint`", &e)?),
        None => {
            env.var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| otlp_url("OTEL_EXPORTER_OTLP_ENDPOINT", &e)).transpose()?
        }
    };
    let signal = |key: &str, var: &str, path: &str| -> Result<String, String> {
        if let Some(e) = string(map, key)? {
            return otlp_url(&format!("mlflow config `otlp.{key}`"), &e);
        }
        if let Some(e) = env.var(var) {
            return otlp_url(var, &e);
        }
        base.as_ref().map(|b| format!("{b}{path}")).ok_or_else(|| {
            format!("mlflow config `otlp.endpoint`: not set; expected the OTLP/HTTP base URL (e.g. http://127.0.0.1:4318) here or in OTEL_EXPORTER_OTLP_ENDPOINT, or `otlp.{key}`")
        })
    };
    let traces = boolean(map, "traces", true)?;
    let metrics = boolean(map, "metrics", true)?;
    let headers = match map.get("headers") {
        Some(Value::Object(h)) => h
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(err(&format!("otlp.headers.{k}"), "a string", other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(err("otlp.headers", "an object of header name to value", other)),
        None => env.var("OTEL_EXPORTER_OTLP_HEADERS").map(|h| env_headers(&h)).transpose()?.unwrap_or_default(),
    };
    let sample_rate = match map.get("sampleRate") {
        Some(v) => v
            .as_f64()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| err("otlp.sampleRate", "a number from 0 to 1", v))?,
        None => env_sample_rate(env)?.unwrap_or(1.0),
    };
    Ok(OtlpConfig {
        traces_endpoint: if traces {
            signal("tracesEndpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")?
        } else {
            String::new()
        },
        metrics_endpoint: if metrics {
            signal("metricsEndpoint", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")?
        } else {
            String::new()
        },
        headers,
        traces,
        metrics,
        service_name: string(map, "serviceName")?
            .or_else(|| env.var("OTEL_SERVICE_NAME"))
            .unwrap_or_else(|| "openclaw-gateway".into()),
        sample_rate,
    })
}

/// Where settings that the file leaves unset come from; a trait so tests need not touch the
/// process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

fn err(key: &str, expected: &str, got: &Value) -> String {
    format!("mlflow config `{key}`: expected {expected}, got {got}")
}

fn boolean(map: &Map<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    match map.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(err(key, "true or false", other)),
    }
}

fn integer(map: &Map<String, Value>, key: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    match map.get(key) {
        None => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(err(key, &format!("an integer from {min} to {max}"), v)),
        },
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(other) => Err(err(key, "a non-empty string", other)),
    }
}

fn http_uri(source: &str, uri: &str) -> Result<String, String> {
    let lower = uri.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(uri.trim_end_matches('/').to_string()),
        _ => Err(format!(
            "{source}: expected the MLflow server's http:// or https:// URL (e.g. http://127.0.0.1:5000), got {uri:?}"
        )),
    }
}

fn experiment_id(source: &str, id: &str) -> Result<String, String> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(id.to_string())
    } else {
        Err(format!("{source}: expected an experiment ID such as \"1\" or \"618306372346351001\", got {id:?}"))
    }
}

impl Config {
    /// Parses the section's JSON text. Every error names the key and what it expects.
    pub fn parse(json: &str, env: &dyn Env) -> Result<Config, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("mlflow config: not valid JSON: {e}"))?;
        let map = match value {
            Value::Object(map) => map,
            other => return Err(format!("mlflow config: expected an object of settings, got {other}")),
        };
        if let Some(unknown) = map.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(format!("mlflow config: unknown key `{unknown}`; known keys: {}", KNOWN_KEYS.join(", ")));
        }

        let otlp = map.get("otlp").map(|o| parse_otlp(o, env)).transpose()?;
        let tracking_uri = match string(&map, "trackingUri")? {
            Some(uri) => Some(http_uri("mlflow config `trackingUri`", &uri)?),
            None => match env.var("MLFLOW_TRACKING_URI") {
                Some(uri) => Some(http_uri("MLFLOW_TRACKING_URI", &uri)?),
                None if otlp.is_some() => None,
                None => {
                    return Err("mlflow config `trackingUri`: not set; expected the MLflow server's http(s) URL \
                                here or in MLFLOW_TRACKING_URI (or an `otlp` section to export elsewhere only)"
                        .into())
                }
            },
        };

        let file_id = match map.get("experimentId") {
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => string(&map, "experimentId")?,
        };
        let experiment = match (file_id, string(&map, "experimentName")?) {
            (Some(id), _) => ExperimentRef::Id(experiment_id("mlflow config `experimentId`", &id)?),
            (None, Some(name)) => ExperimentRef::Name(name),
            (None, None) => match (env.var("MLFLOW_EXPERIMENT_ID"), env.var("MLFLOW_EXPERIMENT_NAME")) {
                (Some(id), _) => ExperimentRef::Id(experiment_id("MLFLOW_EXPERIMENT_ID", id.trim())?),
                (None, Some(name)) => ExperimentRef::Name(name.trim().to_string()),
                (None, None) => ExperimentRef::Name("openclaw-default".into()),
            },
        };

        // Credentials: the file's, else the MLflow clients' variables. A token wins over a user.
        let token = string(&map, "trackingToken")?.or_else(|| env.var("MLFLOW_TRACKING_TOKEN"));
        let username = string(&map, "trackingUsername")?
            .map(|u| ("trackingUsername", u))
            .or_else(|| env.var("MLFLOW_TRACKING_USERNAME").map(|u| ("MLFLOW_TRACKING_USERNAME", u)));
        let password = string(&map, "trackingPassword")?.or_else(|| env.var("MLFLOW_TRACKING_PASSWORD"));
        let auth = match (token, username, password) {
            (Some(token), _, _) => Auth::Bearer(token),
            (None, Some((_, username)), Some(password)) => Auth::Basic { username, password },
            (None, Some((source, _)), None) => {
                return Err(format!(
                    "{source} is set but no password is (trackingPassword or MLFLOW_TRACKING_PASSWORD); expected both for basic auth"
                ))
            }
            _ => Auth::None,
        };

        let redact_patterns = match map.get("redactPatterns") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| match p {
                    Value::String(s) => regex::Regex::new(s).map(|_| s.clone()).map_err(|e| {
                        format!("mlflow config `redactPatterns`: {s:?} is not a valid regular expression: {e}")
                    }),
                    other => Err(err("redactPatterns", "an array of regular-expression strings", other)),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(err("redactPatterns", "an array of regular-expression strings", other)),
        };

        let mut prices = PriceTable::builtin();
        match map.get("pricing") {
            None => {}
            Some(Value::Object(models)) => {
                for (model, price) in models {
                    prices.set(model, parse_price(model, price)?);
                }
            }
            Some(other) => {
                return Err(err(
                    "pricing",
                    "an object of model name to {input, output, cacheRead, cacheWrite} in USD per million tokens",
                    other,
                ))
            }
        }

        Ok(Config {
            enabled: boolean(&map, "enabled", false)?,
            tracking_uri,
            otlp,
            experiment,
            auth,
            track_token_usage: boolean(&map, "trackTokenUsage", true)?,
            track_costs: boolean(&map, "trackCosts", true)?,
            track_latency: boolean(&map, "trackLatency", true)?,
            track_traces: boolean(&map, "trackTraces", true)?,
            batch_size: integer(&map, "batchSize", 100, 1, 10_000)? as usize,
            flush_interval: Duration::from_millis(integer(&map, "flushIntervalMs", 5000, 10, 3_600_000)?),
            capture_content: boolean(&map, "captureContent", true)?,
            max_content_bytes: integer(&map, "maxContentBytes", 8192, 0, 10_000_000)? as usize,
            redact_patterns,
            prices,
            message_timeout: Duration::from_millis(integer(&map, "messageTimeoutMs", 600_000, 1000, 86_400_000)?),
            queue_capacity: integer(&map, "queueCapacity", 20_000, 1, 10_000_000)? as usize,
            max_queue_bytes: integer(&map, "maxQueueBytes", 64 << 20, 1024, 1 << 40)? as usize,
            max_buffered_traces: integer(&map, "maxBufferedTraces", 10_000, 1, 10_000_000)? as usize,
            request_timeout: Duration::from_millis(integer(&map, "requestTimeoutMs", 10_000, 100, 600_000)?),
            tls: TlsSettings {
                ca_bundle: match string(&map, "caBundle")? {
                    Some(path) if std::path::Path::new(&path).is_file() => Some(path.into()),
                    Some(path) => {
                        return Err(format!(
                            "mlflow config `caBundle`: expected a readable PEM file of CA certificates, got {path:?}"
                        ))
                    }
                    None => None,
                },
                insecure_skip_verify: boolean(&map, "insecureSkipVerify", false)?,
            },
        })
    }
}

fn parse_price(model: &str, v: &Value) -> Result<ModelPrice, String> {
    let key = format!("pricing.{model}");
    let obj = v
        .as_object()
        .ok_or_else(|| err(&key, "an object {input, output, cacheRead, cacheWrite} in USD per million tokens", v))?;
    let mut price = ModelPrice::default();
    for (field, value) in obj {
        let n = value
            .as_f64()
            .filter(|n| *n >= 0.0 && n.is_finite())
            .ok_or_else(|| err(&format!("{key}.{field}"), "a non-negative number of USD per million tokens", value))?;
        match field.as_str() {
            "input" => price.input = n,
            "output" => price.output = n,
            "cacheRead" => price.cache_read = Some(n),
            "cacheWrite" => price.cache_write = Some(n),
            _ => {
                return Err(format!(
                    "mlflow config `{key}`: unknown key `{field}`; expected input, output, cacheRead, cacheWrite"
                ))
            }
        }
    }
    if !obj.contains_key("input") || !obj.contains_key("output") {
        return Err(format!("mlflow config `{key}`: expected at least `input` and `output` (USD per million tokens)"));
    }
    Ok(price)
}

#[cfg(test)]
mod tests {
    /// The gateway validates `plugins.entries.mlflow.config` against the package's manifest before
    /// the plugin runs: its schema must know exactly the keys this parser knows.
    #[test]
    fn the_packages_config_schema_knows_exactly_these_keys() {
        let manifest: Value = serde_json::from_str(include_str!("../../package/openclaw.plugin.json")).unwrap();
        let keys = |at: &str| -> Vec<String> {
            let mut k: Vec<String> = manifest.pointer(at).unwrap().as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let sorted = |known: &[&str]| -> Vec<String> {
            let mut k: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            k.sort();
            k
        };
        assert_eq!(keys("/configSchema/properties"), sorted(KNOWN_KEYS));
        assert_eq!(keys("/configSchema/properties/otlp/properties"), sorted(OTLP_KEYS));
        assert_eq!(manifest["configSchema"]["additionalProperties"], false);
    }

    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn env(vars: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(vars.iter().copied().collect())
    }

    const URI: &str = r#""trackingUri": "http://127.0.0.1:5000""#;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::parse(&format!("{{{URI}}}"), &env(&[])).unwrap();
        assert!(!c.enabled);
        assert_eq!(c.experiment, ExperimentRef::Name("openclaw-default".into()));
        assert!(c.track_token_usage && c.track_costs && c.track_latency && c.track_traces && c.capture_content);
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.flush_interval, Duration::from_millis(5000));
        assert_eq!(c.auth, Auth::None);
    }

    #[test]
    fn the_environment_fills_unset_settings() {
        let e = env(&[
            ("MLFLOW_TRACKING_URI", "https://mlflow.example.com/"),
            ("MLFLOW_EXPERIMENT_NAME", "from-env"),
            ("MLFLOW_TRACKING_TOKEN", "tok"),
        ]);
        let c = Config::parse("{}", &e).unwrap();
        assert_eq!(c.tracking_uri.as_deref(), Some("https://mlflow.example.com"));
        assert_eq!(c.experiment, ExperimentRef::Name("from-env".into()));
        assert_eq!(c.auth, Auth::Bearer("tok".into()));
        let e =
            env(&[("MLFLOW_TRACKING_URI", "http://x"), ("MLFLOW_EXPERIMENT_ID", "7"), ("MLFLOW_EXPERIMENT_NAME", "n")]);
        assert_eq!(
            Config::parse("{}", &e).unwrap().experiment,
            ExperimentRef::Id("7".into()),
            "an ID wins over a name"
        );
        let e = env(&[
            ("MLFLOW_TRACKING_URI", "http://x"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
        ]);
        assert_eq!(Config::parse("{}", &e).unwrap().auth, Auth::Basic { username: "u".into(), password: "p".into() });
    }

    #[test]
    fn the_file_wins_over_the_environment() {
        let e = env(&[("MLFLOW_TRACKING_URI", "http://env:1"), ("MLFLOW_EXPERIMENT_ID", "9")]);
        let c = Config::parse(r#"{"trackingUri": "http://file:2", "experimentName": "file"}"#, &e).unwrap();
        assert_eq!(c.tracking_uri.as_deref(), Some("http://file:2"));
        assert_eq!(c.experiment, ExperimentRef::Name("file".into()));
        let c = Config::parse(r#"{"experimentId": 12, "experimentName": "ignored"}"#, &e).unwrap();
        assert_eq!(c.experiment, ExperimentRef::Id("12".into()));
    }

    #[test]
    fn every_invalid_value_names_its_key_and_what_it_expects() {
        let cases = [
            (r#"{"trackingUri": "ftp://x"}"#, "`trackingUri`: expected the MLflow server's http:// or https:// URL"),
            (r#"{"trackingUri": "databricks"}"#, "`trackingUri`: expected the MLflow server's http:// or https:// URL"),
            ("{}", "`trackingUri`: not set"),
            (&format!(r#"{{{URI}, "batchSize": 0}}"#), "`batchSize`: expected an integer from 1 to 10000, got 0"),
            (&format!(r#"{{{URI}, "batchSize": 2.5}}"#), "`batchSize`: expected an integer from 1 to 10000, got 2.5"),
            (
                &format!(r#"{{{URI}, "flushIntervalMs": -1}}"#),
                "`flushIntervalMs`: expected an integer from 10 to 3600000, got -1",
            ),
            (&format!(r#"{{{URI}, "enabled": "true"}}"#), "`enabled`: expected true or false, got \"true\""),
            (&format!(r#"{{{URI}, "experimentName": ""}}"#), "`experimentName`: expected a non-empty string"),
            (&format!(r#"{{{URI}, "experimentId": "a b"}}"#), "`experimentId`: expected an experiment ID"),
            (&format!(r#"{{{URI}, "trackCost": true}}"#), "unknown key `trackCost`"),
            (
                &format!(r#"{{{URI}, "redactPatterns": ["("]}}"#),
                "`redactPatterns`: \"(\" is not a valid regular expression",
            ),
            (
                &format!(r#"{{{URI}, "pricing": {{"m": {{"input": 1}}}}}}"#),
                "`pricing.m`: expected at least `input` and `output`",
            ),
            (
                &format!(r#"{{{URI}, "pricing": {{"m": {{"input": 1, "output": -2}}}}}}"#),
                "`pricing.m.output`: expected a non-negative number",
            ),
            ("[1]", "expected an object of settings"),
        ];
        for (json, expected) in cases {
            let err = Config::parse(json, &env(&[])).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
        let err = Config::parse("{}", &env(&[("MLFLOW_TRACKING_URI", "./mlruns")])).unwrap_err();
        assert!(err.starts_with("MLFLOW_TRACKING_URI: expected"), "{err}");
    }

    #[test]
    fn credentials_come_from_the_file_else_the_environment() {
        let e = env(&[("MLFLOW_TRACKING_TOKEN", "from-env")]);
        let c = Config::parse(&format!(r#"{{{URI}, "trackingToken": "from-file"}}"#), &e).unwrap();
        assert_eq!(c.auth, Auth::Bearer("from-file".into()));
        let c = Config::parse(&format!(r#"{{{URI}, "trackingUsername": "u", "trackingPassword": "p"}}"#), &env(&[]))
            .unwrap();
        assert_eq!(c.auth, Auth::Basic { username: "u".into(), password: "p".into() });
        let err = Config::parse(&format!(r#"{{{URI}, "trackingUsername": "u"}}"#), &env(&[])).unwrap_err();
        assert!(err.starts_with("trackingUsername is set but no password is"), "{err}");
    }

    #[test]
    fn credentials_never_show_in_a_debug_dump() {
        let c = Config::parse("{}", &env(&[("MLFLOW_TRACKING_URI", "http://x"), ("MLFLOW_TRACKING_TOKEN", "s3cr3t")]))
            .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn configured_prices_extend_the_table() {
        let c = Config::parse(
            &format!(r#"{{{URI}, "pricing": {{"mock-model": {{"input": 1, "output": 2, "cacheRead": 0.1}}}}}}"#),
            &env(&[]),
        )
        .unwrap();
        // A million fresh input tokens and a million cache reads.
        let usage = crate::tokens::Tokens { input: 2_000_000, output: 0, cache_read: 1_000_000, cache_write: 0 };
        assert!((c.prices.cost("mock-model", &usage).unwrap().total - 1.1).abs() < 1e-9);
    }
}
