use super::payload::Capture;
use super::*;
use crate::translate_recording;
use openclaw_plugin_api::ContentParts;

const FIXTURE: &str = include_str!("../../../tests/fixtures/openclaw-2026.9.6/hooks.jsonl");

fn count(events: &[OwnedEvent], f: fn(&Hook) -> bool) -> usize {
    events.iter().filter(|e| f(&e.hook)).count()
}

#[test]
fn the_recording_becomes_six_runs_with_eleven_model_calls_and_five_tools() {
    let events = translate_recording(FIXTURE, Capture::DEFAULT).unwrap();
    assert_eq!(count(&events, |h| matches!(h, Hook::MessageStart { .. })), 6);
    assert_eq!(count(&events, |h| matches!(h, Hook::MessageEnd { .. })), 6);
    assert_eq!(count(&events, |h| matches!(h, Hook::ModelCallStart { .. })), 11);
    assert_eq!(count(&events, |h| matches!(h, Hook::ModelCallEnd { .. })), 11);
    // Four `read`s and a `sessions_spawn` the model called through the Tool Search bridge.
    assert_eq!(count(&events, |h| matches!(h, Hook::ToolCallStart { .. })), 5);
    assert_eq!(count(&events, |h| matches!(h, Hook::ToolCallEnd { .. })), 5);
    assert_eq!(count(&events, |h| matches!(h, Hook::SubagentSpawned { .. })), 1);
    assert_eq!(count(&events, |h| matches!(h, Hook::SessionEnd { .. })), 3);
}

#[test]
fn model_calls_get_tokens_and_cost_from_the_assistant_message() {
    let events = translate_recording(FIXTURE, Capture::DEFAULT).unwrap();
    let first = events.iter().find_map(|e| match &e.hook {
        Hook::ModelCallEnd { usage, cost_usd, response, .. } => Some((*usage, *cost_usd, response.clone())),
        _ => None,
    });
    let (usage, cost, _) = first.unwrap();
    assert_eq!(usage, Some(TokenUsage { input: 200, output: 20, cache_read: 1000, cache_write: 0, total: 1220 }));
    assert_eq!(cost.unwrap().total, 0.00034);
    let every_call_priced = events.iter().all(|e| match &e.hook {
        Hook::ModelCallEnd { usage, cost_usd, .. } => usage.is_some() && cost_usd.is_some(),
        _ => true,
    });
    assert!(every_call_priced, "every recorded call has its reply");
}

#[test]
fn a_runs_first_model_call_receives_the_history_and_prompt_and_each_reply_names_its_tool_calls() {
    let events = translate_recording(FIXTURE, Capture::DEFAULT).unwrap();
    let inputs: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| match &e.hook {
            Hook::ModelCallStart { input_messages: Some(input_messages), .. } => {
                Some(serde_json::from_str(input_messages).unwrap())
            }
            _ => None,
        })
        .collect();
    assert_eq!(inputs.len(), 6, "one per run (llm_input), on its first call");
    let first = inputs[0].as_array().unwrap();
    let prompt = first.last().unwrap();
    assert_eq!(prompt["role"], "user");
    assert!(prompt["content"].as_str().unwrap().contains("Please read"), "{prompt}");
    // The announce run's history: the earlier turn, with its tool call and result, and no
    // OpenClaw runtime-context carrier.
    let announce = inputs.iter().map(|i| i.as_array().unwrap()).max_by_key(|i| i.len()).unwrap();
    assert!(announce.iter().all(|m| ["user", "assistant", "tool"].contains(&m["role"].as_str().unwrap())));
    let asked = announce.iter().find_map(|m| m.get("tool_calls")).expect("an assistant message with tool calls");
    let answered = announce.iter().find(|m| m["role"] == "tool").expect("a tool result");
    assert_eq!(asked[0]["id"], answered["tool_call_id"], "{asked} / {answered}");

    let calls: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| match &e.hook {
            Hook::ModelCallEnd { tool_calls: Some(tool_calls), .. } => Some(serde_json::from_str(tool_calls).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 5, "the five calls that asked for a tool");
    assert_eq!(calls[0][0]["name"], "read");
    assert!(calls[0][0]["arguments"]["path"].is_string(), "{}", calls[0]);

    let none = translate_recording(FIXTURE, Capture { parts: ContentParts::NONE, ..Capture::DEFAULT }).unwrap();
    let carried = none.iter().any(|e| match &e.hook {
        Hook::ModelCallStart { input_messages, .. } => input_messages.is_some(),
        Hook::ModelCallEnd { tool_calls, .. } => tool_calls.is_some(),
        _ => false,
    });
    assert!(!carried, "without content capture no conversation crosses");
}

