//! The host handle the addon lends its plugins: their log lines go to the gateway's own logger
//! (`api.logger`), so `grep -i mlflow` on the gateway's log finds them.
//!
//! Plugins log from any thread, and only the gateway's JavaScript thread may call the logger. So a
//! line is queued here (bounded: a flood loses its oldest lines, counted) and the JavaScript side is
//! woken once per batch through a weak threadsafe function, which never keeps the gateway alive.
//! At exit, when the event loop no longer runs, the JavaScript side drains the queue itself.

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
use openclaw_plugin_api::abi_stable::std_types::RStr;
use openclaw_plugin_api::{contain_host_panic, HostHandle, HostHandleRef, LogLevel};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

const MAX_QUEUED_LINES: usize = 1000;

/// Wakes the JavaScript side to drain the queue (its argument is unused).
pub type Wake = ThreadsafeFunction<(), (), (), napi::Status, false, true>;

struct Sink {
    lines: Mutex<VecDeque<(LogLevel, String)>>,
    /// Set while a wake is on its way, so a burst of lines costs one wake.
    wake_pending: AtomicBool,
    lost: AtomicU64,
    wake: OnceLock<Wake>,
}

static SINK: Sink = Sink {
    lines: Mutex::new(VecDeque::new()),
    wake_pending: AtomicBool::new(false),
    lost: AtomicU64::new(0),
    wake: OnceLock::new(),
};
static HANDLE: OnceLock<HostHandleRef> = OnceLock::new();

/// The handle for `init`, with the gateway's log level decided once.
pub fn host_handle(max_level: LogLevel, wake: Wake) -> HostHandleRef {
    let _ = SINK.wake.set(wake);
    *HANDLE.get_or_init(|| HostHandle { max_log_level: max_level, log: plugin_log }.leak_into_prefix())
}

/// The addon's own lines take the same road.
pub fn log(level: LogLevel, line: &str) {
    match HANDLE.get() {
        Some(handle) => handle.write(level, line),
        None => queue(level, line.to_string()),
    }
}

extern "C" fn plugin_log(level: LogLevel, line: RStr<'_>) {
    contain_host_panic(|| queue(level, line.as_str().to_string()));
}

fn queue(level: LogLevel, line: String) {
    {
        let mut lines = SINK.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() >= MAX_QUEUED_LINES {
            lines.pop_front();
            SINK.lost.fetch_add(1, Ordering::Relaxed);
        }
        lines.push_back((level, line));
    }
    if !SINK.wake_pending.swap(true, Ordering::AcqRel) {
        if let Some(wake) = SINK.wake.get() {
            wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// Everything queued, oldest first, as `[level, line, level, line, ...]`.
pub fn drain() -> Vec<String> {
    SINK.wake_pending.store(false, Ordering::Release);
    let mut lines = SINK.lines.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(lines.len() * 2 + 2);
    let lost = SINK.lost.swap(0, Ordering::Relaxed);
    if lost > 0 {
        out.push("warn".to_string());
        out.push(format!("MLflow host: {lost} log lines were dropped (the gateway's logger fell behind)"));
    }
    for (level, line) in lines.drain(..) {
        out.push(level.as_str().to_string());
        out.push(line);
    }
    out
}
