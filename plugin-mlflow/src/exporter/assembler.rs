//! Turns the stream of events into whole traces: one per agent run (user message), holding the
//! model-call and tool-call spans of that run. A trace is finished when its message ends, or when
//! it has been idle longer than `messageTimeoutMs` (then it is marked incomplete), or at shutdown.
//! A run is bounded by bytes (`with_max_run_bytes`, `maxTraceBytes`): what its events brought, plus
//! the earlier messages each model call's input repeats when encoded, so that the bound holds for
//! the trace as sent, not only in memory. A run that outgrows it (a long tool loop) is sent as it
//! stands, marked incomplete, and continues in a follow-up trace linked to it both ways; the calls
//! still open move to the follow-up.
//!
//! Robust to what real hosts do: runs interleave; an end may arrive without its start (the plugin
//! was attached mid-run) and is reconstructed from its duration; calls still open when their
//! message ends are closed with it and marked; events for a message that already ended are counted
//! and dropped, since that trace has been sent.

use super::trace_ids::TraceIds;
use crate::pricing::PriceTable;
use crate::tokens::Tokens;
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{Hook, OwnedEvent};
use openclaw_plugin_api::{ModelCost, Outcome};
use opentelemetry::trace::{SpanId, TraceId};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum ChildKind {
    Model {
        provider: String,
        model: String,
        /// In MLflow's convention, normalized once from the host's report.
        usage: Option<Tokens>,
        cost: Option<ModelCost>,
        /// "host" or "price_table": who gave the cost (see `PriceTable::price_call`).
        cost_source: Option<&'static str>,
        response: Option<String>,
        /// JSON chat messages the call received that no earlier event of the run carried (the
        /// interface's `input_messages`): the run's first call's history and prompt.
        input_messages: Option<String>,
        /// JSON `[{"id", "name", "arguments"}]`: the tools the reply asked for.
        tool_calls: Option<String>,
        /// JSON `[{"name", "description", "parameters"}]`: the tools the run's calls are offered
        /// (the interface's `tool_definitions`, on the run's first call).
        tool_definitions: Option<String>,
    },
    Tool {
        name: String,
        call_id: String,
        params: Option<String>,
        result: Option<String>,
        /// JSON documents a retrieval tool returned (the interface's `ToolCallEnd::documents`).
        documents: Option<String>,
    },
}

impl ChildKind {
    pub fn model(
        provider: String,
        model: String,
        input_messages: Option<String>,
        tool_definitions: Option<String>,
    ) -> ChildKind {
        ChildKind::Model {
            provider,
            model,
            usage: None,
            cost: None,
            cost_source: None,
            response: None,
            input_messages,
            tool_calls: None,
            tool_definitions,
        }
    }
}

#[derive(Debug)]
pub struct ChildSpan {
    pub span_id: SpanId,
    pub start_ms: u64,
    /// `None` while open.
    pub end_ms: Option<u64>,
    pub outcome: Option<Outcome>,
    pub error: String,
    pub kind: ChildKind,
}

/// The trace and session of the run that spawned a subagent.
#[derive(Clone, Debug)]
pub struct ParentLink {
    pub trace_id: TraceId,
    pub session_key: String,
    pub run_id: String,
}

#[derive(Debug)]
pub struct RunTrace {
    pub trace_id: TraceId,
    pub root_span_id: SpanId,
    pub ctx: OwnedContext,
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    pub last_event_ms: u64,
    pub prompt: Option<String>,
    pub trigger: String,
    pub response: Option<String>,
    pub outcome: Option<Outcome>,
    pub error: String,
    pub children: Vec<ChildSpan>,
    pub parent: Option<ParentLink>,
    /// Session keys of the subagents this run spawned.
    pub subagent_sessions: Vec<String>,
    /// 0 for a message's first trace; `n` for its `n`-th follow-up (the run outgrew its bytes).
    pub part: u32,
    /// The trace of the part before this one.
    pub continues: Option<TraceId>,
    open_calls: HashMap<String, usize>,
    last_seen: Instant,
    /// What the run's events brought (their size and texts), since this part began, and the
    /// history each model call's input repeats from them.
    bytes: usize,
    /// The sizes of the latest messages of this part (replies, tool results, a call's input), which
    /// the next model call's input repeats.
    history: History,
}

/// The latest messages' sizes, at most `max` of them: what a model call's input repeats in MLflow
/// (`maxHistoryMessages`), so that a part's bytes count what its trace will carry.
#[derive(Debug, Default)]
struct History {
    sizes: VecDeque<usize>,
    bytes: usize,
}

