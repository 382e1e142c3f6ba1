//! The events a host passes to the hooks, one prefix type per hook.
//!
//! Every event is a prefix type: fields up to the one marked `last_prefix_field` existed in the first
//! interface (0.1.0) and are always there; fields after it were appended later and their accessors
//! return `Option`, `None` when the host was built against an interface that lacked them.
//! New fields are only ever appended at the end.
//!
//! Events are borrowed: a hook must copy what it keeps before it returns. Strings are UTF-8; an
//! empty string means "the host does not know" (cheaper than `ROption<RStr>` and just as clear).
//!
//! # Chat messages
//! Conversations cross as JSON text, an array of messages in one neutral shape (each plugin writes
//! its backend's): `{"role": "system" | "user" | "assistant" | "tool", "content": "text"}`, an
//! assistant message with `"tool_calls": [{"id", "name", "arguments": <JSON value>}]` (its
//! `content` may be absent), a tool message with `"tool_call_id"` and `"name"`.
//!
//! # Content parts
//! A plugin says which parts of the content it wants ([`ContentParts`](crate::ContentParts)); a
//! host may leave out what no plugin wants (the system prompt and tool definitions are tens of KB
//! on every run), and a plugin drops what it did not ask for.
//!
//! # Documents
//! What a retrieval tool returned crosses as JSON text, an array of
//! `{"content": "text", "uri": "where it came from", "id", "title", "score"}` (all but `content`
//! may be absent): a memory search's hits, a web search's results, a fetched page, a read note.

use abi_stable::{
    prefix_type::{PrefixRef, PrefixRefTrait, PrefixTypeTrait, WithMetadata},
    std_types::{ROption, RStr},
    StableAbi,
};

/// How a message, model call, tool call or subagent ended.
///
/// A newtype over `u8` rather than a Rust enum so that a later interface can add outcomes without
/// making older plugins see an invalid enum value: unknown values read as [`Outcome::is_error`] false
/// and should be shown as "other".
#[repr(transparent)]
#[derive(StableAbi, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Outcome(pub u8);

/// As its name (`completed`, `error`, ...).
impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Outcome {
    pub const COMPLETED: Outcome = Outcome(0);
    pub const ERROR: Outcome = Outcome(1);
    /// Cancelled by the user or the host (for example at shutdown).
    pub const ABORTED: Outcome = Outcome(2);

    pub fn is_error(self) -> bool {
        self == Outcome::ERROR || self == Outcome::ABORTED
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::COMPLETED => "completed",
            Outcome::ERROR => "error",
            Outcome::ABORTED => "aborted",
            _ => "other",
        }
    }
}

/// Token counts of one model call, in OpenClaw's convention: `input` WITHOUT cache reads and writes
/// (Anthropic's API counts so, and OpenClaw reports every provider so). A host that passes an
/// OpenAI-style count (`input` = the whole prompt, cached tokens included) also gives
/// `total` = input + output, by which a plugin can tell. Plugins that write MLflow or OpenTelemetry
/// usage convert to their convention (input includes the cache).
#[repr(C)]
#[derive(StableAbi, Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// As reported; when the host does not report it, input + output + cache read + cache write.
    pub total: u64,
}

/// Cost of one model call in USD, as the host computed it from its configured prices.
#[repr(C)]
#[derive(StableAbi, Copy, Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ModelCost {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub total: f64,
}

/// Who and where: passed beside every event.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = EventContextRef)))]
pub struct EventContext<'a> {
    /// The host's clock when the event happened, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// The agent run (one user message) the event belongs to; empty for session-level events.
    pub run_id: RStr<'a>,
    /// e.g. `agent:main:main`, `agent:main:subagent:<uuid>`.
    pub session_key: RStr<'a>,
    pub session_id: RStr<'a>,
    #[sabi(last_prefix_field)]
    pub agent_id: RStr<'a>,
    // ---- 0.1.1 ----
    /// e.g. `webchat`, `telegram`; empty when the run has no channel (local runs).
    pub channel: RStr<'a>,
}

/// The agent an OpenClaw session key names: `main` in `agent:main:webchat`, "" when it names none.
pub fn agent_of_session_key(session_key: &str) -> &str {
    session_key.strip_prefix("agent:").and_then(|rest| rest.split(':').next()).unwrap_or("")
}

/// Milliseconds since the Unix epoch by this machine's clock: the clock of [`EventContext::ts_ms`].
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A user message became an agent run.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = MessageStartRef)))]
pub struct MessageStart<'a> {
    /// The user's message (content; may be long).
    #[sabi(last_prefix_field)]
    pub prompt: RStr<'a>,
    // ---- 0.1.1 ----
    /// What started the run: `user`, `cron`, ...
    pub trigger: RStr<'a>,
}

/// The agent run ended.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = MessageEndRef)))]
pub struct MessageEnd<'a> {
    pub outcome: Outcome,
    pub error: RStr<'a>,
    /// The final answer (content).
    pub response: RStr<'a>,
    #[sabi(last_prefix_field)]
    pub duration_ms: ROption<u64>,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ModelCallStartRef)))]
