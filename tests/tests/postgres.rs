//! The production shape: MLflow on PostgreSQL with several workers, and several gateways sending
//! into one experiment at once. A PostgreSQL server of the test's own (`tests/src/postgres.rs`), a
//! 4-worker MLflow on it, four `openclaw-host` processes (four gateways, each its own MLflow run), and
//! one worker killed mid-run (uvicorn's supervisor starts another): every trace lands once, each
//! gateway's run holds its own metrics, and their totals equal its traces'.

use openclaw_plugin_tests::postgres::Postgres;
use openclaw_plugin_tests::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

const GATEWAYS: usize = 4;
const SESSIONS: usize = 6;
const MESSAGES: usize = 25;
const PER_GATEWAY: usize = SESSIONS * MESSAGES;

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 + 1e-6 * b.abs()
}

#[test]
fn four_gateways_at_once_on_postgres_lose_nothing_while_a_worker_restarts() {
    let pg = Postgres::start();
    let server = DedicatedMlflow::start_on(Backend::Postgres(pg.url()), 4, false);
    let mlflow = Mlflow::from_uri(&server.uri);
    let experiment = unique("pg-gateways");
    let config = format!(
        r#"{{ plugins: {{ entries: {{ mlflow: {{ config: {{ trackingUri: "{}", experimentName: "{experiment}", flushIntervalMs: 300, batchSize: 20 }} }} }} }} }}"#,
        server.uri
    );
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let (sessions, messages) = (SESSIONS.to_string(), MESSAGES.to_string());
    let gateways: Vec<_> = (1..=GATEWAYS)
        .map(|g| {
            let name = format!("gw{g}");
            let args = ["bench", "--name", &name, "--sessions", &sessions, "--messages", &messages];
            let args = [&args[..], &["--threads", "1", "--rate", "25", "--shutdown-ms", "120000"]].concat();
            host_command(&args, &config, &plugins, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();

    // Mid-run (a sixth of the turns landed), one worker dies; uvicorn's supervisor starts another
    // in its place.
    let sixth = GATEWAYS * PER_GATEWAY / 6;
    let (_, landed) = mlflow.traces_once(&experiment, Duration::from_secs(120), |t| t.len() >= sixth);
    assert!(landed.len() >= sixth, "{sixth} traces landed before the worker was killed: {}", landed.len());
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 4, "four workers serve: {workers:?}");
    let killed = workers[0];
    assert!(std::process::Command::new("kill").args(["-KILL", &killed.to_string()]).status().unwrap().success());

    let runs: Vec<HostRun> =
        gateways.into_iter().map(|g| finish_within(g, HOST_RUN_LIMIT, "a gateway").into()).collect();
    for (g, run) in runs.iter().enumerate() {
        run.assert_success();
        let stats = run.stats("mlflow");
        assert_eq!(stats["exported"], PER_GATEWAY as u64, "gateway {}: {stats}\n{}", g + 1, run.stderr);
        assert_eq!((stats["failed"].as_u64(), stats["dropped"].as_u64()), (Some(0), Some(0)), "{stats}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let replaced = |pids: Vec<u32>| pids.len() == 4 && !pids.contains(&killed);
    while !replaced(server.worker_pids()) {
        assert!(Instant::now() < deadline, "the killed worker was replaced: {:?}", server.worker_pids());
        std::thread::sleep(Duration::from_millis(200));
    }

    // Every turn once.
    let experiment_id = mlflow.experiment_id(&experiment).unwrap();
    let traces = mlflow.search(&experiment_id, "");
    assert_eq!(traces.len(), GATEWAYS * PER_GATEWAY, "each turn of each gateway, once");
    for g in 1..=GATEWAYS {
        let sessions = format!(":bench-gw{g}:");
        let mine =
            traces.iter().filter(|t| t["trace_metadata"]["mlflow.trace.session"].as_str().unwrap().contains(&sessions));
        assert_eq!(mine.count(), PER_GATEWAY, "gateway {g}'s turns");
    }

    // Each gateway's run: its own traces, and metrics that sum to them.
    let gateway_runs = mlflow.runs(&experiment_id);
    assert_eq!(gateway_runs.len(), GATEWAYS, "one run per gateway");
    for run in &gateway_runs {
        let run_id = run["info"]["run_id"].as_str().unwrap();
        let linked = mlflow.search(&experiment_id, &format!("trace.run_id = '{run_id}'"));
        assert_eq!(linked.len(), PER_GATEWAY, "run {run_id} links its gateway's traces");
        let outcomes =
            mlflow.metric_sum(run_id, "message.outcome.completed") + mlflow.metric_sum(run_id, "message.outcome.error");
        assert_eq!(outcomes, PER_GATEWAY as f64, "run {run_id}: messages");
        let tokens = metadata_sum(&linked, "mlflow.trace.tokenUsage", "total_tokens");
        assert_eq!(mlflow.metric_sum(run_id, "tokens.total"), tokens, "run {run_id}: tokens");
        let cost = metadata_sum(&linked, "mlflow.trace.cost", "total_cost");
        let logged = mlflow.metric_sum(run_id, "cost.usd");
        assert!(approx(logged, cost), "run {run_id}: cost.usd {logged} vs its traces' {cost}");
    }
}
