// Benchmark peer, not shipped: the plugin an OpenClaw user would otherwise write, the seed's own
// design. A plain JavaScript OpenClaw plugin that builds the same MLflow traces as openclaw-mlflow
// (an AGENT root per turn, a CHAT_MODEL span per model call with tokens and cost, a TOOL span per
// tool call, session and user on the root) with OpenTelemetry's JS SDK: spans are built on the
// gateway's JavaScript thread and exported from it by the SDK's BatchSpanProcessor through the
// OTLP/protobuf exporter, into MLflow's /v1/traces.
//
// It picks fields and cuts content exactly as openclaw-mlflow's entry does, so that what differs
// in the benchmark is where the traces are built and sent, not what is read from the hooks.

import { context, trace, SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

const STATE = Symbol.for("openclaw-otel-js-peer");
const state = (globalThis[STATE] ??= { tracer: null, provider: null, runs: new Map(), maxContent: 8192 });

function start(config) {
  if (state.tracer) return;
  state.maxContent = Number.isInteger(config.maxContentBytes) ? config.maxContentBytes : 8192;
  const exporter = new OTLPTraceExporter({
    url: `${config.trackingUri.replace(/\/$/, "")}/v1/traces`,
    // Linked to an MLflow run, as openclaw-mlflow links its traces (the same work for the server).
    headers: { "x-mlflow-experiment-id": String(config.experimentId), ...(config.runId ? { "x-mlflow-run-id": config.runId } : {}) },
  });
  state.provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "openclaw-gateway" }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 10000 })],
  });
  state.tracer = state.provider.getTracer("openclaw-otel-js-peer");
}

const str = (v) => (typeof v === "string" ? v : v == null ? "" : String(v));
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
function content(text) {
  if (typeof text !== "string") return "";
  return text.length <= state.maxContent ? text : `${text.slice(0, state.maxContent)}…[truncated]`;
}
function contentText(value) {
  if (typeof value === "string") return content(value);
  if (!Array.isArray(value)) return "";
  return content(value.filter((p) => p?.type === "text").map((p) => p.text).join("\n"));
}
const messages = (role, text) => JSON.stringify([{ role, content: text }]);

function run(runId, ctx, ts) {
  let r = state.runs.get(runId);
  if (!r) {
    const sessionKey = str(ctx?.sessionKey);
    const agent = str(ctx?.agentId) || "main";
    const root = state.tracer.startSpan("message.process", {
      startTime: ts,
      attributes: {
        "mlflow.spanType": "AGENT",
        "session.id": sessionKey,
        "user.id": agent,
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": agent,
        "gen_ai.conversation.id": sessionKey,
        "mlflow.traceTag.openclaw.run_id": runId,
        "mlflow.traceTag.agent": agent,
      },
    });
    r = { root, parent: trace.setSpan(context.active(), root), calls: new Map(), tools: new Map(), lastCall: null };
    state.runs.set(runId, r);
  }
  return r;
}

