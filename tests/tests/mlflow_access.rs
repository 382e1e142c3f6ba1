//! MLflow as organisations deploy it, against real servers: workspaces (a multi-tenant server,
//! `--enable-workspaces`), where each gateway's traces land in its own workspace and nowhere else,
//! and MLflow's authentication app (`--app-name basic-auth`), where a user with EDIT on the
//! experiment delivers and a read-only one is told once, by the log and by the doctor, while its
//! traces wait in the spool until the permission is granted.

use openclaw_plugin_tests::doctor::{assert_fails_at, check, doctor, gateway_config};
use openclaw_plugin_tests::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SUBAGENT_SESSION: &str = "metadata.`mlflow.trace.session` = 'agent:main:subagent-demo'";

fn replay_fixture(config: &str, env: &[(&str, &str)]) -> HostRun {
    replay(&real_recording(), config, &[], env)
}

fn create_workspace(admin: &Mlflow, name: &str) {
    let (status, body) = admin.call("POST", "/api/3.0/mlflow/workspaces", Some(json!({ "name": name })));
    assert_eq!(status, 201, "create workspace {name}: {body}");
}

#[test]
fn traces_land_in_the_configured_workspace_and_nowhere_else() {
    let server = DedicatedMlflow::start_with(ServerSetup { workspaces: true, ..ServerSetup::default() });
    let admin = server.client();
    create_workspace(&admin, "team-a");
    create_workspace(&admin, "team-b");
    let name = unique("tenant");
    let client = Mlflow::from_uri(&server.uri);

    // One gateway names its workspace in the file, another through MLFLOW_WORKSPACE; the same
    // turns, the same experiment name.
    let a = replay_fixture(&mlflow_config(&client, &name, "workspace: \"team-a\""), &[]);
    a.assert_success();
    let b = replay_fixture(&mlflow_config(&client, &name, ""), &[("MLFLOW_WORKSPACE", "team-b")]);
    b.assert_success();
    assert_eq!(a.stats("mlflow")["exported"], 6, "{}", a.stderr);
    assert_eq!(b.stats("mlflow")["exported"], 6, "{}", b.stderr);

    let mut trace_ids = Vec::new();
    for workspace in ["team-a", "team-b"] {
        let tenant = admin.in_workspace(workspace);
        let experiment = tenant.experiment_id(&name).unwrap_or_else(|| panic!("no experiment in {workspace}"));
        assert_eq!(tenant.experiment(&experiment)["workspace"], workspace);
        let traces = tenant.search(&experiment, "");
        assert_eq!(traces.len(), 6, "{workspace}: each turn once");
        assert_eq!(tenant.search(&experiment, SUBAGENT_SESSION).len(), 2, "{workspace}: the Session filter");
        // The workspace's own run holds the metrics and links the traces.
        let runs = tenant.runs(&experiment);
        assert_eq!(runs.len(), 1, "{workspace}: {runs:#?}");
        let run_id = runs[0]["info"]["run_id"].as_str().unwrap();
        assert_eq!(tenant.search(&experiment, &format!("trace.run_id = '{run_id}'")).len(), 6, "{workspace}");
        assert!(tenant.metric_keys(run_id).contains(&"tokens.total".to_string()), "{workspace}: the run's metrics");
        trace_ids.extend(traces.iter().map(|t| t["trace_id"].as_str().unwrap().to_string()));
    }
    // Two workspaces, two traces per turn (trace ids are unique server-wide).
    trace_ids.sort();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 12);
    // Nothing in the default workspace.
    assert_eq!(admin.experiment_id(&name), None, "the default workspace has no experiment {name}");
}

#[test]
fn the_doctor_checks_the_workspace_and_passes_in_one_that_exists() {
    let server = DedicatedMlflow::start_with(ServerSetup { workspaces: true, ..ServerSetup::default() });
    let admin = server.client();
    create_workspace(&admin, "team-a");
    let name = unique("tenant-doctor");

    let (code, report) = doctor(&gateway_config(&server.uri, &name, "workspace: \"team-a\""));
    assert_eq!(code, 0, "{report:#}");
    assert!(check(&report, "workspace")["detail"].as_str().unwrap().contains("\"team-a\" exists"), "{report:#}");
    let experiment = admin.in_workspace("team-a").experiment_id(&name).expect("the test trace's experiment");
    assert_eq!(admin.in_workspace("team-a").search(&experiment, "").len(), 2, "the doctor's two test turns");
    assert_eq!(admin.experiment_id(&name), None, "nothing in the default workspace");

    let (code, report) = doctor(&gateway_config(&server.uri, &name, "workspace: \"team-z\""));
    assert_fails_at(code, &report, "workspace", "create it");
}

