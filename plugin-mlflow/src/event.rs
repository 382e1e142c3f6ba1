//! Owned copies of the hooks' events: what the hot path enqueues and the exporter consumes.

use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};

#[derive(Clone, Debug)]
pub enum Event {
    MessageStart {
        ctx: OwnedContext,
        prompt: Option<String>,
        trigger: String,
    },
    MessageEnd {
        ctx: OwnedContext,
        outcome: Outcome,
        error: String,
        response: Option<String>,
        duration_ms: Option<u64>,
    },
    ModelCallStart {
        ctx: OwnedContext,
        call_id: String,
        provider: String,
        model: String,
        /// JSON chat messages (the interface's `input_messages`).
        input_messages: Option<String>,
        /// JSON `[{"name", "description", "parameters"}]` (the interface's `tool_definitions`).
        tool_definitions: Option<String>,
    },
    ModelCallEnd {
        ctx: OwnedContext,
        call_id: String,
        provider: String,
        model: String,
        outcome: Outcome,
        error: String,
        duration_ms: Option<u64>,
        usage: Option<TokenUsage>,
        cost_usd: Option<ModelCost>,
        response: Option<String>,
        /// JSON `[{"id", "name", "arguments"}]`.
        tool_calls: Option<String>,
    },
    ToolCallStart {
        ctx: OwnedContext,
        tool_call_id: String,
        tool_name: String,
        params: Option<String>,
    },
    ToolCallEnd {
        ctx: OwnedContext,
        tool_call_id: String,
        tool_name: String,
        outcome: Outcome,
        error: String,
        duration_ms: Option<u64>,
        result: Option<String>,
        /// JSON documents (the interface's `ToolCallEnd::documents`).
        documents: Option<String>,
    },
    SessionStart {
        ctx: OwnedContext,
    },
    SessionEnd {
        ctx: OwnedContext,
        reason: String,
    },
    SubagentSpawned {
        ctx: OwnedContext,
        child_session_key: String,
        child_agent_id: String,
        label: String,
        model: String,
    },
    SubagentEnded {
        ctx: OwnedContext,
        child_session_key: String,
        outcome: Outcome,
        error: String,
    },
}

impl Event {
    pub fn ctx(&self) -> &OwnedContext {
        match self {
            Event::MessageStart { ctx, .. }
            | Event::MessageEnd { ctx, .. }
            | Event::ModelCallStart { ctx, .. }
            | Event::ModelCallEnd { ctx, .. }
            | Event::ToolCallStart { ctx, .. }
            | Event::ToolCallEnd { ctx, .. }
            | Event::SessionStart { ctx }
            | Event::SessionEnd { ctx, .. }
            | Event::SubagentSpawned { ctx, .. }
            | Event::SubagentEnded { ctx, .. } => ctx,
        }
    }

    /// Bytes of text this event holds (content, ids, names), for the queue's byte budget.
    pub fn text_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.ctx().text_bytes()
            + match self {
                Event::MessageStart { prompt, trigger, .. } => opt(prompt) + trigger.len(),
                Event::MessageEnd { response, error, .. } => opt(response) + error.len(),
                Event::ModelCallStart { call_id, provider, model, input_messages, tool_definitions, .. } => {
                    call_id.len() + provider.len() + model.len() + opt(input_messages) + opt(tool_definitions)
                }
                Event::ModelCallEnd { call_id, provider, model, response, tool_calls, error, .. } => {
                    call_id.len() + provider.len() + model.len() + opt(response) + opt(tool_calls) + error.len()
                }
                Event::ToolCallStart { tool_call_id, tool_name, params, .. } => {
                    tool_call_id.len() + tool_name.len() + opt(params)
                }
                Event::ToolCallEnd { tool_call_id, tool_name, result, documents, error, .. } => {
                    tool_call_id.len() + tool_name.len() + opt(result) + opt(documents) + error.len()
                }
                Event::SessionStart { .. } => 0,
                Event::SessionEnd { reason, .. } => reason.len(),
                Event::SubagentSpawned { child_session_key, child_agent_id, label, model, .. } => {
                    child_session_key.len() + child_agent_id.len() + label.len() + model.len()
                }
                Event::SubagentEnded { child_session_key, error, .. } => child_session_key.len() + error.len(),
            }
    }
}
