//! The real OpenClaw gateway for tests: a fresh state directory, the project's mock model as its
//! provider, the package built by `make package` installed with `openclaw plugins install`, and
//! helpers to run one-shot turns, start the gateway, send it turns and stop it.
//!
//! `make test` installs Node 24 and `openclaw@2026.9.6` into `.cache/` and exports where they are
//! (`OPENCLAW_TEST_NODE`, `OPENCLAW_TEST_BIN`); without them these tests fail, saying so.

use crate::{free_port, scratch_dir, workspace_root};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const GATEWAY_TOKEN: &str = "test-gateway-token";

pub(crate) fn required(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: these tests need Node 24 and OpenClaw, which `make test` installs into .cache/ and exports")
    });
    assert!(path.exists(), "{var}={} does not exist: run `make gateway`", path.display());
    path
}

/// The project's OpenAI-compatible mock model (tests/mock-model/mock_model.py), on a free port.
pub struct MockModel {
    child: Child,
    pub port: u16,
}

impl MockModel {
    // The child is killed and waited for in `Drop`.
    #[allow(clippy::zombie_processes)]
    pub fn start() -> MockModel {
        let dir = scratch_dir("mock-model");
        let port_file = dir.join("port");
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/mock-model/mock_model.py"))
            .arg(&port_file)
            .stdout(Stdio::null())
            .spawn()
            .expect("start python3 tests/mock-model/mock_model.py");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()) {
                return MockModel { child, port };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the mock model did not start");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `openclaw` command did.
pub struct Ran {
    pub status: ExitStatus,
    /// stdout and stderr together, as an operator sees them.
    pub output: String,
}

impl Ran {
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(self.status.success(), "{what} failed ({}):\n{}", self.status, self.output);
        self
    }
}

/// One OpenClaw installation: its state directory and configuration, and the mock model it uses.
pub struct OpenClaw {
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
    node_dir: PathBuf,
    bin: PathBuf,
    pub mock: MockModel,
}

impl OpenClaw {
    /// A fresh state directory with a workspace holding hello.txt and a configuration whose only
    /// model is the mock.
    pub fn fresh() -> OpenClaw {
        OpenClaw::fresh_release(required("OPENCLAW_TEST_BIN"))
    }

    /// The same, with the `openclaw` at `bin` (another release) on the tests' Node.
    pub fn fresh_release(bin: PathBuf) -> OpenClaw {
        let node = required("OPENCLAW_TEST_NODE");
        let mock = MockModel::start();
        let state_dir = scratch_dir("openclaw-state");
        let workspace = state_dir.join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::write(workspace.join("hello.txt"), "Hello from the test workspace. The secret word is PAPAYA.\n")
            .unwrap();
        let config_path = state_dir.join("openclaw.json");
        let config = json!({
            "models": {"mode": "merge", "providers": {"mock": {
                "baseUrl": format!("http://127.0.0.1:{}/v1", mock.port), "apiKey": "mock-key", "api": "openai-completions",
                "models": [{"id": "mock-model", "name": "Mock", "reasoning": false, "input": ["text"],
                            "cost": {"input": 1, "output": 2, "cacheRead": 0.1, "cacheWrite": 1.25},
                            "contextWindow": 128000, "maxTokens": 4096}]}}},
            "agents": {"defaults": {"model": {"primary": "mock/mock-model"}, "workspace": workspace}},
            "gateway": {"mode": "local", "auth": {"mode": "token", "token": GATEWAY_TOKEN}},
        });
        std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        OpenClaw { state_dir, config_path, node_dir: node.parent().unwrap().to_path_buf(), bin, mock }
    }

    /// `openclaw <args>` with this installation's state and configuration (and nothing of the
    /// machine's own: HOME is the state directory, MLflow variables are unset).
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(&self.bin, args)
    }

    /// `program <args>` (a script calling `openclaw` and `node`) with this installation's environment,
    /// `openclaw` and `node` on its PATH.
    pub fn program(&self, program: &Path, args: &[&str]) -> Command {
        self.command_of(program, args)
    }