/// A server without workspaces cannot keep a workspace's traces apart: the doctor fails naming what
/// to do, and the plugin sends nothing (its traces wait) rather than mixing them into the server's
/// one space.
#[test]
fn a_workspace_on_a_server_without_workspaces_is_refused_and_nothing_lands() {
    let mlflow = Mlflow::from_env();
    let name = unique("no-workspaces");
    let has_workspaces = mlflow.release() >= (3, 10, 0);
    let (code, report) = doctor(&gateway_config(&mlflow.uri, &name, "workspace: \"team-a\""));
    let fix = if has_workspaces { "--enable-workspaces" } else { "upgrade the MLflow server" };
    assert_fails_at(code, &report, "workspace", fix);

    let state = scratch_dir("no-workspaces");
    let run = replay_fixture(
        &mlflow_config(&mlflow, &name, "workspace: \"team-a\""),
        &[("OPENCLAW_STATE_DIR", state.to_str().unwrap())],
    );
    let said = if has_workspaces { "MLflow runs without workspaces" } else { "this MLflow server has no workspaces" };
    assert_eq!(run.stderr.matches(said).count(), 1, "said once: {}", run.stderr);
    assert_eq!(run.stats("mlflow")["exported"], 0);
    assert_eq!(mlflow.experiment_id(&name), None, "nothing created, nothing sent");
    assert!(spooled_bytes(&state) > 0, "the traces wait in the spool");
}

/// Bytes in the spool's segments under a gateway's state directory.
fn spooled_bytes(state: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path()),
                _ if e.file_name().to_string_lossy().ends_with(".seg") => e.metadata().map_or(0, |m| m.len()),
                _ => 0,
            })
            .sum()
    }
    walk(&state.join("mlflow/spool"))
}

const WRITER_PASSWORD: &str = "writer-password-1234";
const READER_PASSWORD: &str = "reader-password-1234";

/// A basic-auth server with the experiment, a `writer` (EDIT on it) and a `reader` (READ, the
/// server's default); returns the experiment's ID.
fn users_and_experiment(admin: &Mlflow, name: &str) -> String {
    for (user, password) in [("writer", WRITER_PASSWORD), ("reader", READER_PASSWORD)] {
        let (status, body) =
            admin.call("POST", "/api/2.0/mlflow/users/create", Some(json!({"username": user, "password": password})));
        assert_eq!(status, 200, "{body}");
    }
    let experiment = admin.create_experiment(name);
    grant(admin, "writer", &experiment, "EDIT");
    experiment
}

fn grant(admin: &Mlflow, user: &str, experiment: &str, permission: &str) {
    let body =
        json!({"username": user, "resource_type": "experiment", "resource_id": experiment, "permission": permission});
    let (status, answer) = admin.call("POST", "/api/3.0/mlflow/users/permissions/grant", Some(body));
    assert_eq!(status, 200, "{answer}");
}

fn credentials(user: &str, password: &str) -> String {
    format!("trackingUsername: \"{user}\", trackingPassword: \"{password}\"")
}

#[test]
fn a_user_with_edit_rights_delivers_through_the_authentication_app() {
    let server = DedicatedMlflow::start_with(ServerSetup { basic_auth: true, ..ServerSetup::default() });
    let admin = server.client();
    let name = unique("auth-writer");
    let experiment = users_and_experiment(&admin, &name);
    let client = Mlflow::from_uri(&server.uri);

    let run = replay_fixture(&mlflow_config(&client, &name, &credentials("writer", WRITER_PASSWORD)), &[]);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 6, "{}", run.stderr);
    assert_eq!(admin.search(&experiment, "").len(), 6);
    assert_eq!(admin.search(&experiment, SUBAGENT_SESSION).len(), 2);
    let runs = admin.runs(&experiment);
    assert_eq!(runs.len(), 1);
    let run_id = runs[0]["info"]["run_id"].as_str().unwrap();
    assert_eq!(admin.search(&experiment, &format!("trace.run_id = '{run_id}'")).len(), 6);

    let (code, report) = doctor(&gateway_config(&server.uri, &name, &credentials("writer", WRITER_PASSWORD)));
    assert_eq!(code, 0, "{report:#}");
    assert!(check(&report, "permission")["detail"].as_str().unwrap().contains("may write traces"), "{report:#}");
}

