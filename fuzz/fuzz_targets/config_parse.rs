//! Any text as the plugin's configuration: `Config::parse` returns Ok or a message, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openclaw_mlflow::config::{Config, Env};

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(message) = Config::parse(text, &NoEnv) {
            assert!(message.contains("config") || message.starts_with("MLFLOW_") || message.starts_with("OTEL_") || message.contains("tracking"), "{message}");
        }
    }
});
