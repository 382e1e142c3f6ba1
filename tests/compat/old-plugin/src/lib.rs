//! A plugin written against interface 0.1.0: it has no session or subagent hooks and knows no
//! field added since. It counts the calls it gets per hook and checks the fields it can read, and
//! reports both in `stats()`.

use abi_stable::{
    export_root_module,
    marker_type::ErasedObject,
    prefix_type::PrefixTypeTrait,
    std_types::{RBox, ROk, RResult, RStr, RString, RVec, Tuple2},
};
use openclaw_plugin_api::*;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const KINDS: [&str; 6] =
    ["message_start", "message_end", "model_call_start", "model_call_end", "tool_call_start", "tool_call_end"];

struct Counter {
    host: HostHandleRef,
    calls: [AtomicU64; 6],
    /// Events whose context lacked a session key or run id.
    bad_context: AtomicU64,
    prompts_bytes: AtomicU64,
}

fn counter(s: &PluginState) -> &Counter {
    // SAFETY: `init` is the only place that makes a PluginObject, always over a `Counter`.
    unsafe { &*(s as *const ErasedObject as *const Counter) }
}

fn count(s: &PluginState, kind: usize, ctx: EventContextRef) {
    let c = counter(s);
    contain_panic(c.host, KINDS[kind], (), || {
        c.calls[kind].fetch_add(1, Relaxed);
        if ctx.session_key().is_empty() || ctx.run_id().is_empty() || ctx.ts_ms() == 0 {
            c.bad_context.fetch_add(1, Relaxed);
        }
    })
}

#[export_root_module]
fn root() -> PluginModRef {
    PluginMod { id, version, init }.leak_into_prefix()
}

extern "C" fn id() -> RStr<'static> {
    RStr::from_str("old-counter")
}

extern "C" fn version() -> RStr<'static> {
    RStr::from_str("0.1.0")
}

extern "C" fn init(_config: RStr<'_>, host: HostHandleRef) -> RResult<PluginObject, RString> {
    let state = RBox::new(Counter {
        host,
        calls: Default::default(),
        bad_context: AtomicU64::new(0),
        prompts_bytes: AtomicU64::new(0),
    });
    // SAFETY: erasing the type keeps RBox's destructor for `Counter`; only `counter()` casts back.
    let state: RBox<ErasedObject> = unsafe { std::mem::transmute(state) };
    let hooks = PluginHooks {
        on_message_start,
        on_message_end,
        on_model_call_start,
        on_model_call_end,
        on_tool_call_start,
        on_tool_call_end,
        flush,
        shutdown,
        stats,
    }
    .leak_into_prefix();
    ROk(PluginObject { state, hooks })
}

extern "C" fn on_message_start(s: &PluginState, ctx: EventContextRef, ev: MessageStartRef) {
    counter(s).prompts_bytes.fetch_add(ev.prompt().len() as u64, Relaxed);
    count(s, 0, ctx)
}
extern "C" fn on_message_end(s: &PluginState, ctx: EventContextRef, _ev: MessageEndRef) {
    count(s, 1, ctx)
}
extern "C" fn on_model_call_start(s: &PluginState, ctx: EventContextRef, _ev: ModelCallStartRef) {
    count(s, 2, ctx)
}
extern "C" fn on_model_call_end(s: &PluginState, ctx: EventContextRef, _ev: ModelCallEndRef) {
    count(s, 3, ctx)
}
extern "C" fn on_tool_call_start(s: &PluginState, ctx: EventContextRef, _ev: ToolCallStartRef) {
    count(s, 4, ctx)
}
extern "C" fn on_tool_call_end(s: &PluginState, ctx: EventContextRef, _ev: ToolCallEndRef) {
    count(s, 5, ctx)
}

extern "C" fn flush(_s: &PluginState, _timeout_ms: u64) -> RResult<(), RString> {
    ROk(())
}

extern "C" fn shutdown(_s: &PluginState, _timeout_ms: u64) -> RResult<(), RString> {
    ROk(())
}

extern "C" fn stats(s: &PluginState) -> PluginStats {
    let c = counter(s);
    let mut extra: Vec<Tuple2<RString, u64>> =
        KINDS.iter().zip(&c.calls).map(|(k, n)| Tuple2(RString::from(*k), n.load(Relaxed))).collect();
    extra.push(Tuple2(RString::from("bad_context"), c.bad_context.load(Relaxed)));
    extra.push(Tuple2(RString::from("prompt_bytes"), c.prompts_bytes.load(Relaxed)));
    PluginStats {
        accepted: c.calls.iter().map(|n| n.load(Relaxed)).sum(),
        extra: RVec::from(extra),
        ..Default::default()
    }
}
