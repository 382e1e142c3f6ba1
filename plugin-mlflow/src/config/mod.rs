//! The plugin's settings: the `diagnostics.mlflow` section (or `plugins.entries.mlflow.config`),
//! read in three layers, once at `init`:
//!
//! 1. `file`: the section as written; serde refuses unknown keys;
//! 2. `env`: MLflow's and OpenTelemetry's environment variables fill what the file leaves unset;
//! 3. `validate`: each value checked; every error names the key (or variable) and what it expects.
//!
//! Precedence, per setting: the file, else the environment, else the default. The experiment is one
//! setting: when the file names an experiment (`experimentId` or `experimentName`) the environment's
//! `MLFLOW_EXPERIMENT_*` are not consulted; otherwise `MLFLOW_EXPERIMENT_ID`, else
//! `MLFLOW_EXPERIMENT_NAME`, else "openclaw-default". An ID always wins over a name.

mod env;
mod file;
mod manifest;
mod validate;

pub use env::{Env, ProcessEnv};
pub use validate::printable_url;

use crate::pricing::{ModelPrice, PriceTable};
use env::{file_or_env, from_env, otel_headers, otel_sample_rate};
use file::{FileOtlp, FileSettings};
use openclaw_plugin_api::ContentParts;
use serde_json::Value;
use std::time::Duration;
use validate::{
    count, flag, flag_or, fraction, http_url, json_type, millis, secret_text, sourced_text, text, Given, HttpUrl,
    Source,
};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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

impl Auth {
    /// The value of the `Authorization` header, if any.
    pub fn authorization(&self) -> Option<String> {
        use base64::Engine;
        match self {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
        }
    }

    /// Who the server sees, for messages about permissions (never the secret).
    pub fn principal(&self) -> String {
        match self {
            Auth::Basic { username, .. } => format!("user {username:?}"),
            Auth::Bearer(_) => "this token".into(),
            Auth::None => "an anonymous client".into(),
        }
    }
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
    pub destination: Destination,
    pub signals: Signals,
    pub capture: Capture,
    pub batching: Batching,
    pub limits: Limits,
    pub durability: Durability,
}

/// Where the telemetry goes and how to reach it.
#[derive(Clone, Debug)]
pub struct Destination {
    /// Without a trailing slash; `None` when only the `otlp` export is configured.
    pub tracking_uri: Option<String>,
    pub experiment: ExperimentRef,
    /// The MLflow workspace (multi-tenant servers), sent as `X-MLFLOW-WORKSPACE` on every call;
    /// `None`: no header, the server's default.
    pub workspace: Option<String>,
    pub auth: Auth,
    /// The generic OpenTelemetry export, when the `otlp` section is there.
    pub otlp: Option<OtlpConfig>,
    pub tls: TlsSettings,
    pub request_timeout: Duration,
    /// What the MLflow run that holds the metrics is called before `@host time`: the gateway's,
    /// or `doctor`'s own (not a setting).
    pub run_label: &'static str,
}

impl Destination {
    /// Whether MLflow's credentials go over plain `http://` to another machine.
    pub fn mlflow_credentials_in_clear(&self) -> bool {
        self.auth != Auth::None && self.tracking_uri.as_deref().is_some_and(in_clear)
    }

    /// The endpoints (printable) that credentials would reach in clear text: MLflow's with
    /// credentials, the OTLP endpoints with headers (which carry an API key or a token).
    pub fn credentials_in_clear(&self) -> Vec<String> {
        let mlflow = self.tracking_uri.iter().filter(|_| self.mlflow_credentials_in_clear());
        let otlp =
            self.otlp.iter().filter(|o| !o.headers.is_empty()).flat_map(|o| [&o.traces_endpoint, &o.metrics_endpoint]);
        let mut found: Vec<String> = mlflow.chain(otlp).filter(|u| in_clear(u)).map(|u| printable_url(u)).collect();
        found.dedup();
        found
    }
}

/// Plain HTTP to another machine.
fn in_clear(url: &str) -> bool {
    url.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://")) && !validate::is_loopback(url)
}

/// The run of a gateway process (see `Destination::run_label`).
pub const GATEWAY_RUN_LABEL: &str = "openclaw-gateway";

/// What is sent: traces, and which metric families (the run's and OTLP's), priced how.
#[derive(Clone, Debug)]
pub struct Signals {
    pub traces: bool,
    pub token_usage: bool,
    pub costs: bool,
    pub latency: bool,
    pub prices: PriceTable,
}

/// What of a conversation's content is copied into the spans.
#[derive(Clone, Debug)]
pub struct Capture {
    /// Which parts of the content (`captureContent`).
    pub parts: ContentParts,
    pub max_content_bytes: usize,
    /// The most messages a model call's input keeps (the latest; `maxHistoryMessages`).
    pub max_history_messages: usize,
    pub redact_patterns: Vec<String>,
    /// Tools whose calls are RETRIEVER spans: [`DEFAULT_RETRIEVER_TOOLS`] and `retrieverTools`.
    pub retriever_tools: Vec<String>,
}

