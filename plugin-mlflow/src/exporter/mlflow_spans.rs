//! A finished trace as OpenTelemetry spans, with the attributes MLflow reads (see
//! `shared/reference/mlflow.md`): which attribute fills which trace field is decided here only.

use super::assembler::{ChildKind, FinishedTrace, RunTrace};
use super::chat;
use crate::genai;
use crate::pricing::round_usd;
use crate::redact::Redactor;
use openclaw_plugin_api::ContentParts;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde_json::json;
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// MLflow rejects a whole request when a session id is longer than this.
pub const MAX_SESSION_ID_CHARS: usize = 250;

/// What the spans carry, decided once from the configuration.
pub struct SpanOptions {
    pub track_token_usage: bool,
    pub track_costs: bool,
    pub track_latency: bool,
    pub redactor: Redactor,
    /// The content parts shown (the hooks also keep replies and tool results for later calls'
    /// inputs, and a host may pass parts another plugin asked for).
    pub parts: ContentParts,
    /// Each captured text is cut to this after it is redacted (`maxContentBytes`).
    pub max_content_bytes: usize,
    /// The most messages a model call's input shows (`maxHistoryMessages`).
    pub max_history_messages: usize,
    /// Tools whose calls are RETRIEVER spans.
    pub retriever_tools: Vec<String>,
    pub scope: InstrumentationScope,
}

/// A finished trace as spans, before it is encoded for a destination's wire.
pub struct TraceSpans {
    pub trace_id: TraceId,
    pub spans: Vec<SpanData>,
    /// Content had secrets replaced.
    pub redacted: bool,
}

impl TraceSpans {
    /// The id MLflow shows: `tr-` + the 32-hex OpenTelemetry trace id.
    pub fn mlflow_id(&self) -> String {
        mlflow_trace_id(self.trace_id)
    }
}

pub fn mlflow_trace_id(trace_id: TraceId) -> String {
    format!("tr-{trace_id}")
}

/// Session keys longer than MLflow accepts are cut and suffixed with a hash of the whole key, so
/// the result is deterministic (all traces of a session stay together) and distinct keys stay
/// distinct.
pub fn mlflow_session_id(session_key: &str) -> Cow<'_, str> {
    if session_key.chars().count() <= MAX_SESSION_ID_CHARS {
        return Cow::Borrowed(session_key);
    }
    // FNV-1a, 64 bits: stable across releases and platforms, unlike std's hasher.
    let hash = session_key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    let suffix = format!("~{hash:016x}");
    let keep = MAX_SESSION_ID_CHARS - suffix.len();
    Cow::Owned(session_key.chars().take(keep).collect::<String>() + &suffix)
}

fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The agent id, from the context or else from the session key (`agent:<id>:...`).
fn agent_id(run: &RunTrace) -> &str {
    if !run.ctx.agent_id.is_empty() {
        return &run.ctx.agent_id;
    }
    openclaw_plugin_api::agent_of_session_key(&run.ctx.session_key)
}

struct Builder<'a> {
    opts: &'a SpanOptions,
    redacted: bool,
}

