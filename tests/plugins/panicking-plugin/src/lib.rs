//! A plugin whose event hooks panic (and count how often they were called), to prove that a
//! panicking hook is contained by the interface's guard and reported through the host's logger.

use abi_stable::{
    export_root_module,
    marker_type::ErasedObject,
    prefix_type::PrefixTypeTrait,
    std_types::{RBox, ROk, RResult, RStr, RString, RVec, Tuple2},
};
use openclaw_plugin_api::*;
use std::sync::atomic::{AtomicU64, Ordering};

struct State {
    host: HostHandleRef,
    calls: AtomicU64,
}

fn state(s: &PluginState) -> &State {
    // SAFETY: `init` below is the only place that makes a PluginObject, always over a `State`.
    unsafe { &*(s as *const ErasedObject as *const State) }
}

fn panic_in(s: &PluginState, hook: &str) {
    let st = state(s);
    contain_panic(st.host, hook, (), || {
        st.calls.fetch_add(1, Ordering::Relaxed);
        panic!("deliberate panic in {hook}");
    })
}

#[export_root_module]
fn root() -> PluginModRef {
    PluginMod { id, version, init }.leak_into_prefix()
}

extern "C" fn id() -> RStr<'static> {
    RStr::from_str("panicking")
}

extern "C" fn version() -> RStr<'static> {
    RStr::from_str(env!("CARGO_PKG_VERSION"))
}

extern "C" fn init(_config: RStr<'_>, host: HostHandleRef) -> RResult<PluginObject, RString> {
    let state = RBox::new(State { host, calls: AtomicU64::new(0) });
    // SAFETY: erasing the type keeps RBox's destructor for `State`; only `state()` casts it back.
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
        on_session_start,
        on_session_end,
        on_subagent_spawned,
        on_subagent_ended,
    }
    .leak_into_prefix();
    ROk(PluginObject { state, hooks })
}

macro_rules! panicking_hooks {
    ($($name:ident: $event:ty),* $(,)?) => {$(
        extern "C" fn $name(s: &PluginState, _ctx: EventContextRef, _ev: $event) {
            panic_in(s, stringify!($name));
        }
    )*};
}

panicking_hooks! {
    on_message_start: MessageStartRef,
    on_message_end: MessageEndRef,
    on_model_call_start: ModelCallStartRef,
    on_model_call_end: ModelCallEndRef,
    on_tool_call_start: ToolCallStartRef,
    on_tool_call_end: ToolCallEndRef,
    on_session_start: SessionStartRef,
    on_session_end: SessionEndRef,
    on_subagent_spawned: SubagentSpawnedRef,
    on_subagent_ended: SubagentEndedRef,
}

extern "C" fn flush(_s: &PluginState, _timeout_ms: u64) -> RResult<(), RString> {
    ROk(())
}

extern "C" fn shutdown(_s: &PluginState, _timeout_ms: u64) -> RResult<(), RString> {
    ROk(())
}

extern "C" fn stats(s: &PluginState) -> PluginStats {
    let calls = state(s).calls.load(Ordering::Relaxed);
    PluginStats {
        accepted: calls,
        extra: RVec::from(vec![Tuple2(RString::from("panics_contained"), calls)]),
        ..PluginStats::default()
    }
}