/// Each content part read only when a plugin captures it: the system prompt and the tool
/// definitions (tens of KB on every run) only when asked for.
#[test]
fn each_content_part_crosses_only_when_captured() {
    let with = |parts: ContentParts| translate_recording(FIXTURE, Capture { parts, ..Capture::DEFAULT }).unwrap();
    let first_input = |events: &[OwnedEvent]| {
        events.iter().find_map(|e| match &e.hook {
            Hook::ModelCallStart { input_messages, tool_definitions, .. }
                if input_messages.is_some() || tool_definitions.is_some() =>
            {
                Some((input_messages.clone().unwrap_or_default(), tool_definitions.clone().unwrap_or_default()))
            }
            _ => None,
        })
    };
    let (messages, tools) = first_input(&with(ContentParts::DEFAULT)).unwrap();
    assert!(!messages.contains("\"system\"") && tools.is_empty(), "the defaults leave both out");

    let all = ContentParts { system_prompt: true, tool_definitions: true, ..ContentParts::DEFAULT };
    let (messages, tools) = first_input(&with(all)).unwrap();
    let messages: serde_json::Value = serde_json::from_str(&messages).unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains("You are a personal assistant"), "{}", messages[0]);
    assert_eq!(messages.as_array().unwrap().last().unwrap()["role"], "user", "the prompt still last");
    let tools: serde_json::Value = serde_json::from_str(&tools).unwrap();
    assert!(tools.as_array().unwrap().iter().any(|t| t == &serde_json::json!({"name": "memory_search"})), "{tools}");

    let only_system = ContentParts { system_prompt: true, ..ContentParts::NONE };
    let (messages, _) = first_input(&with(only_system)).unwrap();
    let roles: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&messages)
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(roles, ["system"], "the system prompt alone: no history, no prompt");

    let only_tool_inputs = with(ContentParts { tool_inputs: true, ..ContentParts::NONE });
    let texts = |e: &OwnedEvent| -> Vec<String> {
        let text = |content: &Option<String>| content.clone().unwrap_or_default();
        match &e.hook {
            Hook::MessageStart { prompt, .. } => vec![text(prompt)],
            Hook::MessageEnd { response, error, .. } => vec![text(response), error.clone()],
            Hook::ModelCallEnd { response, tool_calls, .. } => vec![text(response), text(tool_calls)],
            Hook::ToolCallEnd { result, documents, .. } => vec![text(result), text(documents)],
            _ => vec![],
        }
    };
    assert!(only_tool_inputs.iter().flat_map(texts).all(|t| t.is_empty() || t.contains("not captured")));
    let params = only_tool_inputs.iter().filter(|e| matches!(&e.hook, Hook::ToolCallStart { params: Some(_), .. }));
    assert_eq!(params.count(), 5, "each tool call's parameters");
}

#[test]
fn every_run_event_carries_the_session_and_agent_of_its_run() {
    for e in translate_recording(FIXTURE, Capture::DEFAULT).unwrap() {
        assert!(e.ctx.session_key.starts_with("agent:"), "{e:?}");
        assert_eq!(e.ctx.agent_id, "main", "{e:?}");
    }
}

