//! OpenClaw's hooks, translated into the interface's events as they happen.
//!
//! One [`Translator`] serves a whole gateway (or a whole replay): OpenClaw hooks go in one at a time
//! ([`Translator::push`]), interface events come out, zero or more per hook. The gateway's Node addon
//! and `openclaw-host replay` both go through it, so every replay test exercises the live mapping.
//!
//! The mapping:
//! - a run starts at its first hook (`before_model_resolve`, `llm_input`, or any of
//!   [`RUN_START_HOOKS`]), or earlier at the `message_received` of its session;
//! - `model_call_started`/`model_call_ended` are the model-call hooks. OpenClaw puts no tokens on
//!   them: a call's usage, cost and reply arrive just after, on the assistant message OpenClaw writes
//!   (`before_message_write`, which names only the session) or on the trusted `model.call.completed`
//!   diagnostic (by call id). The call's end is held until one of them arrives, and never longer than
//!   the next hook of its run or [`Limits::reply_wait_ms`];
//! - `before_tool_call`/`after_tool_call` are the tool-call hooks;
//! - `agent_end` ends the run (its last assistant text is the answer). OpenClaw retries a failed
//!   model call inside the same run, each attempt ending with its own `agent_end`; so a failed end
//!   is held for [`Limits::end_grace_ms`], and a later hook of the run (the next attempt) replaces
//!   it. A successful end goes out at once;
//! - `session_start`/`session_end` and `subagent_spawned`/`subagent_ended` map one to one, the
//!   subagent hooks in the requester's session.
//!
//! State is bounded: per open run a few strings and at most one held call; a run is forgotten when it
//! ends, when it has been silent for [`Limits::run_idle_ms`], or when more than
//! [`Limits::max_open_runs`] are open (the least recently active go first). Runs of parallel sessions
//! interleave freely.

pub mod payload;
pub mod preview;
pub mod recording;
mod tool_bridge;

use openclaw_plugin_api::owned::content;
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{agent_of_session_key, ModelCost, Outcome, TokenUsage};
use openclaw_plugin_api::{Hook, OwnedEvent};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

/// OpenClaw hooks that may be a run's first, in the order OpenClaw emits them.
pub const RUN_START_HOOKS: [&str; 6] = [
    "before_agent_reply",
    "before_model_resolve",
    "agent_turn_prepare",
    "before_prompt_build",
    "before_agent_run",
    "llm_input",
];

/// What a run's first model call receives, from `llm_input`, as JSON text ("" when absent or not
/// captured): its messages (the interface's `input_messages`: the system prompt, the history and
/// the prompt) and the tools it is offered (`tool_definitions`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelInput {
    pub messages: String,
    pub tool_definitions: String,
}

impl ModelInput {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.tool_definitions.is_empty()
    }
}

/// The OpenClaw hooks the translator understands, with the fields it needs (already picked out of
/// OpenClaw's payload by the caller; content already cut to the plugin's budget where it is large).
#[derive(Clone, Debug, PartialEq)]
pub enum OpenClawHook {
    /// `message_received`: a channel message arrived; its run starts a little later.
    MessageReceived,
    /// The first hook of a run ([`RUN_START_HOOKS`]): the user's prompt; `llm_input` adds what
    /// the run's first model call receives.
    RunStarted {
        prompt: String,
        /// `user`, `cron`, `heartbeat`, ...
        trigger: String,
        model_input: ModelInput,
    },
    ModelCallStarted {
        call_id: String,
        provider: String,
        model: String,
    },
    ModelCallEnded {
        call_id: String,
        provider: String,
        model: String,
        failed: bool,
        error: String,
        duration_ms: Option<u64>,
    },
    /// `before_message_write` of an assistant message: the reply to the model call that just ended
    /// in this session (the hook names no run and no call); `tool_calls` as JSON, else "".
    AssistantMessage {
        usage: Option<TokenUsage>,
        cost: Option<ModelCost>,
        text: String,
        tool_calls: String,
        error: String,
    },
    /// The trusted `model.call.completed` diagnostic: a call's usage, by call id.
    ModelCallUsage {
        call_id: String,
        usage: Option<TokenUsage>,
        cost: Option<ModelCost>,
    },
    /// `bridged`: the model called the tool through OpenClaw's Tool Search bridge (`tool_call`);
    /// `tool_name` and `params` are the tool's it asked for ([`tool_bridge`]).
    ToolCallStarted {
        tool_call_id: String,
        tool_name: String,
        bridged: bool,
        params: String,
    },
    ToolCallEnded {
        tool_call_id: String,
        tool_name: String,
        bridged: bool,
        failed: bool,
        error: String,
        duration_ms: Option<u64>,
        result: String,
        /// JSON documents (the interface's `ToolCallEnd::documents`), else "".
        documents: String,
    },
    /// `agent_end`.
    AgentEnded {
        success: bool,
        error: String,
        duration_ms: Option<u64>,
        response: String,
    },
    SessionStarted {
        resumed_from: String,
    },
    SessionEnded {
        reason: String,
        message_count: Option<u64>,
        duration_ms: Option<u64>,
    },
    /// In the requester's session (`requester_session_key`); `ctx.run_id` is the run OpenClaw names.
    SubagentSpawned {
        requester_session_key: String,
        child_session_key: String,
        child_agent_id: String,
        label: String,
        model: String,
    },
    SubagentEnded {
        requester_session_key: String,
        child_session_key: String,
        outcome: Outcome,
        error: String,
    },
}

