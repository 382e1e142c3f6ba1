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
mod js_payload;
mod log_sink;

use js_payload::JsPayload;
use napi::bindgen_prelude::{AsyncTask, Function, Unknown};
use napi::{Env, JsValue, Task};
use napi_derive::napi;
use openclaw_plugin_api::LogLevel;
use openclaw_plugin_host::openclaw::payload::read_hook;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an export; a panic (a bug here, never expected) is logged and swallowed, so it never
/// becomes a JavaScript exception inside a gateway hook.
fn guarded<R>(what: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let _ = catch_unwind(|| {
            log_sink::log(LogLevel::Error, &format!("MLflow host: {what} panicked; the call was skipped"))
        });
        fallback
    })
}

fn ms(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

/// Loads the plugin libraries in `plugins_dir` and starts each one `config_json` (the gateway's
/// configuration, or the part of it that names the plugins) enables, on a thread of the host's: it
/// returns at once, and a log line says what started. `on_log` is called (with no argument) when
/// log lines are waiting in [`drain_logs`]. Once per process.
#[napi]
pub fn start(
    plugins_dir: String,
    config_json: String,
    log_level: String,
    on_log: Function<(), ()>,
) -> napi::Result<()> {
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

/// OpenClaw's hook `name` with its payload (`event`, `ctx`), as the gateway calls it at `ts`
/// (milliseconds since the epoch): read by the shared rules (a few fields, bounded), translated and
/// passed to the plugins. Hooks the interface has no use for cost a string comparison.
#[napi]
pub fn hook(env: Env, name: String, ts: f64, event: Unknown, ctx: Unknown) {
    guarded("a hook", (), || {
        let ts_ms = ms(ts);
        // SAFETY: the env and values of this very call, used only during it.
        let (event, ctx) = unsafe { (JsPayload::new(env.raw(), event.raw()), JsPayload::new(env.raw(), ctx.raw())) };
        if let Some((cx, hook)) = read_hook(&name, ts_ms, &event, &ctx, bridge::capture()) {
            bridge::push(cx, hook);
        }
    })
}

/// Flushes and stops the plugins within `budget_ms`, blocking the calling thread: for the
/// process's `exit`, when nothing else can run anyway. Returns what could not be sent ("" if all).
#[napi]
pub fn shutdown_sync(budget_ms: f64) -> String {
    guarded("shutdown", String::new(), || bridge::request_stop(ms(budget_ms)).wait())
}

/// The same, awaited on a worker thread, as a promise: for `gateway_stop`, which OpenClaw awaits
/// for up to 5 s while its own thread goes on. The stop is asked for here, on the gateway's
/// thread, so that a `gateway_start` right after it restarts what it stopped.
#[napi]
pub fn shutdown(budget_ms: f64) -> AsyncTask<Shutdown> {
    let stopping = guarded("shutdown", bridge::Stopping::Nothing, || bridge::request_stop(ms(budget_ms)));
    AsyncTask::new(Shutdown { stopping: Some(stopping) })
}

pub struct Shutdown {
    stopping: Option<bridge::Stopping>,
}

impl Task for Shutdown {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let stopping = self.stopping.take().unwrap_or(bridge::Stopping::Nothing);
        Ok(guarded("shutdown", String::new(), move || stopping.wait()))
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
