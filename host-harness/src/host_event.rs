//! One hook call as the host makes it, with owned data: what the demo, the replay and the bench
//! produce and what [`crate::plugins::LoadedPlugin::dispatch`] turns into the interface's events.

use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};

#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub ts_ms: u64,
    pub run_id: String,
    pub session_key: String,
    pub session_id: String,
    pub agent_id: String,
    pub channel: String,
}

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
    pub ctx: Ctx,
    pub hook: Hook,
}
