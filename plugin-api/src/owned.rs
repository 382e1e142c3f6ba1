//! The interface's events with owned text: what a host builds its hook calls from (the demo, a
//! replay, OpenClaw's hooks translated) and what a plugin keeps of a hook call. One model for both
//! sides, so a new field is written here, beside the interface's own struct.
//!
//! Content (prompts, replies, messages, tool inputs and outputs) is `None` where the side that made
//! the event left it out; it crosses the interface as "", as every text that is not given does.

use crate::events::*;
use crate::plugin::PluginObject;
use abi_stable::std_types::{ROption, RStr};

/// An [`EventContext`] that owns its text: what a host builds its hook calls from and what a plugin
/// keeps of a hook's context. An empty string is "not given".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct OwnedContext {
    pub ts_ms: u64,
    pub run_id: String,
    pub session_key: String,
    pub session_id: String,
    pub agent_id: String,
    pub channel: String,
}

impl OwnedContext {
    /// A hook's context, each text copied through `copy` (where a plugin bounds its labels).
    pub fn copied(ctx: EventContextRef<'_>, copy: impl Fn(&str) -> String) -> OwnedContext {
        OwnedContext {
            ts_ms: ctx.ts_ms(),
            run_id: copy(ctx.run_id().as_str()),
            session_key: copy(ctx.session_key().as_str()),
            session_id: copy(ctx.session_id().as_str()),
            agent_id: copy(ctx.agent_id().as_str()),
            // Appended in 0.1.1: absent from an older host.
            channel: ctx.channel().map(|c| copy(c.as_str())).unwrap_or_default(),
        }
    }

    /// Lent as the interface's context, for a hook call.
    pub fn lent(&self) -> EventContext<'_> {
        EventContext {
            ts_ms: self.ts_ms,
            run_id: RStr::from_str(&self.run_id),
            session_key: RStr::from_str(&self.session_key),
            session_id: RStr::from_str(&self.session_id),
            agent_id: RStr::from_str(&self.agent_id),
            channel: RStr::from_str(&self.channel),
        }
    }

    /// The same context at another time.
    pub fn at(&self, ts_ms: u64) -> OwnedContext {
        OwnedContext { ts_ms, ..self.clone() }
    }

    /// The bytes its texts hold: what a queue bounds.
    pub fn text_bytes(&self) -> usize {
        [&self.run_id, &self.session_key, &self.session_id, &self.agent_id, &self.channel].iter().map(|t| t.len()).sum()
    }
}

/// One hook call: who and where, and what happened. As JSON (a host's `--events-out`), one object
/// `{"ctx": {...}, "hook": "model_call_end", "event": {...}}` with the interface's field names.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OwnedEvent {
    pub ctx: OwnedContext,
    #[serde(flatten)]
    pub hook: Hook,
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "hook", content = "event", rename_all = "snake_case")]
pub enum Hook {
    MessageStart {
        #[serde(serialize_with = "as_crossing")]
        prompt: Option<String>,
        trigger: String,
    },
    MessageEnd {
        outcome: Outcome,
        error: String,
        #[serde(serialize_with = "as_crossing")]
        response: Option<String>,
        duration_ms: Option<u64>,
    },
    ModelCallStart {
        call_id: String,
        provider: String,
        model: String,
        /// JSON chat messages (see the interface's `ModelCallStart::input_messages`).
        #[serde(serialize_with = "as_crossing")]
        input_messages: Option<String>,
        /// JSON tool definitions (the interface's `ModelCallStart::tool_definitions`).
        #[serde(serialize_with = "as_crossing")]
        tool_definitions: Option<String>,
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
        #[serde(serialize_with = "as_crossing")]
        response: Option<String>,
        /// JSON `[{"id", "name", "arguments"}]`.
        #[serde(serialize_with = "as_crossing")]
        tool_calls: Option<String>,
    },
    ToolCallStart {
        tool_call_id: String,
        tool_name: String,
        #[serde(serialize_with = "as_crossing")]
        params: Option<String>,
    },
    ToolCallEnd {
        tool_call_id: String,
        tool_name: String,
        outcome: Outcome,
        error: String,
        duration_ms: Option<u64>,
        #[serde(serialize_with = "as_crossing")]
        result: Option<String>,
        /// JSON documents (see the interface's `ToolCallEnd::documents`).
        #[serde(serialize_with = "as_crossing")]
        documents: Option<String>,
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

    /// The bytes its texts hold (content, ids, names): what a queue of events bounds.
    pub fn text_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        match self {
            Hook::MessageStart { prompt, trigger } => opt(prompt) + trigger.len(),
            Hook::MessageEnd { response, error, .. } => opt(response) + error.len(),
            Hook::ModelCallStart { call_id, provider, model, input_messages, tool_definitions } => {
                call_id.len() + provider.len() + model.len() + opt(input_messages) + opt(tool_definitions)
            }
            Hook::ModelCallEnd { call_id, provider, model, response, tool_calls, error, .. } => {
                call_id.len() + provider.len() + model.len() + opt(response) + opt(tool_calls) + error.len()
            }
            Hook::ToolCallStart { tool_call_id, tool_name, params } => {
                tool_call_id.len() + tool_name.len() + opt(params)
            }
            Hook::ToolCallEnd { tool_call_id, tool_name, result, documents, error, .. } => {
                tool_call_id.len() + tool_name.len() + opt(result) + opt(documents) + error.len()
            }
            Hook::SessionStart { resumed_from } => resumed_from.len(),
            Hook::SessionEnd { reason, .. } => reason.len(),
            Hook::SubagentSpawned { child_session_key, child_agent_id, label, model } => {
                child_session_key.len() + child_agent_id.len() + label.len() + model.len()
            }
            Hook::SubagentEnded { child_session_key, error, .. } => child_session_key.len() + error.len(),
        }
    }
}