const HANDLERS = {
  before_model_resolve(e, ctx) {
    const r = run(str(e.runId ?? ctx?.runId), ctx, Date.now());
    const prompt = content(e.prompt);
    if (prompt) r.root.setAttribute("mlflow.spanInputs", messages("user", prompt));
  },
  llm_input(e, ctx) {
    HANDLERS.before_model_resolve(e, ctx);
  },
  model_call_started(e) {
    const r = state.runs.get(str(e.runId));
    if (!r) return;
    const span = state.tracer.startSpan(
      `llm.${str(e.provider)}.${str(e.model)}`,
      {
        attributes: {
          "mlflow.spanType": "CHAT_MODEL",
          "gen_ai.operation.name": "chat",
          "gen_ai.request.model": str(e.model),
          "gen_ai.provider.name": str(e.provider),
        },
      },
      r.parent,
    );
    r.calls.set(str(e.callId), span);
  },
  model_call_ended(e) {
    const r = state.runs.get(str(e.runId));
    const span = r?.calls.get(str(e.callId));
    if (!span) return;
    if (e.outcome === "error") span.setStatus({ code: SpanStatusCode.ERROR, message: str(e.error) });
    r.lastCall = span; // its tokens and answer come with the assistant message just after
    r.calls.delete(str(e.callId));
    span.end();
  },
  before_message_write(e, ctx) {
    const m = e.message;
    if (m?.role !== "assistant") return;
    for (const r of state.runs.values()) {
      if (r.root.attributes["session.id"] !== str(ctx?.sessionKey) || !r.lastCall) continue;
      const u = m.usage ?? {};
      const c = u.cost ?? {};
      r.lastCall.setAttributes({
        "gen_ai.usage.input_tokens": num(u.input) ?? 0,
        "gen_ai.usage.output_tokens": num(u.output) ?? 0,
        "mlflow.chat.tokenUsage": JSON.stringify({
          input_tokens: num(u.input) ?? 0,
          output_tokens: num(u.output) ?? 0,
          total_tokens: num(u.totalTokens) ?? 0,
          cache_read_input_tokens: num(u.cacheRead) ?? 0,
          cache_creation_input_tokens: num(u.cacheWrite) ?? 0,
        }),
        "mlflow.llm.cost": JSON.stringify({
          input_cost: (num(c.input) ?? 0) + (num(c.cacheRead) ?? 0) + (num(c.cacheWrite) ?? 0),
          output_cost: num(c.output) ?? 0,
          total_cost: num(c.total) ?? 0,
        }),
        "mlflow.spanOutputs": messages("assistant", contentText(m.content)),
      });
      r.lastCall = null;
    }
  },
  before_tool_call(e, ctx) {
    const r = state.runs.get(str(e.runId ?? ctx?.runId));
    if (!r) return;
    const span = state.tracer.startSpan(
      `tool.${str(e.toolName)}`,
      {
        attributes: {
          "mlflow.spanType": "TOOL",
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.name": str(e.toolName),
          "gen_ai.tool.call.id": str(e.toolCallId),
          "mlflow.spanInputs": content(JSON.stringify(e.params ?? {})),
        },
      },
      r.parent,
    );
    r.tools.set(str(e.toolCallId), span);
  },
  after_tool_call(e, ctx) {
    const r = state.runs.get(str(e.runId ?? ctx?.runId));
    const span = r?.tools.get(str(e.toolCallId));
    if (!span) return;
    const result = e.result;
    span.setAttribute("mlflow.spanOutputs", Array.isArray(result?.content) ? contentText(result.content) : content(JSON.stringify(result ?? null)));
    if (e.error != null) span.setStatus({ code: SpanStatusCode.ERROR, message: str(e.error) });
    r.tools.delete(str(e.toolCallId));
    span.end();
  },
  agent_end(e, ctx) {
    const runId = str(e.runId ?? ctx?.runId);
    const r = state.runs.get(runId);
    if (!r) return;
    const msgs = Array.isArray(e.messages) ? e.messages : [];
    const last = msgs.findLast((m) => m?.role === "assistant");
    if (last) r.root.setAttribute("mlflow.spanOutputs", messages("assistant", contentText(last.content)));
    if (e.success === false) r.root.setStatus({ code: SpanStatusCode.ERROR, message: str(e.error) });
    else r.root.setStatus({ code: SpanStatusCode.OK });
    r.root.end();
    state.runs.delete(runId);
  },
};

export default {
  id: "otel-js-peer",
  name: "OpenTelemetry JS SDK peer (benchmark)",
  register(api) {
    for (const [name, handler] of Object.entries(HANDLERS)) {
      api.on(name, (event, ctx) => {
        try {
          start(api.pluginConfig ?? {});
          handler(event ?? {}, ctx);
        } catch {
          // a benchmark peer: never throw into the gateway
        }
      });
    }
    api.on("gateway_stop", () => state.provider?.shutdown().catch(() => {}));
  },
};
