//! A recorded OpenClaw hook (one line of `hooks.jsonl`: `{hook, ts, event, ctx}`, as a recorder
//! plugin subscribed to every hook writes it) as the translator's input: the same fields the
//! gateway's JavaScript entry picks out of the live payloads.

use super::{HookContext, OpenClawHook, RUN_START_HOOKS};
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};
use serde_json::Value;

/// The translator's input for one recorded line, or `None` for a hook the interface has no use for
/// (diagnostics other than `model.call.completed`, agent events, `llm_output`, ...).
pub fn parse_line(line: &Value) -> Option<(HookContext, OpenClawHook)> {
    let hook = line.get("hook").and_then(Value::as_str).unwrap_or("");
    let null = Value::Null;
    let ev = line.get("event").unwrap_or(&null);
    let cx = line.get("ctx").unwrap_or(&null);
    let field = |name: &str| defined(ev.get(name)).or_else(|| defined(cx.get(name)));
    let context = HookContext {
        ts_ms: line.get("ts").and_then(Value::as_u64).unwrap_or(0),
        run_id: text(field("runId")),
        session_key: text(field("sessionKey")),
        session_id: text(field("sessionId")),
        agent_id: text(field("agentId")),
        channel: first_non_empty([text(cx.get("channel")), text(cx.get("messageProvider"))]),
        trigger: text(cx.get("trigger")),
    };
    let translated = match hook {
        "message_received" => OpenClawHook::MessageReceived,
        h if RUN_START_HOOKS.contains(&h) => OpenClawHook::RunStarted {
            prompt: first_non_empty([text(ev.get("cleanedBody")), text(ev.get("prompt"))]),
        },
        "model_call_started" => OpenClawHook::ModelCallStarted {
            call_id: text(ev.get("callId")),
            provider: text(ev.get("provider")),
            model: text(ev.get("model")),
        },
        "model_call_ended" => OpenClawHook::ModelCallEnded {
            call_id: text(ev.get("callId")),
            provider: text(ev.get("provider")),
            model: text(ev.get("model")),
            failed: text(ev.get("outcome")) == "error",
            error: first_non_empty([text(ev.get("error")), text(ev.get("errorMessage"))]),
            duration_ms: ev.get("durationMs").and_then(Value::as_u64),
        },
        "before_message_write" => {
            let message = ev.get("message")?;
            if message.get("role").and_then(Value::as_str) != Some("assistant") {
                return None;
            }
            let usage = message.get("usage");
            OpenClawHook::AssistantMessage {
                usage: usage.map(token_usage),
                cost: usage.and_then(|u| defined(u.get("cost"))).map(model_cost),
                text: content_text(message.get("content")),
                error: text(message.get("errorMessage")),
            }
        }
        "diag:model.call.completed" => {
            let usage = ev.get("usage");
            OpenClawHook::ModelCallUsage {
                call_id: text(ev.get("callId")),
                usage: usage.map(token_usage),
                cost: usage.and_then(|u| defined(u.get("cost"))).map(model_cost),
            }
        }
        "before_tool_call" => OpenClawHook::ToolCallStarted {
            tool_call_id: text(ev.get("toolCallId")),
            tool_name: text(ev.get("toolName")),
            params: text(ev.get("params")),
        },
        "after_tool_call" => OpenClawHook::ToolCallEnded {
            tool_call_id: text(ev.get("toolCallId")),
            tool_name: text(ev.get("toolName")),
            failed: ev.pointer("/result/isError") == Some(&Value::Bool(true)),
            error: text(ev.get("error")),
            duration_ms: ev.get("durationMs").and_then(Value::as_u64),
            result: text(ev.get("result")),
        },
        "agent_end" => {
            // A turn whose last model reply is an error failed, though OpenClaw says `success`.
            let last = ev
                .get("messages")
                .and_then(Value::as_array)
                .and_then(|m| m.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("assistant")));
            let failed_reply = last.is_some_and(|m| m.get("stopReason").and_then(Value::as_str) == Some("error"));
            OpenClawHook::AgentEnded {
                success: ev.get("success").and_then(Value::as_bool).unwrap_or(true) && !failed_reply,
                error: first_non_empty([
                    text(ev.get("error")),
                    if failed_reply { text(last.and_then(|m| m.get("errorMessage"))) } else { String::new() },
                ]),
                duration_ms: ev.get("durationMs").and_then(Value::as_u64),
                response: last.map(|m| content_text(m.get("content"))).unwrap_or_default(),
            }
        }
        "session_start" => OpenClawHook::SessionStarted { resumed_from: text(ev.get("resumedFrom")) },
        "session_end" => OpenClawHook::SessionEnded {
            reason: text(ev.get("reason")),
            message_count: ev.get("messageCount").and_then(Value::as_u64),
            duration_ms: ev.get("durationMs").and_then(Value::as_u64),
        },
        "subagent_spawned" => OpenClawHook::SubagentSpawned {
            requester_session_key: text(cx.get("requesterSessionKey")),
            child_session_key: text(field("childSessionKey")),
            child_agent_id: text(ev.get("agentId")),
            label: text(ev.get("label")),
            model: text(ev.get("resolvedModel")),
        },
        "subagent_ended" => OpenClawHook::SubagentEnded {
            requester_session_key: text(cx.get("requesterSessionKey")),
            child_session_key: text(ev.get("targetSessionKey")),
            outcome: subagent_outcome(&text(ev.get("outcome"))),
            error: text(ev.get("error")),
        },
        _ => return None,
    };
    Some((context, translated))
}

/// OpenClaw's `subagent_ended.outcome`: `ok`, `error`, `timeout`, `killed`, `reset`, `deleted`.
pub fn subagent_outcome(outcome: &str) -> Outcome {
    match outcome {
        "ok" | "completed" | "" => Outcome::COMPLETED,
        "aborted" | "cancelled" | "killed" | "reset" | "deleted" => Outcome::ABORTED,
        _ => Outcome::ERROR,
    }
}

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

fn first_non_empty<const N: usize>(candidates: [String; N]) -> String {
    candidates.into_iter().find(|c| !c.is_empty()).unwrap_or_default()
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
