//! `openclaw-mlflow`: an OpenClaw plugin that puts every agent turn into MLflow as a trace.
//!
//! - `lib.rs` (this file): the exported root module and the hooks, which only copy the event and
//!   queue it (`intake`), never waiting on anything;
//! - `config`: the settings and their validation;
//! - `exporter`: the background threads that build traces and send them;
//! - `tokens`: one model call's usage in MLflow's convention, whatever the host reported;
//! - `pricing`, `redact`: cost for calls the host did not price, secrets out of captured content.

pub mod config;
pub mod event;
pub mod exporter;
pub mod genai;
mod intake;
mod log;
pub mod pricing;
pub mod redact;
mod stats;
pub mod tokens;

use abi_stable::{
    export_root_module,
    marker_type::ErasedObject,
    prefix_type::PrefixTypeTrait,
    std_types::{RBox, RErr, ROk, RResult, RStr, RString},
};
use event::Event;
use exporter::Exporter;
use intake::{copy_ctx, Intake};
use log::Log;
use openclaw_plugin_api::*;
use stats::Counters;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PLUGIN_ID: &str = "mlflow";

/// The plugin's own allocator. The hooks allocate the event copies on the host's threads and the
/// exporter thread frees them; with glibc's malloc that cross-thread traffic contends on arena
/// locks and trims and regrows the heap, which showed as microseconds on the hot path. mimalloc's
/// thread-local heaps with lock-free cross-thread frees keep a hook's copy at memcpy speed.
/// (The host's allocations are unaffected: a cdylib's global allocator is its own.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One started plugin.
struct Instance {
    log: Log,
    intake: Intake,
    stats: Arc<Counters>,
    /// Only the host's `flush`/`shutdown`/`stats` calls take this, never the event hooks.
    exporter: Mutex<Option<Exporter>>,
}

#[export_root_module]
fn root_module() -> PluginModRef {
    PluginMod { id: plugin_id, version: plugin_version, init }.leak_into_prefix()
}

extern "C" fn plugin_id() -> RStr<'static> {
    RStr::from_str(PLUGIN_ID)
}

extern "C" fn plugin_version() -> RStr<'static> {
    RStr::from_str(env!("CARGO_PKG_VERSION"))
}

extern "C" fn init(config_json: RStr<'_>, host: HostHandleRef) -> RResult<PluginObject, RString> {
    contain_panic(host, "init", RErr(RString::from("mlflow plugin: init panicked")), || {
        match start(config_json.as_str(), host) {
            Ok(object) => ROk(object),
            Err(message) => RErr(RString::from(message)),
        }
    })
}

fn start(config_json: &str, host: HostHandleRef) -> Result<PluginObject, String> {
    let config = config::Config::parse(config_json, &config::ProcessEnv)?;
    let log = Log::new(host);
    if !config.enabled {
        return Err("mlflow config `enabled`: expected true to start the plugin".into());
    }
    let stats = Arc::new(Counters::default());
    let (tx, rx) = crossbeam_channel::bounded(config.queue_capacity);
    let intake =
        Intake::new(config.capture_content, config.max_content_bytes, tx, config.max_queue_bytes, stats.clone());
    if !config.track_traces {
        log.info(|| "MLflow: trackTraces is false; only the run's metrics are sent".into());
    }
    log.info(|| {
        format!(
            "MLflow plugin {} starting: trackingUri={} experiment={:?} batchSize={} flushIntervalMs={} captureContent={}",
            env!("CARGO_PKG_VERSION"),
            config.tracking_uri.as_deref().unwrap_or("(none: OTLP export only)"),
            config.experiment,
            config.batch_size,
            config.flush_interval.as_millis(),
            config.capture_content
        )
    });
    let exporter = Exporter::start(config, rx, intake.queued_bytes.clone(), stats.clone(), log)?;
    let instance = Instance { log, intake, stats, exporter: Mutex::new(Some(exporter)) };
    // SAFETY: the box keeps its destructor for `Instance`; `instance()` is the only cast back.
    let state: RBox<ErasedObject> = unsafe { std::mem::transmute(RBox::new(instance)) };
    Ok(PluginObject { state, hooks: hooks() })
}

fn hooks() -> PluginHooksRef {
    PluginHooks {
        on_message_start,
        on_message_end,
        on_model_call_start,
        on_model_call_end,
        on_tool_call_start,
        on_tool_call_end,
        flush,
        shutdown,
        stats,
        on_session_start,
        on_session_end,
        on_subagent_spawned,
        on_subagent_ended,
    }
    .leak_into_prefix()
}

fn instance(state: &PluginState) -> &Instance {
    // SAFETY: every PluginObject this library hands out holds an `Instance` (see `start`).
    unsafe { &*(state as *const ErasedObject as *const Instance) }
}

/// The body of every event hook: a load and a branch (closed?), then copy and queue. Every hook is
/// wanted: even with `trackTraces: false` the run's metrics count messages and calls.
#[inline]
fn hook(state: &PluginState, name: &str, make: impl FnOnce(&Intake) -> Event) {
    let inst = instance(state);
    if inst.intake.refuse_if_closed() {
        return;
    }
    contain_panic(inst.log.host(), name, (), || inst.intake.offer(make(&inst.intake)));
}

fn s(value: RStr<'_>) -> String {
    value.as_str().to_owned()
}

