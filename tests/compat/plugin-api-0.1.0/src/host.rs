//! What the host lends a plugin: its logger (and, in later interfaces, more capabilities).

use abi_stable::{std_types::RStr, StableAbi};

#[repr(u8)]
#[derive(StableAbi, Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// The host's side of the contract. `log` may be called from any thread, including a plugin's
/// background threads, so the host's logger must be thread-safe.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = HostHandleRef)))]
#[sabi(missing_field(panic))]
pub struct HostHandle {
    /// The most verbose level the host will print. Plugins skip formatting anything above it, so a
    /// debug line costs nothing on a gateway that does not show debug lines.
    pub max_log_level: LogLevel,
    #[sabi(last_prefix_field)]
    pub log: extern "C" fn(level: LogLevel, line: RStr<'_>),
}

impl HostHandleRef {
    pub fn enabled(self, level: LogLevel) -> bool {
        level <= self.max_log_level()
    }

    pub fn write(self, level: LogLevel, line: &str) {
        if self.enabled(level) {
            (self.log())(level, RStr::from_str(line));
        }
    }
}
