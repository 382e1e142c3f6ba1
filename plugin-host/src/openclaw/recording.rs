//! A recorded OpenClaw hook (one line of `hooks.jsonl`: `{hook, ts, event, ctx}`, as a recorder
//! plugin subscribed to every hook writes it) as the translator's input, read by the same rules as
//! the gateway's live payloads ([`super::payload`]).

use super::payload::{cut_str, read_hook, Capture, Payload, Text};
use super::OpenClawHook;
use openclaw_plugin_api::OwnedContext;
use serde_json::Value;

/// The translator's input for one recorded line, or `None` for a hook the interface has no use for
/// (diagnostics other than `model.call.completed`, agent events, `llm_output`, ...).
pub fn parse_line(line: &Value, capture: Capture) -> Option<(OwnedContext, OpenClawHook)> {
    let hook = line.get("hook").and_then(Value::as_str).unwrap_or("");
    let ts_ms = line.get("ts").and_then(Value::as_u64).unwrap_or(0);
    let null = &Value::Null;
    read_hook(hook, ts_ms, &line.get("event").unwrap_or(null), &line.get("ctx").unwrap_or(null), capture)
}

/// OpenClaw's recorder writes JavaScript's `undefined` as this string.
const UNDEFINED: &str = "[undefined]";

impl Payload for &Value {
    fn field(&self, name: &str) -> Option<Self> {
        self.get(name).filter(|v| !v.is_null() && v.as_str() != Some(UNDEFINED))
    }

    fn string(&self, max_bytes: usize) -> Option<Text> {
        let whole = self.as_str()?;
        let text = cut_str(whole, max_bytes);
        Some(Text { text: text.to_string(), whole_len: whole.chars().count(), cut: text.len() < whole.len() })
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn items(&self, max: usize) -> Vec<Self> {
        self.as_array().map(|a| a.iter().take(max).collect()).unwrap_or_default()
    }

    fn array_len(&self) -> Option<usize> {
        self.as_array().map(Vec::len)
    }

    fn item(&self, index: usize) -> Option<Self> {
        self.as_array()?.get(index)
    }

    fn keys(&self, max: usize) -> Vec<String> {
        self.as_object().map(|o| o.keys().take(max).cloned().collect()).unwrap_or_default()
    }
}