#[test]
fn the_translator_keeps_nothing_once_the_recording_is_done() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    for line in FIXTURE.lines() {
        if let Some((cx, hook)) = recording::parse_line(&serde_json::from_str(line).unwrap(), Capture::DEFAULT) {
            t.push(cx, hook, &mut out);
        }
    }
    assert_eq!(t.open_runs(), 0, "every recorded run ended");
}

fn cx(ts: u64, run: &str, session: &str) -> OwnedContext {
    OwnedContext {
        ts_ms: ts,
        run_id: run.into(),
        session_key: session.into(),
        session_id: format!("id-{session}"),
        agent_id: String::new(),
        channel: String::new(),
    }
}

fn call_ended(id: &str) -> OpenClawHook {
    OpenClawHook::ModelCallEnded {
        call_id: id.into(),
        provider: "p".into(),
        model: "m".into(),
        failed: false,
        error: String::new(),
        duration_ms: Some(5),
    }
}

fn reply(input: u64) -> OpenClawHook {
    OpenClawHook::AssistantMessage {
        usage: Some(TokenUsage { input, output: 1, cache_read: 0, cache_write: 0, total: input + 1 }),
        cost: None,
        text: format!("reply {input}"),
        tool_calls: String::new(),
        error: String::new(),
    }
}

fn usage_of(e: &OwnedEvent) -> Option<u64> {
    match &e.hook {
        Hook::ModelCallEnd { usage, .. } => usage.map(|u| u.input),
        _ => None,
    }
}

#[test]
fn interleaved_sessions_each_get_their_own_replies() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    let start =
        || OpenClawHook::RunStarted { prompt: "hi".into(), trigger: "user".into(), model_input: ModelInput::default() };
    t.push(cx(1, "r1", "agent:a:main"), start(), &mut out);
    t.push(cx(2, "r2", "agent:b:main"), start(), &mut out);
    t.push(cx(3, "r1", "agent:a:main"), call_ended("r1:model:1"), &mut out);
    t.push(cx(4, "r2", "agent:b:main"), call_ended("r2:model:1"), &mut out);
    assert_eq!(out.len(), 2, "both call ends are held for their replies");
    t.push(cx(5, "", "agent:b:main"), reply(20), &mut out);
    t.push(cx(6, "", "agent:a:main"), reply(10), &mut out);
    let ends: Vec<(&str, Option<u64>)> = out[2..].iter().map(|e| (e.ctx.run_id.as_str(), usage_of(e))).collect();
    assert_eq!(ends, [("r2", Some(20)), ("r1", Some(10))]);
    assert_eq!(out[2].ctx.agent_id, "b", "the agent comes from the session key when the hook has none");
    assert_eq!(out[2].ctx.ts_ms, 4, "the call ends when OpenClaw said, not when the reply came");
}

