//! The HTTP transport: blocking `ureq` agents (rustls) for the trace requests (each on a connection
//! of its own), the MLflow REST calls and the SDK's metric exporter (connections reused). Blocking
//! is right here: it runs on the plugin's own threads, never on the host's, and needs no async
//! runtime.

use super::wire::EncodedTrace;
use crate::config::{self, TlsSettings};
use opentelemetry_http::{Bytes, HttpClient, HttpError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Where Linux distributions keep the system's CA bundle (`SSL_CERT_FILE` first, as OpenSSL does).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The roots to trust: the system's bundle plus `caBundle`; Mozilla's bundled roots when the system
/// has none. Decided once per agent, at `init`.
fn roots(tls: &TlsSettings) -> Result<RootCerts, String> {
    let system_file = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from))
        .find(|p| p.is_file());
    let mut certs = system_file.and_then(|p| std::fs::read(p).ok()).map(|pem| certificates(&pem)).unwrap_or_default();
    if let Some(path) = &tls.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| format!("mlflow config `caBundle`: {}: {e}", path.display()))?;
        let extra = certificates(&pem);
        if extra.is_empty() {
            return Err(format!(
                "mlflow config `caBundle`: expected PEM CA certificates in {}, found none",
                path.display()
            ));
        }
        certs.extend(extra);
    }
    Ok(if certs.is_empty() { RootCerts::WebPki } else { RootCerts::new_with_certs(&certs) })
}

pub fn agent(timeout: Duration, tls: &TlsSettings) -> Result<ureq::Agent, String> {
    let tls_config =
        TlsConfig::builder().root_certs(roots(tls)?).disable_verification(tls.insecure_skip_verify).build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls_config)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
        .http_status_as_error(false)
        .user_agent(concat!("openclaw-mlflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

/// Who the plugin is and where on the server it works: the headers every MLflow call carries (the
/// REST calls and the OTLP trace requests alike).
#[derive(Clone, Default)]
pub struct MlflowScope {
    /// The `Authorization` header's value, if any.
    authorization: Option<String>,
    /// `X-MLFLOW-WORKSPACE`: sent only when set (a server without workspaces refuses the header).
    workspace: Option<String>,
}

impl MlflowScope {
    pub const WORKSPACE_HEADER: &'static str = "x-mlflow-workspace";

    pub fn new(to: &config::Destination) -> MlflowScope {
        MlflowScope { authorization: to.auth.authorization(), workspace: to.workspace.clone() }
    }

    pub fn workspace(&self) -> Option<&str> {
        self.workspace.as_deref()
    }

    /// The same credentials in the server's default workspace (for the calls that must work
    /// whatever the workspace: `doctor`'s credentials and workspace checks).
    pub fn without_workspace(&self) -> MlflowScope {
        MlflowScope { authorization: self.authorization.clone(), workspace: None }
    }

    /// The headers, by name.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let authorization = self.authorization.as_deref().map(|v| ("authorization", v));
        let workspace = self.workspace.as_deref().map(|v| (Self::WORKSPACE_HEADER, v));
        authorization.into_iter().chain(workspace)
    }
}

/// The settings of the SDK's OTLP metric exporter: protobuf over our transport, and no retries
/// inside the exporter (a failed export is retried by the next period's cumulative values).
pub fn otlp_http<B>(
    builder: B,
    agent: ureq::Agent,
    endpoint: String,
    timeout: Duration,
    headers: HashMap<String, String>,
) -> B
where
    B: opentelemetry_otlp::WithExportConfig + opentelemetry_otlp::WithHttpConfig,
{
    builder
        .with_http_client(SdkHttpClient(agent))
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(timeout)
        .with_headers(headers)
        .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
}

/// `opentelemetry_http::HttpClient` over the shared agent, for the SDK's metric exporter.
#[derive(Debug)]
struct SdkHttpClient(ureq::Agent);

#[async_trait::async_trait]
impl HttpClient for SdkHttpClient {
    async fn send_bytes(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self.0.run(http::Request::from_parts(parts, body.to_vec()))?;
        let (parts, body) = response.into_parts();
        let bytes = body.into_with_config().limit(4 << 20).read_to_vec().unwrap_or_default();
        Ok(http::Response::from_parts(parts, Bytes::from(bytes)))
    }
}

/// What a destination answered to one request: what the retry policy decides on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    /// The HTTP status; 0 when there was no answer (connection refused, timeout, DNS, TLS).
    pub status: u16,
    /// The server's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// The start of the body of a failed request (fit for a log line: `redact::server_text`), or the
    /// transport's error.
    pub body: String,
    /// Spans an OTLP backend accepted the request without (its `partial_success`).
    pub rejected: Option<Rejected>,
}

/// OTLP's partial success: how many spans the backend rejected, and its message (fit for a log line).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rejected {
    pub spans: u64,
    pub message: String,
}

/// The partial success an OTLP/HTTP success body (an `ExportTraceServiceResponse` in protobuf) may
/// carry; none for an empty or other body.
fn rejected_in(body: &[u8]) -> Option<Rejected> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message as _;
    let partial = ExportTraceServiceResponse::decode(body).ok()?.partial_success?;
    (partial.rejected_spans > 0).then(|| Rejected {
        spans: partial.rejected_spans as u64,
        message: crate::redact::server_text(&partial.error_message, 500),
    })
}

