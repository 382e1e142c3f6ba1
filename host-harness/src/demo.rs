//! The built-in demo: a few minutes of a gateway's life, shaped like the real OpenClaw recording.
//! Several sessions and agents, messages with one or more model calls and tools between them (one
//! tool fails), one failed message, and one subagent with its own session.

use openclaw_plugin_api::owned::content;
use openclaw_plugin_api::OwnedContext;
use openclaw_plugin_api::{Hook, OwnedEvent};
use openclaw_plugin_api::{ModelCost, Outcome, TokenUsage};

pub use openclaw_plugin_api::now_ms;

/// The scenario's ids are the same on every run: its turns are the same story each time, so a
/// second `make demo` lands on the same trace ids (derived from the run ids) and adds no copies.
const DEMO_SEED: u64 = 0x0C1A_3DE0_2026_0906;

/// The `n`th id of the namespace `seed`, uuid-shaped like OpenClaw's.
fn run_uuid(seed: u64, n: u64) -> String {
    let a = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let b = a.rotate_left(17).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Collects hook calls; runs in different sessions overlap in time, as in a real gateway.
pub struct Scenario {
    events: Vec<OwnedEvent>,
    seed: u64,
    ids: u64,
}

/// One agent run (one user message) being written.
pub struct Run {
    events: Vec<OwnedEvent>,
    ids: Scenario,
    ctx: OwnedContext,
    started_ms: u64,
    model_calls: u32,
}

pub struct Call<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub duration_ms: u64,
    pub usage: Option<TokenUsage>,
    /// The host's cost figure, when it has prices for the model.
    pub cost_usd: Option<ModelCost>,
    pub response: &'a str,
    pub error: Option<&'a str>,
}

pub fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenUsage {
    TokenUsage { input, output, cache_read, cache_write, total: input + output + cache_read + cache_write }
}

impl Scenario {
    pub fn new(seed: u64) -> Scenario {
        Scenario { events: Vec::new(), seed, ids: 0 }
    }

    pub fn next_id(&mut self) -> String {
        self.ids += 1;
        run_uuid(self.seed, self.ids)
    }

    fn push(&mut self, ctx: &OwnedContext, hook: Hook) {
        self.events.push(OwnedEvent { ctx: ctx.clone(), hook });
    }

    pub fn session(&mut self, at_ms: u64, session_key: &str, agent_id: &str, channel: &str) -> OwnedContext {
        let ctx = OwnedContext {
            ts_ms: at_ms,
            run_id: String::new(),
            session_key: session_key.into(),
            session_id: self.next_id(),
            agent_id: agent_id.into(),
            channel: channel.into(),
        };
        self.push(&ctx, Hook::SessionStart { resumed_from: String::new() });
        ctx
    }

    pub fn end_session(&mut self, session: &OwnedContext, at_ms: u64, message_count: u64) {
        let ctx = session.at(at_ms);
        let duration = at_ms.saturating_sub(session.ts_ms);
        self.push(
            &ctx,
            Hook::SessionEnd {
                reason: "shutdown".into(),
                message_count: Some(message_count),
                duration_ms: Some(duration),
            },
        );
    }

    /// Starts a run in `session` at `at_ms`.
    pub fn run(&mut self, session: &OwnedContext, at_ms: u64, prompt: &str) -> Run {
        let ctx = OwnedContext { ts_ms: at_ms, run_id: self.next_id(), ..session.clone() };
        // The run draws its ids from a namespace of its own, so that runs can be written side by side.
        let ids = Scenario::new(self.seed ^ (self.ids << 32));
        let mut run = Run { events: Vec::new(), ids, ctx, started_ms: at_ms, model_calls: 0 };
        run.emit(Hook::MessageStart { prompt: Some(prompt.into()), trigger: "user".into() });
        run
    }

    pub fn add(&mut self, run: Run) {
        self.events.extend(run.events);
    }

    /// All hook calls in time order (stable, so a run's own order is kept on equal times).
    pub fn finish(mut self) -> Vec<OwnedEvent> {
        self.events.sort_by_key(|e| e.ctx.ts_ms);
        self.events
    }
}

impl Run {
    fn emit(&mut self, hook: Hook) {
        self.events.push(OwnedEvent { ctx: self.ctx.clone(), hook });
    }

    pub fn wait(&mut self, ms: u64) -> &mut Self {
        self.ctx.ts_ms += ms;
        self
    }

    pub fn now(&self) -> u64 {
        self.ctx.ts_ms
    }

