//! OpenClaw's hook payloads, read once: which field of which hook becomes which part of the
//! translator's input ([`read_hook`]). The gateway's addon reads the live JavaScript objects through
//! this, `openclaw-host replay` reads recorded JSON ([`super::recording`]): the rules live here only,
//! so the replay tests exercise what runs in the gateway.
//!
//! Reading is bounded whatever the payload: a text is copied up to the [`Capture`] budget (a 20 MB
//! error costs what an 8 KB one does), ids and names up to [`LABEL_MAX_BYTES`], JSON values are
//! walked until the budget is spent, and nothing reads a content part no plugin captures
//! (`llm_input`'s system prompt and tool definitions are tens of KB on every run).

use super::{ModelInput, OpenClawHook, RUN_START_HOOKS};
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{ContentParts, ModelCost, Outcome, TokenUsage};

/// The most an id, name or label keeps (the plugin keeps as much).
pub const LABEL_MAX_BYTES: usize = 1024;

/// What content keeps beyond the plugins' `maxContentBytes`: they redact secrets first and then
/// cut, so a secret across the cut is redacted whole.
pub const REDACTION_MARGIN_BYTES: usize = 8192;

/// `maxHistoryMessages` by default.
pub const DEFAULT_HISTORY_MESSAGES: usize = 20;

/// Appended to a text cut here, with the whole text's length.
pub const CUT_MARKER: &str = "…[truncated by openclaw-mlflow: ";

/// One value of a hook's payload, as the host holds it (a JavaScript value, a JSON value).
pub trait Payload: Sized {
    /// The field `name` of an object; `None` when the value is no object or the field is absent,
    /// null or undefined.
    fn field(&self, name: &str) -> Option<Self>;
    /// A string value, at most its first `max_bytes` bytes (cut on a character boundary); `None`
    /// for a value that is no string.
    fn string(&self, max_bytes: usize) -> Option<Text>;
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    /// The elements of an array, up to `max`; empty for a value that is no array.
    fn items(&self, max: usize) -> Vec<Self>;
    /// The length of an array; `None` for a value that is no array.
    fn array_len(&self) -> Option<usize>;
    /// The element `index` of an array.
    fn item(&self, index: usize) -> Option<Self>;
    /// An object's own keys, up to `max`; empty for a value that is no object (arrays included).
    fn keys(&self, max: usize) -> Vec<String>;
}

/// A string read from a payload, perhaps cut.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    pub text: String,
    /// The whole string's length in characters (UTF-16 units for JavaScript's).
    pub whole_len: usize,
    /// `text` is less than the whole string.
    pub cut: bool,
}

impl Text {
    fn is(&self, word: &str) -> bool {
        self.text == word
    }
}

/// How much content the plugins want, decided from their settings: the parts any of them
/// captures, each text cut to `max_bytes`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capture {
    pub parts: ContentParts,
    pub max_bytes: usize,
    /// The most messages of the history OpenClaw passes a run that its first model call's input
    /// keeps (the latest).
    pub history_messages: usize,
}

impl Capture {
    /// The mlflow plugin's defaults (`captureContent: true`, `maxContentBytes: 8192`).
    pub const DEFAULT: Capture = Capture {
        parts: ContentParts::DEFAULT,
        max_bytes: 8192 + REDACTION_MARGIN_BYTES,
        history_messages: DEFAULT_HISTORY_MESSAGES,
    };

    /// From the settings of the plugins a host starts (`captureContent`, `maxContentBytes`,
    /// `maxHistoryMessages` of each enabled plugin's section): a part crosses if any of them
    /// captures it, as much as the one that keeps most. The plugins check their own settings and
    /// refuse a wrong one; here a value of the wrong type reads as the default.
    pub fn from_config(config: &serde_json::Value) -> Capture {
        use crate::settings::{plugin_settings, PluginSettings};
        let entries = config.pointer("/plugins/entries").and_then(|e| e.as_object());
        let ids = entries.into_iter().flat_map(|e| e.keys().map(String::as_str)).chain(["mlflow"]);
        let mut capture = Capture { parts: ContentParts::NONE, max_bytes: 0, history_messages: 0 };
        let mut any = false;
        for id in ids {
            let PluginSettings::Enabled { section, .. } = plugin_settings(config, id) else { continue };
            any = true;
            let parts = content_parts(section.get("captureContent"));
            if !parts.any() {
                continue;
            }
            let max = section.get("maxContentBytes").and_then(|m| m.as_u64()).map_or(8192, |m| m as usize);
            capture.parts = capture.parts.union(parts);
            capture.max_bytes = capture.max_bytes.max(max.saturating_add(REDACTION_MARGIN_BYTES));
            let history = section.get("maxHistoryMessages").and_then(|m| m.as_u64());
            capture.history_messages =
                capture.history_messages.max(history.map_or(DEFAULT_HISTORY_MESSAGES, |h| h as usize));
        }
        if any {
            capture
        } else {
            Capture::DEFAULT
        }
    }
}

