//! `openclaw-host bench`: concurrent sessions on several host threads, each hook call timed on the
//! host side through the loaded library. Payloads are shaped like the real recording: prompts of a
//! few KB, tool results of tens of KB.

use crate::{BenchOptions, Host};
use hdrhistogram::Histogram;
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{Hook, OwnedEvent, HOOK_KINDS};
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};
use std::time::Instant;

const PROMPT_BYTES: usize = 3 * 1024;
const TOOL_RESULT_BYTES: usize = 24 * 1024;
const RESPONSE_BYTES: usize = 1024;
/// A message's length: its `message_end` is stamped this long after its start.
const MESSAGE_MS: u64 = 1850;

fn filler(n: usize, seed: &str) -> String {
    let base = format!("{seed} The quick brown fox jumps over the lazy dog; 0123456789. ");
    base.repeat(n / base.len() + 1)[..n].to_string()
}

/// The 8 hook calls of one message: start, model, tool, model, end. `name` (`--name`) sets this
/// host's turns apart from another's.
fn message(name: &str, session: usize, n: usize, ts: u64, payload: &Payload) -> Vec<OwnedEvent> {
    let ctx = OwnedContext {
        ts_ms: ts,
        run_id: format!("bench{name}-{session}-{n}"),
        session_key: format!("agent:bench{}:bench{name}:direct:{session}", session % 8),
        session_id: format!("bench{name}-session-{session}"),
        agent_id: format!("bench{}", session % 8),
        channel: "bench".into(),
    };
    let at = |dt: u64| ctx.at(ts + dt);
    let usage = TokenUsage { input: 2000, output: 150, cache_read: 12_000, cache_write: 0, total: 14_150 };
    let model_end = |i: u32, response: &str| Hook::ModelCallEnd {
        call_id: format!("{}:model:{i}", ctx.run_id),
        provider: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
        outcome: Outcome::COMPLETED,
        error: String::new(),
        duration_ms: Some(900),
        usage: Some(usage),
        cost_usd: Some(ModelCost {
            input: 0.006,
            output: 0.00225,
            cache_read: 0.0036,
            cache_write: 0.0,
            total: 0.01185,
        }),
        response: Some(response.into()),
        tool_calls: if i == 1 {
            Some(format!(r#"[{{"id":"call-{session}-{n}","name":"read","arguments":{{"path":"notes/report.md"}}}}]"#))
        } else {
            None
        },
    };
    let model_start = |i: u32| Hook::ModelCallStart {
        call_id: format!("{}:model:{i}", ctx.run_id),
        provider: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
        input_messages: if i == 1 {
            Some(serde_json::json!([{"role": "user", "content": payload.prompt}]).to_string())
        } else {
            None
        },
        tool_definitions: None,
    };
    vec![
        OwnedEvent {
            ctx: at(0),
            hook: Hook::MessageStart { prompt: Some(payload.prompt.clone()), trigger: "user".into() },
        },
        OwnedEvent { ctx: at(10), hook: model_start(1) },
        OwnedEvent { ctx: at(910), hook: model_end(1, "") },
        OwnedEvent {
            ctx: at(915),
            hook: Hook::ToolCallStart {
                tool_call_id: format!("call-{session}-{n}"),
                tool_name: "read".into(),
                params: Some(r#"{"path":"notes/report.md"}"#.into()),
            },
        },
        OwnedEvent {
            ctx: at(940),
            hook: Hook::ToolCallEnd {
                tool_call_id: format!("call-{session}-{n}"),
                tool_name: "read".into(),
                outcome: Outcome::COMPLETED,
                error: String::new(),
                duration_ms: Some(25),
                result: Some(payload.tool_result.clone()),
                documents: None,
            },
        },
        OwnedEvent { ctx: at(945), hook: model_start(2) },
        OwnedEvent { ctx: at(1845), hook: model_end(2, &payload.response) },
        OwnedEvent {
            ctx: at(MESSAGE_MS),
            hook: Hook::MessageEnd {
                outcome: Outcome::COMPLETED,
                error: String::new(),
                response: Some(payload.response.clone()),
                duration_ms: Some(MESSAGE_MS),
            },
        },
    ]
}

struct Payload {
    prompt: String,
    tool_result: String,
    response: String,
}

pub fn run(host: &Host, o: &BenchOptions) -> Result<(), String> {
    let threads = usize::from(o.threads);
    let name = o.name.as_deref().map(|n| format!("-{n}")).unwrap_or_default();
    let name = name.as_str();
    if host.plugins.plugins.is_empty() {
        return Err("bench: no plugin started; check the configuration".into());
    }
    let payload = Payload {
        prompt: filler(PROMPT_BYTES, "Please summarise the report."),
        tool_result: filler(TOOL_RESULT_BYTES, "# Report"),
        response: filler(RESPONSE_BYTES, "Summary:"),
    };
    let base_ts = crate::demo::now_ms();
    let started = Instant::now();
    let per_thread: Vec<(Vec<Histogram<u64>>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let payload = &payload;
                scope.spawn(move || {
                    let mut hists: Vec<Histogram<u64>> =
                        HOOK_KINDS.iter().map(|_| Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()).collect();
                    let mut calls = 0u64;
                    let sessions: Vec<usize> = (t..o.sessions).step_by(threads).collect();
                    // --rate: messages per second over all threads; each thread keeps its share.
                    let interval =
                        (o.rate > 0).then(|| std::time::Duration::from_secs_f64(threads as f64 / o.rate as f64));
                    let mut sent = 0u32;
                    for n in 0..o.messages {
                        for &session in &sessions {
                            if let Some(interval) = interval {
                                let due = started + interval * sent;
                                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                    std::thread::sleep(wait);
                                }
                                sent += 1;
                            }
                            let ts = if o.live {
                                crate::demo::now_ms().saturating_sub(MESSAGE_MS)
                            } else {
                                base_ts + n as u64 * 2000
                            };
                            for event in message(name, session, n, ts, payload) {
                                let t0 = Instant::now();
                                host.dispatch(&event);
                                let ns = t0.elapsed().as_nanos() as u64;
                                let _ = hists[event.hook.kind_index()].record(ns.max(1));
                                calls += 1;
                            }
                        }
                    }
                    (hists, calls)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("bench thread panicked")).collect()
    });
    let wall = started.elapsed();
    let mut merged: Vec<Histogram<u64>> =
        HOOK_KINDS.iter().map(|_| Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()).collect();
    let mut calls = 0;
    for (hists, n) in per_thread {
        calls += n;
        for (m, h) in merged.iter_mut().zip(hists) {
            m.add(h).map_err(|e| e.to_string())?;
        }
    }
    let pace = if o.rate > 0 { format!(" at {} messages/s", o.rate) } else { " unpaced".to_string() };
    println!(
        "bench: {} sessions x {} messages on {} threads{pace}: {calls} hook calls in {:.3} s = {:.0} hook calls/s",
        o.sessions,
        o.messages,
        o.threads,
        wall.as_secs_f64(),
        calls as f64 / wall.as_secs_f64()
    );
    println!("{:<18} {:>9} {:>9} {:>9} {:>9} {:>9}", "hook", "calls", "p50 ns", "p99 ns", "p99.9 ns", "max ns");
    let mut kinds = serde_json::Map::new();
    for (name, h) in HOOK_KINDS.iter().zip(&merged) {
        if h.is_empty() {
            continue;
        }
        let (p50, p99, p999, max) =
            (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.value_at_quantile(0.999), h.max());
        println!("{name:<18} {:>9} {p50:>9} {p99:>9} {p999:>9} {max:>9}", h.len());
        kinds.insert(
            name.to_string(),
            serde_json::json!({"calls": h.len(), "mean_ns": h.mean(), "p50_ns": p50, "p99_ns": p99, "p999_ns": p999, "max_ns": max}),
        );
    }
    let line = serde_json::json!({
        "sessions": o.sessions, "messages": o.messages, "threads": o.threads, "rate": o.rate, "hook_calls": calls,
        "wall_s": wall.as_secs_f64(), "hook_calls_per_s": calls as f64 / wall.as_secs_f64(), "hooks": kinds,
    });
    println!("BENCH {line}");
    Ok(())
}