    pub fn model(&mut self, call: Call<'_>) -> &mut Self {
        self.model_calls += 1;
        let call_id = format!("{}:model:{}", self.ctx.run_id, self.model_calls);
        // A run's first call receives the prompt (later calls: what happened since, which the
        // plugin has seen).
        let input_messages = match self.events.iter().find(|e| matches!(e.hook, Hook::MessageStart { .. })) {
            Some(OwnedEvent { hook: Hook::MessageStart { prompt, .. }, .. }) if self.model_calls == 1 => {
                serde_json::json!([{"role": "user", "content": prompt}]).to_string()
            }
            _ => String::new(),
        };
        self.emit(Hook::ModelCallStart {
            call_id: call_id.clone(),
            provider: call.provider.into(),
            model: call.model.into(),
            input_messages: content(input_messages),
            tool_definitions: None,
        });
        self.ctx.ts_ms += call.duration_ms;
        self.emit(Hook::ModelCallEnd {
            call_id,
            provider: call.provider.into(),
            model: call.model.into(),
            outcome: if call.error.is_some() { Outcome::ERROR } else { Outcome::COMPLETED },
            error: call.error.unwrap_or("").into(),
            duration_ms: Some(call.duration_ms),
            usage: call.usage,
            cost_usd: call.cost_usd,
            response: content(call.response.into()),
            tool_calls: None,
        });
        self.wait(4)
    }

    /// The run's last model call asked for this tool (its reply's tool calls, as the host gives them).
    fn ask_for_tool(&mut self, id: &str, name: &str, params: &str) {
        let Some(Hook::ModelCallEnd { tool_calls, .. }) =
            self.events.iter_mut().rev().map(|e| &mut e.hook).find(|h| matches!(h, Hook::ModelCallEnd { .. }))
        else {
            return;
        };
        let mut calls: Vec<serde_json::Value> =
            serde_json::from_str(tool_calls.as_deref().unwrap_or("[]")).unwrap_or_default();
        let arguments = serde_json::from_str(params).unwrap_or(serde_json::Value::String(params.into()));
        calls.push(serde_json::json!({"id": id, "name": name, "arguments": arguments}));
        *tool_calls = Some(serde_json::Value::Array(calls).to_string());
    }

    pub fn tool(&mut self, name: &str, params: &str, duration_ms: u64, result: Result<&str, &str>) -> &mut Self {
        self.tool_returning(name, params, duration_ms, result, "")
    }

    /// A retrieval tool that found one document (its text is the tool's result).
    pub fn retrieval(
        &mut self,
        name: &str,
        params: &str,
        duration_ms: u64,
        text: &str,
        uri: &str,
        title: &str,
    ) -> &mut Self {
        let documents = serde_json::json!([{"content": text, "uri": uri, "title": title}]).to_string();
        self.tool_returning(name, params, duration_ms, Ok(text), &documents)
    }

    fn tool_returning(
        &mut self,
        name: &str,
        params: &str,
        duration_ms: u64,
        result: Result<&str, &str>,
        documents: &str,
    ) -> &mut Self {
        let tool_call_id = format!("call_{}", &self.ids.next_id()[..12]);
        self.ask_for_tool(&tool_call_id, name, params);
        self.emit(Hook::ToolCallStart {
            tool_call_id: tool_call_id.clone(),
            tool_name: name.into(),
            params: Some(params.into()),
        });
        self.ctx.ts_ms += duration_ms;
        let (outcome, error, result) = match result {
            Ok(r) => (Outcome::COMPLETED, "", r),
            Err(e) => (Outcome::ERROR, e, ""),
        };
        self.emit(Hook::ToolCallEnd {
            tool_call_id,
            tool_name: name.into(),
            outcome,
            error: error.into(),
            duration_ms: Some(duration_ms),
            result: content(result.into()),
            documents: content(documents.into()),
        });
        self.wait(3)
    }

    pub fn spawn_subagent(&mut self, child_session_key: &str, label: &str, model: &str) -> &mut Self {
        let child = child_session_key.to_string();
        let agent = self.ctx.agent_id.clone();
        self.emit(Hook::SubagentSpawned {
            child_session_key: child,
            child_agent_id: agent,
            label: label.into(),
            model: model.into(),
        });
        self.wait(2)
    }

    pub fn subagent_ended(&mut self, child_session_key: &str) -> &mut Self {
        self.emit(Hook::SubagentEnded {
            child_session_key: child_session_key.into(),
            outcome: Outcome::COMPLETED,
            error: String::new(),
        });
        self.wait(2)
    }