/// The parts a `captureContent` setting asks for: `false` none, an object its named parts over
/// the defaults, anything else the defaults.
fn content_parts(setting: Option<&serde_json::Value>) -> ContentParts {
    use serde_json::Value;
    match setting {
        Some(Value::Bool(false)) => ContentParts::NONE,
        Some(Value::Object(named)) => {
            let mut parts = ContentParts::DEFAULT;
            for (name, on) in named {
                if let (Some(part), Some(on)) = (parts.part_mut(name), on.as_bool()) {
                    *part = on;
                }
            }
            parts
        }
        _ => ContentParts::DEFAULT,
    }
}

/// The translator's input for OpenClaw's hook `hook` with its `event` and `ctx`, or `None` for a
/// hook the interface has no use for. `ts_ms` is the gateway's clock when the hook ran.
pub fn read_hook<P: Payload>(
    hook: &str,
    ts_ms: u64,
    event: &P,
    ctx: &P,
    capture: Capture,
) -> Option<(OwnedContext, OpenClawHook)> {
    // Reads content of one part: nothing when no plugin captures it.
    let part = |on: bool| Reader { capture, on };
    let r = part(false);
    let parts = capture.parts;
    // The event's own field first, then the run context's.
    let field = |name: &str| event.field(name).or_else(|| ctx.field(name));
    let translated = match hook {
        "message_received" => OpenClawHook::MessageReceived,
        h if RUN_START_HOOKS.contains(&h) => OpenClawHook::RunStarted {
            // before_agent_reply's cleanedBody is the user's text; llm_input's prompt adds a timestamp.
            prompt: {
                let previews = part(parts.previews);
                first_non_empty([previews.content(event.field("cleanedBody")), previews.content(event.field("prompt"))])
            },
            trigger: r.label(ctx.field("trigger")),
            model_input: if h == "llm_input" { part(true).model_input(event) } else { ModelInput::default() },
        },
        "model_call_started" => OpenClawHook::ModelCallStarted {
            call_id: r.label(event.field("callId")),
            provider: r.label(event.field("provider")),
            model: r.label(event.field("model")),
        },
        "model_call_ended" => OpenClawHook::ModelCallEnded {
            call_id: r.label(event.field("callId")),
            provider: r.label(event.field("provider")),
            model: r.label(event.field("model")),
            failed: r.label(event.field("outcome")) == "error",
            // The error's text arrives on the assistant message just after (errorCategory is only "Error").
            error: part(parts.output_messages).error(event.field("error").or_else(|| event.field("errorMessage"))),
            duration_ms: duration(event.field("durationMs")),
        },
        "before_message_write" => {
            let message = event.field("message")?;
            if !message.field("role").and_then(|r| r.string(16)).is_some_and(|r| r.is("assistant")) {
                return None;
            }
            let usage = message.field("usage");
            let reply = part(parts.keeps_replies());
            OpenClawHook::AssistantMessage {
                usage: usage.as_ref().map(token_usage),
                cost: usage.as_ref().and_then(|u| u.field("cost")).as_ref().map(model_cost),
                text: reply.content_text(message.field("content")),
                tool_calls: reply.tool_calls_json(message.field("content")),
                error: part(parts.output_messages).error(message.field("errorMessage")),
            }
        }
        "diag:model.call.completed" => {
            let usage = event.field("usage");
            OpenClawHook::ModelCallUsage {
                call_id: r.label(event.field("callId")),
                usage: usage.as_ref().map(token_usage),
                cost: usage.as_ref().and_then(|u| u.field("cost")).as_ref().map(model_cost),
            }
        }
        "before_tool_call" => {
            let (tool_name, bridged, params) = r.tool_called(field("toolName"), event.field("params"));
            OpenClawHook::ToolCallStarted {
                tool_call_id: r.label(field("toolCallId")),
                tool_name,
                bridged,
                params: part(parts.tool_inputs).json(params),
            }
        }
        "after_tool_call" => {
            let result = event.field("result");
            let error = event.field("error");
            let is_error = result.as_ref().and_then(|r| r.field("isError")).and_then(|e| e.boolean()) == Some(true);
            let (tool_name, bridged, _) = r.tool_called(field("toolName"), event.field("params"));
            let outputs = part(parts.tool_outputs);
            OpenClawHook::ToolCallEnded {
                tool_call_id: r.label(field("toolCallId")),
                tool_name,
                bridged,
                failed: error.is_some() || is_error,
                error: outputs.error(error),
                duration_ms: duration(event.field("durationMs")),
                documents: result.as_ref().map(|result| outputs.documents(result)).unwrap_or_default(),
                result: part(parts.keeps_tool_results()).tool_result(result),
            }
        }
        "agent_end" => {
            // A turn whose last model reply is an error failed (a 429, a 500...), though OpenClaw
            // reports `success: true`; the reply carries the error's text.
            let last = last_assistant(event.field("messages"));
            let failed_reply = last
                .as_ref()
                .and_then(|m| m.field("stopReason"))
                .and_then(|s| s.string(16))
                .is_some_and(|s| s.is("error"));
            let error =
                event.field("error").or_else(|| if failed_reply { last.as_ref()?.field("errorMessage") } else { None });
            let previews = part(parts.previews);
            OpenClawHook::AgentEnded {
                success: event.field("success").and_then(|s| s.boolean()) != Some(false) && !failed_reply,
                error: previews.error(error),
                duration_ms: duration(event.field("durationMs")),
                response: previews.content_text(last.as_ref().and_then(|m| m.field("content"))),
            }
        }
        "session_start" => OpenClawHook::SessionStarted { resumed_from: r.label(event.field("resumedFrom")) },
        "session_end" => OpenClawHook::SessionEnded {
            reason: r.label(event.field("reason")),
            message_count: duration(event.field("messageCount")),
            duration_ms: duration(event.field("durationMs")),
        },
        "subagent_spawned" => OpenClawHook::SubagentSpawned {
            requester_session_key: r.label(ctx.field("requesterSessionKey")),
            child_session_key: r.label(field("childSessionKey")),
            child_agent_id: r.label(event.field("agentId")),
            label: r.label(event.field("label")),
            model: r.label(event.field("resolvedModel")),
        },
        "subagent_ended" => OpenClawHook::SubagentEnded {
            requester_session_key: r.label(ctx.field("requesterSessionKey")),
            child_session_key: r.label(event.field("targetSessionKey")),
            outcome: subagent_outcome(&r.label(event.field("outcome"))),
            error: part(parts.previews).error(event.field("error")),
        },
        _ => return None,
    };
    // After the hook's own fields: a hook of no use (most `before_message_write` calls) costs no
    // context reads.
    let channel = r.label(ctx.field("channel"));
    let context = OwnedContext {
        ts_ms,
        run_id: r.label(field("runId")),
        session_key: r.label(field("sessionKey")),
        session_id: r.label(field("sessionId")),
        agent_id: r.label(field("agentId")),
        channel: if channel.is_empty() { r.label(ctx.field("messageProvider")) } else { channel },
    };
    Some((context, translated))
}

