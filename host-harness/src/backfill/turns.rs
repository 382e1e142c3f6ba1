//! A session's transcript (OpenClaw's `transcript_events`, in `seq` order) as the hook calls the live
//! gateway made for each turn, so that the plugin sends the trace it would have sent then.
//!
//! A turn opens with a `user` message and takes the assistant and tool-result messages that follow;
//! its run id is OpenClaw's (`__openclaw.runId` on those messages), the id the live hooks carried, so a
//! backfilled turn lands on the same trace id as the live one. A message from another run starts a turn
//! of its own (a subagent's announcement arrives that way, with no user message). Times are the
//! transcript's: a model call from its request (`message.timestamp`) to its entry, a tool call from the
//! assistant entry that asked for it to its result.

use openclaw_plugin_api::owned::content;
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{Hook, OwnedEvent};
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};
use openclaw_plugin_host::openclaw::payload::{self, Capture};
use openclaw_plugin_host::openclaw::preview;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Where the turns happened: the session window and its agent.
#[derive(Clone, Debug)]
pub struct Session {
    pub session_id: String,
    pub session_key: String,
    pub agent_id: String,
    pub channel: String,
}

/// One transcript entry: its `seq` and the decoded `event_json`.
pub struct Entry {
    pub seq: i64,
    pub event: Value,
}

/// A past turn as hook calls, and where it ends in the transcript (for resuming).
#[derive(Debug)]
pub struct Turn {
    pub last_seq: i64,
    pub ended_ms: u64,
    /// False when the transcript stops before the turn's final answer (a turn still running, or cut
    /// off): such a turn is not sent, as the live plugin would not have sent it yet either.
    pub finished: bool,
    pub events: Vec<OwnedEvent>,
}

/// The turns of one session window, in order.
pub fn turns(session: &Session, entries: &[Entry]) -> Vec<Turn> {
    let mut turns: Vec<TurnBuilder> = Vec::new();
    for entry in entries {
        let e = &entry.event;
        if e["type"] != "message" {
            continue;
        }
        let message = &e["message"];
        let at = entry_ms(e);
        match message["role"].as_str() {
            Some("user") => turns.push(TurnBuilder::new(entry.seq, at, text_of(&message["content"]), message)),
            Some(role @ ("assistant" | "toolResult")) => {
                let run = message["__openclaw"]["runId"].as_str().unwrap_or_default();
                let belongs = turns.last().is_some_and(|t| t.run_id.is_empty() || run.is_empty() || t.run_id == run);
                if !belongs {
                    turns.push(TurnBuilder::new(entry.seq, at, String::new(), &Value::Null));
                }
                let turn = turns.last_mut().expect("a turn is open");
                if turn.run_id.is_empty() {
                    turn.run_id = run.to_string();
                }
                turn.last_seq = entry.seq;
                if role == "assistant" {
                    turn.assistant(at, message);
                } else {
                    turn.tool_result(message);
                }
            }
            _ => {} // custom entries (nested tool details, notes) are not part of the hook stream
        }
    }
    turns.into_iter().map(|t| t.finish(session)).collect()
}

/// Milliseconds since the epoch of an entry's `timestamp` (RFC 3339), 0 when missing or malformed.
fn entry_ms(e: &Value) -> u64 {
    e["timestamp"]
        .as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64)
}

/// The text of a message's content: a string, or the `text` parts of a list joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// OpenClaw's usage (`input` without cache, `cacheRead`, `cacheWrite`, `totalTokens`) and cost.
fn usage_of(usage: &Value) -> (Option<TokenUsage>, Option<ModelCost>) {
    if !usage.is_object() {
        return (None, None);
    }
    let n = |k: &str| usage[k].as_u64().unwrap_or(0);
    let (input, output, cache_read, cache_write) = (n("input"), n("output"), n("cacheRead"), n("cacheWrite"));
    let total = usage["totalTokens"].as_u64().unwrap_or(input + output + cache_read + cache_write);
    let tokens = TokenUsage { input, output, cache_read, cache_write, total };
    let c = &usage["cost"];
    let cost = c["total"].as_f64().map(|total| {
        let f = |k: &str| c[k].as_f64().unwrap_or(0.0);
        ModelCost {
            input: f("input"),
            output: f("output"),
            cache_read: f("cacheRead"),
            cache_write: f("cacheWrite"),
            total,
        }
    });
    (Some(tokens), cost)
}

