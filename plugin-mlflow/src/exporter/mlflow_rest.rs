//! The few MLflow REST calls the exporter makes itself (finding or creating the experiment, the
//! run and its metrics), and the read-only ones `doctor` adds.

use super::mlflow_release::MlflowRelease;
use super::transport::MlflowScope;
use crate::config::ExperimentRef;
use serde_json::{json, Value};

#[derive(Debug)]
pub enum RestError {
    /// No HTTP answer: connection refused, timeout, DNS.
    Unreachable(String),
    /// 401: the credentials are missing or wrong.
    Unauthenticated,
    /// 403: the credentials were taken, but this user may not make this call (MLflow's permissions).
    Forbidden,
    /// Anything else the server said no to, with its message.
    Refused(u16, String),
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestError::Unreachable(e) => write!(f, "MLflow unreachable: {e}"),
            RestError::Unauthenticated => write!(
                f,
                "MLflow answered 401: check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
            ),
            RestError::Forbidden => write!(f, "MLflow answered 403: permission denied"),
            RestError::Refused(code, message) => write!(f, "MLflow answered {code}: {message}"),
        }
    }
}

/// An answer as it came: status, body text and the server's clock (`Date`).
pub struct RawReply {
    pub status: u16,
    pub body: String,
    pub date: Option<String>,
}

pub struct MlflowRest {
    agent: ureq::Agent,
    base: String,
    scope: MlflowScope,
}

/// Every byte but RFC 3986's unreserved characters escaped: a name or id as one query value or
/// path segment.
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn percent_encode(s: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(s, COMPONENT)
}

/// Where MLflow describes an experiment, by ID or by name.
fn experiment_path(experiment: &ExperimentRef) -> String {
    match experiment {
        ExperimentRef::Id(id) => format!("/api/2.0/mlflow/experiments/get?experiment_id={}", percent_encode(id)),
        ExperimentRef::Name(name) => {
            format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={}", percent_encode(name))
        }
    }
}

impl MlflowRest {
    pub fn new(agent: ureq::Agent, tracking_uri: &str, scope: MlflowScope) -> MlflowRest {
        MlflowRest { agent, base: tracking_uri.to_string(), scope }
    }

    /// The headers every call carries: the credentials' and the workspace's.
    pub fn scope(&self) -> &MlflowScope {
        &self.scope
    }

    /// The same server and credentials, without the workspace (see `MlflowScope::without_workspace`).
    pub fn without_workspace(&self) -> MlflowRest {
        MlflowRest { agent: self.agent.clone(), base: self.base.clone(), scope: self.scope.without_workspace() }
    }