/// OpenClaw's `subagent_ended.outcome`: `ok`, `error`, `timeout`, `killed`, `reset`, `deleted`.
pub fn subagent_outcome(outcome: &str) -> Outcome {
    match outcome {
        "ok" | "completed" | "" => Outcome::COMPLETED,
        "aborted" | "cancelled" | "killed" | "reset" | "deleted" => Outcome::ABORTED,
        _ => Outcome::ERROR,
    }
}

/// OpenClaw's Tool Search bridge: the model calls `tool_call` with `{"id": <tool>, "args": {...}}`
/// and the bridge runs the tool as a call of its own.
const BRIDGE_TOOL: &str = "tool_call";

/// Documents read from one tool result.
const MAX_DOCUMENTS: usize = 64;

/// The [documents](openclaw_plugin_api::events#documents) a tool's result holds, as JSON text
/// (see `Reader::documents`); "" when `capture` leaves tool outputs out.
pub fn documents<P: Payload>(result: &P, capture: Capture) -> String {
    Reader { capture, on: capture.parts.tool_outputs }.documents(result)
}

/// The reading rules for one hook call.
struct Reader {
    capture: Capture,
    /// The content part being read is captured (ids, names and labels are read regardless).
    on: bool,
}

/// Tool calls read from one assistant message.
const MAX_TOOL_CALLS: usize = 64;
/// Tools read from one `llm_input` (OpenClaw offers about 60).
pub const MAX_TOOL_DEFINITIONS: usize = 256;
/// Nesting a JSON value keeps; deeper values become "…".
const MAX_JSON_DEPTH: usize = 8;
/// Array elements and object fields a JSON value keeps per level.
const MAX_JSON_ITEMS: usize = 64;

