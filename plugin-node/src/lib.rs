//! `openclaw-mlflow-host.node`: a Node native addon that hosts stable-ABI OpenClaw plugins inside
//! the real gateway.
//!
//! The package's JavaScript entry (`package/index.js`) registers OpenClaw's hooks and calls one
//! function here per hook with the few fields the interface needs, as strings and numbers (never
//! a whole payload). Each function builds the translator's input and hands it to the [`bridge`],
//! which translates it and calls the plugins' hooks; the plugins copy and queue, so a call costs a
//! few microseconds on the gateway's thread. Nothing here waits on the network; nothing here lets a
//! panic reach JavaScript.
//!
//! - [`bridge`]: the process-wide host (load, start, dispatch, shutdown);
//! - [`log_sink`]: the plugins' log lines, to the gateway's logger;
//! - [`doctor`]: `openclaw mlflow doctor`, the troubleshooting checks, off the JavaScript thread;
//! - [`command`]: a plugin's own operator commands (`openclaw mlflow spool …`), likewise.

mod bridge;
mod command;
mod doctor;
mod log_sink;

use napi::bindgen_prelude::{AsyncTask, Function};
use napi::{Env, Task};
use napi_derive::napi;
use openclaw_plugin_api::{LogLevel, ModelCost, TokenUsage};
use openclaw_plugin_host::openclaw::{recording::subagent_outcome, HookContext, OpenClawHook};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an export; a panic (a bug here, never expected) is logged and swallowed, so it never
/// becomes a JavaScript exception inside a gateway hook.
fn guarded<R>(what: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let _ = catch_unwind(|| log_sink::log(LogLevel::Error, &format!("MLflow host: {what} panicked; the call was skipped")));
        fallback
    })
}

fn ms(ts: f64) -> u64 {
    if ts.is_finite() && ts > 0.0 {
        ts as u64
    } else {
        0
    }
}

fn duration(value: Option<f64>) -> Option<u64> {
    value.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64)
}

fn count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

fn context(ts: f64, run_id: String, session_key: String, session_id: String, agent_id: String) -> HookContext {
    HookContext { ts_ms: ms(ts), run_id, session_key, session_id, agent_id, ..HookContext::default() }
}

/// Loads the plugin libraries in `plugins_dir` and starts each one `config_json` (the gateway's
/// configuration, or the part of it that names the plugins) enables, on a thread of the host's: it
/// returns at once, and a log line says what started. `on_log` is called (with no argument) when
/// log lines are waiting in [`drain_logs`]. Once per process.
#[napi]
pub fn start(plugins_dir: String, config_json: String, log_level: String, on_log: Function<(), ()>) -> napi::Result<()> {
    let wake = on_log.build_threadsafe_function::<()>().weak::<true>().callee_handled::<false>().build()?;
    let level = match log_level.as_str() {
        "debug" | "trace" => LogLevel::Debug,
        "warn" => LogLevel::Warn,
        "error" | "fatal" | "silent" => LogLevel::Error,
        _ => LogLevel::Info,
    };
    guarded("start", Err("the host panicked while starting".to_string()), || {
        bridge::start(std::path::Path::new(&plugins_dir), &config_json, level, wake)
    })
    .map_err(napi::Error::from_reason)
}

/// Runs the doctor's checks for the plugin libraries in `plugins_dir` with `config_json` (the
/// gateway's configuration, as `start` takes it); resolves to `{ok, json, text}`.
#[napi]
pub fn doctor(plugins_dir: String, config_json: String) -> AsyncTask<doctor::Doctor> {
    AsyncTask::new(doctor::Doctor { plugins_dir, config_json })
}

/// Runs a plugin's operator command (`args`: its words, e.g. `["spool", "list"]`) with the gateway's
/// configuration; resolves to the text to print, rejects with the message.
#[napi]
pub fn command(plugins_dir: String, config_json: String, args: Vec<String>) -> AsyncTask<command::PluginCommand> {
    AsyncTask::new(command::PluginCommand { plugins_dir, config_json, args })
}

/// Log lines waiting for the gateway's logger: `[level, line, level, line, ...]`.
#[napi]
pub fn drain_logs() -> Vec<String> {
    guarded("drainLogs", Vec::new(), log_sink::drain)
}