impl Builder<'_> {
    /// Captured text as it may leave: redacted, then cut to `maxContentBytes` (so that a secret
    /// across the cut is redacted whole, not sent in part).
    fn clean(&mut self, text: &str) -> String {
        let (out, changed) = self.opts.redactor.redact(text);
        self.redacted |= changed;
        crate::intake::cut(&out, self.opts.max_content_bytes).into_owned()
    }

    /// JSON text stays JSON (so MLflow renders it), redacted string by string (decoded); anything
    /// else, or JSON too long to keep whole, becomes a JSON string.
    fn json_payload(&mut self, text: &str) -> String {
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) {
            self.redacted |= self.opts.redactor.redact_json(&mut value);
            let json = value.to_string();
            if json.len() <= self.opts.max_content_bytes {
                return json;
            }
            return serde_json::Value::String(crate::intake::cut(&json, self.opts.max_content_bytes).into_owned())
                .to_string();
        }
        serde_json::Value::String(self.clean(text)).to_string()
    }

    /// A retrieval tool's documents in MLflow's document shape (`page_content`, `metadata` with
    /// `doc_uri`, `id`), which its retrieval judges and the UI's document view read; the tool's
    /// whole result as one document when the host gave no documents.
    fn retrieved(&mut self, documents: Option<&str>, result: Option<&str>) -> Option<String> {
        use serde_json::Value;
        let given: Vec<Value> = documents.and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
        let mut out = Vec::new();
        for doc in &given {
            let Some(content) = doc.get("content").and_then(Value::as_str) else { continue };
            let mut metadata = serde_json::Map::new();
            for (from, to) in [("uri", "doc_uri"), ("title", "title")] {
                if let Some(text) = doc.get(from).and_then(Value::as_str) {
                    metadata.insert(to.into(), Value::String(self.clean(text)));
                }
            }
            if let Some(score) = doc.get("score").filter(|s| s.is_number()) {
                metadata.insert("score".into(), score.clone());
            }
            let mut document = json!({"page_content": self.clean(content), "metadata": metadata});
            if let Some(id) = doc.get("id").and_then(Value::as_str) {
                document["id"] = Value::String(id.to_string());
            }
            out.push(document);
        }
        if out.is_empty() {
            out.push(json!({"page_content": self.clean(result?), "metadata": {}}));
        }
        Some(Value::Array(out).to_string())
    }

    fn messages(&mut self, role: &str, text: &str) -> String {
        json!({"messages": [{"role": role, "content": self.clean(text)}]}).to_string()
    }

    /// A chat message (the interface's neutral shape) as OpenAI's chat format, which MLflow's UI
    /// shows as a conversation: texts redacted and cut, tool calls' arguments a JSON string.
    fn openai_message(&mut self, message: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        let mut out = serde_json::Map::new();
        out.insert("role".into(), message.get("role").cloned().unwrap_or(Value::from("user")));
        let content = message.get("content").and_then(Value::as_str).map(|t| Value::String(self.clean(t)));
        out.insert("content".into(), content.unwrap_or(Value::Null));
        for key in ["tool_call_id", "name"] {
            if let Some(label) = message.get(key).and_then(Value::as_str) {
                out.insert(key.into(), Value::String(crate::intake::label(label)));
            }
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            let calls = calls.iter().map(|call| {
                let mut arguments = call.get("arguments").cloned().unwrap_or(Value::Null);
                self.redacted |= self.opts.redactor.redact_json(&mut arguments);
                let arguments = match arguments {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                json!({
                    "id": call.get("id").and_then(Value::as_str).unwrap_or_default(),
                    "type": "function",
                    "function": {
                        "name": call.get("name").and_then(Value::as_str).unwrap_or_default(),
                        "arguments": crate::intake::cut(&arguments, self.opts.max_content_bytes),
                    },
                })
            });
            out.insert("tool_calls".into(), Value::Array(calls.collect()));
        }
        Value::Object(out)
    }

    /// A tool definition as OpenAI's (`{"type": "function", "function": {name, description,
    /// parameters}}`), which MLflow shows as the call's tools: the description redacted and cut,
    /// the schema redacted.
    fn openai_tool(&mut self, tool: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        let mut function = serde_json::Map::new();
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
        function.insert("name".into(), Value::String(crate::intake::label(name)));
        if let Some(description) = tool.get("description").and_then(Value::as_str) {
            function.insert("description".into(), Value::String(self.clean(description)));
        }
        if let Some(parameters) = tool.get("parameters") {
            let mut parameters = parameters.clone();
            self.redacted |= self.opts.redactor.redact_json(&mut parameters);
            function.insert("parameters".into(), parameters);
        }
        json!({"type": "function", "function": function})
    }

    /// A model call's inputs and outputs as MLflow shows them in its Chat view: the messages the
    /// call received (`{"messages": [...]}`) and its reply (`{"choices": [{"message": ...}]}`).
    fn conversation(&mut self, run: &RunTrace, index: usize, attributes: &mut Vec<KeyValue>) {
        let parts = self.opts.parts;
        if parts.keeps_model_input() {
            let input = chat::input_of(&run.children, index, run.prompt.as_deref(), self.opts.max_history_messages);
            let shown = |m: &&serde_json::Value| {
                if m["role"] == "system" {
                    parts.system_prompt
                } else {
                    parts.input_messages
                }
            };
            let messages: Vec<_> = input.iter().filter(shown).map(|m| self.openai_message(m)).collect();
            if !messages.is_empty() {
                attributes.push(KeyValue::new("mlflow.spanInputs", json!({"messages": messages}).to_string()));
            }
        }
        if parts.tool_definitions {
            if let Some(tools) = chat::tool_definitions_of(&run.children, index) {
                let tools: Vec<_> = tools.iter().map(|t| self.openai_tool(t)).collect();
                attributes.push(KeyValue::new("mlflow.chat.tools", serde_json::Value::Array(tools).to_string()));
            }
        }
        if !parts.output_messages {
            return;
        }
        let reply = chat::reply_of(&run.children[index]);
        if reply.get("content").is_some() || reply.get("tool_calls").is_some() {
            let finish_reason = if reply.get("tool_calls").is_some() { "tool_calls" } else { "stop" };
            let message = self.openai_message(&reply);
            let outputs = json!({"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]});
            attributes.push(KeyValue::new("mlflow.spanOutputs", outputs.to_string()));
        }
    }

    #[allow(clippy::too_many_arguments)] // one span's fields; a struct for them would only rename them
    fn span(
        &self,
        trace_id: TraceId,
        span_id: SpanId,
        parent: SpanId,
        name: String,
        start: u64,
        end: u64,
        attributes: Vec<KeyValue>,
        status: Status,
    ) -> SpanData {
        SpanData {
            span_context: SpanContext::new(trace_id, span_id, TraceFlags::SAMPLED, false, TraceState::default()),
            parent_span_id: parent,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned(name),
            start_time: time(start),
            end_time: time(end.max(start)),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.opts.scope.clone(),
        }
    }

    /// The text of a failure: the host's error (content rules apply: redacted, cut), else `fallback`.
    fn error_text(&mut self, error: &str, fallback: &str) -> String {
        if error.is_empty() {
            fallback.to_string()
        } else {
            self.clean(error)
        }
    }

    fn root(&mut self, finished: &FinishedTrace) -> SpanData {
        let run = &finished.run;
        let mut a = vec![
            KeyValue::new("mlflow.spanType", "AGENT"),
            KeyValue::new("session.id", mlflow_session_id(&run.ctx.session_key).into_owned()),
            KeyValue::new("user.id", agent_id(run).to_string()),
            KeyValue::new(genai::OPERATION_NAME, genai::OP_INVOKE_AGENT),
            KeyValue::new(genai::AGENT_ID, agent_id(run).to_string()),
            KeyValue::new(genai::CONVERSATION_ID, mlflow_session_id(&run.ctx.session_key).into_owned()),
            KeyValue::new("openclaw.session_key", run.ctx.session_key.clone()),
            KeyValue::new("openclaw.run_id", run.ctx.run_id.clone()),
            KeyValue::new("mlflow.traceTag.openclaw.run_id", run.ctx.run_id.clone()),
            KeyValue::new("mlflow.traceTag.agent", agent_id(run).to_string()),
        ];
        let optional_tags = [
            ("openclaw.session_id", &run.ctx.session_id),
            ("channel", &run.ctx.channel),
            ("openclaw.trigger", &run.trigger),
        ];
        for (key, value) in optional_tags {
            if !value.is_empty() {
                a.push(KeyValue::new(format!("mlflow.traceTag.{key}"), value.clone()));
            }
        }
        if let Some(model) = run.model() {
            a.push(KeyValue::new("mlflow.traceTag.model", model));
        }
        if let Some(prompt) = &run.prompt {
            a.push(KeyValue::new("mlflow.spanInputs", self.messages("user", prompt)));
        }
        if let Some(response) = &run.response {
            a.push(KeyValue::new("mlflow.spanOutputs", self.messages("assistant", response)));
        }
        if let Some(parent) = &run.parent {
            a.push(KeyValue::new("mlflow.traceTag.openclaw.parent_trace_id", mlflow_trace_id(parent.trace_id)));
            a.push(KeyValue::new(
                "mlflow.traceTag.openclaw.parent_session",
                mlflow_session_id(&parent.session_key).into_owned(),
            ));
            a.push(KeyValue::new("mlflow.traceTag.openclaw.parent_run_id", parent.run_id.clone()));
        }
        if !run.subagent_sessions.is_empty() {
            a.push(KeyValue::new("mlflow.traceTag.openclaw.subagent_sessions", run.subagent_sessions.join(",")));
        }
        // A message too large for one trace: its parts, linked both ways.
        if let Some(previous) = run.continues {
            a.push(KeyValue::new("mlflow.traceTag.openclaw.continues_trace_id", mlflow_trace_id(previous)));
            a.push(KeyValue::new("mlflow.traceTag.openclaw.part", (run.part + 1).to_string()));
        }
        if let Some(next) = finished.continued_in {
            a.push(KeyValue::new("mlflow.traceTag.openclaw.continued_in_trace_id", mlflow_trace_id(next)));
        }
        let failure = match (&finished.incomplete, run.outcome) {
            (Some(reason), _) => {
                a.push(KeyValue::new("mlflow.traceTag.openclaw.incomplete", "true"));
                Some((EXCEPTION_INCOMPLETE, format!("incomplete: {reason}")))
            }
            (None, Some(outcome)) if outcome.is_error() => {
                Some((EXCEPTION_MESSAGE, self.error_text(&run.error, &format!("message {}", outcome.as_str()))))
            }
            _ => None,
        };
        let end = run.end_ms.unwrap_or(run.last_event_ms);
        let span = self.span(
            run.trace_id,
            run.root_span_id,
            SpanId::INVALID,
            "message.process".into(),
            run.start_ms,
            end,
            a,
            Status::Ok,
        );
        failed(span, failure)
    }

    fn child(&mut self, run: &RunTrace, index: usize) -> SpanData {
        let child = &run.children[index];
        let mut a = Vec::new();
        let name = match &child.kind {
            ChildKind::Model { provider, model, usage, cost, cost_source, .. } => {
                a.push(KeyValue::new("mlflow.spanType", "CHAT_MODEL"));
                a.push(KeyValue::new(genai::OPERATION_NAME, genai::OP_CHAT));
                a.push(KeyValue::new(genai::REQUEST_MODEL, model.clone()));
                if !provider.is_empty() {
                    a.push(KeyValue::new(genai::PROVIDER_NAME, provider.clone()));
                }
                if let (true, Some(u)) = (self.opts.track_token_usage, usage) {
                    for (key, n) in [
                        (genai::USAGE_INPUT_TOKENS, u.input),
                        (genai::USAGE_OUTPUT_TOKENS, u.output),
                        (genai::USAGE_CACHE_READ_INPUT_TOKENS, u.cache_read),
                        (genai::USAGE_CACHE_WRITE_INPUT_TOKENS, u.cache_write),
                    ] {
                        a.push(KeyValue::new(key, n as i64));
                    }
                    let usage_json = json!({
                        "input_tokens": u.input, "output_tokens": u.output, "total_tokens": u.total(),
                        "cache_read_input_tokens": u.cache_read, "cache_creation_input_tokens": u.cache_write,
                    });
                    a.push(KeyValue::new("mlflow.chat.tokenUsage", usage_json.to_string()));
                }
                if self.opts.track_costs {
                    if let (Some(c), Some(source)) = (cost, cost_source) {
                        // MLflow's cost has input and output only: cache reads and writes are input.
                        let cost_json = json!({
                            "input_cost": round_usd(c.input + c.cache_read + c.cache_write),
                            "output_cost": round_usd(c.output),
                            "total_cost": round_usd(c.total),
                        });
                        a.push(KeyValue::new("mlflow.llm.cost", cost_json.to_string()));
                        a.push(KeyValue::new("openclaw.cost_source", *source));
                    }
                }
                self.conversation(run, index, &mut a);
                if provider.is_empty() {
                    format!("llm.{model}")
                } else {
                    format!("llm.{provider}.{model}")
                }
            }
            ChildKind::Tool { name, call_id, params, result, documents } => {
                let retriever = self.opts.retriever_tools.iter().any(|t| t == name);
                a.push(KeyValue::new("mlflow.spanType", if retriever { "RETRIEVER" } else { "TOOL" }));
                a.push(KeyValue::new(genai::OPERATION_NAME, genai::OP_EXECUTE_TOOL));
                a.push(KeyValue::new(genai::TOOL_NAME, name.clone()));
                a.push(KeyValue::new(genai::TOOL_CALL_ID, call_id.clone()));
                if let Some(p) = params {
                    a.push(KeyValue::new("mlflow.spanInputs", self.json_payload(p)));
                }
                // A result may be kept only as a later model call's input.
                let result = result.as_deref().filter(|_| self.opts.parts.tool_outputs);
                if retriever {
                    if let Some(docs) = self.retrieved(documents.as_deref(), result) {
                        a.push(KeyValue::new("mlflow.spanOutputs", docs));
                    }
                } else if let Some(r) = result {
                    a.push(KeyValue::new("mlflow.spanOutputs", self.json_payload(r)));
                }
                format!("tool.{name}")
            }
        };
        let end = child.end_ms.unwrap_or(child.start_ms);
        if self.opts.track_latency {
            a.push(KeyValue::new("openclaw.latency_ms", end.saturating_sub(child.start_ms) as i64));
        }
        let outcome_failed = child.outcome.is_some_and(|o| o.is_error());
        let failure = if outcome_failed || (child.outcome.is_none() && !child.error.is_empty()) {
            if outcome_failed {
                a.push(KeyValue::new(genai::ERROR_TYPE, child.outcome.map_or("incomplete", |o| o.as_str())));
            }
            let kind = match child.kind {
                ChildKind::Model { .. } => EXCEPTION_MODEL_CALL,
                ChildKind::Tool { .. } => EXCEPTION_TOOL_CALL,
            };
            Some((kind, self.error_text(&child.error, "failed")))
        } else {
            None
        };
        let span = self.span(run.trace_id, child.span_id, run.root_span_id, name, child.start_ms, end, a, Status::Ok);
        failed(span, failure)
    }
}

/// `exception.type` of a failure, by what failed (the host's outcome is the span's `error.type`).
const EXCEPTION_MESSAGE: &str = "MessageFailed";
const EXCEPTION_INCOMPLETE: &str = "MessageIncomplete";
const EXCEPTION_MODEL_CALL: &str = "ModelCallFailed";
const EXCEPTION_TOOL_CALL: &str = "ToolCallFailed";

/// A failure as MLflow shows it: the span's status ERROR with the text, and an OpenTelemetry
/// `exception` event (`exception.type`, `exception.message`) at the span's end, which the UI marks
/// in red and lists in the span's Events tab (a status alone shows no text there). The same as
/// MLflow's own SDK records a failure.
fn failed(mut span: SpanData, failure: Option<(&'static str, String)>) -> SpanData {
    let Some((kind, text)) = failure else { return span };
    let attributes = vec![KeyValue::new("exception.type", kind), KeyValue::new("exception.message", text.clone())];
    span.events.events.push(opentelemetry::trace::Event::new("exception", span.end_time, attributes, 0));
    span.status = Status::error(text);
    span
}

/// Builds the spans of `finished`: the root first, then its children in start order.
pub fn build(finished: &FinishedTrace, opts: &SpanOptions) -> TraceSpans {
    let mut b = Builder { opts, redacted: false };
    let mut spans = Vec::with_capacity(1 + finished.run.children.len());
    spans.push(b.root(finished));
    for index in 0..finished.run.children.len() {
        spans.push(b.child(&finished.run, index));
    }
    TraceSpans { trace_id: finished.run.trace_id, spans, redacted: b.redacted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_session_keys_are_kept_and_long_ones_cut_deterministically() {
        assert_eq!(mlflow_session_id("agent:main:main"), "agent:main:main");
        let long = format!("agent:main:telegram:group:{}", "x".repeat(400));
        let a = mlflow_session_id(&long);
        assert_eq!(a.chars().count(), MAX_SESSION_ID_CHARS);
        assert_eq!(a, mlflow_session_id(&long));
        let other = format!("agent:main:telegram:group:{}y", "x".repeat(400));
        assert_ne!(a, mlflow_session_id(&other), "keys sharing a long prefix must stay distinct");
        assert!(a.starts_with("agent:main:telegram:group:xxx"));
    }

    fn options(max_content_bytes: usize) -> SpanOptions {
        SpanOptions {
            track_token_usage: true,
            track_costs: true,
            track_latency: true,
            redactor: Redactor::new(&[]),
            parts: ContentParts::DEFAULT,
            max_content_bytes,
            max_history_messages: 20,
            retriever_tools: vec!["memory_search".into()],
            scope: InstrumentationScope::builder("test").build(),
        }
    }

    /// Retrieved documents leave like all content: redacted, each text cut to `maxContentBytes`.
    #[test]
    fn retrieved_documents_are_redacted_and_cut() {
        let opts = options(40);
        let mut builder = Builder { opts: &opts, redacted: false };
        let documents = serde_json::json!([
            {"content": "deploy key ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa in notes", "uri": "notes.md", "id": "n1"},
            {"content": "x".repeat(100), "score": 0.5}
        ]);
        let out: serde_json::Value =
            serde_json::from_str(&builder.retrieved(Some(&documents.to_string()), None).unwrap()).unwrap();
        assert!(builder.redacted);
        assert_eq!(out[0]["page_content"], "deploy key [REDACTED] in notes");
        assert_eq!(out[0]["metadata"], serde_json::json!({"doc_uri": "notes.md"}));
        assert_eq!(out[0]["id"], "n1");
        let cut = out[1]["page_content"].as_str().unwrap();
        assert!(
            cut.starts_with(&"x".repeat(40)) && cut.contains("100 bytes in all") && !cut.contains(&"x".repeat(41)),
            "{cut}"
        );
        assert_eq!(out[1]["metadata"]["score"], 0.5);
    }
}
