//! Helpers for the end-to-end tests: the built binaries, a scratch plugins directory, running the
//! host, and reading what landed in the real MLflow server that the test run started
//! (`scripts/with-mlflow.sh` exports its URL as `MLFLOW_TEST_URI`).

pub mod browser;
pub mod collector;
pub mod doctor;
pub mod fault_proxy;
pub mod openclaw;
pub mod otlp_receiver;
pub mod postgres;
pub mod tcp_relay;
pub mod tls_proxy;

use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// A file the workspace build produced (`cargo build --workspace` runs before the tests).
pub fn built(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --workspace` (make test does) first", path.display());
    path
}

pub fn host_binary() -> PathBuf {
    built("openclaw-host")
}

pub const MLFLOW_PLUGIN: &str = "libopenclaw_mlflow.so";
pub const PANICKING_PLUGIN: &str = "libpanicking_plugin.so";

/// A loopback port nothing listens on now (for a server the test starts, or an address that refuses).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh directory under the target dir (kept after the run, for a look when a test fails).
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = target_dir().join("test-scratch").join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A plugins directory holding the given libraries (paths, or names in target/debug).
/// Hard links, not copies: a debug build of the plugin is large, every test takes a directory and
/// the scratch directories are kept, so copies filled CI's disk. A copy only across file systems.
pub fn plugins_dir(libraries: &[PathBuf]) -> PathBuf {
    let dir = scratch_dir("plugins");
    for lib in libraries {
        let linked = dir.join(lib.file_name().unwrap());
        if std::fs::hard_link(lib, &linked).is_err() {
            std::fs::copy(lib, &linked).unwrap();
        }
    }
    dir
}

/// What one run of `openclaw-host` did.
pub struct HostRun {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl HostRun {
    /// The `STATS` line the host prints for `plugin` at exit.
    pub fn stats(&self, plugin: &str) -> Value {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("STATS "))
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["plugin"] == plugin)
            .unwrap_or_else(|| panic!("no STATS line for {plugin}:\n{}\n{}", self.stdout, self.stderr))
    }

    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "openclaw-host failed ({}):\n{}\n{}", self.status, self.stdout, self.stderr);
        self
    }
}

/// A host process whose log (stderr) the test follows while it runs, to act at a point of the
/// run the log names rather than after a guessed time.
pub struct WatchedHost {
    child: Child,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    lines: std::sync::mpsc::Receiver<String>,
    /// The log read so far.
    stderr: String,
}

impl WatchedHost {
    pub fn spawn(cmd: &mut Command) -> WatchedHost {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openclaw-host");
        let stdout = read_all(child.stdout.take());
        let (send, lines) = std::sync::mpsc::channel();
        let stderr = std::io::BufReader::new(child.stderr.take().expect("piped"));
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(stderr).map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        WatchedHost { child, stdout, lines, stderr: String::new() }
    }

    /// Reads the log until `done` says a line completes what the test waits for; fails naming
    /// `what` if the host ends first or [`HOST_RUN_LIMIT`] passes.
    pub fn follow_until(&mut self, what: &str, mut done: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + HOST_RUN_LIMIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let finished = done(&line);
                    self.stderr.push_str(&line);
                    self.stderr.push('\n');
                    if finished {
                        return;
                    }
                }
                Err(_) => panic!("the host's log never said {what}:\n{}", self.stderr),
            }
        }
    }

    /// SIGKILL, as a crash: no flush, no shutdown; returns once it is gone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the host");
        self.child.wait().expect("wait for the killed host");
    }

    /// Waits for the host to end (at most [`HOST_RUN_LIMIT`]): what it did.
    pub fn finish(mut self) -> HostRun {
        let status = wait_within(&mut self.child, HOST_RUN_LIMIT);
        if status.is_none() {
            let _ = self.child.kill();
        }
        self.stderr.extend(self.lines.iter().map(|line| line + "\n"));
        let stdout = String::from_utf8_lossy(&self.stdout.join().unwrap_or_default()).into_owned();
        let status =
            status.unwrap_or_else(|| panic!("the host did not end within {HOST_RUN_LIMIT:?}:\n{}", self.stderr));
        HostRun { status, stdout, stderr: self.stderr }
    }
}

/// How many traces a host's debug line (`--verbose`) says were queued for MLflow (0 for others).
pub fn traces_queued(line: &str) -> usize {
    line.split("MLflow plugin: ")
        .nth(1)
        .and_then(|l| l.split_once(" trace(s) queued for mlflow"))
        .and_then(|(count, _)| count.parse().ok())
        .unwrap_or(0)
}

/// Runs `openclaw-host <args>` with `config` (JSON5 text) as its `openclaw.json`.
pub fn run_host(args: &[&str], config: &str, plugins: &Path) -> HostRun {
    run_host_with_env(args, config, plugins, &[])
}

pub fn run_host_with_env(args: &[&str], config: &str, plugins: &Path, env: &[(&str, &str)]) -> HostRun {
    run_within(&mut host_command(args, config, plugins, env), HOST_RUN_LIMIT, "openclaw-host").into()
}

/// The longest a test lets a host process run: far beyond any run's need, so that a hook or a
/// shutdown that blocks fails the test instead of hanging the suite.
pub const HOST_RUN_LIMIT: Duration = Duration::from_secs(600);

/// Runs `cmd` to its end, its stdout and stderr captured, at most `limit` (see [`finish_within`]).
pub fn run_within(cmd: &mut Command, limit: Duration, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    finish_within(child, limit, what)
}

/// Reads `pipe` to its end on a thread of its own (so that a full pipe never blocks the child).
fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child` to exit, at most `limit` (`None`: it still runs).
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `child` (stdout and stderr piped) to end, at most `limit`: its output; past the
/// limit it is killed and the test fails naming `what`, with what it printed.
pub fn finish_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let (stdout, stderr) = (read_all(child.stdout.take()), read_all(child.stderr.take()));
    let status = wait_within(&mut child, limit);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    match status {
        Some(status) => Output { status, stdout, stderr },
        None => panic!(
            "{what} did not end within {limit:?}; killed. stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// `openclaw-host <args>` with `config` (JSON5 text) as its `openclaw.json`, ready to run or spawn:
/// the machine's MLflow and OpenTelemetry variables removed, a state directory (and so a spool) of
/// its own unless `env` names one, and a generous shutdown budget unless `args` give one.
pub fn host_command(args: &[&str], config: &str, plugins: &Path, env: &[(&str, &str)]) -> Command {
    let dir = scratch_dir("host");
    let config_path = dir.join("openclaw.json");
    std::fs::write(&config_path, config).unwrap();
    let mut cmd = Command::new(host_binary());
    cmd.args(args).arg("--config").arg(&config_path).arg("--plugins-dir").arg(plugins);
    if !args.contains(&"--shutdown-ms") {
        // Tests check what lands, not how fast: a server slowed by the other tests running beside
        // it must not turn into a missing trace. (Shutdown returns as soon as all is sent.)
        cmd.args(["--shutdown-ms", "30000"]);
    }
    for var in [
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_TRACKING_TOKEN",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("OPENCLAW_STATE_DIR", dir.join("state"));
    cmd.envs(env.iter().copied());
    cmd
}

impl From<Output> for HostRun {
    fn from(Output { status, stdout, stderr }: Output) -> HostRun {
        HostRun {
            status,
            stdout: String::from_utf8_lossy(&stdout).into(),
            stderr: String::from_utf8_lossy(&stderr).into(),
        }
    }
}

/// "3.17.2", "2026.9.6", "2.28" (a missing part is 0, a suffix such as "rc0" is dropped) as numbers
/// that compare as releases do.
pub fn dotted_version(text: &str) -> (u32, u32, u32) {
    let mut parts = text.trim().split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next(), next())
}

pub fn fixture(path: &str) -> PathBuf {
    workspace_root().join("tests").join("fixtures").join(path)
}

/// `openclaw-host replay <recording> <extra_args>` with `config` and the mlflow plugin.
pub fn replay(recording: &Path, config: &str, extra_args: &[&str], env: &[(&str, &str)]) -> HostRun {
    let mut args = vec!["replay", recording.to_str().unwrap()];
    args.extend_from_slice(extra_args);
    run_host_with_env(&args, config, &plugins_dir(&[built(MLFLOW_PLUGIN)]), env)
}

/// The real OpenClaw 2026.9.6 recording (six agent runs) in `tests/fixtures`.
pub fn real_recording() -> PathBuf {
    fixture("openclaw-2026.9.6/hooks.jsonl")
}

/// The hook calls a run made (`--events-out`).
pub fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The real MLflow server of this test run.
#[derive(Clone)]
pub struct Mlflow {
    pub uri: String,
    agent: ureq::Agent,
    /// Sent with every call: credentials, a workspace.
    headers: Vec<(&'static str, String)>,
}

impl Mlflow {
    pub fn from_env() -> Mlflow {
        let uri = std::env::var("MLFLOW_TEST_URI").expect(
            "MLFLOW_TEST_URI is not set: these tests need the real MLflow server that `make test` starts \
             (scripts/with-mlflow.sh cargo test ...)",
        );
        Mlflow::from_uri(&uri)
    }

    pub fn from_uri(uri: &str) -> Mlflow {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Mlflow { uri: uri.trim_end_matches('/').into(), agent, headers: Vec::new() }
    }

    /// The same server, every call in MLflow workspace `name` (`X-MLFLOW-WORKSPACE`).
    pub fn in_workspace(&self, name: &str) -> Mlflow {
        self.with_header("X-MLFLOW-WORKSPACE", name.to_string())
    }

    /// The same server, every call as `user` (basic auth).
    pub fn as_user(&self, user: &str, password: &str) -> Mlflow {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.with_header("Authorization", format!("Basic {token}"))
    }

    fn with_header(&self, name: &'static str, value: String) -> Mlflow {
        let mut client = self.clone();
        client.headers.retain(|(n, _)| *n != name);
        client.headers.push((name, value));
        client
    }

    /// A call as this client makes it: status and JSON body (a text body as a JSON string).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.uri);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(body.map(|b| b.to_string()).unwrap_or_default()).unwrap();
        let mut response = self.agent.run(request).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The experiment record (name, lifecycle_stage, ...).
    pub fn experiment(&self, id: &str) -> Value {
        let (status, body) = self.call("GET", &format!("/api/2.0/mlflow/experiments/get?experiment_id={id}"), None);
        assert_eq!(status, 200, "{body}");
        body["experiment"].clone()
    }

    pub fn delete_experiment(&self, id: &str) {
        let (status, body) =
            self.call("POST", "/api/2.0/mlflow/experiments/delete", Some(json!({ "experiment_id": id })));
        assert_eq!(status, 200, "{body}");
    }

    pub fn create_experiment(&self, name: &str) -> String {
        let (status, body) = self.call("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": name })));
        assert_eq!(status, 200, "{body}");
        body["experiment_id"].as_str().unwrap().to_string()
    }

    /// The experiment's ID, or `None` when no experiment has that name.
    pub fn experiment_id(&self, name: &str) -> Option<String> {
        let (status, body) =
            self.call("GET", &format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}"), None);
        match status {
            200 => Some(body["experiment"]["experiment_id"].as_str().unwrap().to_string()),
            404 => None,
            _ => panic!("get-by-name {name}: {status} {body}"),
        }
    }

    /// The one trace of OpenClaw run `run_id` (its `openclaw.run_id` tag).
    pub fn trace_of_run(&self, experiment_id: &str, run_id: &str) -> Trace {
        self.trace(&self.trace_id_of_run(experiment_id, run_id))
    }

    /// The id of the one trace of OpenClaw run `run_id`.
    pub fn trace_id_of_run(&self, experiment_id: &str, run_id: &str) -> String {
        let found = self.search(experiment_id, &format!("tags.`openclaw.run_id` = '{run_id}'"));
        assert_eq!(found.len(), 1, "one trace for run {run_id}, found {}", found.len());
        found[0]["trace_id"].as_str().unwrap().to_string()
    }

    /// Traces of the experiment matching `filter` (MLflow's search syntax; "" for all).
    /// The experiment's id (once it exists) and traces when `done` holds for them, or when `within`
    /// has passed (the caller's assertions then say what is missing). MLflow assembles spans as
    /// they come.
    pub fn traces_once(
        &self,
        experiment: &str,
        within: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> (Option<String>, Vec<Value>) {
        let deadline = Instant::now() + within;
        loop {
            let id = self.experiment_id(experiment);
            let traces = id.as_ref().map(|id| self.search(id, "")).unwrap_or_default();
            if done(&traces) || Instant::now() > deadline {
                return (id, traces);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn search(&self, experiment_id: &str, filter: &str) -> Vec<Value> {
        let mut traces = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut body = json!({
                "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
                "filter": filter, "max_results": 500, "order_by": ["timestamp_ms ASC"],
            });
            if let Some(token) = &page_token {
                body["page_token"] = json!(token);
            }
            let (status, page) = self.call("POST", "/api/3.0/mlflow/traces/search", Some(body));
            assert_eq!(status, 200, "search {filter}: {page}");
            traces.extend(page["traces"].as_array().cloned().unwrap_or_default());
            match page["next_page_token"].as_str() {
                Some(token) if !token.is_empty() => page_token = Some(token.into()),
                _ => return traces,
            }
        }
    }

    /// The runs of an experiment (run info and data, as runs/search gives them).
    pub fn runs(&self, experiment_id: &str) -> Vec<Value> {
        let (status, body) = self.call(
            "POST",
            "/api/2.0/mlflow/runs/search",
            Some(json!({"experiment_ids": [experiment_id], "max_results": 100})),
        );
        assert_eq!(status, 200, "{body}");
        body["runs"].as_array().cloned().unwrap_or_default()
    }

    /// The run's metric keys (latest values), from runs/get.
    pub fn metric_keys(&self, run_id: &str) -> Vec<String> {
        let (status, body) = self.call("GET", &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), None);
        assert_eq!(status, 200, "{body}");
        let metrics = body["run"]["data"]["metrics"].as_array().cloned().unwrap_or_default();
        metrics.iter().map(|m| m["key"].as_str().unwrap().to_string()).collect()
    }

    /// Every logged value of a metric, in step order.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Vec<Value> {
        let (status, body) = self.call(
            "GET",
            &format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={key}&max_results=25000"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let mut values = body["metrics"].as_array().cloned().unwrap_or_default();
        values.sort_by_key(|m| m["step"].as_u64());
        values
    }

    /// The sum of a metric's history.
    pub fn metric_sum(&self, run_id: &str, key: &str) -> f64 {
        self.metric_history(run_id, key).iter().map(|m| m["value"].as_f64().unwrap()).sum()
    }

    /// The release the server reports (`/version`), e.g. "3.17.2".
    pub fn version(&self) -> String {
        let (status, body) = self.call("GET", "/version", None);
        assert_eq!(status, 200, "GET /version: {body}");
        body.as_str().unwrap_or_else(|| panic!("/version is not plain text: {body}")).trim().to_string()
    }

    /// `version()` as numbers, to compare releases.
    pub fn release(&self) -> (u32, u32, u32) {
        dotted_version(&self.version())
    }

    /// One trace with its spans; span attributes are turned into plain JSON values. (`batchGet`:
    /// every release from 3.6 has it; `traces/get` came in 3.7.)
    pub fn trace(&self, trace_id: &str) -> Trace {
        let found = self.trace_record(trace_id);
        let info = found["trace_info"].clone();
        let spans = found["spans"].as_array().unwrap().iter().map(Span::from_otlp_json).collect();
        Trace { info, spans }
    }

    /// One trace as MLflow returns it (info and spans, attributes as stored): what a test searches
    /// whole for text that must not be there.
    pub fn trace_record(&self, trace_id: &str) -> Value {
        let (status, body) = self.call("GET", &format!("/api/3.0/mlflow/traces/batchGet?trace_ids={trace_id}"), None);
        assert_eq!(status, 200, "get {trace_id}: {body}");
        let found = body["traces"][0].clone();
        assert!(found.is_object(), "no trace {trace_id}: {body}");
        found
    }
}

/// The sum of one number in the traces' metadata, where MLflow keeps it as JSON text
/// (`mlflow.trace.tokenUsage`'s `total_tokens`, `mlflow.trace.cost`'s `total_cost`).
pub fn metadata_sum(traces: &[Value], key: &str, field: &str) -> f64 {
    traces
        .iter()
        .filter_map(|t| t["trace_metadata"][key].as_str())
        .map(|json| serde_json::from_str::<Value>(json).unwrap()[field].as_f64().unwrap())
        .sum()
}

pub struct Trace {
    pub info: Value,
    pub spans: Vec<Span>,
}

impl Trace {
    pub fn root(&self) -> &Span {
        let roots: Vec<&Span> = self.spans.iter().filter(|s| s.parent_id.is_none()).collect();
        assert_eq!(roots.len(), 1, "exactly one root span expected: {:?}", self.span_names());
        roots[0]
    }

    pub fn span_names(&self) -> Vec<String> {
        self.spans.iter().map(|s| s.name.clone()).collect()
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.info["tags"][key].as_str()
    }

    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.info["trace_metadata"][key].as_str()
    }

    /// A JSON object kept as text in the trace metadata (`mlflow.trace.tokenUsage`, `mlflow.trace.cost`).
    pub fn metadata_json(&self, key: &str) -> Option<Value> {
        self.metadata(key).map(|text| serde_json::from_str(text).unwrap())
    }
}

#[derive(Debug, Clone)]
pub struct Span {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: serde_json::Map<String, Value>,
    pub status_code: String,
    pub status_message: String,
    /// The span's events: (name, attributes).
    pub events: Vec<(String, serde_json::Map<String, Value>)>,
}

fn number(v: &Value) -> u64 {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(0)
}

/// An OTLP `AnyValue` in JSON form as a plain JSON value.
fn any_value(v: &Value) -> Value {
    if let Some(s) = v.get("string_value") {
        return s.clone();
    }
    if let Some(n) = v.get("int_value") {
        return json!(n.as_i64().or_else(|| n.as_str().and_then(|s| s.parse().ok())));
    }
    if let Some(n) = v.get("double_value") {
        return n.clone();
    }
    if let Some(b) = v.get("bool_value") {
        return b.clone();
    }
    if let Some(kv) = v.get("kvlist_value") {
        let entries = kv["values"].as_array().cloned().unwrap_or_default();
        return Value::Object(
            entries.iter().map(|e| (e["key"].as_str().unwrap().to_string(), any_value(&e["value"]))).collect(),
        );
    }
    if let Some(arr) = v.get("array_value") {
        return Value::Array(arr["values"].as_array().cloned().unwrap_or_default().iter().map(any_value).collect());
    }
    Value::Null
}

/// OTLP JSON `attributes` (a list of key and any-value) as a plain JSON object.
fn attributes(list: &Value) -> serde_json::Map<String, Value> {
    list.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|kv| (kv["key"].as_str().unwrap().to_string(), any_value(&kv["value"])))
        .collect()
}

impl Span {
    fn from_otlp_json(s: &Value) -> Span {
        let events = s["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| (e["name"].as_str().unwrap_or_default().to_string(), attributes(&e["attributes"])))
            .collect();
        Span {
            id: s["span_id"].as_str().unwrap_or_default().to_string(),
            parent_id: s["parent_span_id"].as_str().filter(|p| !p.is_empty()).map(str::to_string),
            name: s["name"].as_str().unwrap_or_default().to_string(),
            start_ns: number(&s["start_time_unix_nano"]),
            end_ns: number(&s["end_time_unix_nano"]),
            attributes: attributes(&s["attributes"]),
            status_code: s["status"]["code"].as_str().unwrap_or_default().to_string(),
            status_message: s["status"]["message"].as_str().unwrap_or_default().to_string(),
            events,
        }
    }

    /// The (`exception.type`, `exception.message`) of the span's `exception` event, if any: what
    /// MLflow's UI shows as the span's error.
    pub fn exception(&self) -> Option<(&str, &str)> {
        let (_, a) = self.events.iter().find(|(name, _)| name == "exception")?;
        Some((a.get("exception.type")?.as_str()?, a.get("exception.message")?.as_str()?))
    }

    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }

    pub fn start_ms(&self) -> u64 {
        self.start_ns / 1_000_000
    }

    pub fn end_ms(&self) -> u64 {
        self.end_ns / 1_000_000
    }
}

/// MLflow configuration for a test: `extra` is spliced into the `diagnostics.mlflow` object.
pub fn mlflow_config(mlflow: &Mlflow, experiment_name: &str, extra: &str) -> String {
    format!(
        "{{\n  // written by a test\n  diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{}\", experimentName: \"{experiment_name}\", flushIntervalMs: 200, {extra} }}, }},\n}}\n",
        mlflow.uri
    )
}

/// An MLflow server of a test's own (the shared one must not be stopped under the other tests):
/// started, stopped and started again on the same port and SQLite database.
pub struct DedicatedMlflow {
    pub uri: String,
    port: u16,
    dir: PathBuf,
    setup: ServerSetup,
    child: Option<std::process::Child>,
}

/// How a dedicated server is started.
#[derive(Clone, Debug)]
pub struct ServerSetup {
    pub backend: Backend,
    pub workers: u16,
    /// MLflow's default model catalog (fetched from the internet) instead of its bundled one.
    pub remote_catalog: bool,
    /// Multi-tenant: `--enable-workspaces`.
    pub workspaces: bool,
    /// MLflow's authentication app (`--app-name basic-auth`), its admin `admin` with
    /// `ADMIN_PASSWORD`, new users READ on every experiment (its default).
    pub basic_auth: bool,
}

impl Default for ServerSetup {
    fn default() -> ServerSetup {
        ServerSetup {
            backend: Backend::Sqlite,
            workers: 1,
            remote_catalog: false,
            workspaces: false,
            basic_auth: false,
        }
    }
}

/// The password of a basic-auth server's admin (`ServerSetup::basic_auth`).
pub const ADMIN_PASSWORD: &str = "admin-password-1234";

/// The virtualenv whose MLflow the tests' own servers run: the one `scripts/with-mlflow.sh` started
/// (`MLFLOW_TEST_VENV`), else `.venv` (the newest release).
pub fn mlflow_venv() -> PathBuf {
    std::env::var_os("MLFLOW_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| workspace_root().join(".venv"))
}

/// Where a dedicated server keeps runs and traces.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// A SQLite file of its own.
    Sqlite,
    /// A file store (which MLflow 3.17 starts only when told to): it runs, but cannot hold traces.
    FileStore,
    /// A PostgreSQL database (`postgresql://...`).
    Postgres(String),
}

impl DedicatedMlflow {
    pub fn start() -> DedicatedMlflow {
        DedicatedMlflow::start_on(Backend::Sqlite, 1, false)
    }

    pub fn start_file_store() -> DedicatedMlflow {
        DedicatedMlflow::start_on(Backend::FileStore, 1, false)
    }

    /// A server left with MLflow's default MLFLOW_MODEL_CATALOG_URI (on this offline machine, each
    /// new provider's catalog is fetched, retried and given up on while the request waits).
    pub fn start_with_remote_catalog() -> DedicatedMlflow {
        DedicatedMlflow::start_on(Backend::Sqlite, 1, true)
    }

    /// A server on `backend` with `workers` worker processes.
    pub fn start_on(backend: Backend, workers: u16, remote_catalog: bool) -> DedicatedMlflow {
        DedicatedMlflow::start_with(ServerSetup { backend, workers, remote_catalog, ..ServerSetup::default() })
    }

    pub fn start_with(setup: ServerSetup) -> DedicatedMlflow {
        let port = free_port();
        let dir = scratch_dir("dedicated-mlflow");
        let uri = format!("http://127.0.0.1:{port}");
        let mut server = DedicatedMlflow { uri, port, dir, setup, child: None };
        server.start_again();
        server
    }

    /// A client of this server: as its admin on a basic-auth server.
    pub fn client(&self) -> Mlflow {
        let client = Mlflow::from_uri(&self.uri);
        match self.setup.basic_auth {
            true => client.as_user("admin", ADMIN_PASSWORD),
            false => client,
        }
    }

    /// Starts the server (again) on the same port and database, and waits for /health.
    pub fn start_again(&mut self) {
        use std::os::unix::process::CommandExt;
        let mlflow = mlflow_venv().join("bin/mlflow");
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let store = match &self.setup.backend {
            Backend::FileStore => format!("file://{}", self.dir.join("mlruns").display()),
            Backend::Sqlite => format!("sqlite:///{}", self.dir.join("mlflow.db").display()),
            Backend::Postgres(url) => url.clone(),
        };
        let mut command = Command::new(mlflow);
        command.env("MLFLOW_ALLOW_FILE_STORE", if self.setup.backend == Backend::FileStore { "true" } else { "false" });
        // After `server` and its own options.
        let mut options: Vec<&str> = Vec::new();
        if self.setup.workspaces {
            options.push("--enable-workspaces");
        }
        if self.setup.basic_auth {
            let config = self.dir.join("basic_auth.ini");
            let users = self.dir.join("users.db");
            let ini = format!(
                "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{}\nadmin_username = admin\n\
                 authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
                users.display()
            );
            std::fs::write(&config, ini).unwrap();
            options.extend(["--app-name", "basic-auth"]);
            command.env("MLFLOW_AUTH_CONFIG_PATH", config).env("MLFLOW_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD);
            command.env("MLFLOW_FLASK_SERVER_SECRET_KEY", "test-run-only");
        }
        if self.setup.remote_catalog {
            command.env_remove("MLFLOW_MODEL_CATALOG_URI");
        } else {
            command.env("MLFLOW_MODEL_CATALOG_URI", "");
        }
        let child = command
            .args(["server", "--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--workers", &self.setup.workers.to_string()])
            .arg("--backend-store-uri")
            .arg(store)
            .arg("--default-artifact-root")
            .arg(self.dir.join("artifacts"))
            .args(options)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {} (make venv): {e}", mlflow_venv().display()));
        self.child = Some(child);
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        while std::time::Instant::now() < deadline {
            if agent.get(format!("{}/health", self.uri)).call().is_ok_and(|r| r.status() == 200) {
                return;
            }
            // A server that exited will not answer: say why now rather than at the deadline.
            if self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        panic!(
            "dedicated MLflow did not start: {}",
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// The worker processes serving requests (uvicorn's, started by its supervisor), by pid.
    pub fn worker_pids(&self) -> Vec<u32> {
        let Some(child) = &self.child else { return Vec::new() };
        let mut found = Vec::new();
        let mut parents = vec![child.id()];
        while let Some(parent) = parents.pop() {
            for pid in children_of(parent) {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains("spawn_main") {
                    found.push(pid);
                }
                parents.push(pid);
            }
        }
        found.sort();
        found
    }

    /// Stops the server and its workers (the whole process group).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
        }
    }
}

/// The pids whose parent is `parent` (from /proc).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(parent)
        })
        .collect()
}