/// A turn being read: its hook calls in order, stamped with the run id once it is known.
struct TurnBuilder {
    run_id: String,
    /// The run id a user entry's idempotency key names ("<run id>:user"), when no message names one.
    key_run_id: String,
    first_seq: i64,
    last_seq: i64,
    hooks: Vec<(u64, Hook)>,
    /// The user message as the model received it (the trace's Input is its readable form).
    prompt_as_sent: String,
    model_calls: u32,
    /// Tool calls asked for and not yet answered: (id, name, asked at).
    open_tools: Vec<(String, String, u64)>,
    last_answer: Option<Answer>,
}

/// A turn's last assistant message so far: it ends the turn unless it asked for tools.
struct Answer {
    at_ms: u64,
    stop: String,
    /// The error text when the stop reason is `error` or `aborted` (`errorMessage`, else the reason).
    failure: Option<String>,
    text: String,
}

impl TurnBuilder {
    fn new(seq: i64, at_ms: u64, prompt: String, user_message: &Value) -> TurnBuilder {
        let key_run_id = user_message["idempotencyKey"].as_str().and_then(|k| k.strip_suffix(":user")).unwrap_or("");
        TurnBuilder {
            run_id: String::new(),
            key_run_id: key_run_id.to_string(),
            first_seq: seq,
            last_seq: seq,
            hooks: vec![(
                at_ms,
                Hook::MessageStart { prompt: content(preview::readable(&prompt)), trigger: "user".into() },
            )],
            prompt_as_sent: prompt,
            model_calls: 0,
            open_tools: Vec::new(),
            last_answer: None,
        }
    }