#[napi]
pub fn message_received(ts: f64, session_key: String) {
    guarded("message_received", (), || {
        let cx = HookContext { ts_ms: ms(ts), session_key, ..HookContext::default() };
        bridge::push(cx, OpenClawHook::MessageReceived)
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn run_started(
    ts: f64,
    run_id: String,
    session_key: String,
    session_id: String,
    agent_id: String,
    channel: String,
    trigger: String,
    prompt: String,
) {
    guarded("run_started", (), || {
        let cx = HookContext { channel, trigger, ..context(ts, run_id, session_key, session_id, agent_id) };
        bridge::push(cx, OpenClawHook::RunStarted { prompt })
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn model_call_started(
    ts: f64,
    run_id: String,
    session_key: String,
    session_id: String,
    call_id: String,
    provider: String,
    model: String,
) {
    guarded("model_call_started", (), || {
        let cx = context(ts, run_id, session_key, session_id, String::new());
        bridge::push(cx, OpenClawHook::ModelCallStarted { call_id, provider, model })
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn model_call_ended(
    ts: f64,
    run_id: String,
    session_key: String,
    session_id: String,
    call_id: String,
    provider: String,
    model: String,
    failed: bool,
    error: String,
    duration_ms: Option<f64>,
) {
    guarded("model_call_ended", (), || {
        let cx = context(ts, run_id, session_key, session_id, String::new());
        let duration_ms = duration(duration_ms);
        bridge::push(cx, OpenClawHook::ModelCallEnded { call_id, provider, model, failed, error, duration_ms })
    })
}

/// An assistant message (`before_message_write`): the reply to the call that just ended in the
/// session. `usage` is `[input, output, cacheRead, cacheWrite, total]` (empty when the message has
/// none), `cost` is `[input, output, cacheRead, cacheWrite, total]` in USD (empty when none).
#[napi]
pub fn assistant_message(ts: f64, session_key: String, usage: Vec<f64>, cost: Vec<f64>, text: String, error: String) {
    guarded("assistant_message", (), || {
        let usage = (usage.len() == 5).then(|| TokenUsage {
            input: count(usage[0]),
            output: count(usage[1]),
            cache_read: count(usage[2]),
            cache_write: count(usage[3]),
            total: count(usage[4]),
        });
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        let cost = (cost.len() == 5).then(|| ModelCost {
            input: finite(cost[0]),
            output: finite(cost[1]),
            cache_read: finite(cost[2]),
            cache_write: finite(cost[3]),
            total: finite(cost[4]),
        });
        let cx = HookContext { ts_ms: ms(ts), session_key, ..HookContext::default() };
        bridge::push(cx, OpenClawHook::AssistantMessage { usage, cost, text, error })
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn tool_call_started(
    ts: f64,
    run_id: String,
    session_key: String,
    session_id: String,
    agent_id: String,
    tool_call_id: String,
    tool_name: String,
    params: String,
) {
    guarded("tool_call_started", (), || {
        let cx = context(ts, run_id, session_key, session_id, agent_id);
        bridge::push(cx, OpenClawHook::ToolCallStarted { tool_call_id, tool_name, params })
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn tool_call_ended(
    ts: f64,
    run_id: String,
    session_key: String,
    session_id: String,
    agent_id: String,
    tool_call_id: String,
    tool_name: String,
    failed: bool,
    error: String,
    duration_ms: Option<f64>,
    result: String,
) {
    guarded("tool_call_ended", (), || {
        let cx = context(ts, run_id, session_key, session_id, agent_id);
        let duration_ms = duration(duration_ms);
        bridge::push(cx, OpenClawHook::ToolCallEnded { tool_call_id, tool_name, failed, error, duration_ms, result })
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn agent_ended(
    ts: f64,
    run_id: String,
    session_key: String,
    session_id: String,
    agent_id: String,
    success: bool,
    error: String,
    duration_ms: Option<f64>,
    response: String,
) {
    guarded("agent_ended", (), || {
        let cx = context(ts, run_id, session_key, session_id, agent_id);
        let duration_ms = duration(duration_ms);
        bridge::push(cx, OpenClawHook::AgentEnded { success, error, duration_ms, response })
    })
}

#[napi]
pub fn session_started(ts: f64, session_key: String, session_id: String, agent_id: String, resumed_from: String) {
    guarded("session_started", (), || {
        let cx = context(ts, String::new(), session_key, session_id, agent_id);
        bridge::push(cx, OpenClawHook::SessionStarted { resumed_from })
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn session_ended(
    ts: f64,
    session_key: String,
    session_id: String,
    agent_id: String,
    reason: String,
    message_count: Option<f64>,
    duration_ms: Option<f64>,
) {
    guarded("session_ended", (), || {
        let cx = context(ts, String::new(), session_key, session_id, agent_id);
        let hook = OpenClawHook::SessionEnded { reason, message_count: duration(message_count), duration_ms: duration(duration_ms) };
        bridge::push(cx, hook)
    })
}

#[allow(clippy::too_many_arguments)]
#[napi]
pub fn subagent_spawned(
    ts: f64,
    run_id: String,
    requester_session_key: String,
    child_session_key: String,
    child_agent_id: String,
    label: String,
    model: String,
) {
    guarded("subagent_spawned", (), || {
        let cx = HookContext { ts_ms: ms(ts), run_id, ..HookContext::default() };
        let hook = OpenClawHook::SubagentSpawned { requester_session_key, child_session_key, child_agent_id, label, model };
        bridge::push(cx, hook)
    })
}

#[napi]
pub fn subagent_ended(
    ts: f64,
    run_id: String,
    requester_session_key: String,
    child_session_key: String,
    outcome: String,
    error: String,
) {
    guarded("subagent_ended", (), || {
        let cx = HookContext { ts_ms: ms(ts), run_id, ..HookContext::default() };
        let outcome = subagent_outcome(&outcome);
        bridge::push(cx, OpenClawHook::SubagentEnded { requester_session_key, child_session_key, outcome, error })
    })
}

/// Flushes and stops the plugins within `budget_ms`, blocking the calling thread: for the
/// process's `exit`, when nothing else can run anyway. Returns what could not be sent ("" if all).
#[napi]
pub fn shutdown_sync(budget_ms: f64) -> String {
    guarded("shutdown", String::new(), || bridge::shutdown(ms(budget_ms)))
}

/// The same on a worker thread, as a promise: for `gateway_stop`, which OpenClaw awaits for up to
/// 5 s while its own thread goes on.
#[napi]
pub fn shutdown(budget_ms: f64) -> AsyncTask<Shutdown> {
    AsyncTask::new(Shutdown { budget_ms: ms(budget_ms) })
}

pub struct Shutdown {
    budget_ms: u64,
}

impl Task for Shutdown {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        Ok(guarded("shutdown", String::new(), || bridge::shutdown(self.budget_ms)))
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}

/// Each plugin's counters, as JSON.
#[napi]
pub fn stats() -> String {
    guarded("stats", "{}".to_string(), bridge::stats)
}
