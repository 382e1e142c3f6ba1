//! A test turn sent through the plugin's own pipeline (queue, assembler, spans, wire, delivery,
//! the run) exactly as a gateway's turn goes, then read back from MLflow; and a second turn with
//! an unpriced model call, timed, which shows whether the server waits on a remote model catalog.

use crate::config::Config;
use crate::exporter::mlflow_rest::MlflowRest;
use crate::exporter::{id_scope, mlflow_spans::mlflow_trace_id, trace_ids::TraceIds};
use crate::log::Log;
use crate::MlflowPlugin;
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{DoctorCheck, ModelCost, Outcome, Plugin, TokenUsage};
use openclaw_plugin_api::{Hook, OwnedEvent};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The agent id the test turns carry: MLflow's User column.
pub const AGENT: &str = "mlflow-doctor";
/// The session the test turns belong to: MLflow's Session column.
pub const SESSION_KEY: &str = "agent:mlflow-doctor:doctor";
/// What the doctor's run (it holds the test turns' metrics) is called.
const RUN_LABEL: &str = "openclaw-mlflow-doctor";
/// A server that takes longer than this for one small unpriced model call is waiting on something
/// (a remote catalog offline: about 7 s of retries); a busy server takes well under it.
const CATALOG_STALL: Duration = Duration::from_secs(4);
/// Long enough for a server that retries a remote catalog (3 tries of 5 s with backoff).
const SEND_BUDGET: Duration = Duration::from_secs(60);

fn ctx(run_id: &str, ts_ms: u64) -> OwnedContext {
    OwnedContext {
        ts_ms,
        run_id: run_id.into(),
        session_key: SESSION_KEY.into(),
        session_id: format!("{run_id}-session"),
        agent_id: AGENT.into(),
        channel: "doctor".into(),
    }
}

/// One turn with one model call, priced (`cost`) or left for the server to price.
fn turn(run_id: &str, provider: &str, cost: Option<ModelCost>) -> Vec<OwnedEvent> {
    let now = crate::exporter::now_ms();
    let call_id = format!("{run_id}:model:1");
    let usage = TokenUsage { input: 12, output: 3, cache_read: 0, cache_write: 0, total: 15 };
    vec![
        OwnedEvent {
            ctx: ctx(run_id, now.saturating_sub(40)),
            hook: Hook::MessageStart {
                prompt: Some("openclaw-mlflow doctor: is this turn in MLflow?".into()),
                trigger: "doctor".into(),
            },
        },
        OwnedEvent {
            ctx: ctx(run_id, now.saturating_sub(30)),
            hook: Hook::ModelCallStart {
                call_id: call_id.clone(),
                provider: provider.into(),
                model: "doctor-probe".into(),
                input_messages: None,
                tool_definitions: None,
            },
        },
        OwnedEvent {
            ctx: ctx(run_id, now.saturating_sub(10)),
            hook: Hook::ModelCallEnd {
                call_id,
                provider: provider.into(),
                model: "doctor-probe".into(),
                outcome: Outcome::COMPLETED,
                error: String::new(),
                duration_ms: Some(20),
                usage: Some(usage),
                cost_usd: cost,
                response: Some("yes".into()),
                tool_calls: None,
            },
        },
        OwnedEvent {
            ctx: ctx(run_id, now),
            hook: Hook::MessageEnd {
                outcome: Outcome::COMPLETED,
                error: String::new(),
                response: Some("yes".into()),
                duration_ms: Some(40),
            },
        },
    ]
}

