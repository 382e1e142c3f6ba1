//! Keeps a background thread's work going through a panic. Without this, a bug hit on the
//! assembler or a delivery thread would end that thread, and tracing would stop without a word
//! while the hooks kept queueing. Instead the panic is caught, counted (`thread_panics`), logged
//! through the host's logger (once a minute at most), and the work resumed after a short pause;
//! what the work keeps (the mailbox, the spool) outlives the panic, and a request's traces that
//! were out go back to be sent again.

use crate::log::{Log, Throttle};
use crate::stats::Counters;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// Between a panic and the work's restart: a bug hit on every round costs a few rounds a second,
/// not a spinning core.
const RESTART_PAUSE: Duration = Duration::from_millis(250);

/// Runs `work` until it returns, restarting it after each panic.
pub fn supervised(thread: &str, stats: &Counters, log: &Log, mut work: impl FnMut()) {
    let mut said = Throttle::new(Duration::from_secs(60));
    while let Err(payload) = catch_unwind(AssertUnwindSafe(&mut work)) {
        Counters::add(&stats.thread_panics, 1);
        if said.due() {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            log.error(|| {
                format!("MLflow plugin: the {thread} thread panicked ({what}); restarted, nothing it held is lost (please report this bug)")
            });
        }
        std::thread::sleep(RESTART_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
    use openclaw_plugin_api::abi_stable::std_types::RStr;
    use openclaw_plugin_api::{HostHandle, LogLevel};
    use std::sync::Mutex;

    static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    extern "C" fn log(_: LogLevel, line: RStr<'_>) {
        LOGGED.lock().unwrap().push(line.as_str().to_string());
    }

    #[test]
    fn a_panic_is_counted_logged_once_and_the_work_resumed_until_it_returns() {
        let stats = Counters::default();
        let log = Log::new(HostHandle { max_log_level: LogLevel::Error, log }.leak_into_prefix());
        let mut rounds = 0;
        supervised("test", &stats, &log, || {
            rounds += 1;
            if rounds <= 2 {
                panic!("round {rounds}");
            }
        });
        assert_eq!(rounds, 3, "resumed after each panic, ended when the work returned");
        assert_eq!(stats.thread_panics.load(std::sync::atomic::Ordering::Relaxed), 2);
        let logged = LOGGED.lock().unwrap().clone();
        assert_eq!(logged.len(), 1, "once a minute at most: {logged:?}");
        assert!(logged[0].contains("the test thread panicked (round 1)"), "{logged:?}");
    }
}
