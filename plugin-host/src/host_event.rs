//! One hook call as JSON (`openclaw-host --events-out`), with the interface's field names. The
//! owned events themselves are the interface's ([`openclaw_plugin_api::owned`]).

use openclaw_plugin_api::{Hook, ModelCost, OwnedEvent, TokenUsage, HOOK_KINDS};

/// The event as one JSON object (`--events-out`), with the interface's field names.
pub fn to_json(event: &OwnedEvent) -> serde_json::Value {
    use serde_json::json;
    let usage = |u: &Option<TokenUsage>| {
        u.map(|u| json!({"input": u.input, "output": u.output, "cache_read": u.cache_read, "cache_write": u.cache_write, "total": u.total}))
    };
    let cost = |c: &Option<ModelCost>| {
        c.map(|c| json!({"input": c.input, "output": c.output, "cache_read": c.cache_read, "cache_write": c.cache_write, "total": c.total}))
    };
    // Content as it crosses the interface: "" where it was left out.
    let text = |content: &Option<String>| content.clone().unwrap_or_default();
    let fields = match &event.hook {
        Hook::MessageStart { prompt, trigger } => json!({"prompt": text(prompt), "trigger": trigger}),
        Hook::MessageEnd { outcome, error, response, duration_ms } => {
            json!({"outcome": outcome.as_str(), "error": error, "response": text(response), "duration_ms": duration_ms})
        }
        Hook::ModelCallStart { call_id, provider, model, input_messages, tool_definitions } => {
            json!({"call_id": call_id, "provider": provider, "model": model, "input_messages": text(input_messages),
                "tool_definitions": text(tool_definitions)})
        }
        Hook::ModelCallEnd {
            call_id,
            provider,
            model,
            outcome,
            error,
            duration_ms,
            usage: u,
            cost_usd,
            response,
            tool_calls,
        } => {
            json!({"call_id": call_id, "provider": provider, "model": model, "outcome": outcome.as_str(),
                   "error": error, "duration_ms": duration_ms, "usage": usage(u), "cost_usd": cost(cost_usd),
                   "response": text(response), "tool_calls": text(tool_calls)})
        }
        Hook::ToolCallStart { tool_call_id, tool_name, params } => {
            json!({"tool_call_id": tool_call_id, "tool_name": tool_name, "params": text(params)})
        }
        Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, result, documents } => {
            json!({"tool_call_id": tool_call_id, "tool_name": tool_name, "outcome": outcome.as_str(),
                   "error": error, "duration_ms": duration_ms, "result": text(result), "documents": text(documents)})
        }
        Hook::SessionStart { resumed_from } => json!({"resumed_from": resumed_from}),
        Hook::SessionEnd { reason, message_count, duration_ms } => {
            json!({"reason": reason, "message_count": message_count, "duration_ms": duration_ms})
        }
        Hook::SubagentSpawned { child_session_key, child_agent_id, label, model } => {
            json!({"child_session_key": child_session_key, "child_agent_id": child_agent_id, "label": label,
                   "model": model})
        }
        Hook::SubagentEnded { child_session_key, outcome, error } => {
            json!({"child_session_key": child_session_key, "outcome": outcome.as_str(), "error": error})
        }
    };
    let c = &event.ctx;
    json!({
        "hook": HOOK_KINDS[event.hook.kind_index()],
        "ctx": {"ts_ms": c.ts_ms, "run_id": c.run_id, "session_key": c.session_key, "session_id": c.session_id,
                "agent_id": c.agent_id, "channel": c.channel},
        "event": fields,
    })
}