impl History {
    fn push(&mut self, size: usize, max: usize) {
        if max == 0 {
            return;
        }
        if self.sizes.len() == max {
            self.bytes -= self.sizes.pop_front().unwrap_or(0);
        }
        self.sizes.push_back(size);
        self.bytes += size;
    }
}

impl RunTrace {
    /// A run's trace with nothing in it yet, starting at `start_ms`.
    fn begin(
        ids: &TraceIds,
        trace_id: TraceId,
        ctx: OwnedContext,
        start_ms: u64,
        parent: Option<ParentLink>,
    ) -> RunTrace {
        RunTrace {
            trace_id,
            root_span_id: ids.root_span(trace_id),
            ctx,
            start_ms,
            end_ms: None,
            last_event_ms: start_ms,
            prompt: None,
            trigger: String::new(),
            response: None,
            outcome: None,
            error: String::new(),
            children: Vec::new(),
            parent,
            subagent_sessions: Vec::new(),
            part: 0,
            continues: None,
            open_calls: HashMap::new(),
            last_seen: Instant::now(),
            bytes: 0,
            history: History::default(),
        }
    }

    /// `provider/model` of the last model call, for the trace's `model` tag.
    pub fn model(&self) -> Option<String> {
        self.children.iter().rev().find_map(|c| match &c.kind {
            ChildKind::Model { provider, model, .. } if provider.is_empty() => Some(model.clone()),
            ChildKind::Model { provider, model, .. } => Some(format!("{provider}/{model}")),
            _ => None,
        })
    }
}

/// A trace ready to be sent, and why it is incomplete if it is.
#[derive(Debug)]
pub struct FinishedTrace {
    pub run: RunTrace,
    pub incomplete: Option<String>,
    /// The message goes on in this trace (the run outgrew its bytes): this part is not the
    /// message's end, and the metrics count the message with its last part.
    pub continued_in: Option<TraceId>,
}

impl FinishedTrace {
    /// How the message ended, as the metrics name it: `completed`, `error` or `incomplete`.
    pub fn outcome_label(&self) -> &'static str {
        match (&self.incomplete, self.run.outcome) {
            (Some(_), _) => "incomplete",
            (None, Some(o)) if o.is_error() => "error",
            _ => "completed",
        }
    }
}

/// What the assembler noticed that the exporter should count or log.
#[derive(Default, Debug, PartialEq)]
pub struct Notes {
    pub late_events: u64,
}

pub struct Assembler {
    ids: TraceIds,
    open: HashMap<String, RunTrace>,
    /// Recently finished run ids, oldest first, to recognise late events (bounded).
    finished: VecDeque<String>,
    finished_set: std::collections::HashSet<String>,
    /// child session key -> the run that spawned it (bounded).
    subagent_parents: HashMap<String, ParentLink>,
    subagent_order: VecDeque<String>,
    max_open: usize,
    /// A run holding more is sent and continues in a follow-up trace.
    max_run_bytes: usize,
    /// How many earlier messages a model call's input repeats (0: inputs are not captured).
    history_messages: usize,
    idle_timeout: Duration,
    /// Prices a model call when it closes; shared so that a closing call can borrow it beside
    /// its run.
    prices: Arc<PriceTable>,
    pub notes: Notes,
}

const REMEMBER_FINISHED: usize = 10_000;
const REMEMBER_SUBAGENTS: usize = 10_000;

impl Assembler {
    /// Trace ids are derived from each turn's identity within `TraceIds::new("")` until
    /// `with_trace_ids` says where traces go.
    pub fn new(idle_timeout: Duration, max_open: usize, prices: PriceTable) -> Assembler {
        Assembler {
            ids: TraceIds::new(""),
            open: HashMap::new(),
            finished: VecDeque::new(),
            finished_set: Default::default(),
            subagent_parents: HashMap::new(),
            subagent_order: VecDeque::new(),
            max_open,
            max_run_bytes: usize::MAX,
            history_messages: 0,
            idle_timeout,
            prices: Arc::new(prices),
            notes: Notes::default(),
        }
    }

    pub fn open_runs(&self) -> usize {
        self.open.len()
    }

