//! A plugin whose event hooks panic (and count how often they were called), to prove that a
//! panicking hook is contained by the interface's plumbing and reported through the host's logger.

use openclaw_plugin_api::abi_stable::std_types::{RString, RVec, Tuple2};
use openclaw_plugin_api::*;
use std::sync::atomic::{AtomicU64, Ordering};

struct Panicking {
    calls: AtomicU64,
}

impl Panicking {
    fn panic_in(&self, hook: &str) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        panic!("deliberate panic in {hook}");
    }
}

export_plugin!(Panicking);

macro_rules! panicking_hooks {
    ($($name:ident: $event:ident),* $(,)?) => {$(
        fn $name(&self, _ctx: EventContextRef<'_>, _ev: $event<'_>) {
            self.panic_in(stringify!($name));
        }
    )*};
}

impl Plugin for Panicking {
    const ID: &'static str = "panicking";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(_config_json: &str, _host: HostHandleRef) -> Result<Self, String> {
        Ok(Panicking { calls: AtomicU64::new(0) })
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

    fn stats(&self) -> PluginStats {
        let calls = self.calls.load(Ordering::Relaxed);
        PluginStats {
            accepted: calls,
            extra: RVec::from(vec![Tuple2(RString::from("panics_contained"), calls)]),
            ..PluginStats::default()
        }
    }
}
