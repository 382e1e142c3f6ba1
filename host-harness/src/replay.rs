//! Replays a recording of a real OpenClaw run (`hooks.jsonl`: one `{hook, ts, event, ctx}` object a
//! line) through the plugins, with the original timestamps.
//!
//! OpenClaw's hooks map onto the interface like this:
//! - a run starts at its first hook (`before_agent_reply`, `before_model_resolve`, ..., `llm_input`),
//!   or at the `message_received` that preceded it in the same session;
//! - `model_call_started`/`model_call_ended` are the model-call hooks; their tokens, cost and reply
//!   come from the assistant message that OpenClaw writes right after (`before_message_write`);
//! - `before_tool_call`/`after_tool_call` are the tool-call hooks;
//! - `agent_end` ends the run (its last assistant text is the answer);
//! - `session_start`/`session_end`, `subagent_spawned`/`subagent_ended` map one to one.
//!
//! Everything else (diagnostic and agent events, `llm_output`, ...) is not a hook of the interface.

use crate::host_event::{Ctx, Hook, HostEvent};
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// OpenClaw writes JavaScript's `undefined` as this string in recordings.
fn defined(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null() && v.as_str() != Some("[undefined]"))
}

fn text(v: Option<&Value>) -> String {
    match defined(v) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Text of a message's content: a string, or the `text` parts of a content array.
fn content_text(content: Option<&Value>) -> String {
    match defined(content) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn agent_from_session_key(key: &str) -> String {
    key.strip_prefix("agent:").and_then(|rest| rest.split(':').next()).unwrap_or("").to_string()
}

/// The agent id the hook gives, else the one its session key names.
fn agent_or_from_key(agent_id: String, session_key: &str) -> String {
    if agent_id.is_empty() {
        agent_from_session_key(session_key)
    } else {
        agent_id
    }
}

const RUN_START_HOOKS: [&str; 6] = [
    "before_agent_reply",
    "before_model_resolve",
    "agent_turn_prepare",
    "before_prompt_build",
    "before_agent_run",
    "llm_input",
];

/// What a recording's line says of a run, kept to fill hooks that carry less context.
#[derive(Clone)]
struct RunInfo {
    session_key: String,
    session_id: String,
    agent_id: String,
    channel: String,
}

pub fn translate(recording: &str) -> Result<Vec<HostEvent>, String> {
    let lines: Vec<Value> = recording
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;

    let mut out = Vec::new();
    let mut runs: HashMap<String, RunInfo> = HashMap::new();
    let mut ended: HashSet<String> = HashSet::new();
    let mut received: HashMap<String, u64> = HashMap::new(); // sessionKey -> message_received ts
    let mut session_ids: HashMap<String, String> = HashMap::new();
    let null = Value::Null;

    for (i, line) in lines.iter().enumerate() {
        let hook = line.get("hook").and_then(Value::as_str).unwrap_or("");
        let ts = line.get("ts").and_then(Value::as_u64).unwrap_or(0);
        let ev = line.get("event").unwrap_or(&null);
        let cx = line.get("ctx").unwrap_or(&null);
        let field = |name: &str| defined(ev.get(name)).or_else(|| defined(cx.get(name)));
        let run_id = text(field("runId"));
        let session_key = text(field("sessionKey"));
        if let (Some(sid), false) = (defined(field("sessionId")), session_key.is_empty()) {
            session_ids.insert(session_key.clone(), text(Some(sid)));
        }

        if hook == "message_received" {
            received.insert(session_key, ts);
            continue;
        }
        if RUN_START_HOOKS.contains(&hook) && !run_id.is_empty() && !runs.contains_key(&run_id) {
            let agent_id = agent_or_from_key(text(field("agentId")), &session_key);
            let channel = [text(cx.get("channel")), text(cx.get("messageProvider"))]
                .into_iter()
                .find(|c| !c.is_empty())
                .unwrap_or_default();
            let started_ms = received.remove(&session_key).filter(|&r| r <= ts).unwrap_or(ts);
            let info = RunInfo { session_id: text(field("sessionId")), session_key, agent_id, channel };
            let prompt = [text(ev.get("cleanedBody")), text(ev.get("prompt"))]
                .into_iter()
                .find(|p| !p.is_empty())
                .unwrap_or_default();
            let ctx = run_ctx(&run_id, &info, started_ms);
            runs.insert(run_id.clone(), info);
            out.push(HostEvent { ctx, hook: Hook::MessageStart { prompt, trigger: text(cx.get("trigger")) } });
            continue;
        }
        // A recording may begin in the middle of a run: its later hooks still carry the context.
        let info = runs.get(&run_id).cloned().or_else(|| {
            (!run_id.is_empty() && !session_key.is_empty()).then(|| RunInfo {
                session_key: session_key.clone(),
                session_id: text(field("sessionId")),
                agent_id: agent_or_from_key(text(field("agentId")), &session_key),
                channel: String::new(),
            })
        });
        let hook_event = match (hook, info) {
            ("model_call_started", Some(info)) => Some((
                run_ctx(&run_id, &info, ts),
                Hook::ModelCallStart {
                    call_id: text(ev.get("callId")),
                    provider: text(ev.get("provider")),
                    model: text(ev.get("model")),
                },
            )),
            ("model_call_ended", Some(info)) => {
                let reply = assistant_message_after(&lines[i + 1..], &info.session_key);
                let usage = reply.and_then(|m| m.get("usage"));
                let outcome = if text(ev.get("outcome")) == "error" { Outcome::ERROR } else { Outcome::COMPLETED };
                Some((
                    run_ctx(&run_id, &info, ts),
                    Hook::ModelCallEnd {
                        call_id: text(ev.get("callId")),
                        provider: text(ev.get("provider")),
                        model: text(ev.get("model")),
                        outcome,
                        error: [text(ev.get("error")), text(ev.get("errorMessage"))].concat(),
                        duration_ms: ev.get("durationMs").and_then(Value::as_u64),
                        usage: usage.map(token_usage),
                        cost_usd: usage.and_then(|u| defined(u.get("cost"))).map(model_cost),
                        response: reply.map(|m| content_text(m.get("content"))).unwrap_or_default(),
                    },
                ))
            }
            ("before_tool_call", Some(info)) => Some((
                run_ctx(&run_id, &info, ts),
                Hook::ToolCallStart {
                    tool_call_id: text(ev.get("toolCallId")),
                    tool_name: text(ev.get("toolName")),
                    params: text(ev.get("params")),
                },
            )),
            ("after_tool_call", Some(info)) => {
                let error = text(ev.get("error"));
                let failed = !error.is_empty() || ev.pointer("/result/isError") == Some(&Value::Bool(true));
                Some((
                    run_ctx(&run_id, &info, ts),
                    Hook::ToolCallEnd {
                        tool_call_id: text(ev.get("toolCallId")),
                        tool_name: text(ev.get("toolName")),
                        outcome: if failed { Outcome::ERROR } else { Outcome::COMPLETED },
                        error,
                        duration_ms: ev.get("durationMs").and_then(Value::as_u64),
                        result: text(ev.get("result")),
                    },
                ))
            }
            ("agent_end", Some(info)) if ended.insert(run_id.clone()) => {
                let success = ev.get("success").and_then(Value::as_bool).unwrap_or(true);
                let response = ev
                    .get("messages")
                    .and_then(Value::as_array)
                    .and_then(|m| m.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("assistant")))
                    .map(|m| content_text(m.get("content")))
                    .unwrap_or_default();
                Some((
                    run_ctx(&run_id, &info, ts),
                    Hook::MessageEnd {
                        outcome: if success { Outcome::COMPLETED } else { Outcome::ERROR },
                        error: text(ev.get("error")),
                        response,
                        duration_ms: ev.get("durationMs").and_then(Value::as_u64),
                    },
                ))
            }
            ("session_start", _) => Some((
                session_ctx(&session_key, &text(field("sessionId")), &text(field("agentId")), ts),
                Hook::SessionStart { resumed_from: text(ev.get("resumedFrom")) },
            )),
            ("session_end", _) => Some((
                session_ctx(&session_key, &text(field("sessionId")), &text(field("agentId")), ts),
                Hook::SessionEnd {
                    reason: text(ev.get("reason")),
                    message_count: ev.get("messageCount").and_then(Value::as_u64),
                    duration_ms: ev.get("durationMs").and_then(Value::as_u64),
                },
            )),
            ("subagent_spawned", _) => {
                let ctx = requester_ctx(cx, &session_ids, &run_id, ts);
                Some((
                    ctx,
                    Hook::SubagentSpawned {
                        child_session_key: text(field("childSessionKey")),
                        child_agent_id: text(ev.get("agentId")),
                        label: text(ev.get("label")),
                        model: text(ev.get("resolvedModel")),
                    },
                ))
            }
            ("subagent_ended", _) => {
                let ctx = requester_ctx(cx, &session_ids, &run_id, ts);
                let outcome = match text(ev.get("outcome")).as_str() {
                    "ok" | "completed" | "" => Outcome::COMPLETED,
                    "aborted" | "cancelled" | "killed" => Outcome::ABORTED,
                    _ => Outcome::ERROR,
                };
                Some((
                    ctx,
                    Hook::SubagentEnded {
                        child_session_key: text(ev.get("targetSessionKey")),
                        outcome,
                        error: text(ev.get("error")),
                    },
                ))
            }
            _ => None,
        };
        if let Some((ctx, hook)) = hook_event {
            out.push(HostEvent { ctx, hook });
        }
    }
    Ok(out)
}

fn run_ctx(run_id: &str, info: &RunInfo, ts_ms: u64) -> Ctx {
    Ctx {
        ts_ms,
        run_id: run_id.into(),
        session_key: info.session_key.clone(),
        session_id: info.session_id.clone(),
        agent_id: info.agent_id.clone(),
        channel: info.channel.clone(),
    }
}

fn session_ctx(session_key: &str, session_id: &str, agent_id: &str, ts_ms: u64) -> Ctx {
    let agent_id = agent_or_from_key(agent_id.to_string(), session_key);
    Ctx {
        ts_ms,
        run_id: String::new(),
        session_key: session_key.into(),
        session_id: session_id.into(),
        agent_id,
        channel: String::new(),
    }
}

/// Subagent hooks happen in the requester's session (`ctx.requesterSessionKey`) and name a run.
fn requester_ctx(cx: &Value, session_ids: &HashMap<String, String>, run_id: &str, ts_ms: u64) -> Ctx {
    let parent_key = text(cx.get("requesterSessionKey"));
    let mut ctx = session_ctx(&parent_key, session_ids.get(&parent_key).map_or("", |s| s), "", ts_ms);
    ctx.run_id = run_id.to_string();
    ctx
}

/// The assistant message OpenClaw writes after a model call ends, in the same session, before the
/// next model call of that session ends.
fn assistant_message_after<'a>(rest: &'a [Value], session_key: &str) -> Option<&'a Value> {
    for line in rest {
        let hook = line.get("hook").and_then(Value::as_str).unwrap_or("");
        let key = line.pointer("/ctx/sessionKey").and_then(Value::as_str).unwrap_or("");
        if key != session_key {
            continue;
        }
        if hook == "model_call_ended" {
            return None;
        }
        if hook == "before_message_write" {
            let message = line.pointer("/event/message")?;
            if message.get("role").and_then(Value::as_str) == Some("assistant") {
                return Some(message);
            }
        }
    }
    None
}