    /// Applies one event; returns the traces it finished (usually none, one at a message end).
    pub fn apply(&mut self, event: OwnedEvent, out: &mut Vec<FinishedTrace>) {
        let ctx = &event.ctx;
        if let Hook::SubagentSpawned { .. } | Hook::SubagentEnded { .. } = event.hook {
            self.apply_subagent(event);
            return;
        }
        if ctx.run_id.is_empty() {
            return; // session-level events carry nothing for a trace
        }
        if self.finished_set.contains(&ctx.run_id) {
            self.notes.late_events += 1;
            return;
        }
        let ts = ctx.ts_ms;
        let run_id = ctx.run_id.clone();
        let weight = std::mem::size_of::<OwnedEvent>() + event.text_bytes();
        // A model call's input repeats the latest messages; replies, tool results and a call's own
        // input become the history of the calls after it.
        let (repeats_history, message_bytes) = match &event.hook {
            Hook::ModelCallStart { input_messages, .. } => (true, input_messages.as_ref().map_or(0, String::len)),
            Hook::ModelCallEnd { .. } | Hook::ToolCallEnd { .. } => (false, event.hook.text_bytes()),
            _ => (false, 0),
        };
        match event {
            OwnedEvent { ctx, hook: Hook::MessageStart { prompt, trigger } } => {
                let run = self.run(&ctx, ts);
                run.start_ms = run.start_ms.min(ts);
                run.prompt = prompt.or(run.prompt.take());
                run.trigger = trigger;
            }
            OwnedEvent { ctx, hook: Hook::MessageEnd { outcome, error, response, duration_ms } } => {
                let run = self.run(&ctx, duration_ms.map_or(ts, |d| ts.saturating_sub(d)));
                if let Some(d) = duration_ms {
                    run.start_ms = run.start_ms.min(ts.saturating_sub(d));
                }
                run.end_ms = Some(ts.max(run.start_ms));
                run.outcome = Some(outcome);
                run.error = error;
                run.response = response;
                self.finish(&ctx.run_id, None, out);
            }
            OwnedEvent {
                ctx,
                hook: Hook::ModelCallStart { call_id, provider, model, input_messages, tool_definitions },
            } => {
                let kind = ChildKind::model(provider, model, input_messages, tool_definitions);
                self.open_child(&ctx, call_id, ts, kind);
            }
            OwnedEvent {
                ctx,
                hook:
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
                    },
            } => {
                let fresh = ChildKind::model(provider, model, None, None);
                let prices = Arc::clone(&self.prices);
                let child = self.close_child(&ctx, &call_id, ts, duration_ms, outcome, error, fresh);
                if let ChildKind::Model { model, usage: u, cost: c, cost_source, response: r, tool_calls: t, .. } =
                    &mut child.kind
                {
                    *u = usage.as_ref().map(Tokens::from_host);
                    (*c, *cost_source) = prices.price_call(model, u.as_ref(), cost_usd);
                    *r = response;
                    *t = tool_calls;
                }
            }
            OwnedEvent { ctx, hook: Hook::ToolCallStart { tool_call_id, tool_name, params } } => {
                let kind = ChildKind::Tool {
                    name: tool_name,
                    call_id: tool_call_id.clone(),
                    params,
                    result: None,
                    documents: None,
                };
                self.open_child(&ctx, tool_call_id, ts, kind);
            }
            OwnedEvent {
                ctx,
                hook: Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, result, documents },
            } => {
                let fresh = ChildKind::Tool {
                    name: tool_name,
                    call_id: tool_call_id.clone(),
                    params: None,
                    result: None,
                    documents: None,
                };
                let child = self.close_child(&ctx, &tool_call_id, ts, duration_ms, outcome, error, fresh);
                if let ChildKind::Tool { result: r, documents: d, .. } = &mut child.kind {
                    *r = result;
                    *d = documents;
                }
            }
            OwnedEvent { hook: Hook::SessionStart { .. } | Hook::SessionEnd { .. }, .. } => {}
            OwnedEvent { hook: Hook::SubagentSpawned { .. }, .. }
            | OwnedEvent { hook: Hook::SubagentEnded { .. }, .. } => unreachable!("handled above"),
        }
        if let Some(run) = self.open.get_mut(&run_id) {
            run.bytes += weight + if repeats_history { run.history.bytes } else { 0 };
            if message_bytes > 0 {
                run.history.push(message_bytes, self.history_messages);
            }
            if run.bytes > self.max_run_bytes {
                self.continue_in_follow_up(&run_id, out);
            }
        }
        if self.open.len() > self.max_open {
            self.finish_oldest(out);
        }
    }

    fn apply_subagent(&mut self, event: OwnedEvent) {
        match event {
            OwnedEvent { ctx, hook: Hook::SubagentSpawned { child_session_key, .. } } => {
                // OpenClaw gives the child's run id here and the requester's session key, so the
                // parent is the run with this id if it is open in that session, else the latest
                // open run of that session.
                let parent_id = match self.open.get(&ctx.run_id) {
                    Some(run) if run.ctx.session_key == ctx.session_key => Some(ctx.run_id.clone()),
                    _ => self
                        .open
                        .iter()
                        .filter(|(_, r)| r.ctx.session_key == ctx.session_key)
                        .max_by_key(|(_, r)| r.start_ms)
                        .map(|(id, _)| id.clone()),
                };
                let parent = parent_id.and_then(|id| self.open.get_mut(&id)).map(|run| {
                    run.subagent_sessions.push(child_session_key.clone());
                    ParentLink {
                        trace_id: run.trace_id,
                        session_key: run.ctx.session_key.clone(),
                        run_id: run.ctx.run_id.clone(),
                    }
                });
                if let Some(parent) = parent {
                    if self.subagent_parents.insert(child_session_key.clone(), parent).is_none() {
                        self.subagent_order.push_back(child_session_key);
                        if self.subagent_order.len() > REMEMBER_SUBAGENTS {
                            if let Some(old) = self.subagent_order.pop_front() {
                                self.subagent_parents.remove(&old);
                            }
                        }
                    }
                }
            }
            // The link stays until it ages out: the child's last run may still be open, and a
            // finished subagent's session can be resumed.
            OwnedEvent { hook: Hook::SubagentEnded { .. }, .. } => {}
            _ => {}
        }
    }

    pub fn with_trace_ids(mut self, ids: TraceIds) -> Assembler {
        self.ids = ids;
        self
    }

    /// Cuts a run into parts of at most `max_run_bytes`, counting for each model call the
    /// `history_messages` earlier messages its input repeats (0 when inputs are not captured).
    pub fn with_max_run_bytes(mut self, max_run_bytes: usize, history_messages: usize) -> Assembler {
        self.max_run_bytes = max_run_bytes;
        self.history_messages = history_messages;
        self
    }

    /// The open run for `ctx`, created (starting at `start_ms`) if this is its first event.
    fn run(&mut self, ctx: &OwnedContext, start_ms: u64) -> &mut RunTrace {
        let ids = &self.ids;
        let parents = &self.subagent_parents;
        let run = self.open.entry(ctx.run_id.clone()).or_insert_with(|| {
            let trace_id = ids.trace(&ctx.session_key, &ctx.run_id);
            RunTrace::begin(ids, trace_id, ctx.clone(), start_ms, parents.get(&ctx.session_key).cloned())
        });
        run.last_seen = Instant::now();
        run.last_event_ms = run.last_event_ms.max(ctx.ts_ms);
        fill_blanks(&mut run.ctx, ctx);
        run
    }

    fn open_child(&mut self, ctx: &OwnedContext, call_id: String, ts: u64, kind: ChildKind) {
        let ids = self.ids;
        let run = self.run(ctx, ts);
        if run.open_calls.contains_key(&call_id) {
            return; // a repeated start for an open call: the first has the real start time
        }
        let span_id = ids.child_span(run.trace_id, &call_id, run.children.len());
        run.children.push(ChildSpan { span_id, start_ms: ts, end_ms: None, outcome: None, error: String::new(), kind });
        run.open_calls.insert(call_id, run.children.len() - 1);
    }

    #[allow(clippy::too_many_arguments)]
    fn close_child(
        &mut self,
        ctx: &OwnedContext,
        call_id: &str,
        ts: u64,
        duration_ms: Option<u64>,
        outcome: Outcome,
        error: String,
        fresh: ChildKind,
    ) -> &mut ChildSpan {
        let start = duration_ms.map_or(ts, |d| ts.saturating_sub(d));
        let ids = self.ids;
        let run = self.run(ctx, start);
        let index = match run.open_calls.remove(call_id) {
            Some(i) => i,
            None => {
                // An end without a start: rebuild the span from the end time and duration.
                run.children.push(ChildSpan {
                    span_id: ids.child_span(run.trace_id, call_id, run.children.len()),
                    start_ms: start,
                    end_ms: None,
                    outcome: None,
                    error: String::new(),
                    kind: fresh,
                });
                run.children.len() - 1
            }
        };
        run.start_ms = run.start_ms.min(start);
        let child = &mut run.children[index];
        child.end_ms = Some(ts.max(child.start_ms));
        child.outcome = Some(outcome);
        child.error = error;
        child
    }

    fn finish(&mut self, run_id: &str, incomplete: Option<String>, out: &mut Vec<FinishedTrace>) {
        let Some(mut run) = self.open.remove(run_id) else { return };
        let end = run.end_ms.unwrap_or(run.last_event_ms);
        for child in run.children.iter_mut().filter(|c| c.end_ms.is_none()) {
            child.end_ms = Some(end.max(child.start_ms));
            if child.error.is_empty() {
                child.error = "did not end before its message ended".into();
            }
        }
        run.open_calls.clear();
        run.end_ms = Some(end.max(run.start_ms));
        self.finished.push_back(run_id.to_string());
        self.finished_set.insert(run_id.to_string());
        if self.finished.len() > REMEMBER_FINISHED {
            if let Some(old) = self.finished.pop_front() {
                self.finished_set.remove(&old);
            }
        }
        out.push(FinishedTrace { run, incomplete, continued_in: None });
    }

    /// Sends the run as it stands, marked incomplete, and goes on with a follow-up trace of the
    /// same message (its id derived from the run's and the part's number), linked both ways; the
    /// calls still open move to it, with span ids of the new trace. The run is not finished: its
    /// later events belong to the follow-up.
    fn continue_in_follow_up(&mut self, run_id: &str, out: &mut Vec<FinishedTrace>) {
        let Some(mut run) = self.open.remove(run_id) else { return };
        let part = run.part + 1;
        let trace_id = self.ids.trace(&run.ctx.session_key, &format!("{run_id}#part{part}"));
        let mut open: Vec<(String, usize)> = run.open_calls.drain().collect();
        open.sort_by_key(|(_, index)| *index);
        let mut follow_up = RunTrace::begin(&self.ids, trace_id, run.ctx.clone(), run.start_ms, run.parent.clone());
        follow_up.last_event_ms = run.last_event_ms;
        follow_up.last_seen = run.last_seen;
        follow_up.prompt = run.prompt.clone();
        follow_up.trigger = run.trigger.clone();
        follow_up.part = part;
        follow_up.continues = Some(run.trace_id);
        // Highest index first, so that each removal leaves the lower indices in place.
        for (_, index) in open.iter().rev() {
            follow_up.children.push(run.children.remove(*index));
        }
        follow_up.children.reverse();
        for (i, (call_id, _)) in open.into_iter().enumerate() {
            follow_up.children[i].span_id = self.ids.child_span(trace_id, &call_id, i);
            follow_up.open_calls.insert(call_id, i);
        }
        run.end_ms = Some(run.last_event_ms.max(run.start_ms));
        let reason = format!(
            "the message's trace outgrew {} (maxTraceBytes); it continues in the next part",
            crate::log::size(self.max_run_bytes as u64)
        );
        out.push(FinishedTrace { run, incomplete: Some(reason), continued_in: Some(trace_id) });
        self.open.insert(run_id.to_string(), follow_up);
    }

    /// Over capacity: sends the oldest 1% of the open runs (at least one) as incomplete. Evicting a
    /// slice at a time keeps the cost amortised: one linear selection per `max_open / 100` new runs.
    fn finish_oldest(&mut self, out: &mut Vec<FinishedTrace>) {
        let n = (self.max_open / 100).max(1).min(self.open.len());
        let mut by_age: Vec<(Instant, &String)> = self.open.iter().map(|(k, r)| (r.last_seen, k)).collect();
        if n < by_age.len() {
            by_age.select_nth_unstable_by_key(n - 1, |(seen, _)| *seen);
        }
        let oldest: Vec<String> = by_age[..n].iter().map(|(_, k)| (*k).clone()).collect();
        let reason = format!("more than {} messages open at once; the oldest was sent before it ended", self.max_open);
        for run_id in oldest {
            self.finish(&run_id, Some(reason.clone()), out);
        }
    }

    /// Finishes, marked incomplete, every run idle for longer than the timeout.
    pub fn expire_idle(&mut self, now: Instant, out: &mut Vec<FinishedTrace>) {
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last_seen) > self.idle_timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for run_id in idle {
            let reason = format!("message did not end within {} s", self.idle_timeout.as_secs());
            self.finish(&run_id, Some(reason), out);
        }
    }

    /// Finishes every open run, marked incomplete (at shutdown).
    pub fn finish_all(&mut self, reason: &str, out: &mut Vec<FinishedTrace>) {
        let ids: Vec<String> = self.open.keys().cloned().collect();
        for run_id in ids {
            self.finish(&run_id, Some(reason.to_string()), out);
        }
    }
}