impl OpenClawHook {
    /// The bytes its texts hold: what a queue of hooks bounds.
    pub fn text_bytes(&self) -> usize {
        use OpenClawHook::*;
        let texts: &[&String] = match self {
            MessageReceived => &[],
            RunStarted { prompt, trigger, model_input } => {
                &[prompt, trigger, &model_input.messages, &model_input.tool_definitions]
            }
            ModelCallStarted { call_id, provider, model } => &[call_id, provider, model],
            ModelCallEnded { call_id, provider, model, error, .. } => &[call_id, provider, model, error],
            AssistantMessage { text, tool_calls, error, .. } => &[text, tool_calls, error],
            ModelCallUsage { call_id, .. } => &[call_id],
            ToolCallStarted { tool_call_id, tool_name, params, .. } => &[tool_call_id, tool_name, params],
            ToolCallEnded { tool_call_id, tool_name, error, result, documents, .. } => {
                &[tool_call_id, tool_name, error, result, documents]
            }
            AgentEnded { error, response, .. } => &[error, response],
            SessionStarted { resumed_from } => &[resumed_from],
            SessionEnded { reason, .. } => &[reason],
            SubagentSpawned { requester_session_key, child_session_key, child_agent_id, label, model } => {
                &[requester_session_key, child_session_key, child_agent_id, label, model]
            }
            SubagentEnded { requester_session_key, child_session_key, error, .. } => {
                &[requester_session_key, child_session_key, error]
            }
        };
        texts.iter().map(|t| t.len()).sum()
    }
}

/// Bounds on what the translator remembers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_open_runs: usize,
    /// A run with no hook for this long is forgotten (the plugin times the message out itself).
    pub run_idle_ms: u64,
    /// How long a model call's end waits for its reply before it goes out without usage.
    pub reply_wait_ms: u64,
    /// How long a failed run's end waits for OpenClaw to retry the run before it goes out.
    pub end_grace_ms: u64,
    /// Sessions remembered for their message time, open run and id.
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_open_runs: 10_000,
            run_idle_ms: 60 * 60 * 1000,
            reply_wait_ms: 2_000,
            end_grace_ms: 5_000,
            max_sessions: 100_000,
        }
    }
}

struct OpenRun {
    /// What the run's first hook said ([`run_context`]), to fill hooks that carry less context.
    context: OwnedContext,
    last_seen_ms: u64,
    /// A model call that ended, waiting for its reply (usage, cost, text).
    awaiting_reply: Option<HeldCall>,
    /// The run's end, waiting to see whether OpenClaw retries the run.
    held_end: Option<HeldCall>,
    /// What `llm_input` gave, for the run's next model call.
    first_call_input: ModelInput,
    tool_bridge: tool_bridge::ToolBridge,
}

struct HeldCall {
    event: OwnedEvent,
    deadline_ms: u64,
}

pub struct Translator {
    limits: Limits,
    runs: HashMap<String, OpenRun>,
    /// The run currently open in each session (an assistant message names only its session).
    open_run_of_session: HashMap<String, String>,
    /// When a session's last channel message arrived, until its run starts.
    received_at: HashMap<String, u64>,
    session_ids: HashMap<String, String>,
    /// Runs whose end went out, so that a repeated `agent_end` does not end it twice.
    ended: HashSet<String>,
    ended_order: VecDeque<String>,
    /// Held calls and ends, earliest deadline first (run ids; a stale entry is skipped when its
    /// run moved on). A heap: a call held later may fall due before an end held earlier.
    deadlines: BinaryHeap<Reverse<(u64, String)>>,
    now_ms: u64,
    pushes_since_sweep: usize,
}

