//! A real OpenTelemetry Collector of a test's own: the distribution `make collector` builds
//! (`collector/main.go`, pinned, in `.cache/`), started on the guide's configuration file as it is.
//! Only what a test on a shared machine must change is given beside it, as the Collector's own
//! `--config yaml:` overrides: loopback addresses on free ports and its own telemetry off.

use crate::{free_port, scratch_dir, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The release `make collector` builds (the core modules' version).
pub const COLLECTOR_RELEASE: &str = "0.165.0";

/// The guide's Collector configuration, the file the tests load.
pub fn guide_config() -> PathBuf {
    workspace_root().join("deploy/kubernetes/otel-collector-config.yaml")
}

/// The built Collector (`make collector`); `OPENCLAW_TEST_COLLECTOR` points elsewhere.
pub fn collector_binary() -> PathBuf {
    let path = std::env::var_os("OPENCLAW_TEST_COLLECTOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(format!(".cache/otelcol-{COLLECTOR_RELEASE}/otelcol-openclaw")));
    assert!(path.exists(), "{} is missing: run `make collector` (make test does)", path.display());
    path
}

/// `otelcol validate` on `config` with `env`: the Collector's own verdict, without starting it.
pub fn validate(config: &Path, env: &[(&str, String)]) -> Output {
    Command::new(collector_binary())
        .args(["validate", "--config"])
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// What the guide's configuration reads from the environment, for one test's Collector.
pub struct CollectorEnv {
    pub mlflow_uri: String,
    pub experiment_id: String,
    /// The second traces backend's OTLP/HTTP base URL.
    pub backend: String,
    /// The metrics backend's OTLP/HTTP base URL.
    pub metrics: String,
}

pub struct Collector {
    /// Where gateways send: the OTLP/HTTP receiver's base URL.
    pub endpoint: String,
    receiver_port: u16,
    health_port: u16,
    /// The directory of the file_storage extension: the sending queues, kept across restarts.
    pub queue_dir: PathBuf,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    starts: u32,
}

impl Collector {
    /// The guide's Collector, started and healthy.
    pub fn start(env: CollectorEnv) -> Collector {
        let mut collector = Collector::configured(env);
        collector.start_again();
        collector
    }

    /// Configured, with its ports chosen, not started: for a gateway that starts before it.
    pub fn configured(env: CollectorEnv) -> Collector {
        let dir = scratch_dir("collector");
        let queue_dir = dir.join("queue");
        let env = vec![
            ("MLFLOW_TRACKING_URI".to_string(), env.mlflow_uri),
            ("MLFLOW_EXPERIMENT_ID".to_string(), env.experiment_id),
            ("OTLP_BACKEND_ENDPOINT".to_string(), env.backend),
            ("OTLP_METRICS_ENDPOINT".to_string(), env.metrics),
            ("COLLECTOR_QUEUE_DIR".to_string(), queue_dir.display().to_string()),
        ];
        let receiver_port = free_port();
        Collector {
            endpoint: format!("http://127.0.0.1:{receiver_port}"),
            receiver_port,
            health_port: free_port(),
            queue_dir,
            dir,
            env,
            child: None,
            starts: 0,
        }
    }

    /// Starts it (again) on the same ports and queue directory, and waits until its health check
    /// says it is ready.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the Collector is already running");
        self.starts += 1;
        let log = std::fs::File::create(self.dir.join(format!("collector-{}.log", self.starts))).unwrap();
        let overrides = [
            format!("yaml:receivers::otlp::protocols::http::endpoint: 127.0.0.1:{}", self.receiver_port),
            format!("yaml:extensions::health_check::endpoint: 127.0.0.1:{}", self.health_port),
            // Its own metrics would listen on one fixed port (8888) in every Collector.
            "yaml:service::telemetry::metrics::level: none".to_string(),
        ];
        let mut command = Command::new(collector_binary());
        command.arg("--config").arg(guide_config());
        for o in &overrides {
            command.args(["--config", o]);
        }
        let child = command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let health = format!("http://127.0.0.1:{}/", self.health_port);
            if agent.get(&health).call().is_ok_and(|r| r.status() == 200) {
                return;
            }
            if self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the Collector did not become ready:\n{}", self.log());
    }

    /// SIGKILL: no shutdown, no flush; what it holds is only what its queue put on disk.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = crate::wait_within(&mut child, Duration::from_secs(30));
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything it logged, every start.
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.dir.join(format!("collector-{n}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---- restarted ----\n")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Jaeger v2 (`make collector` builds it; `OPENCLAW_TEST_JAEGER` points elsewhere): the second
/// backend behind the Collector, its traces in memory, read back through its query API.
pub struct Jaeger {
    /// Its OTLP/HTTP receiver's base URL (the Collector's `OTLP_BACKEND_ENDPOINT`).
    pub otlp: String,
    query: String,
    dir: PathBuf,
    child: Child,
}

pub const JAEGER_RELEASE: &str = "1.75.0";

impl Jaeger {
    pub fn start() -> Jaeger {
        let binary = std::env::var_os("OPENCLAW_TEST_JAEGER")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join(format!(".cache/jaeger-{JAEGER_RELEASE}/jaeger")));
        assert!(binary.exists(), "{} is missing: run `make collector` (make test does)", binary.display());
        let dir = scratch_dir("jaeger");
        let (otlp_port, query_port, grpc_port) = (free_port(), free_port(), free_port());
        let log = std::fs::File::create(dir.join("jaeger.log")).unwrap();
        let child = Command::new(binary)
            .arg("--config")
            .arg(crate::fixture("jaeger.yaml"))
            .env("JAEGER_OTLP_PORT", otlp_port.to_string())
            .env("JAEGER_QUERY_PORT", query_port.to_string())
            .env("JAEGER_QUERY_GRPC_PORT", grpc_port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut jaeger = Jaeger {
            otlp: format!("http://127.0.0.1:{otlp_port}"),
            query: format!("http://127.0.0.1:{query_port}"),
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while jaeger.get("/api/services").is_none() {
            let exited = matches!(jaeger.child.try_wait(), Ok(Some(_)));
            assert!(!exited && Instant::now() < deadline, "Jaeger did not start:\n{}", jaeger.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        jaeger
    }

    fn get(&self, path: &str) -> Option<serde_json::Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut reply = agent.get(format!("{}{path}", self.query)).call().ok()?;
        (reply.status() == 200).then(|| reply.body_mut().read_json().ok()).flatten()
    }

    /// The spans of one trace (`trace_id` in hex), each as Jaeger's query API gives it (operation
    /// name, tags), once it has `spans` of them or after `within`.
    pub fn spans(&self, trace_id: &str, spans: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let found = self
                .get(&format!("/api/traces/{trace_id}"))
                .and_then(|body| body["data"][0]["spans"].as_array().cloned())
                .unwrap_or_default();
            if found.len() >= spans || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("jaeger.log")).unwrap_or_default()
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