impl OwnedEvent {
    /// The bytes its texts hold, its context's with them.
    pub fn text_bytes(&self) -> usize {
        self.ctx.text_bytes() + self.hook.text_bytes()
    }

    /// Calls `plugin`'s hook for this event, lending it the interface's borrowed form; whether the
    /// plugin has the hook (one its interface version predates is skipped).
    pub fn give_to(&self, plugin: &PluginObject) -> bool {
        let ctx = self.ctx.lent();
        match &self.hook {
            Hook::MessageStart { prompt, trigger } => {
                plugin.give(ctx, MessageStart { prompt: text(prompt), trigger: s(trigger) })
            }
            Hook::MessageEnd { outcome, error, response, duration_ms } => plugin.give(
                ctx,
                MessageEnd {
                    outcome: *outcome,
                    error: s(error),
                    response: text(response),
                    duration_ms: ROption::from(*duration_ms),
                },
            ),
            Hook::ModelCallStart { call_id, provider, model, input_messages, tool_definitions } => plugin.give(
                ctx,
                ModelCallStart {
                    call_id: s(call_id),
                    provider: s(provider),
                    model: s(model),
                    input_messages: text(input_messages),
                    tool_definitions: text(tool_definitions),
                },
            ),
            Hook::ModelCallEnd {
                call_id,
                provider,
                model,
                outcome,
                error,
                duration_ms,
                usage,
                cost_usd,
                response,
                tool_calls,
            } => plugin.give(
                ctx,
                ModelCallEnd {
                    call_id: s(call_id),
                    provider: s(provider),
                    model: s(model),
                    outcome: *outcome,
                    error: s(error),
                    duration_ms: ROption::from(*duration_ms),
                    usage: ROption::from(*usage),
                    cost_usd: ROption::from(*cost_usd),
                    response: text(response),
                    tool_calls: text(tool_calls),
                },
            ),
            Hook::ToolCallStart { tool_call_id, tool_name, params } => plugin.give(
                ctx,
                ToolCallStart { tool_call_id: s(tool_call_id), tool_name: s(tool_name), params: text(params) },
            ),
            Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, result, documents } => plugin
                .give(
                    ctx,
                    ToolCallEnd {
                        tool_call_id: s(tool_call_id),
                        tool_name: s(tool_name),
                        outcome: *outcome,
                        error: s(error),
                        duration_ms: ROption::from(*duration_ms),
                        result: text(result),
                        documents: text(documents),
                    },
                ),
            Hook::SessionStart { resumed_from } => plugin.give(ctx, SessionStart { resumed_from: s(resumed_from) }),
            Hook::SessionEnd { reason, message_count, duration_ms } => plugin.give(
                ctx,
                SessionEnd {
                    reason: s(reason),
                    message_count: ROption::from(*message_count),
                    duration_ms: ROption::from(*duration_ms),
                },
            ),
            Hook::SubagentSpawned { child_session_key, child_agent_id, label, model } => plugin.give(
                ctx,
                SubagentSpawned {
                    child_session_key: s(child_session_key),
                    child_agent_id: s(child_agent_id),
                    label: s(label),
                    model: s(model),
                },
            ),
            Hook::SubagentEnded { child_session_key, outcome, error } => plugin.give(
                ctx,
                SubagentEnded { child_session_key: s(child_session_key), outcome: *outcome, error: s(error) },
            ),
        }
    }
}

/// Text as an event's content: `None` when there is none (not given, or not captured).
pub fn content(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Content in JSON as it crosses the interface: "" where it was left out.
fn as_crossing<S: serde::Serializer>(content: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(content.as_deref().unwrap_or(""))
}

fn s(value: &str) -> RStr<'_> {
    RStr::from_str(value)
}

/// Content as it crosses: "" where it was left out.
fn text(content: &Option<String>) -> RStr<'_> {
    RStr::from_str(content.as_deref().unwrap_or(""))
}
