//! One hook call as the host makes it, with owned data: what the demo, the replay and the bench
//! produce and what [`crate::loaded::LoadedPlugin::dispatch`] turns into the interface's events.

use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};

#[derive(Clone, Debug)]
pub enum Hook {
    MessageStart {
        prompt: String,
        trigger: String,
    },
    MessageEnd {
        outcome: Outcome,
        error: String,
        response: String,
        duration_ms: Option<u64>,
    },
    ModelCallStart {
        call_id: String,
        provider: String,
        model: String,
        /// JSON chat messages (see the interface's `ModelCallStart::input_messages`).
        input_messages: String,
        /// JSON tool definitions (the interface's `ModelCallStart::tool_definitions`).
        tool_definitions: String,
    },
    ModelCallEnd {
        call_id: String,
        provider: String,
        model: String,
        outcome: Outcome,
        error: String,
        duration_ms: Option<u64>,
        usage: Option<TokenUsage>,
        cost_usd: Option<ModelCost>,
        response: String,
        /// JSON `[{"id", "name", "arguments"}]`, or "".
        tool_calls: String,
    },
    ToolCallStart {
        tool_call_id: String,
        tool_name: String,
        params: String,
    },
    ToolCallEnd {
        tool_call_id: String,
        tool_name: String,
        outcome: Outcome,
        error: String,
        duration_ms: Option<u64>,
        result: String,
        /// JSON documents (see the interface's `ToolCallEnd::documents`), else "".
        documents: String,
    },
    SessionStart {
        resumed_from: String,
    },
    SessionEnd {
        reason: String,
        message_count: Option<u64>,
        duration_ms: Option<u64>,
    },
    SubagentSpawned {
        child_session_key: String,
        child_agent_id: String,
        label: String,
        model: String,
    },
    SubagentEnded {
        child_session_key: String,
        outcome: Outcome,
        error: String,
    },
}

/// The kinds, in a fixed order, for per-kind statistics.
pub const HOOK_KINDS: [&str; 10] = [
    "message_start",
    "message_end",
    "model_call_start",
    "model_call_end",
    "tool_call_start",
    "tool_call_end",
    "session_start",
    "session_end",
    "subagent_spawned",
    "subagent_ended",
];

impl Hook {
    /// Index into [`HOOK_KINDS`].
    pub fn kind_index(&self) -> usize {
        match self {
            Hook::MessageStart { .. } => 0,
            Hook::MessageEnd { .. } => 1,
            Hook::ModelCallStart { .. } => 2,
            Hook::ModelCallEnd { .. } => 3,
            Hook::ToolCallStart { .. } => 4,
            Hook::ToolCallEnd { .. } => 5,
            Hook::SessionStart { .. } => 6,
            Hook::SessionEnd { .. } => 7,
            Hook::SubagentSpawned { .. } => 8,
            Hook::SubagentEnded { .. } => 9,
        }
    }
}

#[derive(Clone, Debug)]
pub struct HostEvent {
    pub ctx: OwnedContext,
    pub hook: Hook,
}

impl HostEvent {
    /// The event as one JSON object (`--events-out`), with the interface's field names.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let usage = |u: &Option<TokenUsage>| {
            u.map(|u| json!({"input": u.input, "output": u.output, "cache_read": u.cache_read, "cache_write": u.cache_write, "total": u.total}))
        };
        let cost = |c: &Option<ModelCost>| {
            c.map(|c| json!({"input": c.input, "output": c.output, "cache_read": c.cache_read, "cache_write": c.cache_write, "total": c.total}))
        };
        let fields = match &self.hook {
            Hook::MessageStart { prompt, trigger } => json!({"prompt": prompt, "trigger": trigger}),
            Hook::MessageEnd { outcome, error, response, duration_ms } => {
                json!({"outcome": outcome.as_str(), "error": error, "response": response, "duration_ms": duration_ms})
            }
            Hook::ModelCallStart { call_id, provider, model, input_messages, tool_definitions } => {
                json!({"call_id": call_id, "provider": provider, "model": model, "input_messages": input_messages,
                    "tool_definitions": tool_definitions})
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
                       "response": response, "tool_calls": tool_calls})
            }
            Hook::ToolCallStart { tool_call_id, tool_name, params } => {
                json!({"tool_call_id": tool_call_id, "tool_name": tool_name, "params": params})
            }
            Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, result, documents } => {
                json!({"tool_call_id": tool_call_id, "tool_name": tool_name, "outcome": outcome.as_str(),
                       "error": error, "duration_ms": duration_ms, "result": result, "documents": documents})
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
        let c = &self.ctx;
        json!({
            "hook": HOOK_KINDS[self.hook.kind_index()],
            "ctx": {"ts_ms": c.ts_ms, "run_id": c.run_id, "session_key": c.session_key, "session_id": c.session_id,
                    "agent_id": c.agent_id, "channel": c.channel},
            "event": fields,
        })
    }
}