impl Default for Translator {
    fn default() -> Self {
        Translator::new(Limits::default())
    }
}

impl Translator {
    pub fn new(limits: Limits) -> Translator {
        Translator {
            limits,
            runs: HashMap::new(),
            open_run_of_session: HashMap::new(),
            received_at: HashMap::new(),
            session_ids: HashMap::new(),
            ended: HashSet::new(),
            ended_order: VecDeque::new(),
            deadlines: BinaryHeap::new(),
            now_ms: 0,
            pushes_since_sweep: 0,
        }
    }

    /// Runs currently open (for tests and stats).
    pub fn open_runs(&self) -> usize {
        self.runs.len()
    }

    /// Translates one hook, appending the interface events it yields to `out`.
    pub fn push(&mut self, cx: OwnedContext, hook: OpenClawHook, out: &mut Vec<OwnedEvent>) {
        self.release_due(cx.ts_ms, out);
        if !cx.session_key.is_empty() && !cx.session_id.is_empty() {
            bounded_insert(&mut self.session_ids, &cx.session_key, cx.session_id.clone(), self.limits.max_sessions);
        }
        match hook {
            OpenClawHook::MessageReceived => {
                if !cx.session_key.is_empty() {
                    bounded_insert(&mut self.received_at, &cx.session_key, cx.ts_ms, self.limits.max_sessions);
                }
            }
            OpenClawHook::RunStarted { prompt, trigger, model_input } => {
                self.run_started(cx, prompt, trigger, model_input, out)
            }
            OpenClawHook::ModelCallStarted { call_id, provider, model } => {
                if let Some(ctx) = self.run_ctx(&cx, out) {
                    let ModelInput { messages, tool_definitions } = self
                        .runs
                        .get_mut(&cx.run_id)
                        .map(|r| std::mem::take(&mut r.first_call_input))
                        .unwrap_or_default();
                    out.push(OwnedEvent {
                        ctx,
                        hook: Hook::ModelCallStart {
                            call_id,
                            provider,
                            model,
                            input_messages: content(messages),
                            tool_definitions: content(tool_definitions),
                        },
                    });
                }
            }
            OpenClawHook::ModelCallEnded { call_id, provider, model, failed, error, duration_ms } => {
                if let Some(ctx) = self.run_ctx(&cx, out) {
                    let hook = Hook::ModelCallEnd {
                        call_id,
                        provider,
                        model,
                        outcome: if failed { Outcome::ERROR } else { Outcome::COMPLETED },
                        error,
                        duration_ms,
                        usage: None,
                        cost_usd: None,
                        response: None,
                        tool_calls: None,
                    };
                    self.hold_for_reply(OwnedEvent { ctx, hook });
                }
            }
            OpenClawHook::AssistantMessage { usage, cost, text, tool_calls, error } => {
                let run_id = self.open_run_of_session.get(&cx.session_key).cloned();
                if let Some(mut held) = run_id.and_then(|r| self.runs.get_mut(&r)).and_then(|r| r.awaiting_reply.take())
                {
                    fill_reply(&mut held.event.hook, usage, cost, Some((text, tool_calls)), error);
                    out.push(held.event);
                }
            }
            OpenClawHook::ModelCallUsage { call_id, usage, cost } => {
                let run = self.runs.get_mut(&cx.run_id);
                if let Some(run) = run {
                    let matches = matches!(&run.awaiting_reply, Some(HeldCall { event: OwnedEvent { hook: Hook::ModelCallEnd { call_id: held, .. }, .. }, .. }) if *held == call_id);
                    if matches {
                        let mut held = run.awaiting_reply.take().expect("checked just above");
                        fill_reply(&mut held.event.hook, usage, cost, None, String::new());
                        out.push(held.event);
                    }
                }
            }
            OpenClawHook::ToolCallStarted { tool_call_id, tool_name, bridged, params } => {
                if let Some(ctx) = self.run_ctx(&cx, out) {
                    let start = OwnedEvent {
                        ctx,
                        hook: Hook::ToolCallStart { tool_call_id, tool_name, params: content(params) },
                    };
                    match self.runs.get_mut(&cx.run_id) {
                        Some(run) if bridged => run.tool_bridge.outer_started(start),
                        Some(run) => out.push(run.tool_bridge.started(start)),
                        None => out.push(start),
                    }
                }
            }
            OpenClawHook::ToolCallEnded {
                tool_call_id,
                tool_name,
                bridged,
                failed,
                error,
                duration_ms,
                result,
                documents,
            } => {
                if let Some(ctx) = self.run_ctx(&cx, out) {
                    let outcome = if failed || !error.is_empty() { Outcome::ERROR } else { Outcome::COMPLETED };
                    let (result, documents) = (content(result), content(documents));
                    let hook =
                        Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, result, documents };
                    match self.runs.get_mut(&cx.run_id) {
                        Some(run) => run.tool_bridge.ended(OwnedEvent { ctx, hook }, bridged, out),
                        None => out.push(OwnedEvent { ctx, hook }),
                    }
                }
            }
            OpenClawHook::AgentEnded { success, error, duration_ms, response } => {
                if self.ended.contains(&cx.run_id) {
                    return;
                }
                if let Some(ctx) = self.run_ctx(&cx, out) {
                    let outcome = if success { Outcome::COMPLETED } else { Outcome::ERROR };
                    let end = OwnedEvent {
                        ctx,
                        hook: Hook::MessageEnd { outcome, error, response: content(response), duration_ms },
                    };
                    let deadline_ms = cx.ts_ms.saturating_add(self.limits.end_grace_ms);
                    match self.runs.get_mut(&cx.run_id).filter(|_| !success) {
                        Some(run) => {
                            run.held_end = Some(HeldCall { event: end, deadline_ms });
                            self.deadlines.push(Reverse((deadline_ms, cx.run_id.clone())));
                        }
                        None => {
                            out.push(end);
                            self.forget_run(&cx.run_id);
                        }
                    }
                }
            }
            OpenClawHook::SessionStarted { resumed_from } => {
                out.push(OwnedEvent { ctx: session_ctx(&cx), hook: Hook::SessionStart { resumed_from } });
            }
            OpenClawHook::SessionEnded { reason, message_count, duration_ms } => {
                out.push(OwnedEvent {
                    ctx: session_ctx(&cx),
                    hook: Hook::SessionEnd { reason, message_count, duration_ms },
                });
            }
            OpenClawHook::SubagentSpawned {
                requester_session_key,
                child_session_key,
                child_agent_id,
                label,
                model,
            } => {
                let ctx = self.requester_ctx(&cx, &requester_session_key);
                out.push(OwnedEvent {
                    ctx,
                    hook: Hook::SubagentSpawned { child_session_key, child_agent_id, label, model },
                });
            }
            OpenClawHook::SubagentEnded { requester_session_key, child_session_key, outcome, error } => {
                let ctx = self.requester_ctx(&cx, &requester_session_key);
                out.push(OwnedEvent { ctx, hook: Hook::SubagentEnded { child_session_key, outcome, error } });
            }
        }
        self.pushes_since_sweep += 1;
        if self.pushes_since_sweep >= 1024 || self.runs.len() > self.limits.max_open_runs {
            self.sweep(out);
        }
    }

    /// Lets go of every held model call (at shutdown, or the end of a recording).
    pub fn finish(&mut self, out: &mut Vec<OwnedEvent>) {
        let mut ended = Vec::new();
        for (run_id, run) in self.runs.iter_mut() {
            if let Some(held) = run.awaiting_reply.take() {
                out.push(held.event);
            }
            if let Some(end) = run.held_end.take() {
                out.push(end.event);
                ended.push(run_id.clone());
            }
        }
        for run_id in ended {
            self.forget_run(&run_id);
        }
        self.deadlines.clear();
    }

    /// The earliest moment something held is due (milliseconds since the epoch), if anything is.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// Lets go of every held call and end due at `now_ms` (the gateway's clock: hooks carry it, and
    /// a host with nothing else to do calls this when [`Translator::next_deadline`] passes).
    pub fn release_due(&mut self, now_ms: u64, out: &mut Vec<OwnedEvent>) {
        self.now_ms = self.now_ms.max(now_ms);
        while let Some(Reverse((deadline, _))) = self.deadlines.peek() {
            if *deadline > self.now_ms {
                break;
            }
            let Reverse((_, run_id)) = self.deadlines.pop().expect("peeked");
            let now = self.now_ms;
            let Some(run) = self.runs.get_mut(&run_id) else { continue };
            if run.awaiting_reply.as_ref().is_some_and(|h| h.deadline_ms <= now) {
                out.push(run.awaiting_reply.take().expect("checked").event);
            }
            if run.held_end.as_ref().is_some_and(|h| h.deadline_ms <= now) {
                out.push(run.held_end.take().expect("checked").event);
                self.forget_run(&run_id);
            }
        }
    }

    fn run_started(
        &mut self,
        cx: OwnedContext,
        prompt: String,
        trigger: String,
        model_input: ModelInput,
        out: &mut Vec<OwnedEvent>,
    ) {
        if cx.run_id.is_empty() {
            return;
        }
        if let Some(run) = self.runs.get_mut(&cx.run_id) {
            run.last_seen_ms = cx.ts_ms;
            run.held_end = None; // OpenClaw is retrying the run: its end is still to come
            if !model_input.is_empty() {
                run.first_call_input = model_input;
            }
            return; // a later start hook of a run already started
        }
        let started_ms = self.received_at.remove(&cx.session_key).filter(|&r| r <= cx.ts_ms).unwrap_or(cx.ts_ms);
        let context = run_context(&cx);
        let ctx = context.at(started_ms);
        self.open(context, cx.ts_ms);
        if let Some(run) = self.runs.get_mut(&cx.run_id) {
            run.first_call_input = model_input;
        }
        out.push(OwnedEvent { ctx, hook: Hook::MessageStart { prompt: content(preview::readable(&prompt)), trigger } });
    }

    /// The interface context for a hook of a run, releasing the run's held call first (a later
    /// hook of the run means its reply is not coming). A recording or a gateway may begin in the
    /// middle of a run: the hook's own context then stands in for the run's first hook.
    fn run_ctx(&mut self, cx: &OwnedContext, out: &mut Vec<OwnedEvent>) -> Option<OwnedContext> {
        if cx.run_id.is_empty() {
            return None;
        }
        if let Some(run) = self.runs.get_mut(&cx.run_id) {
            run.last_seen_ms = cx.ts_ms;
            run.held_end = None; // a retry of the run: its end is still to come
            if let Some(held) = run.awaiting_reply.take() {
                out.push(held.event);
            }
            return Some(run.context.at(cx.ts_ms));
        }
        if cx.session_key.is_empty() {
            return None;
        }
        let context = run_context(cx);
        if !self.ended.contains(&cx.run_id) {
            self.open(context.clone(), cx.ts_ms);
        }
        Some(context)
    }

    fn open(&mut self, context: OwnedContext, now_ms: u64) {
        let run_id = context.run_id.clone();
        bounded_insert(&mut self.open_run_of_session, &context.session_key, run_id.clone(), self.limits.max_sessions);
        let run = OpenRun {
            context,
            last_seen_ms: now_ms,
            awaiting_reply: None,
            held_end: None,
            first_call_input: ModelInput::default(),
            tool_bridge: Default::default(),
        };
        self.runs.insert(run_id, run);
    }

    fn hold_for_reply(&mut self, event: OwnedEvent) {
        let run_id = event.ctx.run_id.clone();
        let deadline_ms = event.ctx.ts_ms.saturating_add(self.limits.reply_wait_ms);
        if let Some(run) = self.runs.get_mut(&run_id) {
            run.awaiting_reply = Some(HeldCall { event, deadline_ms });
            self.deadlines.push(Reverse((deadline_ms, run_id)));
        }
    }

    /// Drops a run's state, and its session's pointer to it.
    fn close_run(&mut self, run_id: &str) {
        if let Some(run) = self.runs.remove(run_id) {
            if self.open_run_of_session.get(&run.context.session_key).is_some_and(|r| r == run_id) {
                self.open_run_of_session.remove(&run.context.session_key);
            }
        }
    }

    /// Closes a run whose end went out, remembering it so that a repeated end is dropped.
    fn forget_run(&mut self, run_id: &str) {
        self.close_run(run_id);
        if self.ended.insert(run_id.to_string()) {
            self.ended_order.push_back(run_id.to_string());
            while self.ended_order.len() > self.limits.max_open_runs {
                if let Some(old) = self.ended_order.pop_front() {
                    self.ended.remove(&old);
                }
            }
        }
    }

    /// Forgets idle runs, and the least recently active ones beyond the bound (letting go of
    /// their held calls). Amortised: runs every 1024 hooks or when over the bound.
    fn sweep(&mut self, out: &mut Vec<OwnedEvent>) {
        self.pushes_since_sweep = 0;
        let idle_before = self.now_ms.saturating_sub(self.limits.run_idle_ms);
        let mut stale: Vec<(u64, String)> = self
            .runs
            .iter()
            .filter(|(_, r)| r.last_seen_ms < idle_before)
            .map(|(id, r)| (r.last_seen_ms, id.clone()))
            .collect();
        if self.runs.len() - stale.len() > self.limits.max_open_runs {
            // Down to 90% of the bound, oldest first, so that the next sweep is far away.
            let mut by_age: Vec<(u64, String)> = self.runs.iter().map(|(id, r)| (r.last_seen_ms, id.clone())).collect();
            by_age.sort_unstable();
            let keep = self.limits.max_open_runs * 9 / 10;
            stale = by_age[..by_age.len() - keep].to_vec();
        }
        for (_, run_id) in stale {
            if let Some(run) = self.runs.get_mut(&run_id) {
                out.extend(run.awaiting_reply.take().map(|h| h.event));
                out.extend(run.held_end.take().map(|h| h.event));
            }
            self.close_run(&run_id);
        }
    }

    /// Subagent hooks happen in the requester's session and name a run.
    fn requester_ctx(&self, cx: &OwnedContext, requester_session_key: &str) -> OwnedContext {
        let parent = if requester_session_key.is_empty() { &cx.session_key } else { requester_session_key };
        let session_id = self.session_ids.get(parent).cloned().unwrap_or_default();
        OwnedContext {
            ts_ms: cx.ts_ms,
            run_id: cx.run_id.clone(),
            session_key: parent.to_string(),
            session_id,
            agent_id: agent_of_session_key(parent).to_string(),
            channel: String::new(),
        }
    }
}