/// OpenClaw's tools that retrieve documents (memory, the web, session transcripts, the wiki).
pub const DEFAULT_RETRIEVER_TOOLS: [&str; 7] =
    ["memory_search", "memory_get", "web_search", "web_fetch", "x_search", "sessions_search", "wiki_search"];

/// When a delivery thread sends.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub batch_size: usize,
    pub flush_interval: Duration,
    /// Requests a destination may have in flight at once (`maxConcurrentRequests`).
    pub max_in_flight: usize,
}

/// Bounds on time and memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub message_timeout: Duration,
    pub queue_capacity: usize,
    pub max_queue_bytes: usize,
    /// A message's trace holding more is sent and continues in a follow-up trace (`maxTraceBytes`).
    pub max_trace_bytes: usize,
    pub max_buffered_traces: usize,
}

/// Where what waits for a destination is kept (see `exporter::spool`).
#[derive(Clone, Debug, PartialEq)]
pub struct Durability {
    /// `None`: memory only (`spool: false`, or no state directory to put it in).
    pub spool_dir: Option<std::path::PathBuf>,
    pub max_spool_bytes: u64,
}

/// TLS to MLflow and the OTLP endpoint: rustls with the system's roots, plus an optional extra CA
/// bundle; verification can be switched off (for a lab server only: loudly logged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsSettings {
    /// PEM file of extra CA certificates (read at `init`).
    pub ca_bundle: Option<std::path::PathBuf>,
    pub insecure_skip_verify: bool,
}

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
const MLFLOW_URL: &str = "the MLflow server's http:// or https:// URL (e.g. http://127.0.0.1:5000)";
const OTLP_URL: &str = "an http:// or https:// URL";

impl Config {
    /// Parses the section's JSON text. Every error names the key and what it expects.
    pub fn parse(json: &str, env: &dyn Env) -> Result<Config, String> {
        let file = FileSettings::parse(json)?;
        let track_traces = flag(file.track_traces, "trackTraces")?;
        let otlp = file.otlp.map(|o| parse_otlp(FileOtlp::parse(o)?, env, track_traces)).transpose()?;
        let tracking_uri =
            match sourced_text(file_or_env(file.tracking_uri, "trackingUri", env, "MLFLOW_TRACKING_URI"))? {
                Some((uri, source)) => Some(tracking_url(&uri, source)?),
                None if otlp.is_some() => None,
                None => {
                    return Err("mlflow config `trackingUri`: not set; expected the MLflow server's http(s) URL \
                            here or in MLFLOW_TRACKING_URI (or an `otlp` section to export elsewhere only)"
                        .into())
                }
            };
        let experiment = experiment(file.experiment_id, file.experiment_name, env)?;
        let (tracking_uri, userinfo) = match tracking_uri {
            Some(HttpUrl { url, userinfo }) => (Some(url), userinfo),
            None => (None, None),
        };
        // Credentials in the URL count when no others are set; they are never kept in the URL.
        let auth = match auth(file.tracking_token, file.tracking_username, file.tracking_password, env)? {
            Auth::None => userinfo.map_or(Auth::None, |(username, password)| Auth::Basic { username, password }),
            given => given,
        };
        let workspace = sourced_text(file_or_env(file.workspace, "workspace", env, "MLFLOW_WORKSPACE"))?
            .map(|(name, source)| validate::workspace(&name, source))
            .transpose()?;
        let destination = Destination {
            tracking_uri,
            experiment,
            workspace,
            auth,
            otlp,
            tls: TlsSettings {
                ca_bundle: match text(Given::file(file.ca_bundle, "caBundle"))? {
                    Some(path) if std::path::Path::new(&path).is_file() => Some(path.into()),
                    Some(path) => {
                        return Err(format!(
                            "mlflow config `caBundle`: expected a readable PEM file of CA certificates, got {path:?}"
                        ))
                    }
                    None => None,
                },
                insecure_skip_verify: flag(file.insecure_skip_verify, "insecureSkipVerify")?,
            },
            request_timeout: millis(file.request_timeout_ms, "requestTimeoutMs")?,
            run_label: GATEWAY_RUN_LABEL,
        };
        let signals = Signals {
            traces: track_traces,
            token_usage: flag(file.track_token_usage, "trackTokenUsage")?,
            costs: flag(file.track_costs, "trackCosts")?,
            latency: flag(file.track_latency, "trackLatency")?,
            prices: prices(Given::file(file.pricing, "pricing"))?,
        };
        let capture = Capture {
            parts: content_parts(Given::file(file.capture_content, "captureContent"))?,
            max_content_bytes: count(file.max_content_bytes, "maxContentBytes")?,
            max_history_messages: count(file.max_history_messages, "maxHistoryMessages")?,
            redact_patterns: redact_patterns(Given::file(file.redact_patterns, "redactPatterns"))?,
            retriever_tools: retriever_tools(Given::file(file.retriever_tools, "retrieverTools"))?,
        };
        let batching = Batching {
            batch_size: count(file.batch_size, "batchSize")?,
            flush_interval: millis(file.flush_interval_ms, "flushIntervalMs")?,
            max_in_flight: count(file.max_concurrent_requests, "maxConcurrentRequests")?,
        };
        let limits = Limits {
            message_timeout: millis(file.message_timeout_ms, "messageTimeoutMs")?,
            queue_capacity: count(file.queue_capacity, "queueCapacity")?,
            max_queue_bytes: count(file.max_queue_bytes, "maxQueueBytes")?,
            max_trace_bytes: count(file.max_trace_bytes, "maxTraceBytes")?,
            max_buffered_traces: count(file.max_buffered_traces, "maxBufferedTraces")?,
        };
        let durability = Durability {
            spool_dir: match flag(file.spool, "spool")? {
                false => None,
                true => {
                    text(Given::file(file.spool_dir, "spoolDir"))?.map(Into::into).or_else(|| default_spool_dir(env))
                }
            },
            max_spool_bytes: validate::whole(file.max_spool_bytes, "maxSpoolBytes")?,
        };
        Ok(Config {
            // Not the manifest's default (true): that is the gateway's, which loads the plugin only
            // when its entry is enabled; `openclaw-host` starts it only when asked to.
            enabled: flag_or(Given::file(file.enabled, "enabled"), false)?,
            destination,
            signals,
            capture,
            batching,
            limits,
            durability,
        })
    }
}