/// Hooks differ in how much context they carry (OpenClaw's model-call hooks lack the agent id):
/// keep the first value seen for each field.
fn fill_blanks(into: &mut OwnedContext, from: &OwnedContext) {
    for (dst, src) in [
        (&mut into.session_key, &from.session_key),
        (&mut into.session_id, &from.session_id),
        (&mut into.agent_id, &from.agent_id),
        (&mut into.channel, &from.channel),
    ] {
        if dst.is_empty() && !src.is_empty() {
            dst.clone_from(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::run_metrics::{MetricToggles, MetricsWindow};

    fn ctx(run: &str, ts: u64) -> OwnedContext {
        OwnedContext {
            ts_ms: ts,
            run_id: run.into(),
            session_key: "agent:main:main".into(),
            agent_id: "main".into(),
            ..OwnedContext::default()
        }
    }

    fn start(run: &str, ts: u64) -> OwnedEvent {
        OwnedEvent { ctx: ctx(run, ts), hook: Hook::MessageStart { prompt: Some("hi".into()), trigger: "user".into() } }
    }

    fn end(run: &str, ts: u64, duration_ms: Option<u64>) -> OwnedEvent {
        OwnedEvent {
            ctx: ctx(run, ts),
            hook: Hook::MessageEnd { outcome: Outcome::COMPLETED, error: String::new(), response: None, duration_ms },
        }
    }

    fn tool_start(run: &str, id: &str, ts: u64) -> OwnedEvent {
        OwnedEvent {
            ctx: ctx(run, ts),
            hook: Hook::ToolCallStart { tool_call_id: id.into(), tool_name: "read".into(), params: None },
        }
    }

    fn tool_end(run: &str, id: &str, ts: u64, duration_ms: Option<u64>) -> OwnedEvent {
        OwnedEvent {
            ctx: ctx(run, ts),
            hook: Hook::ToolCallEnd {
                tool_call_id: id.into(),
                tool_name: "read".into(),
                outcome: Outcome::COMPLETED,
                error: String::new(),
                duration_ms,
                result: None,
                documents: None,
            },
        }
    }

    fn assembler() -> Assembler {
        Assembler::new(Duration::from_secs(60), 1000, PriceTable::builtin())
    }

    #[test]
    fn interleaved_runs_become_separate_traces_with_their_own_spans() {
        let mut a = assembler();
        let mut out = Vec::new();
        for e in [
            start("a", 10),
            start("b", 11),
            tool_start("a", "t1", 12),
            tool_start("b", "t1", 13),
            tool_end("b", "t1", 20, None),
            tool_end("a", "t1", 30, None),
            end("b", 40, None),
            end("a", 50, None),
        ] {
            a.apply(e, &mut out);
        }
        assert_eq!(out.len(), 2);
        let (b, a_run) = (&out[0].run, &out[1].run);
        assert_eq!((b.ctx.run_id.as_str(), b.start_ms, b.end_ms), ("b", 11, Some(40)));
        assert_eq!((b.children[0].start_ms, b.children[0].end_ms), (13, Some(20)));
        assert_eq!((a_run.children[0].start_ms, a_run.children[0].end_ms), (12, Some(30)));
        assert_ne!(a_run.trace_id, b.trace_id);
        assert!(out.iter().all(|f| f.incomplete.is_none()));
    }

    #[test]
    fn ends_without_starts_are_rebuilt_from_their_durations() {
        let mut a = assembler();
        let mut out = Vec::new();
        a.apply(tool_end("r", "t", 100, Some(30)), &mut out);
        a.apply(end("r", 200, Some(150)), &mut out);
        let run = &out[0].run;
        assert_eq!((run.start_ms, run.end_ms), (50, Some(200)));
        assert_eq!((run.children[0].start_ms, run.children[0].end_ms), (70, Some(100)));
    }

    #[test]
    fn calls_still_open_at_the_message_end_are_closed_with_it_and_marked() {
        let mut a = assembler();
        let mut out = Vec::new();
        a.apply(start("r", 10), &mut out);
        a.apply(tool_start("r", "t", 20), &mut out);
        a.apply(end("r", 90, None), &mut out);
        let child = &out[0].run.children[0];
        assert_eq!(child.end_ms, Some(90));
        assert!(child.outcome.is_none() && child.error.contains("did not end"));
    }

    #[test]
    fn events_after_the_end_are_counted_and_dropped_and_duplicate_starts_ignored() {
        let mut a = assembler();
        let mut out = Vec::new();
        a.apply(start("r", 10), &mut out);
        a.apply(tool_start("r", "t", 20), &mut out);
        a.apply(tool_start("r", "t", 25), &mut out);
        a.apply(tool_end("r", "t", 30, None), &mut out);
        a.apply(end("r", 40, None), &mut out);
        a.apply(tool_end("r", "t", 50, None), &mut out);
        a.apply(end("r", 60, None), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].run.children.len(), 1);
        assert_eq!(out[0].run.children[0].start_ms, 20);
        assert_eq!(a.notes.late_events, 2);
    }

    /// A model call `id` that asks for tool `id`, opened and answered at `ts`.
    fn model_round(run: &str, id: &str, ts: u64) -> [OwnedEvent; 2] {
        let (provider, model) = ("openai".to_string(), "gpt-5-mini".to_string());
        let started = Hook::ModelCallStart {
            call_id: id.into(),
            provider: provider.clone(),
            model: model.clone(),
            input_messages: None,
            tool_definitions: None,
        };
        let ended = Hook::ModelCallEnd {
            call_id: id.into(),
            provider,
            model,
            outcome: Outcome::COMPLETED,
            error: String::new(),
            duration_ms: Some(1),
            usage: None,
            cost_usd: None,
            response: None,
            tool_calls: Some(format!(r#"[{{"id":"{id}","name":"read","arguments":"{{}}"}}]"#)),
        };
        [OwnedEvent { ctx: ctx(run, ts), hook: started }, OwnedEvent { ctx: ctx(run, ts), hook: ended }]
    }

    /// Each model call's input repeats the latest messages in MLflow, so a loop of calls and tool
    /// results is cut by what its trace will carry, not by what its events brought once.
    #[test]
    fn a_part_counts_the_history_its_model_calls_repeat() {
        let parts = |history_messages: usize| {
            let mut a = assembler().with_max_run_bytes(64 << 10, history_messages);
            let mut out = Vec::new();
            a.apply(start("r", 10), &mut out);
            // Twelve rounds of a call and its tool's 2 KiB result: 24 KiB once, several times
            // that with each call repeating up to 20 messages before it.
            let result = "x".repeat(2 << 10);
            for i in 0..12u64 {
                let id = format!("c{i}");
                for event in model_round("r", &id, 20 + 3 * i) {
                    a.apply(event, &mut out);
                }
                a.apply(tool_start("r", &id, 21 + 3 * i), &mut out);
                a.apply(tool_end_with("r", &id, 22 + 3 * i, &result), &mut out);
            }
            a.apply(end("r", 60, None), &mut out);
            out.len()
        };
        assert_eq!(parts(0), 1, "inputs not captured: nothing repeats, one trace");
        assert!(parts(20) >= 2, "with the history counted the loop is cut: {} part(s)", parts(20));
    }

    /// A tool call that returned `result`.
    fn tool_end_with(run: &str, id: &str, ts: u64, result: &str) -> OwnedEvent {
        let OwnedEvent {
            ctx,
            hook: Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, documents, .. },
        } = tool_end(run, id, ts, None)
        else {
            unreachable!()
        };
        let result = Some(result.to_string());
        OwnedEvent {
            ctx,
            hook: Hook::ToolCallEnd { tool_call_id, tool_name, outcome, error, duration_ms, result, documents },
        }
    }

    #[test]
    fn a_run_that_outgrows_its_bytes_goes_on_in_follow_up_traces_linked_both_ways() {
        let mut a = assembler().with_max_run_bytes(64 << 10, 20);
        let mut out = Vec::new();
        a.apply(start("r", 10), &mut out);
        // A call that stays open across the cuts, then ten calls of 16 KiB each.
        a.apply(tool_start("r", "long", 11), &mut out);
        let result = "x".repeat(16 << 10);
        for i in 0..10u64 {
            a.apply(tool_start("r", &format!("t{i}"), 20 + 2 * i), &mut out);
            a.apply(tool_end_with("r", &format!("t{i}"), 21 + 2 * i, &result), &mut out);
        }
        a.apply(tool_end("r", "long", 50, None), &mut out);
        a.apply(end("r", 60, None), &mut out);

        assert!(out.len() >= 3, "ten calls of 16 KiB in parts of 64 KiB: {} trace(s)", out.len());
        let (last, cut) = out.split_last().unwrap();
        for (i, part) in cut.iter().enumerate() {
            assert!(part.incomplete.as_deref().unwrap().contains("continues in the next part"));
            assert_eq!(part.continued_in, Some(out[i + 1].run.trace_id), "part {i} names the next");
            assert_eq!(out[i + 1].run.continues, Some(part.run.trace_id), "part {} names the one before", i + 1);
            assert_eq!(out[i + 1].run.part, i as u32 + 1);
        }
        assert!(last.incomplete.is_none() && last.continued_in.is_none(), "the message ended in its last part");
        assert_eq!((last.run.start_ms, last.run.end_ms), (10, Some(60)), "the last part spans the message");
        // Every call in exactly one part, closed as it closed: the open one moved along.
        let mut calls: Vec<(String, Option<u64>, String)> = out
            .iter()
            .flat_map(|f| &f.run.children)
            .map(|c| match &c.kind {
                ChildKind::Tool { call_id, .. } => (call_id.clone(), c.end_ms, c.error.clone()),
                _ => unreachable!(),
            })
            .collect();
        calls.sort();
        assert_eq!(calls.len(), 11);
        assert_eq!(calls[0], ("long".to_string(), Some(50), String::new()));
        assert!(calls.iter().all(|(_, end, error)| end.is_some() && error.is_empty()), "{calls:?}");
        let span_ids: std::collections::HashSet<_> =
            out.iter().flat_map(|f| &f.run.children).map(|c| c.span_id).collect();
        assert_eq!(span_ids.len(), 11, "span ids stay distinct");
        assert_eq!(a.notes.late_events, 0, "a cut is not an end: later events go to the follow-up");
        assert_eq!(a.open_runs(), 0);
        let toggles = MetricToggles { tokens: true, costs: true, latency: true };
        let mut window = MetricsWindow::new(toggles);
        out.iter().for_each(|f| window.add(f));
        let points = window.close(100);
        let messages: Vec<(&str, f64)> =
            points.iter().filter(|p| p.key.starts_with("message.")).map(|p| (p.key.as_str(), p.value)).collect();
        assert_eq!(messages, vec![("message.outcome.completed", 1.0)], "one message, counted once");
        let latency = points.iter().find(|p| p.key == "latency.message_ms").map(|p| p.value);
        assert_eq!(latency, Some(50.0), "the whole message's duration");
    }

    #[test]
    fn idle_runs_expire_as_incomplete_and_open_runs_are_bounded() {
        let mut a = Assembler::new(Duration::from_millis(0), 2, PriceTable::builtin());
        let mut out = Vec::new();
        a.apply(start("r1", 10), &mut out);
        a.apply(start("r2", 11), &mut out);
        a.apply(start("r3", 12), &mut out);
        assert_eq!(out.len(), 1, "the oldest of three is sent when two are allowed");
        assert_eq!(out[0].run.ctx.run_id, "r1");
        assert!(out[0].incomplete.as_deref().unwrap().contains("more than 2 messages open"));
        std::thread::sleep(Duration::from_millis(2));
        a.expire_idle(Instant::now(), &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(a.open_runs(), 0);
        assert!(out[1].incomplete.as_deref().unwrap().contains("did not end within"));
    }

    #[test]
    fn a_million_distinct_sessions_keep_memory_bounded() {
        let mut a = Assembler::new(Duration::from_secs(600), 1000, PriceTable::builtin());
        let mut out = Vec::new();
        let mut sent = 0;
        for i in 0..1_000_000u32 {
            let ctx = OwnedContext {
                ts_ms: i as u64,
                run_id: format!("r{i}"),
                session_key: format!("agent:main:s{i}"),
                ..OwnedContext::default()
            };
            a.apply(OwnedEvent { ctx, hook: Hook::MessageStart { prompt: None, trigger: String::new() } }, &mut out);
            sent += out.len();
            out.clear(); // the exporter ships them
        }
        assert!(a.open_runs() <= 1000, "open runs bounded: {}", a.open_runs());
        assert_eq!(sent + a.open_runs(), 1_000_000, "nothing silently lost: every run was sent or is open");
        assert!(a.finished.len() <= REMEMBER_FINISHED && a.finished_set.len() <= REMEMBER_FINISHED);
        assert!(a.subagent_parents.len() <= REMEMBER_SUBAGENTS);
    }

    #[test]
    fn a_subagent_run_is_linked_to_the_run_under_way_in_the_requester_session() {
        let mut a = assembler();
        let mut out = Vec::new();
        a.apply(start("parent", 10), &mut out);
        let spawn_ctx = OwnedContext { run_id: "child-run".into(), ..ctx("child-run", 20) };
        a.apply(
            OwnedEvent {
                ctx: spawn_ctx,
                hook: Hook::SubagentSpawned {
                    child_session_key: "agent:main:subagent:x".into(),
                    child_agent_id: "main".into(),
                    label: String::new(),
                    model: String::new(),
                },
            },
            &mut out,
        );
        let child_ctx = OwnedContext { session_key: "agent:main:subagent:x".into(), ..ctx("child-run", 30) };
        a.apply(
            OwnedEvent { ctx: child_ctx.clone(), hook: Hook::MessageStart { prompt: None, trigger: String::new() } },
            &mut out,
        );
        a.apply(
            OwnedEvent {
                ctx: OwnedContext { ts_ms: 40, ..child_ctx },
                hook: Hook::MessageEnd {
                    outcome: Outcome::COMPLETED,
                    error: String::new(),
                    response: None,
                    duration_ms: None,
                },
            },
            &mut out,
        );
        a.apply(end("parent", 50, None), &mut out);
        let (child, parent) = (&out[0].run, &out[1].run);
        let link = child.parent.as_ref().unwrap();
        assert_eq!((link.trace_id, link.run_id.as_str()), (parent.trace_id, "parent"));
        assert_eq!(parent.subagent_sessions, vec!["agent:main:subagent:x".to_string()]);
    }
}