impl Reader {
    /// The [documents](openclaw_plugin_api::events#documents) a tool's result holds, as JSON text;
    /// "" when it holds none or its part is not captured. OpenClaw's retrieval tools put them in the
    /// result's `details`: a search's `results` (memory: `path`, `startLine`, `endLine`, `score`,
    /// `snippet`; web: `title`, `url`, `snippet` or `description`), or one page or file (`text` with
    /// `url`, `finalUrl` or `path`). Web texts lose OpenClaw's untrusted-content wrapping.
    fn documents<P: Payload>(&self, result: &P) -> String {
        use serde_json::{json, Map, Value};
        let Some(details) = result.field("details").filter(|_| self.on) else { return String::new() };
        let hits = match details.field("results") {
            Some(list) if list.array_len().is_some() => list.items(MAX_DOCUMENTS),
            _ if ["url", "finalUrl", "path"].iter().any(|k| details.field(k).is_some()) => vec![details],
            _ => return String::new(),
        };
        let mut left = self.capture.max_bytes;
        let mut docs = Vec::new();
        for hit in hits {
            let Some(text) = ["snippet", "text", "content", "description"]
                .iter()
                .find_map(|k| hit.field(k).and_then(|v| v.string(left)))
            else {
                continue;
            };
            let content = super::preview::without_external_wrapping(&marked(text)).to_string();
            left = left.saturating_sub(content.len());
            let mut doc = Map::new();
            doc.insert("content".into(), Value::String(content));
            let uri = first_non_empty([
                self.label(hit.field("url")),
                self.label(hit.field("finalUrl")),
                self.label(hit.field("path")),
            ]);
            let lines =
                (hit.field("startLine").and_then(|v| v.number()), hit.field("endLine").and_then(|v| v.number()));
            let uri = match lines {
                (Some(start), Some(end)) if !uri.is_empty() => format!("{uri}#L{start}-L{end}"),
                _ => uri,
            };
            if !uri.is_empty() {
                doc.insert("uri".into(), Value::String(uri));
            }
            for (key, value) in [("id", self.label(hit.field("id"))), ("title", self.label(hit.field("title")))] {
                if !value.is_empty() {
                    doc.insert(key.into(), Value::String(value));
                }
            }
            if let Some(score) = hit.field("score").and_then(|v| v.number()).filter(|s| s.is_finite()) {
                doc.insert("score".into(), json!(score));
            }
            docs.push(Value::Object(doc));
            if left == 0 {
                break;
            }
        }
        if docs.is_empty() {
            String::new()
        } else {
            Value::Array(docs).to_string()
        }
    }

    /// An id, name or label: a string, number or boolean as text, cut to [`LABEL_MAX_BYTES`].
    fn label<P: Payload>(&self, value: Option<P>) -> String {
        let Some(value) = value else { return String::new() };
        if let Some(text) = value.string(LABEL_MAX_BYTES) {
            return text.text;
        }
        scalar_text(&value).unwrap_or_default()
    }