    /// A model call: from its request (`message.timestamp`) to its entry; then the tools it asked for.
    fn assistant(&mut self, at_ms: u64, m: &Value) {
        self.model_calls += 1;
        let call_id = format!("model:{}", self.model_calls);
        let (provider, model) = (m["provider"].as_str().unwrap_or_default(), m["model"].as_str().unwrap_or_default());
        let started = m["timestamp"].as_u64().filter(|&t| t <= at_ms).unwrap_or(at_ms);
        let stop = m["stopReason"].as_str().unwrap_or_default().to_string();
        let error = m["errorMessage"].as_str().unwrap_or_default().to_string();
        let failure = matches!(stop.as_str(), "error" | "aborted").then(|| {
            if error.is_empty() {
                stop.clone()
            } else {
                error.clone()
            }
        });
        let (usage, cost_usd) = usage_of(&m["usage"]);
        let answer = text_of(&m["content"]);
        // The transcript holds the turn's prompt, not the history before it: the first call's input.
        let input_messages = match self.model_calls {
            1 => json!([{"role": "user", "content": self.prompt_as_sent}]).to_string(),
            _ => String::new(),
        };
        let tool_calls: Vec<Value> = m["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"] == "toolCall")
            .map(|c| serde_json::json!({"id": c["id"], "name": c["name"], "arguments": c["arguments"]}))
            .collect();
        let tool_calls = if tool_calls.is_empty() { String::new() } else { Value::Array(tool_calls).to_string() };
        self.hooks.push((
            started,
            Hook::ModelCallStart {
                call_id: call_id.clone(),
                provider: provider.into(),
                model: model.into(),
                input_messages: content(input_messages),
                tool_definitions: None,
            },
        ));
        self.hooks.push((
            at_ms,
            Hook::ModelCallEnd {
                call_id,
                provider: provider.into(),
                model: model.into(),
                outcome: if failure.is_some() { Outcome::ERROR } else { Outcome::COMPLETED },
                error: failure.clone().unwrap_or(error),
                duration_ms: Some(at_ms - started),
                usage,
                cost_usd,
                response: content(answer.clone()),
                tool_calls: content(tool_calls),
            },
        ));
        for call in m["content"].as_array().into_iter().flatten().filter(|c| c["type"] == "toolCall") {
            let (id, name) = (call["id"].as_str().unwrap_or_default(), call["name"].as_str().unwrap_or_default());
            let params = call["arguments"].to_string();
            self.hooks.push((
                at_ms,
                Hook::ToolCallStart { tool_call_id: id.into(), tool_name: name.into(), params: content(params) },
            ));
            self.open_tools.push((id.into(), name.into(), at_ms));
        }
        self.last_answer = Some(Answer { at_ms, stop, failure, text: answer });
    }

    /// A tool's result ends the call the assistant asked for.
    fn tool_result(&mut self, m: &Value) {
        let id = m["toolCallId"].as_str().unwrap_or_default();
        let Some(i) = self.open_tools.iter().position(|(open, _, _)| open == id) else { return };
        let (id, name, asked) = self.open_tools.remove(i);
        let ended = m["timestamp"].as_u64().filter(|&t| t >= asked).unwrap_or(asked);
        let failed = m["isError"].as_bool().unwrap_or(false);
        let result = json!({"content": m["content"], "details": m["details"]}).to_string();
        let error = if failed { text_of(&m["content"]) } else { String::new() };
        self.hooks.push((
            ended,
            Hook::ToolCallEnd {
                tool_call_id: id,
                tool_name: name,
                outcome: if failed { Outcome::ERROR } else { Outcome::COMPLETED },
                error,
                duration_ms: Some(ended - asked),
                result: content(result),
                documents: content(payload::documents(&m, Capture::DEFAULT)),
            },
        ));
    }

    fn finish(mut self, session: &Session) -> Turn {
        // The id the live hooks carried; failing that, one fixed by the transcript's position, so that
        // a second backfill lands on the same trace.
        let run_id = [self.run_id, self.key_run_id]
            .into_iter()
            .find(|r| !r.is_empty())
            .unwrap_or_else(|| format!("transcript:{}:{}", session.session_id, self.first_seq));
        let started = self.hooks[0].0;
        let finished = self.last_answer.as_ref().is_some_and(|a| a.stop != "toolUse");
        let ended_ms = self.last_answer.as_ref().map_or(started, |a| a.at_ms);
        if let Some(answer) = self.last_answer.filter(|_| finished) {
            let outcome = match answer.stop.as_str() {
                "error" => Outcome::ERROR,
                "aborted" => Outcome::ABORTED,
                _ => Outcome::COMPLETED,
            };
            let (error, response) = (answer.failure.unwrap_or_default(), answer.text);
            let duration_ms = Some(answer.at_ms.saturating_sub(started));
            self.hooks
                .push((answer.at_ms, Hook::MessageEnd { outcome, error, response: content(response), duration_ms }));
        }
        let ctx = OwnedContext {
            ts_ms: 0,
            run_id: run_id.clone(),
            session_key: session.session_key.clone(),
            session_id: session.session_id.clone(),
            agent_id: session.agent_id.clone(),
            channel: session.channel.clone(),
        };
        let events = self
            .hooks
            .into_iter()
            .map(|(ts_ms, mut hook)| {
                // Model calls are numbered within the turn; the live translator's ids are "<run id>:model:<n>".
                if let Hook::ModelCallStart { call_id, .. } | Hook::ModelCallEnd { call_id, .. } = &mut hook {
                    *call_id = format!("{run_id}:{call_id}");
                }
                OwnedEvent { ctx: OwnedContext { ts_ms, ..ctx.clone() }, hook }
            })
            .collect();
        Turn { last_seq: self.last_seq, ended_ms, finished, events }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            session_id: "s1".into(),
            session_key: "agent:main:main".into(),
            agent_id: "main".into(),
            channel: String::new(),
        }
    }

    fn entry(seq: i64, at: &str, message: Value) -> Entry {
        Entry { seq, event: json!({"type": "message", "timestamp": at, "message": message}) }
    }

    fn kinds(turn: &Turn) -> Vec<&'static str> {
        turn.events.iter().map(|e| openclaw_plugin_api::HOOK_KINDS[e.hook.kind_index()]).collect()
    }

    #[test]
    fn a_turn_with_a_failing_tool_and_a_failed_model_call_reads_as_the_live_hooks() {
        let entries = [
            entry(1, "2026-11-25T22:20:00.000Z", json!({"role": "user", "content": "hi", "idempotencyKey": "k1:user"})),
            entry(
                2,
                "2026-11-25T22:20:01.000Z",
                json!({"role": "assistant", "timestamp": 1795645200500_u64, "provider": "p", "model": "m",
                "stopReason": "toolUse", "usage": {"input": 10, "output": 2, "cacheRead": 5, "cacheWrite": 0, "totalTokens": 17, "cost": {"total": 0.5}},
                "content": [{"type": "toolCall", "id": "t1", "name": "read", "arguments": {"path": "x"}}], "__openclaw": {"runId": "r1"}}),
            ),
            entry(
                3,
                "2026-11-25T22:20:02.000Z",
                json!({"role": "toolResult", "toolCallId": "t1", "toolName": "read", "isError": true,
                "timestamp": 1795645201800_u64, "content": [{"type": "text", "text": "ENOENT"}], "__openclaw": {"runId": "r1"}}),
            ),
            entry(
                4,
                "2026-11-25T22:20:03.000Z",
                json!({"role": "assistant", "timestamp": 1795645202100_u64, "provider": "p", "model": "m",
                "stopReason": "error", "errorMessage": "429 quota", "content": [], "__openclaw": {"runId": "r1"}}),
            ),
        ];
        let turns = turns(&session(), &entries);
        assert_eq!(turns.len(), 1);
        let t = &turns[0];
        assert!(t.finished);
        assert_eq!(t.last_seq, 4);
        assert_eq!(
            kinds(t),
            [
                "message_start",
                "model_call_start",
                "model_call_end",
                "tool_call_start",
                "tool_call_end",
                "model_call_start",
                "model_call_end",
                "message_end"
            ]
        );
        assert!(t.events.iter().all(|e| e.ctx.run_id == "r1"), "OpenClaw's run id, not the idempotency key's");
        match &t.events[2].hook {
            Hook::ModelCallEnd { call_id, usage, cost_usd, duration_ms, .. } => {
                assert_eq!(call_id, "r1:model:1");
                assert_eq!(usage.as_ref().map(|u| (u.input, u.cache_read, u.total)), Some((10, 5, 17)));
                assert_eq!(cost_usd.as_ref().map(|c| c.total), Some(0.5));
                assert_eq!(*duration_ms, Some(500));
            }
            other => panic!("{other:?}"),
        }
        match &t.events[4].hook {
            Hook::ToolCallEnd { outcome, error, duration_ms, .. } => {
                assert_eq!((*outcome, error.as_str(), *duration_ms), (Outcome::ERROR, "ENOENT", Some(800)));
            }
            other => panic!("{other:?}"),
        }
        match &t.events[7].hook {
            Hook::MessageEnd { outcome, error, .. } => {
                assert_eq!((*outcome, error.as_str()), (Outcome::ERROR, "429 quota"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_turn_without_its_final_answer_is_unfinished_and_a_run_without_ids_gets_a_fixed_one() {
        let entries = [
            entry(7, "2026-11-25T22:20:00.000Z", json!({"role": "user", "content": [{"type": "text", "text": "hi"}]})),
            entry(
                8,
                "2026-11-25T22:20:01.000Z",
                json!({"role": "assistant", "stopReason": "toolUse",
                "content": [{"type": "toolCall", "id": "t1", "name": "read", "arguments": {}}]}),
            ),
        ];
        let turns = turns(&session(), &entries);
        assert!(!turns[0].finished);
        assert_eq!(turns[0].events[0].ctx.run_id, "transcript:s1:7", "the same on every backfill");
    }

    #[test]
    fn a_message_of_another_run_starts_a_turn_of_its_own() {
        let answer = |seq, run: &str| {
            entry(
                seq,
                "2026-11-25T22:20:01.000Z",
                json!({"role": "assistant", "stopReason": "stop",
                "content": [{"type": "text", "text": "ok"}], "__openclaw": {"runId": run}}),
            )
        };
        let entries = [
            entry(1, "2026-11-25T22:20:00.000Z", json!({"role": "user", "content": "hi"})),
            answer(2, "r1"),
            answer(3, "announce:r2"),
        ];
        let runs: Vec<String> = turns(&session(), &entries).iter().map(|t| t.events[0].ctx.run_id.clone()).collect();
        assert_eq!(runs, ["r1", "announce:r2"]);
    }
}