pub struct ModelCallStart<'a> {
    /// Pairs start and end: `<runId>:model:<n>` in OpenClaw.
    pub call_id: RStr<'a>,
    pub provider: RStr<'a>,
    #[sabi(last_prefix_field)]
    pub model: RStr<'a>,
    // ---- 0.1.4 ----
    /// The messages this call received that no earlier event of the run carried (content), as a
    /// JSON array of [chat messages](crate::events#chat-messages): for a run's first call, the
    /// conversation history the host passed and the user's prompt; empty for later calls, whose
    /// input is the previous call's plus its reply and the tool results since. A system prompt is
    /// its first message (role `system`), when the host passes one.
    pub input_messages: RStr<'a>,
    // ---- 0.1.6 ----
    /// The tools the model was offered (content), as a JSON array of
    /// `{"name", "description", "parameters": <JSON schema>}` (all but `name` may be absent); for a
    /// run's first call, empty for later calls (the same tools).
    pub tool_definitions: RStr<'a>,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ModelCallEndRef)))]
pub struct ModelCallEnd<'a> {
    pub call_id: RStr<'a>,
    pub provider: RStr<'a>,
    pub model: RStr<'a>,
    pub outcome: Outcome,
    pub error: RStr<'a>,
    pub duration_ms: ROption<u64>,
    pub usage: ROption<TokenUsage>,
    #[sabi(last_prefix_field)]
    pub cost_usd: ROption<ModelCost>,
    // ---- 0.1.1 ----
    /// The model's reply text (content).
    pub response: RStr<'a>,
    // ---- 0.1.4 ----
    /// The tools the model asked to call in its reply (content): a JSON array of
    /// `{"id", "name", "arguments"}`, `arguments` a JSON value; empty when it asked for none.
    pub tool_calls: RStr<'a>,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ToolCallStartRef)))]
pub struct ToolCallStart<'a> {
    pub tool_call_id: RStr<'a>,
    pub tool_name: RStr<'a>,
    /// The tool's parameters as JSON text (content).
    #[sabi(last_prefix_field)]
    pub params: RStr<'a>,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ToolCallEndRef)))]
pub struct ToolCallEnd<'a> {
    pub tool_call_id: RStr<'a>,
    pub tool_name: RStr<'a>,
    pub outcome: Outcome,
    pub error: RStr<'a>,
    pub duration_ms: ROption<u64>,
    /// The tool's result, JSON or text (content).
    #[sabi(last_prefix_field)]
    pub result: RStr<'a>,
    // ---- 0.1.5 ----
    /// The documents the tool returned, when its result holds search hits or a fetched page or
    /// file (content): a JSON array of [documents](crate::events#documents); empty otherwise.
    pub documents: RStr<'a>,
}

// ---- 0.1.1: session and subagent events ----

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SessionStartRef)))]
pub struct SessionStart<'a> {
    #[sabi(last_prefix_field)]
    pub resumed_from: RStr<'a>,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SessionEndRef)))]
pub struct SessionEnd<'a> {
    pub reason: RStr<'a>,
    pub message_count: ROption<u64>,
    #[sabi(last_prefix_field)]
    pub duration_ms: ROption<u64>,
}

/// Sent in the requester's session (`ctx.session_key`); `ctx.run_id` is the run OpenClaw names
/// (the child's run in OpenClaw 2026.9). The child runs under `child_session_key`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SubagentSpawnedRef)))]
pub struct SubagentSpawned<'a> {
    pub child_session_key: RStr<'a>,
    pub child_agent_id: RStr<'a>,
    pub label: RStr<'a>,
    #[sabi(last_prefix_field)]
    pub model: RStr<'a>,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SubagentEndedRef)))]
pub struct SubagentEnded<'a> {
    pub child_session_key: RStr<'a>,
    pub outcome: Outcome,
    #[sabi(last_prefix_field)]
    pub error: RStr<'a>,
}

/// Lends `value` to `f` as its prefix-type reference (what the hooks take), without leaking it.
///
/// # Safety
/// The reference points into this call's stack frame and is not tied to it by a lifetime (prefix
/// references are plain pointers), so the compiler cannot stop it escaping: `f` must not keep it,
/// or anything read through it as a borrow, past its own return, and must not return it. Passing
/// it to a hook is fine: not keeping it is the hooks' documented contract.
pub(crate) unsafe fn lend<T, R>(value: T, f: impl FnOnce(T::PrefixRef) -> R) -> R
where
    T: PrefixTypeTrait,
{
    let with_metadata = WithMetadata::new(value);
    // SAFETY: `with_metadata` lives on this stack frame for the whole call of `f`; the caller
    // promises the reference does not outlive it.
    let prefix = unsafe { PrefixRef::from_raw(&with_metadata) };
    f(<T::PrefixRef as PrefixRefTrait>::from_prefix_ref(prefix))
}