    /// A GET read as it comes (for `doctor`): the transport's own error when there is no answer, so
    /// that DNS, TCP and TLS failures can be told apart.
    pub fn get_raw(&self, path: &str) -> Result<RawReply, ureq::Error> {
        let mut request = http::Request::get(format!("{}{path}", self.base));
        for (name, value) in self.scope.headers() {
            request = request.header(name, value);
        }
        let response = self.agent.run(request.body(()).map_err(ureq::Error::Http)?)?;
        let status = response.status().as_u16();
        let date = response.headers().get(http::header::DATE).and_then(|d| d.to_str().ok()).map(str::to_string);
        let body = response.into_body().into_with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        Ok(RawReply { status, body, date })
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, RestError> {
        let mut request = http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (name, value) in self.scope.headers() {
            request = request.header(name, value);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if method == "POST" {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(body).map_err(|e| RestError::Unreachable(e.to_string()))?;
        let response = self.agent.run(request).map_err(|e| RestError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response.into_body().into_with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        match status {
            200..=299 => {
                serde_json::from_str(&text).map_err(|e| RestError::Refused(status, format!("unexpected answer: {e}")))
            }
            401 => Err(RestError::Unauthenticated),
            403 => Err(RestError::Forbidden),
            _ => {
                let message = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| Some(format!("{} {}", v.get("error_code")?.as_str()?, v.get("message")?.as_str()?)))
                    .unwrap_or(text);
                Err(RestError::Refused(status, crate::redact::server_text(&message, 300)))
            }
        }
    }

    /// The experiment's ID: checked when given by ID, looked up by name, created when the name
    /// does not exist.
    pub fn resolve_experiment(&self, experiment: &ExperimentRef) -> Result<String, RestError> {
        match experiment {
            ExperimentRef::Id(id) => {
                let found = self.call("GET", &experiment_path(experiment), None)?;
                self.restore_if_deleted(&found)?;
                Ok(id.clone())
            }
            ExperimentRef::Name(name) => {
                let path = experiment_path(experiment);
                match self.call("GET", &path, None) {
                    Ok(found) => {
                        self.restore_if_deleted(&found)?;
                        experiment_id(&found)
                    }
                    Err(RestError::Refused(404, _)) => {
                        match self.call("POST", "/api/2.0/mlflow/experiments/create", Some(&json!({ "name": name }))) {
                            Ok(created) => {
                                created.get("experiment_id").and_then(Value::as_str).map(str::to_string).ok_or_else(
                                    || RestError::Refused(200, "create answered without an experiment_id".into()),
                                )
                            }
                            // Another gateway created it between our two calls.
                            Err(RestError::Refused(_, m)) if m.contains("RESOURCE_ALREADY_EXISTS") => {
                                experiment_id(&self.call("GET", &path, None)?)
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// Read-only lookups, for `doctor`.
impl MlflowRest {
    /// The experiment as MLflow describes it (`experiment_id`, `name`, `lifecycle_stage`), or `None`
    /// when there is none by that ID or name. Creates and restores nothing.
    pub fn find_experiment(&self, experiment: &ExperimentRef) -> Result<Option<Value>, RestError> {
        match self.call("GET", &experiment_path(experiment), None) {
            Ok(found) => Ok(found.get("experiment").cloned()),
            Err(RestError::Refused(_, m)) if m.starts_with("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(RestError::Refused(404, _)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The release the server runs (`/version`, plain text, in every release); `None` when it
    /// does not say (a proxy in front that routes only the API).
    pub fn release(&self) -> Option<MlflowRelease> {
        match self.get_raw("/version") {
            Ok(RawReply { status: 200, body, .. }) => MlflowRelease::parse(&body),
            _ => None,
        }
    }
}

/// What a server says of a workspace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WorkspaceState {
    Exists,
    /// The server has workspaces, not this one.
    Missing,
    /// The server runs without workspaces (started without `--enable-workspaces`).
    Disabled,
    /// The server has no workspace API at all (MLflow before 3.10).
    NotOffered,
}

impl MlflowRest {
    /// Whether workspace `name` exists, asked without the workspace header (which a server
    /// without it, or without workspaces, would refuse before answering).
    pub fn workspace(&self, name: &str) -> Result<WorkspaceState, RestError> {
        let path = format!("/api/3.0/mlflow/workspaces/{}", percent_encode(name));
        match self.without_workspace().call("GET", &path, None) {
            Ok(_) => Ok(WorkspaceState::Exists),
            Err(RestError::Refused(_, m)) if m.starts_with("RESOURCE_DOES_NOT_EXIST") => Ok(WorkspaceState::Missing),
            Err(RestError::Refused(_, m))
                if m.starts_with("FEATURE_DISABLED") || m.contains("without workspaces support") =>
            {
                Ok(WorkspaceState::Disabled)
            }
            Err(RestError::Refused(404, _)) => Ok(WorkspaceState::NotOffered),
            Err(e) => Err(e),
        }
    }

    /// The user's permission on an experiment as MLflow's basic-auth app reports it ("READ",
    /// "EDIT", ...); `None` where the server has no such API or will not say.
    pub fn experiment_permission(&self, username: &str, experiment_id: &str) -> Option<String> {
        let path = format!(
            "/api/3.0/mlflow/users/permissions/get?resource_type=experiment&resource_id={}&username={}",
            percent_encode(experiment_id),
            percent_encode(username)
        );
        let found = self.call("GET", &path, None).ok()?;
        found.get("permission").and_then(Value::as_str).map(str::to_string)
    }
}

/// Traces, by their MLflow id (`tr-...`), with the calls every release from 3.6 has.
impl MlflowRest {
    /// A trace's info (`trace_info`: state, times, previews, metadata, tags), without its spans.
    pub fn trace_info(&self, trace_id: &str) -> Result<Value, RestError> {
        let found = self.call("GET", &format!("/api/3.0/mlflow/traces/{}", percent_encode(trace_id)), None)?;
        found
            .pointer("/trace/trace_info")
            .cloned()
            .ok_or_else(|| RestError::Refused(200, "answer without trace.trace_info".into()))
    }

    /// Replaces a trace's info (MLflow's StartTraceV3, an upsert): `info` as `trace_info` gave it,
    /// changed.
    pub fn replace_trace_info(&self, info: &Value) -> Result<(), RestError> {
        self.call("POST", "/api/3.0/mlflow/traces", Some(&json!({ "trace": { "trace_info": info } }))).map(|_| ())
    }

    /// Links traces to a run (at most `MAX_TRACES_PER_LINK` per call).
    pub fn link_traces_to_run(&self, run_id: &str, trace_ids: &[String]) -> Result<(), RestError> {
        let body = json!({ "run_id": run_id, "trace_ids": trace_ids });
        self.call("POST", "/api/2.0/mlflow/traces/link-to-run", Some(&body)).map(|_| ())
    }
}

/// MLflow's limit on trace ids per `link-to-run` call.
pub const MAX_TRACES_PER_LINK: usize = 100;

fn experiment_id(found: &Value) -> Result<String, RestError> {
    found
        .pointer("/experiment/experiment_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| RestError::Refused(200, "answer without experiment.experiment_id".into()))
}

impl MlflowRest {
    /// An experiment deleted under us (MLflow keeps its name reserved, so it cannot be created
    /// again) is restored, so that the gateway's traces keep landing where operators look.
    /// Returns whether it had to restore it.
    fn restore_if_deleted(&self, found: &Value) -> Result<bool, RestError> {
        if found.pointer("/experiment/lifecycle_stage").and_then(Value::as_str) != Some("deleted") {
            return Ok(false);
        }
        let id = experiment_id(found)?;
        self.call("POST", "/api/2.0/mlflow/experiments/restore", Some(&json!({ "experiment_id": id }))).map(|_| true)
    }

    /// Checks that the experiment still exists and is not deleted, restoring it if it is. Needed
    /// because MLflow's OTLP endpoint goes on accepting traces for a deleted experiment, where
    /// nobody sees them. Returns whether it was restored.
    pub fn ensure_active(&self, id: &str) -> Result<bool, RestError> {
        let found = self.call("GET", &experiment_path(&ExperimentRef::Id(id.to_string())), None)?;
        self.restore_if_deleted(&found)
    }
}

/// The run that holds a gateway process's metrics (and links its traces).
impl MlflowRest {
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_ms: u64,
        tags: &[(&str, String)],
    ) -> Result<String, RestError> {
        let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        let body = json!({"experiment_id": experiment_id, "run_name": run_name, "start_time": start_ms, "tags": tags});
        let created = self.call("POST", "/api/2.0/mlflow/runs/create", Some(&body))?;
        created
            .pointer("/run/info/run_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| RestError::Refused(200, "runs/create answered without run.info.run_id".into()))
    }

    /// Logs metric values; MLflow takes at most 1000 per request, the caller chunks.
    pub fn log_metrics(&self, run_id: &str, points: &[super::run_metrics::MetricPoint]) -> Result<(), RestError> {
        let metrics: Vec<Value> = points
            .iter()
            .map(|p| json!({"key": p.key, "value": p.value, "timestamp": p.timestamp_ms, "step": p.step}))
            .collect();
        self.call("POST", "/api/2.0/mlflow/runs/log-batch", Some(&json!({"run_id": run_id, "metrics": metrics})))
            .map(|_| ())
    }

    pub fn end_run(&self, run_id: &str, end_ms: u64) -> Result<(), RestError> {
        let body = json!({"run_id": run_id, "status": "FINISHED", "end_time": end_ms});
        self.call("POST", "/api/2.0/mlflow/runs/update", Some(&body)).map(|_| ())
    }
}