    pub fn answer(&mut self, response: &str) {
        self.end(Outcome::COMPLETED, "", response);
    }

    pub fn fail(&mut self, error: &str) {
        self.end(Outcome::ERROR, error, "");
    }

    fn end(&mut self, outcome: Outcome, error: &str, response: &str) {
        let duration_ms = Some(self.ctx.ts_ms - self.started_ms);
        self.emit(Hook::MessageEnd { outcome, error: error.into(), response: content(response.into()), duration_ms });
    }
}

/// Anthropic's list prices per million tokens, which a host configured with prices would apply.
fn host_cost(u: &TokenUsage, input: f64, output: f64, cache_read: f64, cache_write: f64) -> ModelCost {
    let c = |tokens: u64, per_million: f64| tokens as f64 * per_million / 1e6;
    let (i, o, r, w) =
        (c(u.input, input), c(u.output, output), c(u.cache_read, cache_read), c(u.cache_write, cache_write));
    ModelCost { input: i, output: o, cache_read: r, cache_write: w, total: i + o + r + w }
}

/// The demo scenario, its first event at `start_ms - 90 s` so that every timestamp is in the past.
pub fn scenario(start_ms: u64) -> Vec<OwnedEvent> {
    let t0 = start_ms.saturating_sub(90_000);
    let mut s = Scenario::new(DEMO_SEED);
    let sonnet = "claude-sonnet-4-5";

    // 1. shadowman on webchat: a calendar question with a tool call, then a follow-up.
    let shadow = s.session(t0, "agent:shadowman:main", "shadowman", "webchat");
    {
        let u1 = usage(2_150, 96, 11_800, 0);
        let u2 = usage(2_420, 210, 11_800, 0);
        let mut r = s.run(&shadow, t0 + 120, "What's on my calendar tomorrow, and is there anything I should prepare?");
        r.wait(35)
            .model(Call { provider: "anthropic", model: sonnet, duration_ms: 1_840, usage: Some(u1), cost_usd: Some(host_cost(&u1, 3.0, 15.0, 0.3, 3.75)), response: "", error: None })
            .tool("calendar_list", r#"{"date":"tomorrow","calendar":"primary"}"#, 420,
                Ok(r#"{"events":[{"time":"09:30","title":"Quarterly review with Dana","location":"Room 4"},{"time":"14:00","title":"Dentist"}]}"#))
            .model(Call { provider: "anthropic", model: sonnet, duration_ms: 2_310, usage: Some(u2), cost_usd: Some(host_cost(&u2, 3.0, 15.0, 0.3, 3.75)),
                response: "Tomorrow you have the quarterly review with Dana at 09:30 (Room 4) and the dentist at 14:00. For the review, bring the Q3 numbers and the deck.", error: None })
            .answer("Tomorrow you have the quarterly review with Dana at 09:30 (Room 4) and the dentist at 14:00. For the review, bring the Q3 numbers and the deck.");
        let t = r.now() + 15_000;
        s.add(r);
        let u3 = usage(2_800, 140, 13_900, 420);
        let mut r = s.run(&shadow, t, "Draft a short reply to Dana saying I'll send the deck by Friday.");
        r.wait(28)
            .model(Call {
                provider: "anthropic",
                model: sonnet,
                duration_ms: 1_620,
                usage: Some(u3),
                cost_usd: Some(host_cost(&u3, 3.0, 15.0, 0.3, 3.75)),
                response: "Hi Dana, thanks for the reminder. I'll send the deck by Friday. Best, S.",
                error: None,
            })
            .answer("Hi Dana, thanks for the reminder. I'll send the deck by Friday. Best, S.");
        s.add(r);
    }

    // 2. main, local: a failing tool, recovery, then a subagent.
    let main = s.session(t0 + 4_000, "agent:main:main", "main", "");
    let child_key = format!("agent:main:subagent:{}", s.next_id());
    {
        let mut r = s.run(&main, t0 + 4_100, "Read notes/todo.md and summarise the open items.");
        r.wait(30)
            .model(Call { provider: "openai", model: "gpt-5-mini", duration_ms: 950, usage: Some(usage(1_900, 60, 0, 0)), cost_usd: None, response: "", error: None })
            .tool("read", r#"{"path":"notes/todo.md"}"#, 12, Err("ENOENT: no such file or directory, open 'notes/todo.md'"))
            .model(Call { provider: "openai", model: "gpt-5-mini", duration_ms: 780, usage: Some(usage(2_050, 45, 1_792, 0)), cost_usd: None, response: "", error: None })
            .tool("ls", r#"{"path":"notes"}"#, 9, Ok(r#"{"entries":["TODO.md","ideas.md"]}"#))
            .tool("read", r#"{"path":"notes/TODO.md"}"#, 11, Ok("- [ ] renew passport\n- [x] book flights\n- [ ] send the deck to Dana\n"))
            .model(Call { provider: "openai", model: "gpt-5-mini", duration_ms: 1_430, usage: Some(usage(2_300, 120, 1_920, 0)), cost_usd: None,
                response: "Open items: renew your passport and send the deck to Dana.", error: None })
            .answer("Open items: renew your passport and send the deck to Dana. (The file is notes/TODO.md; notes/todo.md does not exist.)");
        let t = r.now() + 8_000;
        s.add(r);

        let mut r = s.run(&main, t, "Research the history of the Eiffel Tower and give me three facts. Use the intranet report at https://admin:hunter2@intranet.example.com/eiffel.pdf if it helps.");
        r.wait(25)
            .model(Call {
                provider: "anthropic",
                model: "claude-haiku-4-5",
                duration_ms: 640,
                usage: Some(usage(3_100, 80, 0, 3_000)),
                cost_usd: None,
                response: "",
                error: None,
            })
            .tool(
                "sessions_spawn",
                r#"{"task":"Find three facts about the history of the Eiffel Tower.","label":"eiffel-research"}"#,
                30,
                Ok(r#"{"status":"accepted"}"#),
            )
            .spawn_subagent(&child_key, "eiffel-research", "anthropic/claude-haiku-4-5");
        let spawned_at = r.now();
        let child_ctx = OwnedContext {
            ts_ms: spawned_at,
            run_id: String::new(),
            session_key: child_key.clone(),
            session_id: s.next_id(),
            agent_id: "main".into(),
            channel: String::new(),
        };
        let mut c = s.run(
            &child_ctx,
            spawned_at + 40,
            "[Subagent Task] Find three facts about the history of the Eiffel Tower.",
        );
        c.wait(20)
            .model(Call { provider: "anthropic", model: "claude-haiku-4-5", duration_ms: 700, usage: Some(usage(1_200, 70, 0, 0)), cost_usd: None, response: "", error: None })
            .retrieval("web_fetch", r#"{"url":"https://en.wikipedia.org/wiki/Eiffel_Tower"}"#, 1_350,
                "The Eiffel Tower ... completed in 1889 for the World's Fair ... 330 metres tall ... repainted every seven years ...",
                "https://en.wikipedia.org/wiki/Eiffel_Tower", "Eiffel Tower - Wikipedia")
            .model(Call { provider: "anthropic", model: "claude-haiku-4-5", duration_ms: 1_100, usage: Some(usage(4_800, 160, 0, 0)), cost_usd: None,
                response: "1) Completed in 1889 for the World's Fair. 2) About 330 m tall. 3) Repainted roughly every seven years.", error: None })
            .answer("1) Completed in 1889 for the World's Fair. 2) About 330 m tall. 3) Repainted roughly every seven years.");
        let child_done = c.now();
        s.add(c);
        r.wait(child_done.saturating_sub(r.now()) + 30)
            .subagent_ended(&child_key)
            .model(Call { provider: "anthropic", model: "claude-haiku-4-5", duration_ms: 820, usage: Some(usage(3_400, 130, 3_000, 0)), cost_usd: None,
                response: "Three facts: it was completed in 1889, it is about 330 m tall, and it is repainted every seven years.", error: None })
            .answer("Three facts: it was completed in 1889, it is about 330 m tall, and it is repainted every seven years.");
        s.add(r);
    }

    // 3. researcher on telegram: the model provider fails and the message fails with it.
    let tg = s.session(t0 + 9_000, "agent:researcher:telegram:direct:4242", "researcher", "telegram");
    {
        let mut r = s.run(&tg, t0 + 9_050, "Compare the battery life of the two laptops I sent you yesterday.");
        r.wait(40)
            .model(Call {
                provider: "google",
                model: "gemini-2.5-flash",
                duration_ms: 2_900,
                usage: None,
                cost_usd: None,
                response: "",
                error: Some("429 RESOURCE_EXHAUSTED: quota exceeded for gemini-2.5-flash"),
            })
            .fail("model call failed: 429 RESOURCE_EXHAUSTED: quota exceeded for gemini-2.5-flash");
        s.add(r);
    }

    let end = t0 + 80_000;
    s.end_session(&shadow, end, 2);
    s.end_session(&main, end + 1, 2);
    s.end_session(&tg, end + 2, 1);
    s.finish()
}
