use crate::host::{HostHandleRef, LogLevel};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, and if it panics reports the panic through the host's logger and returns `fallback`.
///
/// Every `extern "C"` function a plugin exports must go through this: a panic unwinding out of an
/// `extern "C"` function aborts the whole host process.
pub fn contain_panic<R>(host: HostHandleRef, what: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_string());
            // Reporting must not panic again: the logger is the host's, and we pass plain text.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                host.write(LogLevel::Error, &format!("plugin panicked in {what}: {message}; the hook was skipped"));
            }));
            fallback
        }
    }
}

/// Runs the body of a host's own `extern "C"` callback (its logger), and swallows a panic in it.
///
/// Every callback a host lends a plugin must go through this: a panic cannot unwind through the
/// plugin that called it (it would abort the process), and the logger that would report it is
/// what failed, so the line is lost and the plugin goes on.
pub fn contain_host_panic(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}
