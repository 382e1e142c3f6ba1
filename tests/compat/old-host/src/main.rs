//! A host built against interface 0.1.0, to prove that a plugin built against a later interface
//! still loads and runs in it: `old-host PLUGIN.so CONFIG_JSON RUN_ID` loads the plugin, starts it,
//! drives one message with one model call through the hooks 0.1.0 knows, stops it, and prints the
//! plugin's stats as one JSON-ish line.

use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
use openclaw_plugin_api::abi_stable::std_types::{RNone, RSome, RStr};
use openclaw_plugin_api::*;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

extern "C" fn log(level: LogLevel, line: RStr<'_>) {
    eprintln!("[old-host] {}: {}", level.as_str(), line.as_str());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, config, run_id) = (&args[1], &args[2], &args[3]);
    let module = load_plugin_library(Path::new(path)).unwrap_or_else(|e| panic!("load: {e}"));
    let host = HostHandle { max_log_level: LogLevel::Debug, log }.leak_into_prefix();
    let object = module.init()(RStr::from_str(config), host).into_result().unwrap_or_else(|e| panic!("init: {e}"));
    let (hooks, state) = (object.hooks, &*object.state);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 - 5_000;
    let s = RStr::from_str;
    let ctx = |ts_ms| EventContext {
        ts_ms,
        run_id: s(run_id),
        session_key: s("agent:main:main"),
        session_id: s("old-host-session"),
        agent_id: s("main"),
    };
    lend(ctx(now), |c| {
        lend(MessageStart { prompt: s("hello from an old host") }, |e| hooks.on_message_start()(state, c, e))
    });
    let call = format!("{run_id}:model:1");
    lend(ctx(now + 10), |c| {
        lend(ModelCallStart { call_id: s(&call), provider: s("openai"), model: s("gpt-5-mini") }, |e| {
            hooks.on_model_call_start()(state, c, e)
        })
    });
    let usage = TokenUsage { input: 100, output: 20, cache_read: 0, cache_write: 0, total: 120 };
    lend(ctx(now + 500), |c| {
        lend(
            ModelCallEnd {
                call_id: s(&call),
                provider: s("openai"),
                model: s("gpt-5-mini"),
                outcome: Outcome::COMPLETED,
                error: s(""),
                duration_ms: RSome(490),
                usage: RSome(usage),
                cost_usd: RNone,
            },
            |e| hooks.on_model_call_end()(state, c, e),
        )
    });
    lend(ctx(now + 520), |c| {
        lend(
            MessageEnd { outcome: Outcome::COMPLETED, error: s(""), response: s("hi!"), duration_ms: RSome(520) },
            |e| hooks.on_message_end()(state, c, e),
        )
    });
    // Said, not asserted: the test reads the stats; these say where the time went when they differ.
    if let Err(e) = hooks.flush()(state, 20_000).into_result() {
        eprintln!("[old-host] flush: {e}");
    }
    if let Err(e) = hooks.shutdown()(state, 20_000).into_result() {
        eprintln!("[old-host] shutdown: {e}");
    }
    let st = hooks.stats()(state);
    println!("STATS accepted={} dropped={} exported={} failed={}", st.accepted, st.dropped, st.exported, st.failed);
}