#[test]
fn a_call_ended_as_completed_whose_reply_is_an_error_is_a_failed_call() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    t.push(
        cx(1, "r1", "s1"),
        OpenClawHook::RunStarted { prompt: "hi".into(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    t.push(cx(2, "r1", "s1"), call_ended("c1"), &mut out);
    let failed_reply = OpenClawHook::AssistantMessage {
        usage: None,
        cost: None,
        text: String::new(),
        tool_calls: String::new(),
        error: "500 mock: internal error".into(),
    };
    t.push(cx(3, "", "s1"), failed_reply, &mut out);
    t.push(cx(4, "r1", "s1"), call_ended("c2"), &mut out);
    t.push(cx(5, "", "s1"), reply(10), &mut out);
    let calls: Vec<(Outcome, &str)> = out
        .iter()
        .filter_map(|e| match &e.hook {
            Hook::ModelCallEnd { outcome, error, .. } => Some((*outcome, error.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(calls, [(Outcome::ERROR, "500 mock: internal error"), (Outcome::COMPLETED, "")]);
}

#[test]
fn a_call_whose_reply_never_comes_goes_out_at_the_runs_next_hook_or_its_deadline() {
    let mut t = Translator::new(Limits { reply_wait_ms: 100, ..Limits::default() });
    let mut out = Vec::new();
    t.push(
        cx(1, "r1", "s1"),
        OpenClawHook::RunStarted { prompt: String::new(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    t.push(cx(2, "r1", "s1"), call_ended("c1"), &mut out);
    let tool = OpenClawHook::ToolCallStarted {
        tool_call_id: "t".into(),
        tool_name: "read".into(),
        bridged: false,
        params: "{}".into(),
    };
    t.push(cx(3, "r1", "s1"), tool, &mut out);
    assert!(matches!(out[1].hook, Hook::ModelCallEnd { usage: None, .. }), "{out:?}");
    assert!(matches!(out[2].hook, Hook::ToolCallStart { .. }), "the held call went out before the tool");

    t.push(cx(10, "r1", "s1"), call_ended("c2"), &mut out);
    assert_eq!(out.len(), 3);
    t.push(
        cx(500, "other", "s2"),
        OpenClawHook::RunStarted { prompt: String::new(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    assert!(matches!(&out[3].hook, Hook::ModelCallEnd { call_id, .. } if call_id == "c2"), "released by its deadline");
    t.push(cx(520, "r1", "s1"), call_ended("c3"), &mut out);
    assert_eq!(t.next_deadline(), Some(620));
    t.release_due(620, &mut out);
    assert!(
        matches!(&out.last().unwrap().hook, Hook::ModelCallEnd { call_id, .. } if call_id == "c3"),
        "released by the clock alone"
    );
}

#[test]
fn the_diagnostic_fills_a_call_by_its_id_and_a_late_duplicate_is_ignored() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    t.push(
        cx(1, "r1", "s1"),
        OpenClawHook::RunStarted { prompt: String::new(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    t.push(cx(2, "r1", "s1"), call_ended("c1"), &mut out);
    let diag = |id: &str| OpenClawHook::ModelCallUsage {
        call_id: id.into(),
        usage: Some(TokenUsage { input: 7, output: 1, cache_read: 0, cache_write: 0, total: 8 }),
        cost: None,
    };
    t.push(cx(3, "r1", "s1"), diag("another-call"), &mut out);
    assert_eq!(out.len(), 1, "a diagnostic for another call does not release this one");
    t.push(cx(4, "r1", "s1"), diag("c1"), &mut out);
    assert_eq!(usage_of(&out[1]), Some(7));
    t.push(cx(5, "", "s1"), reply(99), &mut out);
    assert_eq!(out.len(), 2, "the assistant message after the diagnostic has nothing left to fill");
}

fn agent_end(success: bool) -> OpenClawHook {
    OpenClawHook::AgentEnded { success, error: String::new(), duration_ms: None, response: String::new() }
}

#[test]
fn a_failed_runs_end_waits_for_a_retry_and_goes_out_once_when_none_comes() {
    let mut t = Translator::new(Limits { end_grace_ms: 100, ..Limits::default() });
    let mut out = Vec::new();
    t.push(
        cx(1, "r1", "s1"),
        OpenClawHook::RunStarted { prompt: String::new(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    t.push(cx(2, "r1", "s1"), agent_end(false), &mut out);
    t.push(cx(3, "r1", "s1"), agent_end(false), &mut out);
    assert_eq!(count(&out, |h| matches!(h, Hook::MessageEnd { .. })), 0, "held for a retry");
    assert_eq!(t.next_deadline(), Some(102));
    t.release_due(102, &mut out);
    assert_eq!(count(&out, |h| matches!(h, Hook::MessageEnd { .. })), 0, "the second end replaced the first");
    t.release_due(103, &mut out);
    assert_eq!(count(&out, |h| matches!(h, Hook::MessageEnd { .. })), 1);
    t.push(cx(200, "r1", "s1"), agent_end(true), &mut out);
    assert_eq!(count(&out, |h| matches!(h, Hook::MessageEnd { .. })), 1, "a repeated end after it went out is dropped");
    assert_eq!(t.open_runs(), 0);
    assert_eq!(t.next_deadline(), None, "nothing held: nothing to wake up for");
}

#[test]
fn a_successful_end_goes_out_at_once() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    t.push(
        cx(1, "r1", "s1"),
        OpenClawHook::RunStarted { prompt: String::new(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    t.push(cx(2, "r1", "s1"), agent_end(true), &mut out);
    assert!(matches!(out.last().unwrap().hook, Hook::MessageEnd { outcome: Outcome::COMPLETED, .. }));
    assert_eq!((t.open_runs(), t.next_deadline()), (0, None));
}

#[test]
fn a_retried_run_is_one_trace_ending_with_its_last_attempt() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    t.push(
        cx(1, "r1", "s1"),
        OpenClawHook::RunStarted { prompt: String::new(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    for (attempt, ts) in [(1u64, 10u64), (2, 800), (3, 3000)] {
        // OpenClaw's own gaps between attempts: 0.8 s and 2.2 s.
        let started = OpenClawHook::ModelCallStarted {
            call_id: format!("r1:model:{attempt}"),
            provider: "p".into(),
            model: "m".into(),
        };
        t.push(cx(ts, "r1", "s1"), started, &mut out);
        t.push(cx(ts + 5, "r1", "s1"), call_ended(&format!("r1:model:{attempt}")), &mut out);
        t.push(cx(ts + 6, "", "s1"), reply(0), &mut out);
        t.push(cx(ts + 7, "r1", "s1"), agent_end(attempt == 3), &mut out);
    }
    let ends: Vec<&Hook> = out.iter().map(|e| &e.hook).filter(|h| matches!(h, Hook::MessageEnd { .. })).collect();
    assert_eq!(ends.len(), 1);
    assert!(matches!(ends[0], Hook::MessageEnd { outcome: Outcome::COMPLETED, .. }), "the last attempt decides");
    assert_eq!(count(&out, |h| matches!(h, Hook::ModelCallEnd { .. })), 3, "every attempt's call is in the trace");
    assert!(matches!(out.last().unwrap().hook, Hook::MessageEnd { .. }), "the end comes after every call");
}

#[test]
fn open_runs_stay_within_the_bound() {
    let mut t = Translator::new(Limits { max_open_runs: 100, ..Limits::default() });
    let mut out = Vec::new();
    for i in 0..10_000u64 {
        t.push(
            cx(i, &format!("r{i}"), &format!("s{i}")),
            OpenClawHook::RunStarted {
                prompt: String::new(),
                trigger: "user".into(),
                model_input: ModelInput::default(),
            },
            &mut out,
        );
        assert!(t.open_runs() <= 100, "{} open after {i}", t.open_runs());
    }
    assert_eq!(count(&out, |h| matches!(h, Hook::MessageStart { .. })), 10_000, "every run still started");
}

#[test]
fn the_channel_message_time_starts_the_run_and_the_models_timestamp_is_not_the_prompt() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    t.push(cx(100, "", "agent:main:webchat"), OpenClawHook::MessageReceived, &mut out);
    let prompt = "[Wed 2026-11-25 17:31 UTC] Please read hello.txt".to_string();
    t.push(
        cx(130, "r1", "agent:main:webchat"),
        OpenClawHook::RunStarted { prompt, trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    assert_eq!(out[0].ctx.ts_ms, 100);
    assert!(
        matches!(&out[0].hook, Hook::MessageStart { prompt, .. } if prompt.as_deref() == Some("Please read hello.txt"))
    );
}

/// The model called `sessions_spawn` through the bridge (`tool_call` {id, args}); OpenClaw fired the
/// tool hooks for the bridge's call and for the spawn it ran: one call of `sessions_spawn`, under the
/// model's call id, with the spawn's own arguments and result.
#[test]
fn a_tool_called_through_the_tool_search_bridge_is_one_call_of_that_tool() {
    let events = translate_recording(FIXTURE, Capture::DEFAULT).unwrap();
    let in_run: Vec<&Hook> = events.iter().filter(|e| e.ctx.run_id == "hookrec-sub-1").map(|e| &e.hook).collect();
    let starts: Vec<_> = in_run
        .iter()
        .filter_map(|h| match h {
            Hook::ToolCallStart { tool_call_id, tool_name, params } => Some((tool_call_id, tool_name, params)),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (id, name, params) = starts[0];
    assert_eq!((id.as_str(), name.as_str()), ("call_1bf087774d5b", "sessions_spawn"));
    let params: serde_json::Value = serde_json::from_str(params.as_deref().unwrap()).unwrap();
    assert_eq!(params["label"], "hello-reader", "the spawn's own arguments: {params}");
    let ends: Vec<_> = in_run
        .iter()
        .filter_map(|h| match h {
            Hook::ToolCallEnd { tool_call_id, tool_name, result, .. } => Some((tool_call_id, tool_name, result)),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!((ends[0].0.as_str(), ends[0].1.as_str()), ("call_1bf087774d5b", "sessions_spawn"));
    let result = ends[0].2.as_deref().unwrap_or_default();
    assert!(result.contains("\"status\": \"accepted\""), "the spawn's result, not the bridge's: {result}");
}

/// A bridge call that ran nothing (the tool it named is unknown) is still a call, named after the
/// tool the model asked for, with the bridge's error.
#[test]
fn a_bridge_call_that_ran_nothing_is_kept_with_its_error() {
    let mut t = Translator::default();
    let mut out = Vec::new();
    let cx =
        |ts| OwnedContext { ts_ms: ts, run_id: "r".into(), session_key: "agent:main:x".into(), ..Default::default() };
    t.push(
        cx(1),
        OpenClawHook::RunStarted { prompt: "hi".into(), trigger: "user".into(), model_input: ModelInput::default() },
        &mut out,
    );
    let start = OpenClawHook::ToolCallStarted {
        tool_call_id: "call_9".into(),
        tool_name: "no_such_tool".into(),
        bridged: true,
        params: "{}".into(),
    };
    t.push(cx(2), start, &mut out);
    assert!(!out.iter().any(|e| matches!(e.hook, Hook::ToolCallStart { .. })), "held until the bridge runs a tool");
    let end = OpenClawHook::ToolCallEnded {
        tool_call_id: "call_9".into(),
        tool_name: "no_such_tool".into(),
        bridged: true,
        failed: true,
        error: "unknown tool".into(),
        duration_ms: Some(3),
        result: String::new(),
        documents: String::new(),
    };
    t.push(cx(5), end, &mut out);
    let tools: Vec<_> = out
        .iter()
        .filter_map(|e| match &e.hook {
            Hook::ToolCallStart { tool_name, .. } => Some(("start", tool_name.clone(), e.ctx.ts_ms)),
            Hook::ToolCallEnd { tool_name, outcome, .. } => Some((outcome.as_str(), tool_name.clone(), e.ctx.ts_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(tools, [("start", "no_such_tool".to_string(), 2), ("error", "no_such_tool".to_string(), 5)]);
}

fn tool_end(tool: &str, details: serde_json::Value) -> OpenClawHook {
    let line = serde_json::json!({"hook": "after_tool_call", "ts": 1, "ctx": {"runId": "r"}, "event": {
        "toolName": tool, "toolCallId": "c1", "params": {},
        "result": {"content": [{"type": "text", "text": details.to_string()}], "details": details}}});
    super::recording::parse_line(&line, Capture::DEFAULT).unwrap().1
}

fn documents_of(hook: OpenClawHook) -> serde_json::Value {
    match hook {
        OpenClawHook::ToolCallEnded { documents, .. } if documents.is_empty() => serde_json::Value::Null,
        OpenClawHook::ToolCallEnded { documents, .. } => serde_json::from_str(&documents).unwrap(),
        other => panic!("{other:?}"),
    }
}

/// What OpenClaw's retrieval tools return in `details`, as documents: a memory search's hits with
/// their file and lines, a web search's results without OpenClaw's untrusted-content wrapping, a
/// fetched page; a file read is no retrieval.
#[test]
fn retrieval_results_become_documents_with_their_source() {
    let memory = tool_end(
        "memory_search",
        serde_json::json!({"results": [
            {"path": "memory/2026-11-20.md", "startLine": 3, "endLine": 7, "score": 0.82, "snippet": "Dana prefers Tuesday calls", "citation": "memory/2026-11-20.md#L3-L7"},
            {"path": "MEMORY.md", "startLine": 1, "endLine": 2, "score": 0.41, "snippet": "Passport renewal due in March"}
        ]}),
    );
    assert_eq!(
        documents_of(memory),
        serde_json::json!([
            {"content": "Dana prefers Tuesday calls", "uri": "memory/2026-11-20.md#L3-L7", "score": 0.82},
            {"content": "Passport renewal due in March", "uri": "MEMORY.md#L1-L2", "score": 0.41}
        ])
    );
    let wrapped = "<<<EXTERNAL_UNTRUSTED_CONTENT id=\"a1\">>>\nSource: Web Search\n---\nRust is a language.\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"a1\">>>";
    let web = tool_end(
        "web_search",
        serde_json::json!({"query": "rust", "results": [{"title": "Rust", "url": "https://www.rust-lang.org/", "snippet": wrapped}]}),
    );
    assert_eq!(
        documents_of(web),
        serde_json::json!([{"content": "Rust is a language.", "uri": "https://www.rust-lang.org/", "title": "Rust"}])
    );
    let fetched = tool_end(
        "web_fetch",
        serde_json::json!({"url": "https://example.org/a", "finalUrl": "https://example.org/b", "title": "B", "text": "Page text"}),
    );
    assert_eq!(
        documents_of(fetched),
        serde_json::json!([{"content": "Page text", "uri": "https://example.org/a", "title": "B"}])
    );
    let read = tool_end("read", serde_json::json!({"kind": "text", "content": "file text"}));
    assert_eq!(documents_of(read), serde_json::Value::Null);
}

/// What the translator holds goes out by its own deadline, whatever was held before it: a call's
/// end (held for its reply) held after a failed run's end (held for a retry, longer) is not kept
/// waiting behind it.
#[test]
fn a_shorter_deadline_held_later_is_released_first() {
    let mut t = Translator::new(Limits { reply_wait_ms: 100, end_grace_ms: 5_000, ..Limits::default() });
    let mut out = Vec::new();
    let start =
        || OpenClawHook::RunStarted { prompt: "hi".into(), trigger: "user".into(), model_input: ModelInput::default() };
    let failed =
        OpenClawHook::AgentEnded { success: false, error: "boom".into(), duration_ms: None, response: String::new() };
    t.push(cx(1, "failed", "s1"), start(), &mut out);
    t.push(cx(2, "failed", "s1"), failed, &mut out);
    t.push(cx(3, "r2", "s2"), start(), &mut out);
    t.push(cx(4, "r2", "s2"), call_ended("r2:model:1"), &mut out);
    assert_eq!(t.next_deadline(), Some(104), "the call's end is due first");
    let before = out.len();
    t.release_due(104, &mut out);
    let released: Vec<&str> = out[before..].iter().map(|e| e.ctx.run_id.as_str()).collect();
    assert_eq!(released, ["r2"]);
    assert_eq!(t.next_deadline(), Some(5_002), "then the failed run's end");
}
