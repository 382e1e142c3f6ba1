//! Log lines through the host's logger, formatted only when the host will print them.

use openclaw_plugin_api::{HostHandleRef, LogLevel};

/// "64 KiB", "960 MiB", "1 GiB": a size limit as an operator reads it.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

#[derive(Clone, Copy)]
pub struct Log {
    host: HostHandleRef,
}

impl Log {
    pub fn new(host: HostHandleRef) -> Log {
        Log { host }
    }

    pub fn enabled(&self, level: LogLevel) -> bool {
        self.host.enabled(level)
    }

    pub fn at(&self, level: LogLevel, line: impl FnOnce() -> String) {
        if self.host.enabled(level) {
            self.host.write(level, &line());
        }
    }

    pub fn error(&self, line: impl FnOnce() -> String) {
        self.at(LogLevel::Error, line)
    }
    pub fn warn(&self, line: impl FnOnce() -> String) {
        self.at(LogLevel::Warn, line)
    }
    pub fn info(&self, line: impl FnOnce() -> String) {
        self.at(LogLevel::Info, line)
    }
    pub fn debug(&self, line: impl FnOnce() -> String) {
        self.at(LogLevel::Debug, line)
    }
}

/// Lets a persisting problem be logged once per interval rather than once per attempt.
pub struct Throttle {
    every: std::time::Duration,
    last: Option<std::time::Instant>,
}

impl Throttle {
    pub fn new(every: std::time::Duration) -> Throttle {
        Throttle { every, last: None }
    }

    /// True (and restarts the interval) when a line may be logged now.
    pub fn due(&mut self) -> bool {
        let due = self.last.is_none_or(|t| t.elapsed() >= self.every);
        if due {
            self.last = Some(std::time::Instant::now());
        }
        due
    }

    /// The problem is over: the next one is logged at once.
    pub fn reset(&mut self) {
        self.last = None;
    }
}