#[test]
fn a_read_only_user_is_told_once_and_its_traces_wait_until_edit_is_granted() {
    let server = DedicatedMlflow::start_with(ServerSetup { basic_auth: true, ..ServerSetup::default() });
    let admin = server.client();
    let name = unique("auth-reader");
    let experiment = users_and_experiment(&admin, &name);
    let reader = credentials("reader", READER_PASSWORD);

    // The doctor names the permission missing and how to grant it.
    let (code, report) = doctor(&gateway_config(&server.uri, &name, &reader));
    assert_fails_at(code, &report, "permission", "\"permission\": \"EDIT\"");
    let detail = check(&report, "permission")["detail"].as_str().unwrap();
    assert!(detail.contains("user \"reader\"") && detail.contains("its permission there: READ"), "{detail}");
    assert!(!report.to_string().contains(READER_PASSWORD), "the password is never printed");

    // A gateway as the reader: one clear line, and its turns wait in the spool.
    let state = scratch_dir("auth-reader");
    let mut gateway = LiveHost::replay(&mlflow_config(&Mlflow::from_uri(&server.uri), &name, &reader), &state);
    let denial = "MLflow refused to create the gateway's run (403 permission denied): user \"reader\" needs EDIT permission on experiment";
    gateway.wait_for(|line| line.contains(denial), Duration::from_secs(60));
    gateway.wait_for(|line| line.contains("queued for mlflow"), Duration::from_secs(60));
    assert!(spooled_bytes(&state) > 0, "the traces wait in the spool");
    assert!(admin.search(&experiment, "").is_empty(), "nothing delivered without EDIT");

    // Granted: everything waiting is delivered, each turn once, without a restart.
    grant(&admin, "reader", &experiment, "EDIT");
    let deadline = Instant::now() + Duration::from_secs(120);
    while admin.search(&experiment, "").len() < 6 {
        assert!(Instant::now() < deadline, "not delivered after the grant: {:#?}", gateway.lines());
        std::thread::sleep(Duration::from_millis(500));
    }
    let lines = gateway.stop();
    assert_eq!(admin.search(&experiment, "").len(), 6, "each turn once");
    assert_eq!(admin.search(&experiment, SUBAGENT_SESSION).len(), 2);
    assert_eq!(lines.iter().filter(|l| l.contains(denial)).count(), 1, "said once: {lines:#?}");
    assert!(lines.iter().any(|l| l.contains("MLflow export working")), "{lines:#?}");
}

/// `openclaw-host replay` of the real recording that then lingers like a running gateway, its log
/// read as it comes.
struct LiveHost {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl LiveHost {
    fn replay(config: &str, state: &Path) -> LiveHost {
        let fixture = fixture("openclaw-2026.9.6/hooks.jsonl");
        let args =
            ["replay", fixture.to_str().unwrap(), "--verbose", "--linger-ms", "600000", "--shutdown-ms", "10000"];
        let env = [("OPENCLAW_STATE_DIR", state.to_str().unwrap())];
        let mut child = host_command(&args, config, &plugins_dir(&[built(MLFLOW_PLUGIN)]), &env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || stderr.lines().map_while(Result::ok).for_each(|l| sink.lock().unwrap().push(l)));
        LiveHost { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line of the log matches.
    fn wait_for(&mut self, matches: impl Fn(&str) -> bool, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.lines().iter().any(|l| matches(l)) {
            let exited = self.child.try_wait().unwrap();
            assert!(exited.is_none() && Instant::now() < deadline, "not logged ({exited:?}): {:#?}", self.lines());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends it (`openclaw-host` has no signal handling: what it sent is in MLflow already) and
    /// returns its whole log.
    fn stop(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        // The reader thread ends at the pipe's end.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.lines) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.lines()
    }
}
