//! The host's logger: one line per message on stderr, `<time> [<source>] <level>: <text>`, like a
//! gateway log, so `grep -i mlflow` finds the plugin's lines. The level comes from
//! `OPENCLAW_LOG_LEVEL` (error, warn, info, debug; default info) or `--verbose`.

use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
use openclaw_plugin_api::abi_stable::std_types::RStr;
use openclaw_plugin_api::{contain_host_panic, HostHandle, HostHandleRef, LogLevel};
use std::io::Write;
use std::num::NonZeroU8;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::iso8601::{Config, EncodedConfig, TimePrecision};
use time::format_description::well_known::Iso8601;

static HANDLE: OnceLock<HostHandleRef> = OnceLock::new();

/// Decides the level once (`quiet`: warnings and errors unless asked for more, for a command whose
/// output is a report); call before anything logs.
pub fn init(verbose: bool, quiet: bool) -> Result<(), String> {
    let level = if verbose {
        LogLevel::Debug
    } else {
        match std::env::var("OPENCLAW_LOG_LEVEL").ok().as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("") if quiet => LogLevel::Warn,
            None | Some("") | Some("info") => LogLevel::Info,
            Some("error") => LogLevel::Error,
            Some("warn") => LogLevel::Warn,
            Some("debug") => LogLevel::Debug,
            Some(other) => return Err(format!("OPENCLAW_LOG_LEVEL={other}: expected one of error, warn, info, debug")),
        }
    };
    let _ = HANDLE.set(HostHandle { max_log_level: level, log: plugin_log }.leak_into_prefix());
    Ok(())
}

pub fn host_handle() -> HostHandleRef {
    *HANDLE.get_or_init(|| HostHandle { max_log_level: LogLevel::Info, log: plugin_log }.leak_into_prefix())
}

extern "C" fn plugin_log(level: LogLevel, line: RStr<'_>) {
    contain_host_panic(|| write_line("plugin", level, line.as_str()));
}

/// The host's own lines.
pub fn host(level: LogLevel, line: &str) {
    if host_handle().enabled(level) {
        write_line("host", level, line);
    }
}

fn write_line(source: &str, level: LogLevel, line: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} [{source}] {}: {line}", iso8601(now.as_millis() as u64), level.as_str());
}

/// ISO 8601 to the millisecond: every line's time has the same width.
const TO_THE_MILLISECOND: EncodedConfig =
    Config::DEFAULT.set_time_precision(TimePrecision::Second { decimal_digits: NonZeroU8::new(3) }).encode();

/// `2026-11-25T17:37:46.742Z` (UTC) from milliseconds since the epoch.
pub fn iso8601(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000);
    at.ok().and_then(|t| t.format(&Iso8601::<TO_THE_MILLISECOND>).ok()).unwrap_or_else(|| format!("{ms}ms"))
}