    /// A text under the content rules: "" without content capture, else cut to the budget with a
    /// marker giving the whole length.
    fn content<P: Payload>(&self, value: Option<P>) -> String {
        if !self.on {
            return String::new();
        }
        value.and_then(|v| v.string(self.capture.max_bytes)).map(marked).unwrap_or_default()
    }

    /// An error (a string, or an object's `message`) under the content rules: it often quotes the
    /// input. Without content capture only that there was one crosses (a non-empty error is what
    /// marks a failed call), never its text.
    fn error<P: Payload>(&self, value: Option<P>) -> String {
        let Some(value) = value else { return String::new() };
        let max = self.capture.max_bytes.max(LABEL_MAX_BYTES);
        let text = value.string(max).or_else(|| value.field("message").and_then(|m| m.string(max)));
        if text.as_ref().is_some_and(|t| t.text.is_empty()) {
            return String::new();
        }
        if !self.on {
            return "(error text not captured)".to_string();
        }
        match text {
            Some(text) => marked(text),
            None => scalar_text(&value).unwrap_or_else(|| self.json(Some(value))),
        }
    }

    /// A message's content as text: a string, or the text parts of a content array, joined by
    /// newlines, up to the budget.
    fn content_text<P: Payload>(&self, content: Option<P>) -> String {
        let Some(content) = content else { return String::new() };
        if !self.on {
            return String::new();
        }
        if let Some(text) = content.string(self.capture.max_bytes) {
            return marked(text);
        }
        let mut text = String::new();
        let (mut whole_len, mut cut) = (0, false);
        for part in content.items(usize::MAX) {
            if !part.field("type").and_then(|t| t.string(16)).is_some_and(|t| t.is("text")) {
                continue;
            }
            let room = self.capture.max_bytes.saturating_sub(text.len() + 1);
            let Some(piece) = part.field("text").and_then(|t| t.string(room)) else { continue };
            if whole_len > 0 {
                whole_len += 1;
                if room > 0 {
                    text.push('\n');
                }
            }
            whole_len += piece.whole_len;
            cut |= piece.cut;
            text.push_str(&piece.text);
        }
        marked(Text { text, whole_len, cut })
    }

    /// What a run's first model call receives, from `llm_input`, each part only when captured
    /// (see the interface's `ModelCallStart`): as chat messages the system prompt, the last
    /// `history_messages` messages of the history OpenClaw passed (user, assistant and tool-result
    /// messages; its own runtime-context carriers are no conversation) and the prompt; and the
    /// tools offered. Each text cut to the budget; the history read from its end, so a long one
    /// costs what a short one does. Called on a reader whose part is on.
    fn model_input<P: Payload>(&self, event: &P) -> ModelInput {
        let parts = self.capture.parts;
        let mut messages = Vec::new();
        if parts.system_prompt {
            let system = self.content(event.field("systemPrompt"));
            if !system.is_empty() {
                messages.push(serde_json::json!({"role": "system", "content": system}));
            }
        }
        if parts.input_messages {
            let first_history = messages.len();
            if let Some(history) = event.field("historyMessages") {
                let len = history.array_len().unwrap_or(0);
                for index in (0..len).rev() {
                    if messages.len() - first_history >= self.capture.history_messages {
                        break;
                    }
                    if let Some(message) = history.item(index).and_then(|m| self.chat_message(&m)) {
                        messages.push(message);
                    }
                }
                messages[first_history..].reverse();
            }
            let prompt = self.content(event.field("prompt"));
            if !prompt.is_empty() {
                messages.push(serde_json::json!({"role": "user", "content": prompt}));
            }
        }
        let tools = if parts.tool_definitions { self.tool_definitions(event.field("tools")) } else { Vec::new() };
        let json_or_empty = |items: Vec<serde_json::Value>| {
            if items.is_empty() {
                String::new()
            } else {
                serde_json::Value::Array(items).to_string()
            }
        };
        ModelInput { messages: json_or_empty(messages), tool_definitions: json_or_empty(tools) }
    }

