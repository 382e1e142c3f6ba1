//! Any sequence of hook events (ids from a small set so that starts, ends and calls collide, any
//! timestamps, any text as content): the assembler and the span builder never panic, and every
//! run they finish becomes spans under one root.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openclaw_mlflow::event::{Ctx, Event};
use openclaw_mlflow::exporter::assembler::Assembler;
use openclaw_mlflow::exporter::mlflow_spans::{build, SpanOptions};
use openclaw_mlflow::redact::Redactor;
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};
use std::time::Duration;

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn options() -> &'static SpanOptions {
    static OPTIONS: std::sync::OnceLock<SpanOptions> = std::sync::OnceLock::new();
    OPTIONS.get_or_init(|| SpanOptions {
        track_token_usage: true,
        track_costs: true,
        track_latency: true,
        redactor: Redactor::new(&[]),
        max_content_bytes: 8192,
        max_history_messages: 20,
        scope: opentelemetry::InstrumentationScope::builder("fuzz").build(),
    })
}

fuzz_target!(|data: &[u8]| {
    let opts = options();
    let mut assembler = Assembler::new(Duration::from_secs(60), 8, openclaw_mlflow::pricing::PriceTable::builtin());
    let mut out = Vec::new();
    for chunk in data.chunks(12) {
        let [kind, run, id, ts_hi, ts_lo, outcome, rest @ ..] = chunk else { break };
        let ctx = Ctx {
            ts_ms: u64::from(*ts_hi) << 8 | u64::from(*ts_lo),
            run_id: format!("r{}", run % 4),
            session_key: format!("agent:a:s{}", run % 3),
            session_id: String::new(),
            agent_id: String::new(),
            channel: String::new(),
        };
        let call = format!("c{}", id % 3);
        let content = Some(text(rest));
        let outcome = Outcome(*outcome % 4);
        let event = match kind % 10 {
            0 => Event::MessageStart { ctx, prompt: content, trigger: String::new() },
            1 => Event::MessageEnd { ctx, outcome, error: text(rest), response: content, duration_ms: Some(u64::from(*id)) },
            2 => Event::ModelCallStart { ctx, call_id: call, provider: "p".into(), model: text(rest), input_messages: content },
            3 => Event::ModelCallEnd {
                ctx,
                call_id: call,
                provider: String::new(),
                model: "gpt-5".into(),
                outcome,
                error: String::new(),
                duration_ms: Some(u64::from(*id) * 1000),
                usage: Some(TokenUsage { input: u64::MAX / 2, output: 7, cache_read: 1, cache_write: 0, total: 3 }),
                cost_usd: (id % 2 == 0).then_some(ModelCost { total: f64::from(*id), ..ModelCost::default() }),
                response: content.clone(),
                tool_calls: content.clone(),
            },
            4 => Event::ToolCallStart { ctx, tool_call_id: call, tool_name: text(rest), params: content },
            5 => Event::ToolCallEnd { ctx, tool_call_id: call, tool_name: "t".into(), outcome, error: text(rest), duration_ms: None, result: content },
            6 => Event::SubagentSpawned { ctx, child_session_key: format!("agent:a:s{}", id % 3), child_agent_id: String::new(), label: String::new(), model: String::new() },
            7 => Event::SubagentEnded { ctx, child_session_key: String::new(), outcome, error: String::new() },
            8 => Event::SessionStart { ctx },
            _ => Event::SessionEnd { ctx, reason: text(rest) },
        };
        assembler.apply(event, &mut out);
    }
    assembler.finish_all("end of input", &mut out);
    for finished in &out {
        let ready = build(finished, opts);
        let root = ready.spans[0].span_context.span_id();
        assert!(ready.spans[1..].iter().all(|s| s.parent_span_id == root && s.end_time >= s.start_time));
    }
});
