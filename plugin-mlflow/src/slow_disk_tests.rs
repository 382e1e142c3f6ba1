//! The host's calls are bounded by their deadlines whatever the disk does: with a spool on a disk
//! that takes seconds per write, sync and deletion, `flush` and `shutdown` still return by their
//! deadline and say what was not delivered.

use super::*;
use crate::config::{Config, Env};
use crate::exporter::spool::slow_disk;
use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
use openclaw_plugin_api::OwnedContext;

struct NoEnv;

impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

extern "C" fn quiet(_: LogLevel, _: RStr<'_>) {}

/// Each disk operation on the spool takes this long.
const DISK_DELAY: Duration = Duration::from_secs(5);
/// What the host gives each call.
const BUDGET: Duration = Duration::from_millis(500);
/// A call returns within this of its deadline: well under one disk operation.
const SLACK: Duration = Duration::from_millis(1500);

fn turn(i: u64) -> [OwnedEvent; 2] {
    let ctx = OwnedContext {
        ts_ms: 1_000 + i,
        run_id: format!("run-{i}"),
        session_key: "agent:main:main".into(),
        ..OwnedContext::default()
    };
    [
        OwnedEvent { ctx: ctx.clone(), hook: Hook::MessageStart { prompt: Some("hi".into()), trigger: "user".into() } },
        OwnedEvent {
            ctx,
            hook: Hook::MessageEnd {
                outcome: Outcome::COMPLETED,
                error: String::new(),
                response: Some("hello".into()),
                duration_ms: Some(5),
            },
        },
    ]
}

#[test]
fn flush_and_shutdown_return_by_their_deadlines_while_the_spool_disk_is_slow() {
    let dir = std::env::temp_dir().join(format!("slow-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    slow_disk::slow_down(&dir, DISK_DELAY);
    // Port 9 (discard) refuses: MLflow is away, so what is queued waits in the spool.
    let json = format!(r#"{{"trackingUri": "http://127.0.0.1:9", "spoolDir": {:?}}}"#, dir.display().to_string());
    let config = Config::parse(&json, &NoEnv).unwrap();
    let host = HostHandle { max_log_level: LogLevel::Error, log: quiet }.leak_into_prefix();
    let plugin = MlflowPlugin::start(config, Log::new(host)).unwrap();
    for i in 0..3 {
        turn(i).into_iter().for_each(|event| plugin.intake.offer(event));
    }

    let asked = Instant::now();
    let flushed = plugin.flush(BUDGET);
    let took = asked.elapsed();
    assert!(took < BUDGET + SLACK, "flush took {took:?} with a budget of {BUDGET:?}");
    let said = flushed.expect_err("nothing can have been delivered");
    assert!(said.contains("3 trace(s)") && said.contains("not yet delivered"), "{said}");

    let asked = Instant::now();
    let stopped = plugin.shutdown(BUDGET);
    let took = asked.elapsed();
    assert!(took < BUDGET + SLACK, "shutdown took {took:?} with a budget of {BUDGET:?}");
    let said = stopped.expect_err("nothing can have been delivered");
    assert!(
        said.starts_with("3 trace(s)") && said.contains("could not be delivered before the shutdown deadline"),
        "{said}"
    );
    assert!(said.contains("the mlflow delivery thread did not answer in time"), "{said}");
}