impl Reply {
    /// "unreachable (connection refused)" or "answered 503".
    pub fn summary(&self) -> String {
        match self.status {
            0 => format!("unreachable ({})", self.body),
            status => format!("answered {status}"),
        }
    }
}

/// Posts one request of encoded traces and reads the reply: the delivery loop's only way out, so
/// that its order, windows and retries can be tested with a scripted transport.
pub trait Transport: Send + Sync + 'static {
    fn post(&self, traces: &[EncodedTrace]) -> Reply;
}

impl Transport for TraceEndpoint {
    fn post(&self, traces: &[EncodedTrace]) -> Reply {
        TraceEndpoint::post(self, traces)
    }
}

/// Rewrites a request's body for the server it goes to (an older MLflow: `older_ingest`).
pub type BodyAdapter = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// An OTLP/HTTP traces endpoint: traces already encoded as protobuf (`wire`) posted over the
/// shared agent, each on a new connection, the reply read directly. A clone shares the agent.
#[derive(Clone)]
pub struct TraceEndpoint {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
    adapter: Option<BodyAdapter>,
}

impl TraceEndpoint {
    pub fn new(agent: ureq::Agent, url: String) -> TraceEndpoint {
        TraceEndpoint { agent, url, headers: Vec::new(), adapter: None }
    }

    /// MLflow's OTLP endpoint, `{tracking_uri}/v1/traces`, with the scope's headers.
    pub fn mlflow(agent: ureq::Agent, tracking_uri: &str, scope: &MlflowScope) -> TraceEndpoint {
        let mut endpoint = TraceEndpoint::new(agent, format!("{tracking_uri}/v1/traces"));
        for (name, value) in scope.headers() {
            endpoint.set_header(name, value.to_string());
        }
        endpoint
    }

    /// Headers sent with every request (replacing any earlier ones of the same name).
    pub fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// How each request's body is rewritten before it is posted (`None`: sent as encoded).
    pub fn set_adapter(&mut self, adapter: Option<BodyAdapter>) {
        self.adapter = adapter;
    }

    /// Posts `traces` in one request: their encoded requests, one after another, are one request.
    pub fn post(&self, traces: &[EncodedTrace]) -> Reply {
        let mut body = super::wire::request_body(traces);
        if let Some(adapt) = &self.adapter {
            body = adapt(body);
        }
        // A connection of its own: a kept-alive connection stays with the server worker (or pod,
        // behind a Service) that accepted it, so a gateway's few connections can all land on one
        // worker of several (BENCHMARKS.md, section 11, has the figures).
        let mut request = http::Request::post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header(http::header::CONNECTION, "close");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = match request.body(body) {
            Ok(r) => r,
            Err(e) => return Reply { body: format!("invalid request: {e}"), ..Reply::default() },
        };
        match self.agent.run(request) {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, std::time::SystemTime::now()));
                let success = response.status().is_success();
                let text = response.into_body().into_with_config().limit(1 << 20).read_to_vec().unwrap_or_default();
                if success {
                    Reply { status, retry_after, rejected: rejected_in(&text), ..Reply::default() }
                } else {
                    let body = crate::redact::server_text(&String::from_utf8_lossy(&text), 500);
                    Reply { status, retry_after, body, rejected: None }
                }
            }
            Err(e) => Reply { body: e.to_string(), ..Reply::default() },
        }
    }
}

/// `Retry-After` in either of its forms (RFC 9110): seconds, or an HTTP date, read as the time
/// from `now` until then (zero for a date already past); an hour at most.
fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value).ok()?.duration_since(now).unwrap_or(Duration::ZERO),
    };
    Some(wait.min(Duration::from_secs(3600)))
}

#[cfg(test)]
mod tests {
    use super::{rejected_in, retry_after, Rejected};
    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
    use prost::Message as _;

    #[test]
    fn a_partial_success_is_read_from_an_otlp_success_body() {
        let partial = |rejected_spans, message: &str| {
            ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess { rejected_spans, error_message: message.into() }),
            }
            .encode_to_vec()
        };
        assert_eq!(
            rejected_in(&partial(3, "span name too long")),
            Some(Rejected { spans: 3, message: "span name too long".into() })
        );
        assert_eq!(rejected_in(&partial(0, "a warning only")), None);
        assert_eq!(rejected_in(&ExportTraceServiceResponse::default().encode_to_vec()), None);
        assert_eq!(rejected_in(b""), None);
        assert_eq!(rejected_in(b"{\"not\": \"protobuf\"}"), None);
    }
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn retry_after_is_read_in_seconds_or_as_an_http_date() {
        // Thu, 03 Dec 2026 15:00:00 GMT
        let now = UNIX_EPOCH + Duration::from_secs(1_796_310_000);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Thu, 03 Dec 2026 15:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Thu, 03 Dec 2026 14:59:00 GMT", now), Some(Duration::ZERO), "a date past");
        assert_eq!(retry_after("86400", now), Some(Duration::from_secs(3600)), "an hour at most");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}