    /// `llm_input`'s `tools`: tool objects (`name`, `description`, `parameters` as a JSON schema)
    /// or bare names, as `{"name", "description", "parameters"}`; each description cut and each
    /// schema walked within the budget.
    fn tool_definitions<P: Payload>(&self, tools: Option<P>) -> Vec<serde_json::Value> {
        let Some(tools) = tools else { return Vec::new() };
        let mut definitions = Vec::new();
        for tool in tools.items(MAX_TOOL_DEFINITIONS) {
            if let Some(name) = tool.string(LABEL_MAX_BYTES) {
                definitions.push(serde_json::json!({"name": name.text}));
                continue;
            }
            let name = self.label(tool.field("name"));
            if name.is_empty() {
                continue;
            }
            let mut definition = serde_json::json!({"name": name});
            let description = self.content(tool.field("description"));
            if !description.is_empty() {
                definition["description"] = serde_json::Value::String(description);
            }
            if let Some(schema) = tool.field("parameters") {
                let mut left = self.capture.max_bytes as isize;
                definition["parameters"] = self.to_json(&schema, 0, &mut left);
            }
            definitions.push(definition);
        }
        definitions
    }

    /// An OpenClaw transcript message as a chat message, or `None` for one that is no part of the
    /// conversation (OpenClaw's `custom` messages).
    fn chat_message<P: Payload>(&self, message: &P) -> Option<serde_json::Value> {
        use serde_json::{json, Value};
        let role = message.field("role")?.string(16)?;
        let content = self.content_text(message.field("content"));
        match role.text.as_str() {
            "user" | "system" => Some(json!({"role": role.text, "content": content})),
            "assistant" => {
                let mut chat = json!({"role": "assistant"});
                if !content.is_empty() {
                    chat["content"] = Value::String(content);
                }
                let calls = self.tool_calls(message.field("content"));
                if !calls.is_empty() {
                    chat["tool_calls"] = Value::Array(calls);
                }
                Some(chat)
            }
            "toolResult" => Some(json!({
                "role": "tool",
                "tool_call_id": self.label(message.field("toolCallId")),
                "name": self.label(message.field("toolName")),
                "content": content,
            })),
            _ => None,
        }
    }

    /// The `toolCall` parts of an assistant message's content: `{"id", "name", "arguments"}`.
    fn tool_calls<P: Payload>(&self, content: Option<P>) -> Vec<serde_json::Value> {
        let Some(content) = content else { return Vec::new() };
        let mut calls = Vec::new();
        for part in content.items(MAX_TOOL_CALLS) {
            if !part.field("type").and_then(|t| t.string(16)).is_some_and(|t| t.is("toolCall")) {
                continue;
            }
            let mut left = self.capture.max_bytes as isize;
            let arguments = part.field("arguments").map_or(serde_json::Value::Null, |a| self.to_json(&a, 0, &mut left));
            calls.push(serde_json::json!({
                "id": self.label(part.field("id")),
                "name": self.label(part.field("name")),
                "arguments": arguments,
            }));
        }
        calls
    }

    /// [`Reader::tool_calls`] as JSON text, "" when there are none or content is not captured.
    fn tool_calls_json<P: Payload>(&self, content: Option<P>) -> String {
        if !self.on {
            return String::new();
        }
        let calls = self.tool_calls(content);
        if calls.is_empty() {
            String::new()
        } else {
            serde_json::Value::Array(calls).to_string()
        }
    }

    /// The tool a call runs, whether the model called it through OpenClaw's Tool Search bridge,
    /// and its parameters: for the bridge's `tool_call`, the tool it names and that tool's `args`.
    fn tool_called<P: Payload>(&self, name: Option<P>, params: Option<P>) -> (String, bool, Option<P>) {
        let name = self.label(name);
        if name == BRIDGE_TOOL {
            if let Some(inner) = params.as_ref().and_then(|p| p.field("id")).map(|id| self.label(Some(id))) {
                if !inner.is_empty() {
                    return (inner, true, params.and_then(|p| p.field("args")));
                }
            }
        }
        (name, false, params)
    }

    /// A tool's result: the text parts of its `content` (what the model reads), else the value as
    /// JSON.
    fn tool_result<P: Payload>(&self, result: Option<P>) -> String {
        match result {
            Some(r) if r.field("content").and_then(|c| c.array_len()).is_some() => {
                self.content_text(r.field("content"))
            }
            Some(r) if r.string(0).is_some() => self.content(Some(r)),
            other => self.json(other),
        }
    }

