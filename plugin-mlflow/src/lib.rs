//! `openclaw-mlflow`: an OpenClaw plugin that puts every agent turn into MLflow as a trace.
//!
//! - `lib.rs` (this file): the exported root module and the hooks, which only copy the event and
//!   queue it (`intake`), never waiting on anything;
//! - `config`: the settings and their validation;
//! - `doctor`: the troubleshooting the host's `doctor` command runs for this plugin;
//! - `exporter`: the background threads that build traces and send them;
//! - `tokens`: one model call's usage in MLflow's convention, whatever the host reported;
//! - `pricing`, `redact`: cost for calls the host did not price, secrets out of captured content.

pub mod config;
mod doctor;
mod doorbell;
mod event_queue;
pub mod exporter;
pub mod genai;
mod intake;
mod log;
pub mod pricing;
pub mod redact;
#[cfg(test)]
mod slow_disk_tests;
mod spool_admin;
mod stats;
pub mod tokens;

use exporter::Exporter;
use intake::{copy_ctx, Intake};
use log::Log;
use openclaw_plugin_api::abi_stable::std_types::RStr;
use openclaw_plugin_api::*;
use stats::Counters;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PLUGIN_ID: &str = "mlflow";

/// The plugin's own allocator. The hooks allocate the event copies on the host's threads and the
/// exporter thread frees them; with glibc's malloc that cross-thread traffic contends on arena
/// locks and trims and regrows the heap, which showed as microseconds on the hot path. mimalloc's
/// thread-local heaps with lock-free cross-thread frees keep a hook's copy at memcpy speed.
/// (The host's allocations are unaffected: a cdylib's global allocator is its own.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One started plugin.
pub struct MlflowPlugin {
    log: Log,
    intake: Intake,
    stats: Arc<Counters>,
    /// Only the host's `flush`/`shutdown`/`stats` calls take this, never the event hooks.
    exporter: Mutex<Option<Exporter>>,
}

export_plugin!(MlflowPlugin);

/// An id, name or other short label: copied up to `intake::MAX_LABEL_BYTES`.
fn s(value: RStr<'_>) -> String {
    intake::label(value.as_str())
}

impl MlflowPlugin {
    /// Starts the pipeline behind the hooks: the queue and the exporter's threads (for `init`, and
    /// for `doctor`'s test trace, which goes the very same way).
    fn start(config: config::Config, log: Log) -> Result<MlflowPlugin, String> {
        let stats = Arc::new(Counters::default());
        let (queue, queued) = event_queue::event_queue(config.limits.queue_capacity, config.limits.max_queue_bytes);
        let doorbell = Arc::new(doorbell::Doorbell::default());
        let intake = Intake::new(&config.capture, queue, stats.clone(), doorbell.clone());
        if !config.signals.traces {
            let otlp_traces = config.destination.otlp.as_ref().is_some_and(|o| o.traces);
            log.info(|| match otlp_traces {
                true => "MLflow: trackTraces is false; MLflow gets only the run's metrics, the otlp export the traces"
                    .into(),
                false => "MLflow: trackTraces is false; only the run's metrics are sent".into(),
            });
        }
        log.info(|| {
            format!(
                "MLflow plugin {} starting: trackingUri={} experiment={:?} batchSize={} flushIntervalMs={} captureContent={}",
                env!("CARGO_PKG_VERSION"),
                config.destination.tracking_uri.as_deref().unwrap_or("(none: OTLP export only)"),
                config.destination.experiment,
                config.batching.batch_size,
                config.batching.flush_interval.as_millis(),
                config.capture.parts.names_on()
            )
        });
        for url in config.destination.credentials_in_clear() {
            log.warn(|| {
                format!("credentials go to {url} in clear text (plain http:// to another machine): anyone on the network path can read them, and the conversations; use https:// (caBundle for a private CA)")
            });
        }
        let exporter = Exporter::start(config, queued, doorbell, stats.clone(), log)?;
        Ok(MlflowPlugin { log, intake, stats, exporter: Mutex::new(Some(exporter)) })
    }

    /// The body of every event hook: a load and a branch (closed?), then copy and queue. Every hook
    /// is wanted: even with `trackTraces: false` the run's metrics count messages and calls.
    #[inline]
    fn queue_event(&self, make: impl FnOnce(&Intake) -> OwnedEvent) {
        if !self.intake.refuse_if_closed() {
            self.intake.offer(make(&self.intake));
        }
    }
}