/// `mlflow/spool` in the gateway's state directory: `$OPENCLAW_STATE_DIR`, else `~/.openclaw`.
fn default_spool_dir(env: &dyn Env) -> Option<std::path::PathBuf> {
    let state = match env.var("OPENCLAW_STATE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(env.var("HOME").filter(|d| !d.is_empty())?).join(".openclaw"),
    };
    Some(state.join("mlflow").join("spool"))
}

/// The file's experiment (an ID wins over a name), else the environment's, else the default.
fn experiment(file_id: Option<Value>, file_name: Option<Value>, env: &dyn Env) -> Result<ExperimentRef, String> {
    let file_id = match Given::file(file_id, "experimentId") {
        Some(Given { value: Value::Number(n), .. }) => Some(n.to_string()),
        other => text(other)?,
    };
    Ok(match (file_id, text(Given::file(file_name, "experimentName"))?) {
        (Some(id), _) => ExperimentRef::Id(validate::experiment_id(&id, Source::File("experimentId"))?),
        (None, Some(name)) => ExperimentRef::Name(name),
        (None, None) => {
            match (text(from_env(env, "MLFLOW_EXPERIMENT_ID"))?, text(from_env(env, "MLFLOW_EXPERIMENT_NAME"))?) {
                (Some(id), _) => ExperimentRef::Id(validate::experiment_id(&id, Source::Env("MLFLOW_EXPERIMENT_ID"))?),
                (None, Some(name)) => ExperimentRef::Name(name),
                (None, None) => ExperimentRef::Name("openclaw-default".into()),
            }
        }
    })
}

/// The MLflow server's URL: the plugin appends its API paths, so a query or fragment has no place.
fn tracking_url(uri: &str, source: Source) -> Result<HttpUrl, String> {
    let parsed = http_url(uri, source, MLFLOW_URL)?;
    if parsed.url.contains(['?', '#']) {
        return Err(format!(
            "{source}: expected {MLFLOW_URL} without a query or fragment (the plugin appends the API's paths), got {:?}",
            validate::printable_url(uri)
        ));
    }
    Ok(parsed)
}

/// Credentials: the file's, else the MLflow clients' variables. A token wins over a user.
fn auth(token: Option<Value>, username: Option<Value>, password: Option<Value>, env: &dyn Env) -> Result<Auth, String> {
    let token = secret_text(file_or_env(token, "trackingToken", env, "MLFLOW_TRACKING_TOKEN"))?;
    let username = sourced_text(file_or_env(username, "trackingUsername", env, "MLFLOW_TRACKING_USERNAME"))?;
    let password = secret_text(file_or_env(password, "trackingPassword", env, "MLFLOW_TRACKING_PASSWORD"))?;
    Ok(match (token, username, password) {
        (Some(token), _, _) => Auth::Bearer(token),
        (None, Some((username, _)), Some(password)) => Auth::Basic { username, password },
        (None, Some((_, source)), None) => {
            let name = match source {
                Source::File(key) | Source::Env(key) => key,
            };
            return Err(format!(
                "{name} is set but no password is (trackingPassword or MLFLOW_TRACKING_PASSWORD); expected both for basic auth"
            ));
        }
        _ => Auth::None,
    })
}