/// Sends the test turn, reads it back, then times the unpriced one: the `test trace` and
/// `cost estimation` checks.
pub fn send_and_read_back(config: &Config, rest: &MlflowRest, log: Log) -> Vec<DoctorCheck> {
    let mut config = config.clone();
    // Only MLflow is checked here; the doctor must not touch a running gateway's spool.
    config.durability.spool_dir = None;
    config.destination.otlp = None;
    config.destination.run_label = RUN_LABEL;
    config.signals.traces = true;
    let ids = TraceIds::new(&id_scope(&config));
    let nonce = format!("{}-{}", crate::exporter::now_ms(), std::process::id());
    let plugin = match MlflowPlugin::start(config, log) {
        Ok(p) => p,
        Err(e) => return vec![DoctorCheck::fail("test trace", e, "see the settings check")],
    };
    let mut checks = Vec::new();
    let run_id = format!("doctor-{nonce}");
    let priced = ModelCost { input: 0.000012, output: 0.000006, cache_read: 0.0, cache_write: 0.0, total: 0.000018 };
    let trace_id = mlflow_trace_id(ids.trace(SESSION_KEY, &run_id));
    let test = match deliver(&plugin, turn(&run_id, "openclaw-doctor", Some(priced))) {
        Err(e) => DoctorCheck::fail("test trace", format!("not delivered: {e}"), "see the checks above and the log"),
        Ok(()) => read_back(rest, &trace_id),
    };
    let test_passed = test.verdict == openclaw_plugin_api::Verdict::Pass;
    checks.push(test);
    checks.push(if test_passed {
        catalog(&plugin, &format!("doctor-probe-{nonce}"))
    } else {
        DoctorCheck::skip("cost estimation", "the test trace")
    });
    if let Err(e) = plugin.shutdown(SEND_BUDGET) {
        checks.push(DoctorCheck::warn("doctor's run", format!("the doctor's MLflow run was not ended: {e}"), ""));
    }
    checks
}

/// Hands `events` to the plugin as its hooks would, and waits until they are delivered.
fn deliver(plugin: &MlflowPlugin, events: Vec<OwnedEvent>) -> Result<(), String> {
    for event in events {
        plugin.queue_event(|_| event);
    }
    plugin.flush(SEND_BUDGET)
}

/// The trace, found by its id, carries the test turn's session, user and state.
fn read_back(rest: &MlflowRest, trace_id: &str) -> DoctorCheck {
    const NAME: &str = "test trace";
    let deadline = Instant::now() + Duration::from_secs(10);
    let info = loop {
        match rest.trace_info(trace_id) {
            Ok(info) => break info,
            Err(e) if Instant::now() >= deadline => {
                return DoctorCheck::fail(
                    NAME,
                    format!("delivered, but {trace_id} cannot be read back: {e}"),
                    "check that the server's backend holds traces (backend store) and that this user may read them",
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    };
    let metadata = |key: &str| info.pointer(&format!("/trace_metadata/{key}")).and_then(Value::as_str).unwrap_or("");
    let (session, user) = (metadata("mlflow.trace.session"), metadata("mlflow.trace.user"));
    let state = info.get("state").and_then(Value::as_str).unwrap_or("");
    if session == SESSION_KEY && user == AGENT && state == "OK" {
        DoctorCheck::pass(NAME, format!("{trace_id} sent and read back: Session {session}, User {user}, state {state}"))
    } else {
        DoctorCheck::fail(
            NAME,
            format!("{trace_id} read back with Session {session:?}, User {user:?}, state {state:?}; expected {SESSION_KEY:?}, {AGENT:?}, \"OK\""),
            "a proxy or collector between the gateway and MLflow may drop span attributes (session.id, user.id); send to MLflow directly",
        )
    }
}

/// Times one turn whose model call MLflow must price itself (an unknown provider, so that the
/// server's catalog cache cannot answer for it).
fn catalog(plugin: &MlflowPlugin, provider: &str) -> DoctorCheck {
    const NAME: &str = "cost estimation";
    let run_id = format!("{provider}-run");
    let started = Instant::now();
    let delivered = deliver(plugin, turn(&run_id, provider, None));
    let took = started.elapsed();
    match delivered {
        Err(e) => DoctorCheck::fail(NAME, format!("the unpriced test turn was not delivered in {} s: {e}", took.as_secs()), "see the log"),
        Ok(()) if took > CATALOG_STALL => DoctorCheck::warn(
            NAME,
            format!("one unpriced model call took the server {:.1} s: it fetches MLflow's model catalog from the internet for each new provider (MLFLOW_MODEL_CATALOG_URI at its default) and holds the request meanwhile", took.as_secs_f64()),
            "start the MLflow server with MLFLOW_MODEL_CATALOG_URI= (empty: its bundled catalog) or a file:// mirror, when it has no internet access",
        ),
        Ok(()) => DoctorCheck::pass(NAME, format!("an unpriced model call took {} ms (no wait on a remote model catalog)", took.as_millis())),
    }
}