impl Plugin for MlflowPlugin {
    const ID: &'static str = PLUGIN_ID;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(config_json: &str, host: HostHandleRef) -> Result<MlflowPlugin, String> {
        let config = config::Config::parse(config_json, &config::ProcessEnv)?;
        if !config.enabled {
            return Err("mlflow config `enabled`: expected true to start the plugin".into());
        }
        MlflowPlugin::start(config, Log::new(host))
    }

    fn doctor(config_json: &str, host: HostHandleRef) -> Vec<DoctorCheck> {
        doctor::run(config_json, &config::ProcessEnv, Log::new(host))
    }

    fn command(config_json: &str, args: &[String], _host: HostHandleRef) -> Result<String, String> {
        match args.split_first() {
            Some((name, rest)) if name == "spool" => {
                spool_admin::run(&config::Config::parse(config_json, &config::ProcessEnv)?, rest)
            }
            _ => Err(format!("the mlflow plugin's commands:\n{}", spool_admin::USAGE)),
        }
    }

    fn on_message_start(&self, ctx: EventContextRef<'_>, ev: MessageStartRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::MessageStart {
                prompt: i.content(i.parts.previews, ev.prompt()),
                trigger: ev.trigger().map(s).unwrap_or_default(),
            },
        });
    }

    fn on_message_end(&self, ctx: EventContextRef<'_>, ev: MessageEndRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::MessageEnd {
                outcome: ev.outcome(),
                error: i.error_text(i.parts.previews, ev.error()),
                response: i.content(i.parts.previews, ev.response()),
                duration_ms: ev.duration_ms().into_option(),
            },
        });
    }

    fn on_model_call_start(&self, ctx: EventContextRef<'_>, ev: ModelCallStartRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::ModelCallStart {
                call_id: s(ev.call_id()),
                provider: s(ev.provider()),
                model: s(ev.model()),
                // The system prompt crosses as the first message.
                input_messages: ev.input_messages().and_then(|m| i.json_content(i.parts.keeps_model_input(), m)),
                tool_definitions: ev.tool_definitions().and_then(|t| i.tool_definitions(t)),
            },
        });
    }

    fn on_model_call_end(&self, ctx: EventContextRef<'_>, ev: ModelCallEndRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::ModelCallEnd {
                call_id: s(ev.call_id()),
                provider: s(ev.provider()),
                model: s(ev.model()),
                outcome: ev.outcome(),
                error: i.error_text(i.parts.output_messages, ev.error()),
                duration_ms: ev.duration_ms().into_option(),
                usage: ev.usage().into_option(),
                cost_usd: ev.cost_usd().into_option(),
                response: ev.response().and_then(|r| i.content(i.parts.keeps_replies(), r)),
                tool_calls: ev.tool_calls().and_then(|t| i.json_content(i.parts.keeps_replies(), t)),
            },
        });
    }

    fn on_tool_call_start(&self, ctx: EventContextRef<'_>, ev: ToolCallStartRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::ToolCallStart {
                tool_call_id: s(ev.tool_call_id()),
                tool_name: s(ev.tool_name()),
                params: i.content(i.parts.tool_inputs, ev.params()),
            },
        });
    }

    fn on_tool_call_end(&self, ctx: EventContextRef<'_>, ev: ToolCallEndRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::ToolCallEnd {
                tool_call_id: s(ev.tool_call_id()),
                tool_name: s(ev.tool_name()),
                outcome: ev.outcome(),
                error: i.error_text(i.parts.tool_outputs, ev.error()),
                duration_ms: ev.duration_ms().into_option(),
                result: i.content(i.parts.keeps_tool_results(), ev.result()),
                documents: ev.documents().and_then(|d| i.json_content(i.parts.tool_outputs, d)),
            },
        });
    }

    fn on_session_start(&self, ctx: EventContextRef<'_>, ev: SessionStartRef<'_>) {
        let hook = Hook::SessionStart { resumed_from: s(ev.resumed_from()) };
        self.queue_event(|_| OwnedEvent { ctx: copy_ctx(ctx), hook });
    }

    fn on_session_end(&self, ctx: EventContextRef<'_>, ev: SessionEndRef<'_>) {
        let hook = Hook::SessionEnd {
            reason: s(ev.reason()),
            message_count: ev.message_count().into_option(),
            duration_ms: ev.duration_ms().into_option(),
        };
        self.queue_event(|_| OwnedEvent { ctx: copy_ctx(ctx), hook });
    }

    fn on_subagent_spawned(&self, ctx: EventContextRef<'_>, ev: SubagentSpawnedRef<'_>) {
        self.queue_event(|_| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::SubagentSpawned {
                child_session_key: s(ev.child_session_key()),
                child_agent_id: s(ev.child_agent_id()),
                label: s(ev.label()),
                model: s(ev.model()),
            },
        });
    }

    fn on_subagent_ended(&self, ctx: EventContextRef<'_>, ev: SubagentEndedRef<'_>) {
        self.queue_event(|i| OwnedEvent {
            ctx: copy_ctx(ctx),
            hook: Hook::SubagentEnded {
                child_session_key: s(ev.child_session_key()),
                outcome: ev.outcome(),
                error: i.error_text(i.parts.previews, ev.error()),
            },
        });
    }

    fn flush(&self, timeout: Duration) -> Result<(), String> {
        let guard = self.exporter.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(exporter) => exporter.flush(Instant::now() + timeout),
            None => Ok(()),
        }
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.intake.close();
        let exporter = self.exporter.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut exporter) = exporter else { return Ok(()) };
        let result = exporter.shutdown(Instant::now() + timeout);
        let st = self.stats.snapshot();
        self.log.info(|| {
            format!(
                "MLflow plugin stopped: {} events accepted, {} dropped; {} traces exported, {} failed",
                st.accepted, st.dropped, st.exported, st.failed
            )
        });
        result
    }

    fn stats(&self) -> PluginStats {
        self.stats.snapshot()
    }
}