/// `captureContent`: `true` (the default parts), `false` (none), or an object naming parts, each
/// `true` or `false`, over the defaults.
fn content_parts(given: Option<Given>) -> Result<ContentParts, String> {
    let expected = || format!("true, false or an object of {} set to true or false", ContentParts::NAMES.join(", "));
    let Some(given) = given else { return Ok(ContentParts::DEFAULT) };
    match &given.value {
        Value::Bool(true) => Ok(ContentParts::DEFAULT),
        Value::Bool(false) => Ok(ContentParts::NONE),
        Value::Object(named) => {
            let mut parts = ContentParts::DEFAULT;
            for (name, on) in named {
                let key = format!("mlflow config `captureContent.{name}`");
                let Some(part) = parts.part_mut(name) else {
                    return Err(format!("{key}: no such part; expected one of {}", ContentParts::NAMES.join(", ")));
                };
                *part = on.as_bool().ok_or_else(|| format!("{key}: expected true or false, got {on}"))?;
            }
            Ok(parts)
        }
        _ => Err(given.refuse(&expected())),
    }
}

fn redact_patterns(given: Option<Given>) -> Result<Vec<String>, String> {
    const EXPECTED: &str = "an array of regular-expression strings";
    let Some(given) = given else { return Ok(Vec::new()) };
    let Value::Array(items) = &given.value else { return Err(given.refuse(EXPECTED)) };
    items
        .iter()
        .map(|p| match p {
            Value::String(s) => regex::Regex::new(s)
                .map(|_| s.clone())
                .map_err(|e| format!("{}: {s:?} is not a valid regular expression: {e}", given.source)),
            other => Err(Given { value: other.clone(), source: given.source }.refuse(EXPECTED)),
        })
        .collect()
}

/// [`DEFAULT_RETRIEVER_TOOLS`] and the names the file adds.
fn retriever_tools(given: Option<Given>) -> Result<Vec<String>, String> {
    const EXPECTED: &str = "an array of tool names";
    let mut tools: Vec<String> = DEFAULT_RETRIEVER_TOOLS.iter().map(|t| t.to_string()).collect();
    let Some(given) = given else { return Ok(tools) };
    let Value::Array(items) = &given.value else { return Err(given.refuse(EXPECTED)) };
    for item in items {
        match item {
            Value::String(name) if !name.is_empty() && name.len() <= 256 => tools.push(name.clone()),
            other => return Err(Given { value: other.clone(), source: given.source }.refuse(EXPECTED)),
        }
    }
    Ok(tools)
}

/// The built-in prices, extended or overridden by the file's `pricing`.
fn prices(given: Option<Given>) -> Result<PriceTable, String> {
    let mut prices = PriceTable::builtin();
    let Some(given) = given else { return Ok(prices) };
    let Value::Object(models) = &given.value else {
        return Err(
            given.refuse("an object of model name to {input, output, cacheRead, cacheWrite} in USD per million tokens")
        );
    };
    for (model, price) in models {
        prices.set(model, parse_price(model, price)?);
    }
    Ok(prices)
}

