//! A model call's conversation, rebuilt from its run: the messages the call received and the
//! message it answered with, in the interface's neutral chat shape (`openclaw_plugin_api::events`,
//! "Chat messages"). The host gives the conversation a run's first call starts from
//! (`input_messages`) and each call's reply (text and tool calls); the tool results are the tool
//! spans' own. So a later call's input is the first call's, then each reply and tool result since,
//! as the model received them, without the host passing the growing conversation again.

use super::assembler::{ChildKind, ChildSpan};
use serde_json::{json, Value};

/// The messages model call `children[index]` received, the latest `max_messages` of them.
/// `prompt` stands in for the run's start when no call carried its input (a host before 0.1.4, or
/// a recording without `llm_input`).
pub fn input_of(children: &[ChildSpan], index: usize, prompt: Option<&str>, max_messages: usize) -> Vec<Value> {
    let started_at = children[..=index].iter().rposition(|c| input_messages(c).is_some());
    let (mut messages, replies_from) = match started_at {
        Some(at) => (parse_array(input_messages(&children[at]).unwrap_or_default()), at),
        None => (prompt.map(|p| vec![json!({"role": "user", "content": p})]).unwrap_or_default(), 0),
    };
    let mut asked: Option<Vec<Value>> = None;
    for child in &children[replies_from..index] {
        match &child.kind {
            ChildKind::Model { .. } => {
                let reply = reply_of(child);
                asked = reply.get("tool_calls").and_then(Value::as_array).cloned();
                if !reply.is_null() {
                    messages.push(reply);
                }
            }
            ChildKind::Tool { name, call_id, result, .. } => {
                // The tools a call asked for; a tool run inside another (OpenClaw's Tool Search
                // bridge runs the tool `tool_call` names) is not a message the model received.
                if asked.as_ref().is_some_and(|calls| !calls.iter().any(|c| c["id"] == call_id.as_str())) {
                    continue;
                }
                let content = match (result, &child.error) {
                    (Some(result), _) => result.clone(),
                    (None, error) if !error.is_empty() => error.clone(),
                    (None, _) => continue, // content not captured
                };
                messages.push(json!({"role": "tool", "tool_call_id": call_id, "name": name, "content": content}));
            }
        }
    }
    // The latest messages, and the system prompt however long the conversation.
    let system = messages.iter().take_while(|m| m["role"] == "system").count();
    let skip = (messages.len() - system).saturating_sub(max_messages);
    messages.drain(system..system + skip);
    messages
}

/// The tools model call `children[index]` was offered: those the run's latest call up to it
/// carried (the host gives them to a run's first call).
pub fn tool_definitions_of(children: &[ChildSpan], index: usize) -> Option<Vec<Value>> {
    children[..=index].iter().rev().find_map(|c| match &c.kind {
        ChildKind::Model { tool_definitions: Some(tools), .. } => Some(parse_array(tools)),
        _ => None,
    })
}

/// The assistant message a model call answered with: its text and the tools it asked for; `Null`
/// when neither is known (content not captured, or the call failed).
pub fn reply_of(child: &ChildSpan) -> Value {
    let ChildKind::Model { response, tool_calls, .. } = &child.kind else { return Value::Null };
    let mut message = json!({"role": "assistant"});
    if let Some(text) = response.as_deref().filter(|t| !t.is_empty()) {
        message["content"] = Value::String(text.to_string());
    }
    let calls = parse_array(tool_calls.as_deref().unwrap_or_default());
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if message.get("content").is_none() && message.get("tool_calls").is_none() {
        return Value::Null;
    }
    message
}

fn input_messages(child: &ChildSpan) -> Option<&str> {
    match &child.kind {
        ChildKind::Model { input_messages, .. } => input_messages.as_deref(),
        ChildKind::Tool { .. } => None,
    }
}

/// A JSON array of objects; anything else (a host's mistake) reads as no messages.
fn parse_array(json: &str) -> Vec<Value> {
    match serde_json::from_str(json) {
        Ok(Value::Array(items)) => items.into_iter().filter(Value::is_object).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::SpanId;

    fn model(input: Option<&str>, response: &str, tool_calls: Option<&str>) -> ChildSpan {
        let mut kind = ChildKind::model("p".into(), "m".into(), input.map(String::from), None);
        if let ChildKind::Model { response: r, tool_calls: t, .. } = &mut kind {
            *r = Some(response.into());
            *t = tool_calls.map(String::from);
        }
        child(kind)
    }

    fn tool(id: &str, name: &str, result: &str) -> ChildSpan {
        child(ChildKind::Tool {
            name: name.into(),
            call_id: id.into(),
            params: None,
            result: Some(result.into()),
            documents: None,
        })
    }

    fn child(kind: ChildKind) -> ChildSpan {
        ChildSpan { span_id: SpanId::INVALID, start_ms: 0, end_ms: Some(1), outcome: None, error: String::new(), kind }
    }

    #[test]
    fn a_later_call_receives_the_first_calls_input_then_each_reply_and_the_tools_it_asked_for() {
        let first = r#"[{"role":"user","content":"earlier"},{"role":"user","content":"read hello.txt"}]"#;
        let asked = r#"[{"id":"call_1","name":"tool_call","arguments":{"id":"read","args":{"path":"hello.txt"}}}]"#;
        let children = vec![
            model(Some(first), "", Some(asked)),
            tool("call_1", "tool_call", "hello"),
            // The bridge's inner run of `read`: not a message the model saw.
            tool("tool_search_code:call_1:read:1", "read", "hello"),
            model(None, "It says hello.", None),
        ];
        let input = input_of(&children, 3, Some("ignored: the first call carries the input"), 20);
        let roles: Vec<&str> = input.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "user", "assistant", "tool"]);
        assert_eq!(input[2]["tool_calls"][0]["arguments"]["args"]["path"], "hello.txt");
        assert_eq!(
            input[3],
            json!({"role": "tool", "tool_call_id": "call_1", "name": "tool_call", "content": "hello"})
        );
        assert_eq!(reply_of(&children[3]), json!({"role": "assistant", "content": "It says hello."}));
        assert_eq!(input_of(&children, 0, None, 20).len(), 2, "the first call: its own input");
    }

    #[test]
    fn without_an_input_the_prompt_starts_the_conversation_and_the_latest_messages_are_kept() {
        let children = vec![model(None, "a", None), model(None, "b", None), model(None, "c", None)];
        assert_eq!(input_of(&children, 0, Some("hi"), 20), vec![json!({"role": "user", "content": "hi"})]);
        let kept = input_of(&children, 2, Some("hi"), 2);
        assert_eq!(
            kept,
            vec![json!({"role": "assistant", "content": "a"}), json!({"role": "assistant", "content": "b"})]
        );
        assert!(input_of(&children, 1, None, 20).iter().all(|m| m["role"] == "assistant"));
        // The system prompt stays however many messages are cut.
        let system = r#"[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]"#;
        let with_system = vec![model(Some(system), "a", None), model(None, "b", None), model(None, "c", None)];
        let kept = input_of(&with_system, 2, None, 2);
        let roles: Vec<&str> = kept.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "assistant", "assistant"]);
        // Without content nothing is a message: no empty turns.
        let uncaptured_tool = child(ChildKind::Tool {
            name: "read".into(),
            call_id: "c".into(),
            params: None,
            result: None,
            documents: None,
        });
        let uncaptured = vec![model(None, "", None), uncaptured_tool, model(None, "", None)];
        assert_eq!(input_of(&uncaptured, 2, None, 20), Vec::<Value>::new());
        assert!(reply_of(&uncaptured[2]).is_null());
    }
}
