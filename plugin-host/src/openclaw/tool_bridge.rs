//! OpenClaw's Tool Search bridge, seen through: the model calls `tool_call` with
//! `{"id": "memory_search", "args": {...}}`, OpenClaw fires the tool-call hooks for that call and then
//! again for the tool the bridge runs, with the id
//! `tool_search_code:<the model's call id, sanitised>:<tool>:<sequence>`. A trace shows one call
//! of the tool that ran, under the model's call id (which the model's reply and the next call's input
//! name): the bridge's own start is held, the inner call goes out under the outer id, and the
//! bridge's own end is dropped. A bridge call that ran nothing (an unknown tool, refused arguments)
//! goes out as it came, named after the tool it asked for.

use openclaw_plugin_api::{Hook, OwnedEvent};

/// The prefix of the ids the bridge gives the calls it runs.
const INNER_ID_PREFIX: &str = "tool_search_code:";
/// Bridge calls a run may have open at once (the model may ask for several tools in one reply).
const MAX_OPEN: usize = 64;

#[derive(Default)]
pub struct ToolBridge {
    open: Vec<BridgedCall>,
}

struct BridgedCall {
    /// The model's call id.
    outer_id: String,
    /// The bridge call's start, until the tool it names runs.
    held_start: Option<OwnedEvent>,
    /// The id of the call the bridge ran for it.
    inner_id: Option<String>,
}

impl ToolBridge {
    /// A call of the bridge's `tool_call` starts (already named after the tool it asks for).
    pub fn outer_started(&mut self, start: OwnedEvent) {
        let Hook::ToolCallStart { tool_call_id, .. } = &start.hook else { return };
        if self.open.len() >= MAX_OPEN {
            self.open.remove(0);
        }
        self.open.push(BridgedCall { outer_id: tool_call_id.clone(), held_start: Some(start), inner_id: None });
    }

    /// A tool call that is not the bridge's own starts: the event to send, under the model's call id
    /// when the bridge runs it.
    pub fn started(&mut self, mut start: OwnedEvent) -> OwnedEvent {
        let Hook::ToolCallStart { tool_call_id, .. } = &mut start.hook else { return start };
        let Some(parent) = bridge_parent(tool_call_id) else { return start };
        let waiting = self.open.iter_mut().find(|c| c.inner_id.is_none() && sanitised(&c.outer_id) == parent);
        if let Some(call) = waiting {
            call.held_start = None;
            call.inner_id = Some(std::mem::replace(tool_call_id, call.outer_id.clone()));
        }
        start
    }

    /// A tool call ends (`outer`: the bridge's own call): the events to send, in order.
    pub fn ended(&mut self, mut end: OwnedEvent, outer: bool, out: &mut Vec<OwnedEvent>) {
        let Hook::ToolCallEnd { tool_call_id, .. } = &mut end.hook else { return };
        if outer {
            let Some(i) = self.open.iter().position(|c| c.outer_id == *tool_call_id) else {
                out.push(end);
                return;
            };
            let call = self.open.remove(i);
            if let Some(start) = call.held_start {
                out.push(start);
                out.push(end);
            }
            return;
        }
        if let Some(call) = self.open.iter().find(|c| c.inner_id.as_ref() == Some(tool_call_id)) {
            *tool_call_id = call.outer_id.clone();
        }
        out.push(end);
    }
}

/// The model's call id (sanitised) in an id the bridge gave a call it ran.
fn bridge_parent(id: &str) -> Option<&str> {
    let rest = id.strip_prefix(INNER_ID_PREFIX)?;
    let mut parts = rest.rsplitn(3, ':');
    let (_sequence, _tool, parent) = (parts.next()?, parts.next()?, parts.next()?);
    Some(parent)
}

/// An id as the bridge puts it into the ids of the calls it runs: runs of characters other than
/// letters, digits and `_.:-` become `_`, at most 120 characters, `call` when nothing is left.
fn sanitised(id: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in id.trim().chars() {
        if c.is_ascii_alphanumeric() || "_.:-".contains(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    let kept: String = out.chars().take(120).collect();
    if kept.is_empty() {
        "call".to_string()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_from_a_bridged_id_and_matches_the_sanitised_outer_id() {
        assert_eq!(bridge_parent("tool_search_code:call_1bf0:sessions_spawn:1"), Some("call_1bf0"));
        assert_eq!(bridge_parent("tool_search_code:a:b:c:memory_search:12"), Some("a:b:c"));
        assert_eq!(bridge_parent("call_1bf0"), None);
        assert_eq!(sanitised("toolu_01 ab/cd"), "toolu_01_ab_cd");
        assert_eq!(sanitised("  "), "call");
    }
}