    /// A value as JSON text under the content rules, costing no more than the budget: strings cut,
    /// long arrays and objects and deep nesting elided.
    fn json<P: Payload>(&self, value: Option<P>) -> String {
        let Some(value) = value else { return String::new() };
        if !self.on {
            return String::new();
        }
        if let Some(text) = value.string(self.capture.max_bytes) {
            return marked(text);
        }
        let mut left = self.capture.max_bytes as isize;
        let json = self.to_json(&value, 0, &mut left).to_string();
        let text = cut_str(&json, self.capture.max_bytes).to_string();
        marked(Text { cut: text.len() < json.len(), whole_len: json.chars().count(), text })
    }

    fn to_json<P: Payload>(&self, value: &P, depth: usize, left: &mut isize) -> serde_json::Value {
        use serde_json::Value;
        if *left < 0 {
            return Value::String("…".into());
        }
        if let Some(text) = value.string(self.capture.max_bytes.min((*left).max(0) as usize)) {
            *left -= text.text.len() as isize + 2;
            return Value::String(text.text);
        }
        if let Some(n) = value.number() {
            *left -= 8;
            // JavaScript has one number type: a whole one reads back as the integer it was written as.
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                return Value::from(n as i64);
            }
            return serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number);
        }
        if let Some(b) = value.boolean() {
            *left -= 5;
            return Value::Bool(b);
        }
        if depth >= MAX_JSON_DEPTH {
            return Value::String("…".into());
        }
        if value.array_len().is_some() {
            *left -= 2;
            let mut items = Vec::new();
            for item in value.items(MAX_JSON_ITEMS) {
                if *left < 0 {
                    break;
                }
                items.push(self.to_json(&item, depth + 1, left));
            }
            return Value::Array(items);
        }
        let mut object = serde_json::Map::new();
        *left -= 2;
        for key in value.keys(MAX_JSON_ITEMS) {
            if *left < 0 {
                break;
            }
            *left -= key.len() as isize + 3;
            match value.field(&key) {
                Some(v) => object.insert(key, self.to_json(&v, depth + 1, left)),
                None => object.insert(key, Value::Null),
            };
        }
        Value::Object(object)
    }
}

/// A text with, when it was cut, a marker giving the whole length.
fn marked(text: Text) -> String {
    if text.cut {
        format!("{}{CUT_MARKER}{} characters in all]", text.text, text.whole_len)
    } else {
        text.text
    }
}

/// A number or boolean as JavaScript's `String()` writes it.
fn scalar_text<P: Payload>(value: &P) -> Option<String> {
    if let Some(n) = value.number() {
        return Some(if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() });
    }
    value.boolean().map(|b| b.to_string())
}

/// `text` cut to at most `max_bytes`, on a character boundary.
pub fn cut_str(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn first_non_empty<const N: usize>(candidates: [String; N]) -> String {
    candidates.into_iter().find(|c| !c.is_empty()).unwrap_or_default()
}

/// A non-negative count or duration.
fn duration<P: Payload>(value: Option<P>) -> Option<u64> {
    value.and_then(|v| v.number()).filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64)
}

fn last_assistant<P: Payload>(messages: Option<P>) -> Option<P> {
    let messages = messages?;
    let len = messages.array_len()?;
    (0..len)
        .rev()
        .filter_map(|i| messages.item(i))
        .find(|m| m.field("role").and_then(|r| r.string(16)).is_some_and(|r| r.is("assistant")))
}

fn token_usage<P: Payload>(u: &P) -> TokenUsage {
    let n = |k: &str| duration(u.field(k)).unwrap_or(0);
    let (input, output, cache_read, cache_write) = (n("input"), n("output"), n("cacheRead"), n("cacheWrite"));
    let total = duration(u.field("totalTokens"))
        .or_else(|| duration(u.field("total")))
        .unwrap_or(input + output + cache_read + cache_write);
    TokenUsage { input, output, cache_read, cache_write, total }
}

fn model_cost<P: Payload>(c: &P) -> ModelCost {
    let n = |k: &str| c.field(k).and_then(|v| v.number()).filter(|v| v.is_finite()).unwrap_or(0.0);
    ModelCost {
        input: n("input"),
        output: n("output"),
        cache_read: n("cacheRead"),
        cache_write: n("cacheWrite"),
        total: n("total"),
    }
}
