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

    for_each_event_hook!(panicking_hooks);

    fn stats(&self) -> PluginStats {
        let calls = self.calls.load(Ordering::Relaxed);
        PluginStats {
            accepted: calls,
            extra: RVec::from(vec![Tuple2(RString::from("panics_contained"), calls)]),
            ..PluginStats::default()
        }
    }
}