fn token_usage(u: &Value) -> TokenUsage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (input, output, cache_read, cache_write) = (n("input"), n("output"), n("cacheRead"), n("cacheWrite"));
    let total = u
        .get("totalTokens")
        .or(u.get("total"))
        .and_then(Value::as_u64)
        .unwrap_or(input + output + cache_read + cache_write);
    TokenUsage { input, output, cache_read, cache_write, total }
}

fn model_cost(c: &Value) -> ModelCost {
    let n = |k: &str| c.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    ModelCost {
        input: n("input"),
        output: n("output"),
        cache_read: n("cacheRead"),
        cache_write: n("cacheWrite"),
        total: n("total"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/openclaw-2026.9.6/hooks.jsonl");

    #[test]
    fn the_recording_becomes_six_runs_with_eleven_model_calls_and_six_tools() {
        let events = translate(FIXTURE).unwrap();
        let count = |f: fn(&Hook) -> bool| events.iter().filter(|e| f(&e.hook)).count();
        assert_eq!(count(|h| matches!(h, Hook::MessageStart { .. })), 6);
        assert_eq!(count(|h| matches!(h, Hook::MessageEnd { .. })), 6);
        assert_eq!(count(|h| matches!(h, Hook::ModelCallStart { .. })), 11);
        assert_eq!(count(|h| matches!(h, Hook::ModelCallEnd { .. })), 11);
        assert_eq!(count(|h| matches!(h, Hook::ToolCallEnd { .. })), 6);
        assert_eq!(count(|h| matches!(h, Hook::SubagentSpawned { .. })), 1);
        assert_eq!(count(|h| matches!(h, Hook::SessionEnd { .. })), 3);
    }

    #[test]
    fn model_calls_get_tokens_and_cost_from_the_assistant_message() {
        let events = translate(FIXTURE).unwrap();
        let first = events.iter().find_map(|e| match &e.hook {
            Hook::ModelCallEnd { usage, cost_usd, .. } => Some((*usage, *cost_usd)),
            _ => None,
        });
        let (usage, cost) = first.unwrap();
        assert_eq!(usage, Some(TokenUsage { input: 200, output: 20, cache_read: 1000, cache_write: 0, total: 1220 }));
        assert_eq!(cost.unwrap().total, 0.00034);
    }

    #[test]
    fn every_run_event_carries_the_session_and_agent_of_its_run() {
        for e in translate(FIXTURE).unwrap() {
            assert!(e.ctx.session_key.starts_with("agent:"), "{e:?}");
            assert_eq!(e.ctx.agent_id, "main", "{e:?}");
        }
    }
}