/// Puts a reply's usage, cost, text and error on a held model call's end.
/// Fills a held call's end from its reply: usage and cost, and (from the assistant message) its
/// text and tool calls.
fn fill_reply(
    hook: &mut Hook,
    usage: Option<TokenUsage>,
    cost: Option<ModelCost>,
    message: Option<(String, String)>,
    reply_error: String,
) {
    if let Hook::ModelCallEnd { usage: u, cost_usd, response, tool_calls, error, outcome, .. } = hook {
        *u = usage.or(*u);
        *cost_usd = cost.or(*cost_usd);
        if let Some((text, calls)) = message {
            *response = content(text);
            *tool_calls = content(calls);
        }
        // A reply that is an error (`stopReason: "error"`) is a failed call, whatever the call's
        // end said: OpenClaw before 2026.9 ends a stream that delivered an error as "completed".
        if !reply_error.is_empty() && *outcome == Outcome::COMPLETED {
            *outcome = Outcome::ERROR;
        }
        if error.is_empty() {
            *error = reply_error;
        }
    }
}

/// A run's context from its first hook: the agent from the session key when the hook names none.
fn run_context(cx: &OwnedContext) -> OwnedContext {
    OwnedContext { agent_id: agent_or_from_key(&cx.agent_id, &cx.session_key), ..cx.clone() }
}

/// A session hook's context: no run, no channel.
fn session_ctx(cx: &OwnedContext) -> OwnedContext {
    OwnedContext { run_id: String::new(), channel: String::new(), ..run_context(cx) }
}

fn agent_or_from_key(agent_id: &str, session_key: &str) -> String {
    if agent_id.is_empty() {
        agent_of_session_key(session_key).to_string()
    } else {
        agent_id.to_string()
    }
}

/// Inserts into a map that must stay under `cap` entries; at the cap, an arbitrary tenth goes
/// (these maps only refine what the hooks already say, so losing an entry costs little).
fn bounded_insert<V>(map: &mut HashMap<String, V>, key: &str, value: V, cap: usize) {
    if let Some(slot) = map.get_mut(key) {
        *slot = value;
        return;
    }
    if map.len() >= cap {
        let drop: Vec<String> = map.keys().take(cap / 10 + 1).cloned().collect();
        for k in drop {
            map.remove(&k);
        }
    }
    map.insert(key.to_string(), value);
}

#[cfg(test)]
mod tests;