impl Drop for DedicatedMlflow {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---- recordings in OpenClaw's hooks.jsonl format (what `openclaw-host replay` reads) ----

/// One agent run in OpenClaw's recording format (what `openclaw-host replay` reads).
pub fn openclaw_run(run_id: &str, session_key: &str, t0: u64, prompt: &str, ends: bool) -> Vec<Value> {
    let usage = json!({"input": 10, "output": 5, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 15});
    openclaw_model_run(run_id, session_key, t0, prompt, ends, ("openai", "gpt-5-mini"), usage)
}

/// One agent run with one call to `provider/model` whose assistant message carries `usage`
/// (OpenClaw's `message.usage` object, as the host would report it).
pub fn openclaw_model_run(
    run_id: &str,
    session_key: &str,
    t0: u64,
    prompt: &str,
    ends: bool,
    (provider, model): (&str, &str),
    usage: Value,
) -> Vec<Value> {
    let ctx =
        json!({"runId": run_id, "agentId": "main", "sessionKey": session_key, "sessionId": format!("sid-{run_id}")});
    let call = json!({"runId": run_id, "callId": format!("{run_id}:model:1"), "sessionKey": session_key, "provider": provider, "model": model});
    let mut ended = call.clone();
    ended["durationMs"] = json!(40);
    ended["outcome"] = json!("completed");
    let answer = json!({"role": "assistant", "content": [{"type": "text", "text": "Hello!"}], "usage": usage});
    let mut lines = vec![
        json!({"hook": "before_agent_reply", "ts": t0, "event": {"cleanedBody": prompt}, "ctx": ctx}),
        json!({"hook": "model_call_started", "ts": t0 + 5, "event": call, "ctx": ctx}),
        json!({"hook": "model_call_ended", "ts": t0 + 45, "event": ended, "ctx": ctx}),
        json!({"hook": "before_message_write", "ts": t0 + 46, "event": {"message": answer}, "ctx": {"agentId": "main", "sessionKey": session_key}}),
    ];
    if ends {
        lines.push(json!({"hook": "agent_end", "ts": t0 + 50, "event": {"success": true, "durationMs": 50, "messages": [answer]}, "ctx": ctx}));
    }
    lines
}

pub fn write_recording(runs: &[Vec<Value>]) -> std::path::PathBuf {
    let path = scratch_dir("recording").join("hooks.jsonl");
    let text: String = runs.iter().flatten().map(|l| l.to_string() + "\n").collect();
    std::fs::write(&path, text).unwrap();
    path
}

pub use openclaw_plugin_api::now_ms;