extern "C" fn on_message_start(st: &PluginState, ctx: EventContextRef, ev: MessageStartRef) {
    hook(st, "on_message_start", |i| Event::MessageStart {
        ctx: copy_ctx(ctx),
        prompt: i.content(ev.prompt()),
        trigger: ev.trigger().map(s).unwrap_or_default(),
    });
}

extern "C" fn on_message_end(st: &PluginState, ctx: EventContextRef, ev: MessageEndRef) {
    hook(st, "on_message_end", |i| Event::MessageEnd {
        ctx: copy_ctx(ctx),
        outcome: ev.outcome(),
        error: s(ev.error()),
        response: i.content(ev.response()),
        duration_ms: ev.duration_ms().into_option(),
    });
}

extern "C" fn on_model_call_start(st: &PluginState, ctx: EventContextRef, ev: ModelCallStartRef) {
    hook(st, "on_model_call_start", |_| Event::ModelCallStart {
        ctx: copy_ctx(ctx),
        call_id: s(ev.call_id()),
        provider: s(ev.provider()),
        model: s(ev.model()),
    });
}

extern "C" fn on_model_call_end(st: &PluginState, ctx: EventContextRef, ev: ModelCallEndRef) {
    hook(st, "on_model_call_end", |i| Event::ModelCallEnd {
        ctx: copy_ctx(ctx),
        call_id: s(ev.call_id()),
        provider: s(ev.provider()),
        model: s(ev.model()),
        outcome: ev.outcome(),
        error: s(ev.error()),
        duration_ms: ev.duration_ms().into_option(),
        usage: ev.usage().into_option(),
        cost_usd: ev.cost_usd().into_option(),
        response: ev.response().and_then(|r| i.content(r)),
    });
}

extern "C" fn on_tool_call_start(st: &PluginState, ctx: EventContextRef, ev: ToolCallStartRef) {
    hook(st, "on_tool_call_start", |i| Event::ToolCallStart {
        ctx: copy_ctx(ctx),
        tool_call_id: s(ev.tool_call_id()),
        tool_name: s(ev.tool_name()),
        params: i.content(ev.params()),
    });
}

extern "C" fn on_tool_call_end(st: &PluginState, ctx: EventContextRef, ev: ToolCallEndRef) {
    hook(st, "on_tool_call_end", |i| Event::ToolCallEnd {
        ctx: copy_ctx(ctx),
        tool_call_id: s(ev.tool_call_id()),
        tool_name: s(ev.tool_name()),
        outcome: ev.outcome(),
        error: s(ev.error()),
        duration_ms: ev.duration_ms().into_option(),
        result: i.content(ev.result()),
    });
}

extern "C" fn on_session_start(st: &PluginState, ctx: EventContextRef, _ev: SessionStartRef) {
    hook(st, "on_session_start", |_| Event::SessionStart { ctx: copy_ctx(ctx) });
}

extern "C" fn on_session_end(st: &PluginState, ctx: EventContextRef, ev: SessionEndRef) {
    hook(st, "on_session_end", |_| Event::SessionEnd { ctx: copy_ctx(ctx), reason: s(ev.reason()) });
}

extern "C" fn on_subagent_spawned(st: &PluginState, ctx: EventContextRef, ev: SubagentSpawnedRef) {
    hook(st, "on_subagent_spawned", |_| Event::SubagentSpawned {
        ctx: copy_ctx(ctx),
        child_session_key: s(ev.child_session_key()),
        child_agent_id: s(ev.child_agent_id()),
        label: s(ev.label()),
        model: s(ev.model()),
    });
}

extern "C" fn on_subagent_ended(st: &PluginState, ctx: EventContextRef, ev: SubagentEndedRef) {
    hook(st, "on_subagent_ended", |_| Event::SubagentEnded {
        ctx: copy_ctx(ctx),
        child_session_key: s(ev.child_session_key()),
        outcome: ev.outcome(),
        error: s(ev.error()),
    });
}

fn deadline(timeout_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(timeout_ms)
}

extern "C" fn flush(st: &PluginState, timeout_ms: u64) -> RResult<(), RString> {
    let inst = instance(st);
    contain_panic(inst.log.host(), "flush", RErr("flush panicked".into()), || {
        let guard = inst.exporter.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(exporter) => exporter.flush(deadline(timeout_ms)).map_err(RString::from).into(),
            None => ROk(()),
        }
    })
}

extern "C" fn shutdown(st: &PluginState, timeout_ms: u64) -> RResult<(), RString> {
    let inst = instance(st);
    contain_panic(inst.log.host(), "shutdown", RErr("shutdown panicked".into()), || {
        inst.intake.close();
        let exporter = inst.exporter.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut exporter) = exporter else { return ROk(()) };
        let result = exporter.shutdown(deadline(timeout_ms));
        let st = inst.stats.snapshot();
        inst.log.info(|| {
            format!(
                "MLflow plugin stopped: {} events accepted, {} dropped; {} traces exported, {} failed",
                st.accepted, st.dropped, st.exported, st.failed
            )
        });
        result.map_err(RString::from).into()
    })
}

extern "C" fn stats(st: &PluginState) -> PluginStats {
    let inst = instance(st);
    contain_panic(inst.log.host(), "stats", PluginStats::default(), || inst.stats.snapshot())
}