    fn command_of(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        let bin_dir = self.bin.parent().unwrap();
        let path =
            format!("{}:{}:{}", self.node_dir.display(), bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        cmd.args(args)
            .env("PATH", path)
            .env("HOME", &self.state_dir)
            .env("OPENCLAW_STATE_DIR", &self.state_dir)
            .env("OPENCLAW_CONFIG_PATH", &self.config_path)
            .env("OPENCLAW_GATEWAY_TOKEN", GATEWAY_TOKEN)
            .env("NO_COLOR", "1")
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_EXPERIMENT_NAME")
            .env_remove("MLFLOW_EXPERIMENT_ID")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        cmd
    }

    /// Runs `openclaw <args>` to its end (at most `timeout`), output captured.
    pub fn run(&self, args: &[&str], env: &[(&str, String)], timeout: Duration) -> Ran {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        run_to_end(cmd, &format!("openclaw {args:?}"), timeout)
    }

    /// Runs `program <args>` (see [`OpenClaw::program`]) to its end, output captured.
    pub fn run_program(&self, program: &Path, args: &[&str], timeout: Duration) -> Ran {
        run_to_end(self.program(program, args), &format!("{} {args:?}", program.display()), timeout)
    }

    /// `openclaw plugins install` of what `make package` built: the folder `dist/openclaw-mlflow`, or
    /// the packed `dist/openclaw-mlflow-<version>.tgz` as `npm-pack:<file>`.
    pub fn install_package(&self, form: Package) {
        self.try_install_package(form).assert_success("openclaw plugins install");
    }

    /// The same, as it went (a release below the package's floor refuses it).
    pub fn try_install_package(&self, form: Package) -> Ran {
        let dist = workspace_root().join("dist");
        let folder = dist.join("openclaw-mlflow");
        assert!(folder.join("openclaw.plugin.json").exists(), "{} is missing: run `make package`", folder.display());
        let spec = match form {
            Package::Folder => folder.to_string_lossy().to_string(),
            Package::Packed => {
                // make package leaves exactly one, named after the package's version.
                let tgz = std::fs::read_dir(&dist)
                    .unwrap()
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| {
                        p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("openclaw-mlflow-"))
                            && p.extension().is_some_and(|x| x == "tgz")
                    })
                    .unwrap_or_else(|| {
                        panic!("no openclaw-mlflow-<version>.tgz in {}: run `make package`", dist.display())
                    });
                format!("npm-pack:{}", tgz.display())
            }
        };
        let mut args = vec!["plugins", "install", &spec, "--force"];
        args.extend(self.consent_flag());
        self.run(&args, &[], Duration::from_secs(120))
    }

    /// `--accept-capabilities` where the release asks for capability consent (from 2026.8.1; 2026.7
    /// refuses the option as unknown), read from its own `plugins install --help`.
    pub fn consent_flag(&self) -> Option<&'static str> {
        // Asked once per release (its `openclaw`) in a test process.
        static ASKS_CONSENT: std::sync::Mutex<Vec<(PathBuf, bool)>> = std::sync::Mutex::new(Vec::new());
        let known = ASKS_CONSENT.lock().unwrap().iter().find(|(bin, _)| *bin == self.bin).map(|(_, asks)| *asks);
        let asks = known.unwrap_or_else(|| {
            let help = self.run(&["plugins", "install", "--help"], &[], Duration::from_secs(60));
            help.assert_success("openclaw plugins install --help");
            let asks = help.output.contains("--accept-capabilities");
            ASKS_CONSENT.lock().unwrap().push((self.bin.clone(), asks));
            asks
        });
        asks.then_some("--accept-capabilities")
    }

    /// The release this installation runs (`openclaw --version`: "OpenClaw 2026.9.6 (hash)").
    pub fn release(&self) -> (u32, u32, u32) {
        let ran = self.run(&["--version"], &[], Duration::from_secs(60));
        ran.assert_success("openclaw --version");
        crate::dotted_version(ran.output.split_whitespace().find(|w| w.starts_with("20")).unwrap_or_default())
    }

    /// Sets `value` at the JSON pointer `at` in openclaw.json (plain JSON once OpenClaw wrote it).
    pub fn set(&self, at: &str, value: Value) {
        let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&self.config_path).unwrap()).unwrap();
        let mut node = &mut config;
        for key in at.trim_start_matches('/').split('/') {
            if node.get(key).is_none() {
                node[key] = json!({});
            }
            node = node.get_mut(key).unwrap();
        }
        *node = value;
        std::fs::write(&self.config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    }

    /// `openclaw agent --local`: one turn in this process, no gateway.
    pub fn local_turn(&self, session_key: &str, message: &str) -> Ran {
        let args = ["agent", "--local", "--agent", "main", "--session-key", session_key, "--message", message];
        self.run(&args, &[], Duration::from_secs(180))
    }

    /// `openclaw gateway run` on a free loopback port, returned once it says it is ready.
    pub fn start_gateway(&self) -> Gateway {
        let port = free_port();
        let log = scratch_dir("gateway").join("gateway.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .command(&["gateway", "run", "--port", &port.to_string(), "--bind", "loopback"])
            // A restart stays in this process, as under a supervisor that tracks the pid.
            .env("OPENCLAW_NO_RESPAWN", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start openclaw gateway run");
        let gateway = Gateway { child, port, log };
        gateway.wait_until_ready(1);
        gateway
    }

    /// A turn through the running gateway (`openclaw agent` without `--local`).
    pub fn gateway_turn(&self, gateway: &Gateway, session_key: &str, message: &str) -> Ran {
        let args = ["agent", "--agent", "main", "--session-key", session_key, "--message", message];
        self.run(&args, &[("OPENCLAW_GATEWAY_PORT", gateway.port.to_string())], Duration::from_secs(180))
    }

    /// The same, started in the background (for turns at once).
    pub fn spawn_gateway_turn(&self, gateway: &Gateway, session_key: &str, message: &str) -> Child {
        self.command(&["agent", "--agent", "main", "--session-key", session_key, "--message", message])
            .env("OPENCLAW_GATEWAY_PORT", gateway.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openclaw agent")
    }

    /// A webchat message through the gateway's `chat.send` RPC (the Control UI's path).
    pub fn webchat_send(&self, gateway: &Gateway, session_key: &str, message: &str, key: &str) -> Ran {
        let params = json!({"sessionKey": session_key, "message": message, "idempotencyKey": key}).to_string();
        let args = ["gateway", "call", "chat.send", "--params", &params, "--json"];
        self.run(&args, &[("OPENCLAW_GATEWAY_PORT", gateway.port.to_string())], Duration::from_secs(60))
    }
}

/// The two forms `make package` builds, both installable with `openclaw plugins install`.
#[derive(Clone, Copy)]
pub enum Package {
    Folder,
    Packed,
}

pub struct Gateway {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Gateway {
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the gateway has said it is ready `times` times in all (a restart in place says
    /// it again).
    pub fn wait_until_ready(&self, times: usize) {
        let ready = |output: &str| {
            output.lines().filter(|l| l.contains("[gateway]") && l.trim_end().ends_with("ready")).count() >= times
        };
        self.wait_for_output(ready, Duration::from_secs(120), &format!("the gateway did not get ready ({times})"));
    }

    /// Waits until the gateway's output so far satisfies `done`; fails with `what` and the output
    /// after `timeout`.
    pub fn wait_for_output(&self, done: impl Fn(&str) -> bool, timeout: Duration, what: &str) {
        let deadline = Instant::now() + timeout;
        while !done(&self.output()) {
            assert!(Instant::now() < deadline, "{what}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name `kill` knows, e.g. "USR2") to the gateway.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} {}", self.child.id());
    }

    /// Still running (not exited).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, as a service manager stops it; waits for the exit, which must be clean: exit
    /// status 0, or SIGTERM's own default action. Any other signal (SIGABRT, SIGSEGV: a panic across
    /// `extern "C"`, a crashed plugin) or status fails the test.
    pub fn stop(&mut self, timeout: Duration) {
        let status = self.terminate(timeout);
        let by_sigterm = std::os::unix::process::ExitStatusExt::signal(&status) == Some(15);
        assert!(status.success() || by_sigterm, "the gateway's exit after SIGTERM: {status}\n{}", self.output());
    }

    /// SIGTERM, as a service manager stops it; waits for the exit.
    fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        crate::wait_within(&mut self.child, timeout)
            .unwrap_or_else(|| panic!("the gateway did not exit within {timeout:?} of SIGTERM:\n{}", self.output()))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to its end (at most `timeout`), stdout and stderr together.
fn run_to_end(mut cmd: Command, what: &str, timeout: Duration) -> Ran {
    let log = scratch_dir("openclaw-run").join("output.log");
    let file = std::fs::File::create(&log).unwrap();
    cmd.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = crate::wait_within(&mut child, timeout).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("{what} did not end within {timeout:?}:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
    });
    Ran { status, output: std::fs::read_to_string(&log).unwrap_or_default() }
}

/// Lines of `output` that mention MLflow, as `grep -i mlflow` shows them.
pub fn mlflow_lines(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.to_ascii_lowercase().contains("mlflow")).collect()
}

pub fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