fn parse_price(model: &str, v: &Value) -> Result<ModelPrice, String> {
    let key = format!("pricing.{model}");
    let refuse =
        |key: &str, expected: &str, got: &Value| format!("mlflow config `{key}`: expected {expected}, got {got}");
    let obj = v
        .as_object()
        .ok_or_else(|| refuse(&key, "an object {input, output, cacheRead, cacheWrite} in USD per million tokens", v))?;
    let mut price = ModelPrice::default();
    for (field, value) in obj {
        let n = value.as_f64().filter(|n| *n >= 0.0 && n.is_finite()).ok_or_else(|| {
            refuse(&format!("{key}.{field}"), "a non-negative number of USD per million tokens", value)
        })?;
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

/// `track_traces`: the default of `otlp.traces` (`trackTraces: false` alone turns off every route's
/// traces; `otlp.traces: true` beside it keeps the OTLP route's, as behind a Collector).
fn parse_otlp(file: FileOtlp, env: &dyn Env, track_traces: bool) -> Result<OtlpConfig, String> {
    // Only OTLP/HTTP with protobuf is spoken; anything else is refused rather than sending nothing.
    let protocols = [
        sourced_text(Given::file(file.protocol, "otlp.protocol"))?,
        sourced_text(from_env(env, "OTEL_EXPORTER_OTLP_PROTOCOL"))?,
        sourced_text(from_env(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))?,
        sourced_text(from_env(env, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"))?,
    ];
    for (protocol, source) in protocols.into_iter().flatten() {
        if protocol != PROTOCOL {
            return Err(format!(
                "{source}: expected \"{PROTOCOL}\" (the only OTLP protocol this plugin speaks), got {protocol:?}"
            ));
        }
    }
    let base = sourced_text(file_or_env(file.endpoint, "otlp.endpoint", env, "OTEL_EXPORTER_OTLP_ENDPOINT"))?
        .map(|(e, source)| http_url(&e, source, OTLP_URL))
        .transpose()?;
    // Credentials in an endpoint's URL: sent as the Authorization header unless one is given.
    let mut userinfo = base.as_ref().and_then(|b| b.userinfo.clone());
    let base = base.map(|b| b.url);
    let mut signal = |given: Option<Value>,
                      key: &'static str,
                      var: &'static str,
                      path: &str|
     -> Result<String, String> {
        match sourced_text(file_or_env(given, key, env, var))? {
            Some((e, source)) => {
                let parsed = http_url(&e, source, OTLP_URL)?;
                userinfo = userinfo.take().or(parsed.userinfo);
                Ok(parsed.url)
            }
            None => base.as_ref().map(|b| format!("{b}{path}")).ok_or_else(|| {
                format!("mlflow config `otlp.endpoint`: not set; expected the OTLP/HTTP base URL (e.g. http://127.0.0.1:4318) here or in OTEL_EXPORTER_OTLP_ENDPOINT, or `{key}`")
            }),
        }
    };
    let traces = flag_or(Given::file(file.traces, "otlp.traces"), track_traces)?;
    let metrics = flag(file.metrics, "otlp.metrics")?;
    let mut headers = match Given::file(file.headers, "otlp.headers") {
        Some(Given { value: Value::Object(h), .. }) => h
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(format!(
                    "mlflow config `otlp.headers.{k}`: expected a string, got {} (not shown: often a secret)",
                    json_type(&other)
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(other.refuse("an object of header name to value")),
        None => env.var("OTEL_EXPORTER_OTLP_HEADERS").map(|h| otel_headers(&h)).transpose()?.unwrap_or_default(),
    };
    let sample_rate = match Given::file(file.sample_rate, "otlp.sampleRate") {
        Some(g) => fraction(g, "otlp.sampleRate")?,
        None => otel_sample_rate(env)?.unwrap_or(1.0),
    };
    let traces_endpoint = match traces {
        true => {
            signal(file.traces_endpoint, "otlp.tracesEndpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")?
        }
        false => String::new(),
    };
    let metrics_endpoint = match metrics {
        true => {
            signal(file.metrics_endpoint, "otlp.metricsEndpoint", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")?
        }
        false => String::new(),
    };
    if let Some((username, password)) = userinfo {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            headers
                .extend(Auth::Basic { username, password }.authorization().map(|v| ("authorization".to_string(), v)));
        }
    }
    Ok(OtlpConfig {
        traces_endpoint,
        metrics_endpoint,
        headers,
        traces,
        metrics,
        service_name: text(file_or_env(file.service_name, "otlp.serviceName", env, "OTEL_SERVICE_NAME"))?
            .unwrap_or_else(|| "openclaw-gateway".into()),
        sample_rate,
    })
}

#[cfg(test)]
mod tests {
    /// The gateway validates `plugins.entries.mlflow.config` against the package's manifest before
    /// the plugin runs: its schema must know exactly the keys this parser knows.
    #[test]
    fn the_packages_config_schema_knows_exactly_these_keys() {
        let manifest: Value = serde_json::from_str(include_str!("../../../package/openclaw.plugin.json")).unwrap();
        let keys = |at: &str| -> Vec<String> {
            let mut k: Vec<String> = manifest.pointer(at).unwrap().as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let known_keys = file::tests::known_keys(|v| FileSettings::parse(&v.to_string()).map(|_| ()));
        let known_otlp_keys = file::tests::known_keys(|v| FileOtlp::parse(v).map(|_| ()));
        assert_eq!(keys("/configSchema/properties"), known_keys);
        assert_eq!(keys("/configSchema/properties/otlp/properties"), known_otlp_keys);
        assert_eq!(manifest["configSchema"]["additionalProperties"], false);
        let parts = &manifest["configSchema"]["properties"]["captureContent"]["properties"];
        for name in ContentParts::NAMES {
            assert_eq!(parts[name]["default"], ContentParts::DEFAULT.get(name).unwrap(), "captureContent.{name}");
        }
        assert_eq!(parts.as_object().unwrap().len(), ContentParts::NAMES.len());
    }

    use super::*;
    use std::collections::HashMap;

    /// Every whole-number setting the manifest bounds is held to the manifest's range, and unset
    /// takes the manifest's default: the gateway's check and the plugin's are one rule.
    #[test]
    fn every_bounded_setting_of_the_manifest_is_held_to_its_range_and_default() {
        let manifest: Value = serde_json::from_str(include_str!("../../../package/openclaw.plugin.json")).unwrap();
        let settings = manifest["configSchema"]["properties"].as_object().unwrap();
        let mut checked = 0;
        for (key, schema) in settings.iter().filter(|(_, s)| s["type"] == "integer") {
            let (min, max) = (schema["minimum"].as_u64().unwrap(), schema["maximum"].as_u64().unwrap());
            let expected = format!("`{key}`: expected an integer from {min} to {max}, got {}", max + 1);
            let err = Config::parse(&format!(r#"{{{URI}, "{key}": {}}}"#, max + 1), &env(&[])).unwrap_err();
            assert!(err.contains(&expected), "{err}");
            for edge in [min, max] {
                let at_edge = Config::parse(&format!(r#"{{{URI}, "{key}": {edge}}}"#), &env(&[]));
                assert!(at_edge.is_ok(), "`{key}`: {edge} is within the manifest's range: {at_edge:?}");
            }
            // Where the whole-number settings land (the price table's map prints in no fixed order).
            let bounded = |json: &str| {
                let c = Config::parse(json, &env(&[])).unwrap();
                format!("{:?} {:?} {:?} {:?} {:?}", c.destination, c.capture, c.batching, c.limits, c.durability)
            };
            let unset = bounded(&format!("{{{URI}}}"));
            let at_default = bounded(&format!(r#"{{{URI}, "{key}": {}}}"#, schema["default"]));
            assert_eq!(unset, at_default, "`{key}` unset is the manifest's default {}", schema["default"]);
            checked += 1;
        }
        assert!(checked >= 12, "the manifest's twelve whole-number settings, at least: {checked}");
    }

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
        assert_eq!(c.destination.experiment, ExperimentRef::Name("openclaw-default".into()));
        let s = &c.signals;
        assert!(s.token_usage && s.costs && s.latency && s.traces);
        assert_eq!(c.capture.parts, ContentParts::DEFAULT);
        assert_eq!(c.batching.batch_size, 100);
        assert_eq!(c.batching.flush_interval, Duration::from_millis(5000));
        assert_eq!(c.batching.max_in_flight, 4);
        assert_eq!(c.destination.auth, Auth::None);
        assert_eq!(c.durability, Durability { spool_dir: None, max_spool_bytes: 1 << 30 }, "no state directory");
    }

    #[test]
    fn the_spool_lives_in_the_gateways_state_directory_unless_told_otherwise() {
        let dir = |json: &str, vars: &[(&'static str, &'static str)]| {
            Config::parse(&format!("{{{URI}{json}}}"), &env(vars)).unwrap().durability.spool_dir
        };
        let home = [("HOME", "/home/op")];
        assert_eq!(dir("", &home), Some("/home/op/.openclaw/mlflow/spool".into()));
        assert_eq!(
            dir("", &[("HOME", "/home/op"), ("OPENCLAW_STATE_DIR", "/srv/claw")]),
            Some("/srv/claw/mlflow/spool".into())
        );
        assert_eq!(dir(r#", "spoolDir": "/var/spool/oc""#, &home), Some("/var/spool/oc".into()));
        assert_eq!(dir(r#", "spool": false, "spoolDir": "/var/spool/oc""#, &home), None);
    }

    #[test]
    fn the_environment_fills_unset_settings() {
        let e = env(&[
            ("MLFLOW_TRACKING_URI", "https://mlflow.example.com/"),
            ("MLFLOW_EXPERIMENT_NAME", "from-env"),
            ("MLFLOW_TRACKING_TOKEN", "tok"),
        ]);
        let c = Config::parse("{}", &e).unwrap();
        assert_eq!(c.destination.tracking_uri.as_deref(), Some("https://mlflow.example.com"));
        assert_eq!(c.destination.experiment, ExperimentRef::Name("from-env".into()));
        assert_eq!(c.destination.auth, Auth::Bearer("tok".into()));
        let e =
            env(&[("MLFLOW_TRACKING_URI", "http://x"), ("MLFLOW_EXPERIMENT_ID", "7"), ("MLFLOW_EXPERIMENT_NAME", "n")]);
        assert_eq!(
            Config::parse("{}", &e).unwrap().destination.experiment,
            ExperimentRef::Id("7".into()),
            "an ID wins over a name"
        );
        let e = env(&[
            ("MLFLOW_TRACKING_URI", "http://x"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
        ]);
        assert_eq!(
            Config::parse("{}", &e).unwrap().destination.auth,
            Auth::Basic { username: "u".into(), password: "p".into() }
        );
    }

    #[test]
    fn the_file_wins_over_the_environment() {
        let e = env(&[("MLFLOW_TRACKING_URI", "http://env:1"), ("MLFLOW_EXPERIMENT_ID", "9")]);
        let c = Config::parse(r#"{"trackingUri": "http://file:2", "experimentName": "file"}"#, &e).unwrap();
        assert_eq!(c.destination.tracking_uri.as_deref(), Some("http://file:2"));
        assert_eq!(c.destination.experiment, ExperimentRef::Name("file".into()));
        let c = Config::parse(r#"{"experimentId": 12, "experimentName": "ignored"}"#, &e).unwrap();
        assert_eq!(c.destination.experiment, ExperimentRef::Id("12".into()));
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
            (&format!(r#"{{{URI}, "spool": "yes"}}"#), "`spool`: expected true or false"),
            (&format!(r#"{{{URI}, "spoolDir": 3}}"#), "`spoolDir`: expected a non-empty string"),
            (
                &format!(r#"{{{URI}, "maxSpoolBytes": 1000}}"#),
                "`maxSpoolBytes`: expected an integer from 65536 to 1099511627776, got 1000",
            ),
        ];
        for (json, expected) in cases {
            let err = Config::parse(json, &env(&[])).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
        let err = Config::parse("{}", &env(&[("MLFLOW_TRACKING_URI", "./mlruns")])).unwrap_err();
        assert!(err.starts_with("MLFLOW_TRACKING_URI: expected"), "{err}");
    }

    #[test]
    fn basic_auth_is_standard_base64() {
        let auth = Auth::Basic { username: "Aladdin".into(), password: "open sesame".into() };
        assert_eq!(auth.authorization().unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(Auth::Bearer("t".into()).authorization().unwrap(), "Bearer t");
        assert_eq!(Auth::None.authorization(), None);
    }

    #[test]
    fn credentials_in_a_url_become_the_credentials_and_leave_the_url() {
        let c = Config::parse(r#"{"trackingUri": "https://ops:s3cret@mlflow.example.com/"}"#, &env(&[])).unwrap();
        assert_eq!(c.destination.tracking_uri.as_deref(), Some("https://mlflow.example.com"));
        assert_eq!(c.destination.auth, Auth::Basic { username: "ops".into(), password: "s3cret".into() });
        // Credentials given as such win; the URL's are dropped all the same.
        let c = Config::parse(r#"{"trackingUri": "https://ops:s3cret@h", "trackingToken": "t"}"#, &env(&[])).unwrap();
        assert_eq!(
            (c.destination.tracking_uri.as_deref(), c.destination.auth),
            (Some("https://h"), Auth::Bearer("t".into()))
        );
        let c = Config::parse(r#"{"otlp": {"endpoint": "https://u:p@collector:4318"}}"#, &env(&[])).unwrap();
        let otlp = c.destination.otlp.unwrap();
        assert_eq!(otlp.traces_endpoint, "https://collector:4318/v1/traces");
        assert_eq!(otlp.headers, vec![("authorization".to_string(), "Basic dTpw".to_string())]);
        let c = Config::parse(
            r#"{"otlp": {"endpoint": "https://u:p@collector:4318", "headers": {"Authorization": "Bearer x"}}}"#,
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.destination.otlp.unwrap().headers, vec![("Authorization".to_string(), "Bearer x".to_string())]);
        let err = Config::parse(r#"{"trackingUri": "https://h/?token=abc"}"#, &env(&[])).unwrap_err();
        assert!(err.contains("without a query") && !err.contains("abc"), "{err}");
    }

    #[test]
    fn the_otlp_routes_traces_follow_track_traces_unless_set() {
        let routes = |json: &str| {
            let c = Config::parse(json, &env(&[])).unwrap();
            (c.signals.traces, c.destination.otlp.unwrap().traces)
        };
        let otlp = r#""otlp": {"endpoint": "http://127.0.0.1:4318"}"#;
        assert_eq!(routes(&format!("{{{otlp}}}")), (true, true));
        assert_eq!(routes(&format!(r#"{{"trackTraces": false, {otlp}}}"#)), (false, false));
        // Behind a Collector that forwards them to MLflow: traces to the Collector only.
        let collector = r#""otlp": {"endpoint": "http://127.0.0.1:4318", "traces": true}"#;
        assert_eq!(routes(&format!(r#"{{"trackTraces": false, {collector}}}"#)), (false, true));
        let no_otlp_traces = r#""otlp": {"endpoint": "http://127.0.0.1:4318", "traces": false}"#;
        assert_eq!(routes(&format!("{{{no_otlp_traces}}}")), (true, false));
    }

    #[test]
    fn credentials_over_plain_http_to_another_machine_are_found() {
        let in_clear = |json: &str| Config::parse(json, &env(&[])).unwrap().destination.credentials_in_clear();
        assert_eq!(
            in_clear(r#"{"trackingUri": "http://mlflow.svc:5000", "trackingToken": "t"}"#),
            ["http://mlflow.svc:5000"]
        );
        assert!(in_clear(r#"{"trackingUri": "http://mlflow.svc:5000"}"#).is_empty(), "no credentials");
        assert!(in_clear(r#"{"trackingUri": "https://mlflow.svc", "trackingToken": "t"}"#).is_empty(), "TLS");
        assert!(in_clear(r#"{"trackingUri": "http://127.0.0.1:5000", "trackingToken": "t"}"#).is_empty(), "loopback");
        assert_eq!(
            in_clear(r#"{"otlp": {"endpoint": "http://collector:4318/?k=v", "headers": {"api-key": "k"}}}"#),
            ["http://collector:4318/"],
            "the query is not printed (the two signals' URLs differ only after it)"
        );
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_named_never_shown() {
        for (json, key) in [
            (format!(r#"{{{URI}, "trackingToken": 31415926535}}"#), "`trackingToken`"),
            (format!(r#"{{{URI}, "trackingToken": ["tok-31415926535"]}}"#), "`trackingToken`"),
            (
                format!(r#"{{{URI}, "trackingUsername": "u", "trackingPassword": {{"p": "31415926535"}}}}"#),
                "`trackingPassword`",
            ),
            (
                r#"{"otlp": {"endpoint": "http://c:4318", "headers": {"x-api-key": 31415926535}}}"#.to_string(),
                "`otlp.headers.x-api-key`",
            ),
            (r#"{"trackingUri": "ftp://ops:31415926535@h"}"#.to_string(), "`trackingUri`"),
        ] {
            let err = Config::parse(&json, &env(&[])).unwrap_err();
            assert!(err.contains(key) && err.contains("expected"), "{json}: {err}");
            assert!(!err.contains("31415926535"), "{json}: the secret is echoed: {err}");
        }
    }

    #[test]
    fn capture_content_is_true_false_or_the_parts_over_the_defaults() {
        let parts = |value: &str| {
            Config::parse(&format!(r#"{{{URI}, "captureContent": {value}}}"#), &env(&[])).map(|c| c.capture.parts)
        };
        assert_eq!(parts("true").unwrap(), ContentParts::DEFAULT);
        assert_eq!(parts("false").unwrap(), ContentParts::NONE);
        assert_eq!(
            parts(r#"{"systemPrompt": true, "toolOutputs": false}"#).unwrap(),
            ContentParts { system_prompt: true, tool_outputs: false, ..ContentParts::DEFAULT }
        );
        assert_eq!(parts("{}").unwrap(), ContentParts::DEFAULT, "a part left out keeps its default");
        let unknown = parts(r#"{"systemPrompts": true}"#).unwrap_err();
        assert!(
            unknown.contains("`captureContent.systemPrompts`") && unknown.contains("systemPrompt, toolDefinitions"),
            "{unknown}"
        );
        let not_a_flag = parts(r#"{"previews": "yes"}"#).unwrap_err();
        assert!(not_a_flag.contains("`captureContent.previews`: expected true or false"), "{not_a_flag}");
        let wrong = parts("1").unwrap_err();
        assert!(wrong.contains("`captureContent`: expected true, false or an object of previews"), "{wrong}");
    }

    #[test]
    fn the_workspace_comes_from_the_file_else_mlflow_workspace() {
        let e = env(&[("MLFLOW_WORKSPACE", "team-env")]);
        assert_eq!(Config::parse(&format!("{{{URI}}}"), &env(&[])).unwrap().destination.workspace, None);
        assert_eq!(
            Config::parse(&format!("{{{URI}}}"), &e).unwrap().destination.workspace.as_deref(),
            Some("team-env")
        );
        let c = Config::parse(&format!(r#"{{{URI}, "workspace": "team-a"}}"#), &e).unwrap();
        assert_eq!(c.destination.workspace.as_deref(), Some("team-a"));
        for bad in ["Team-A", "a", "-a", "a-", "api", "a_b"] {
            let err = Config::parse(&format!(r#"{{{URI}, "workspace": "{bad}"}}"#), &env(&[])).unwrap_err();
            assert!(err.starts_with("mlflow config `workspace`: expected an MLflow workspace name"), "{bad}: {err}");
        }
        let err = Config::parse(&format!("{{{URI}}}"), &env(&[("MLFLOW_WORKSPACE", "Nope")])).unwrap_err();
        assert!(err.starts_with("MLFLOW_WORKSPACE: expected an MLflow workspace name"), "{err}");
    }

    #[test]
    fn credentials_come_from_the_file_else_the_environment() {
        let e = env(&[("MLFLOW_TRACKING_TOKEN", "from-env")]);
        let c = Config::parse(&format!(r#"{{{URI}, "trackingToken": "from-file"}}"#), &e).unwrap();
        assert_eq!(c.destination.auth, Auth::Bearer("from-file".into()));
        let c = Config::parse(&format!(r#"{{{URI}, "trackingUsername": "u", "trackingPassword": "p"}}"#), &env(&[]))
            .unwrap();
        assert_eq!(c.destination.auth, Auth::Basic { username: "u".into(), password: "p".into() });
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
        assert!((c.signals.prices.cost("mock-model", &usage).unwrap().total - 1.1).abs() < 1e-9);
    }
}
