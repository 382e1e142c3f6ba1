// openclaw-mlflow: the gateway's side of the plugin. It registers OpenClaw's hooks and hands each
// one to the native host (native/openclaw-mlflow-host.node), which translates it and drives the
// stable-ABI plugins beside it (native/libopenclaw_mlflow.so): they copy the event and queue it;
// their own threads build the traces and send them.
//
// Hooks run on the gateway's only JavaScript thread, so every handler here is a hot path:
// - it picks the few fields the interface needs and passes strings and numbers (never a whole
//   payload, never JSON.stringify of one; llm_input's system prompt and tool list never cross);
// - content is cut (to maxContentBytes and a margin for redaction) before it crosses;
// - it never awaits, never blocks, never throws into the gateway (gateway_stop alone returns a
//   promise, which OpenClaw awaits for up to 5 s, the limit it is registered with, while its
//   thread goes on).
//
// OpenClaw calls register() several times per process, each time from a fresh copy of this
// package; the state below lives on globalThis so that there is one native host per process, and
// nothing starts (no MLflow run) until the first real hook: `openclaw plugins list`, `plugins
// inspect` and `config validate` register the plugin but never run a hook.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PLUGIN_ID = "mlflow";
const ADDON = "openclaw-mlflow-host.node";
const GATEWAY_STOP_TIMEOUT_MS = 5000; // OpenClaw's default for gateway_stop from 2026.8.1; 2026.7 has none
const SHUTDOWN_BUDGET_MS = 4500; // inside that
const EXIT_BUDGET_MS = 5000;
const MARKER = "…[truncated by openclaw-mlflow: ";

const STATE = Symbol.for("openclaw-mlflow.host");
const state = (globalThis[STATE] ??= {
  addon: null, // the native host, once started
  phase: "idle", // idle -> started | failed -> stopped
  api: null, // the latest registration's api (logger, config)
  capture: true,
  maxContent: 8192,
  warnedAccess: false,
  exitHooked: false,
  reported: new Set(),
});

// ---- logging: through the gateway's logger, so `grep -i mlflow` on its log finds our lines ----

function log(level, line) {
  try {
    const logger = state.api?.logger;
    const write = logger?.[level] ?? logger?.info;
    if (write) write.call(logger, line);
    else process.stderr.write(`[mlflow] ${level}: ${line}\n`);
  } catch {
    // a logger that throws must not take the hook down with it
  }
}

function drainLogs() {
  if (!state.addon) return;
  const lines = state.addon.drainLogs();
  for (let i = 0; i + 1 < lines.length; i += 2) log(lines[i], lines[i + 1]);
}

/// One line per kind of failure, however often it happens.
function reportOnce(what, error) {
  if (state.reported.has(what)) return;
  state.reported.add(what);
  log("error", `MLflow: ${what} failed and is skipped from now on where it repeats: ${error?.stack ?? error}`);
}

// ---- start, once per process, at the first real hook ----

function settingsJson(api) {
  // The same rule as openclaw-host: each plugin library starts with plugins.entries.<id>.config
  // when its `enabled` is true. Ours is enabled by default here: installing and enabling the
  // package (plugins.entries.mlflow.enabled) is the gateway's switch.
  const entries = {};
  for (const [id, entry] of Object.entries(api.config?.plugins?.entries ?? {})) {
    if (entry && typeof entry === "object") entries[id] = { enabled: entry.enabled, config: entry.config, hooks: entry.hooks };
  }
  entries[PLUGIN_ID] = { ...entries[PLUGIN_ID], enabled: true, config: { enabled: true, ...(api.pluginConfig ?? {}) } };
  return JSON.stringify({ plugins: { entries } });
}

function logLevel(api) {
  const level = process.env.OPENCLAW_LOG_LEVEL || api.config?.logging?.level || "info";
  return String(level).toLowerCase();
}

function nativeDir(api) {
  // api.rootDir names the installed folder, the same for every registration, so every copy of
  // this file requires the very same addon (Node caches it by path): one native host per process.
  const root = api.rootDir || path.dirname(fileURLToPath(import.meta.url));
  return path.join(root, "native");
}

function started() {
  if (state.phase === "started") return true;
  if (state.phase !== "idle" || !state.api) return false;
  const api = state.api;
  // Loading the addon happens once, on the gateway's thread (the plugins start on the addon's own):
  // said in the log, so it can be checked.
  const began = performance.now();
  try {
    const dir = nativeDir(api);
    const addon = createRequire(import.meta.url)(path.join(dir, ADDON));
    const loaded = performance.now();
    const config = api.pluginConfig ?? {};
    state.capture = config.captureContent !== false;
    state.maxContent = Number.isInteger(config.maxContentBytes) ? config.maxContentBytes : 8192;
    state.addon = addon;
    addon.start(dir, settingsJson(api), logLevel(api), drainLogs);
    state.phase = "started";
    drainLogs();
    const [load, start] = [loaded - began, performance.now() - loaded].map((ms) => ms.toFixed(1));
    log("info", `MLflow host starting (on the gateway's thread: addon loaded in ${load} ms, start handed off in ${start} ms)`);
    hookExit();
    return true;
  } catch (error) {
    state.phase = "failed";
    drainLogs();
    log("error", `MLflow: the native host could not start, so no turn is traced: ${error?.message ?? error}`);
    return false;
  }
}

// A one-shot `openclaw agent --local` ends with the process, without gateway_stop: send what is
// left before the process goes (blocking is all that is possible in `exit`).
function hookExit() {
  if (state.exitHooked) return;
  state.exitHooked = true;
  // One listener more than the gateway's own: raise the limit by exactly that, not a warning.
  process.setMaxListeners(process.getMaxListeners() + 1);
  process.once("exit", () => {
    if (state.phase !== "started") return;
    state.phase = "stopped";
    try {
      const left = state.addon.shutdownSync(EXIT_BUDGET_MS);
      drainLogs();
      if (left) log("warn", `MLflow: at exit, not sent: ${left}`);
    } catch (error) {
      process.stderr.write(`[mlflow] shutdown at exit failed: ${error}\n`);
    }
  });
}

function stopAtGatewayStop() {
  if (state.phase !== "started") return undefined;
  state.phase = "stopped";
  try {
    return state.addon
      .shutdown(SHUTDOWN_BUDGET_MS)
      .then((left) => {
        drainLogs();
        if (left) log("warn", `MLflow: at gateway stop, not sent: ${left}`);
      })
      .catch((error) => log("error", `MLflow: shutdown failed: ${error?.message ?? error}`));
  } catch (error) {
    reportOnce("shutdown", error);
    return undefined;
  }
}

// ---- picking fields: strings and numbers only ----

/// The most an id, name or label keeps: cut here, so that a huge one costs this thread nothing
/// to pass on (the plugin keeps as much: MAX_LABEL_BYTES).
const LABEL_MAX = 1024;

/// An id, name or label, cut to LABEL_MAX.
function str(value) {
  const whole = asText(value);
  return whole.length > LABEL_MAX ? whole.slice(0, LABEL_MAX) : whole;
}

/// A value as text, whole (errors: content() cuts them under the content rules).
function asText(value) {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  if (typeof value === "object" && typeof value.message === "string") return value.message;
  return String(value);
}

function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/// What content keeps here beyond maxContentBytes: the plugin redacts secrets first and then cuts
/// to maxContentBytes, so a secret across the cut is redacted whole (its REDACTION_MARGIN).
const REDACTION_MARGIN = 8192;

/// How much of a text crosses into native code (UTF-16 units here; the plugin cuts exact bytes).
function keep() {
  return state.maxContent + REDACTION_MARGIN;
}

/// Content cut to keep() with a marker giving the full length; "" when content capture is off.
function content(text) {
  if (!state.capture || typeof text !== "string") return "";
  if (text.length <= keep()) return text;
  return `${text.slice(0, keep())}${MARKER}${text.length} characters in all]`;
}

/// An error's text under the content rules (it often quotes the input). Without content capture
/// only that there was one crosses: the translator reads a non-empty reply error as a failed call
/// (and the plugin exports no error text then).
function errorText(value) {
  const text = asText(value);
  if (!text) return "";
  return state.capture ? content(text) : "(error text not captured)";
}

/// Text of a message's content: a string, or the text parts of a content array.
function contentText(value) {
  if (typeof value === "string") return content(value);
  if (!Array.isArray(value)) return "";
  let text = "";
  for (const part of value) {
    if (part && part.type === "text" && typeof part.text === "string") {
      text = text ? `${text}\n${part.text}` : part.text;
      if (text.length > keep()) break;
    }
  }
  return content(text);
}

/// JSON text of a tool's parameters, costing no more than the budget allows: small values (the
/// common case) go through JSON.stringify; large ones are shrunk first (long strings cut, long
/// arrays and deep nesting elided), so a 200 KB `write` costs what an 8 KB one does.
function boundedJson(value) {
  if (!state.capture || value === undefined) return "";
  if (typeof value === "string") return content(value);
  try {
    const json = fitsBudget(value, keep(), 0) ? JSON.stringify(value) : JSON.stringify(shrink(value, 0));
    return content(json ?? "");
  } catch {
    return "";
  }
}

function fitsBudget(value, budget, depth) {
  let left = budget;
  const walk = (v, d) => {
    if (left < 0 || d > 16) return false;
    if (typeof v === "string") left -= v.length + 2;
    else if (v === null || typeof v !== "object") left -= 8;
    else if (Array.isArray(v)) {
      left -= 2;
      for (const x of v) if (!walk(x, d + 1)) return false;
    } else {
      left -= 2;
      for (const k in v) {
        left -= k.length + 3;
        if (!walk(v[k], d + 1)) return false;
      }
    }
    return left >= 0;
  };
  return walk(value, depth);
}

function shrink(value, depth) {
  const cap = keep();
  if (typeof value === "string") return value.length > cap ? value.slice(0, cap) : value;
  if (value === null || typeof value !== "object") return value;
  if (depth > 8) return "…";
  if (Array.isArray(value)) return value.slice(0, 64).map((x) => shrink(x, depth + 1));
  const out = {};
  let n = 0;
  for (const k in value) {
    if (++n > 64) break;
    out[k] = shrink(value[k], depth + 1);
  }
  return out;
}

function toolResultText(result) {
  if (result && Array.isArray(result.content)) return contentText(result.content);
  return typeof result === "string" ? content(result) : boundedJson(result);
}

function lastAssistant(messages) {
  if (!Array.isArray(messages)) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === "assistant") return messages[i];
  }
  return undefined;
}

const NO_USAGE = [];
function usageOf(u) {
  if (!u || typeof u !== "object") return NO_USAGE;
  const input = num(u.input) ?? 0;
  const output = num(u.output) ?? 0;
  const cacheRead = num(u.cacheRead) ?? 0;
  const cacheWrite = num(u.cacheWrite) ?? 0;
  const total = num(u.totalTokens) ?? num(u.total) ?? input + output + cacheRead + cacheWrite;
  return [input, output, cacheRead, cacheWrite, total];
}

function costOf(c) {
  if (!c || typeof c !== "object") return NO_USAGE;
  return [num(c.input) ?? 0, num(c.output) ?? 0, num(c.cacheRead) ?? 0, num(c.cacheWrite) ?? 0, num(c.total) ?? 0];
}

// ---- the hooks ----

function runStarted(event, ctx) {
  state.addon.runStarted(
    Date.now(),
    str(event?.runId ?? ctx?.runId),
    str(ctx?.sessionKey ?? event?.sessionKey),
    str(ctx?.sessionId ?? event?.sessionId),
    str(ctx?.agentId),
    str(ctx?.channel ?? ctx?.messageProvider),
    str(ctx?.trigger),
    content(event?.prompt ?? event?.cleanedBody),
  );
}

const HANDLERS = {
  gateway_start: () => void started(),
  message_received: (event, ctx) => state.addon.messageReceived(Date.now(), str(ctx?.sessionKey ?? event?.sessionKey)),
  before_model_resolve: runStarted,
  llm_input: runStarted,
  model_call_started: (e) =>
    state.addon.modelCallStarted(Date.now(), str(e.runId), str(e.sessionKey), str(e.sessionId), str(e.callId), str(e.provider), str(e.model)),
  model_call_ended: (e) =>
    state.addon.modelCallEnded(
      Date.now(),
      str(e.runId),
      str(e.sessionKey),
      str(e.sessionId),
      str(e.callId),
      str(e.provider),
      str(e.model),
      e.outcome === "error",
      // The error's text arrives on the assistant message just after (errorCategory is only "Error").
      errorText(e.error ?? e.errorMessage),
      num(e.durationMs),
    ),
  before_message_write: (event, ctx) => {
    const m = event?.message;
    if (!m || m.role !== "assistant") return;
    state.addon.assistantMessage(
      Date.now(),
      str(ctx?.sessionKey),
      usageOf(m.usage),
      costOf(m.usage?.cost),
      contentText(m.content),
      errorText(m.errorMessage),
    );
  },
  before_tool_call: (e, ctx) =>
    state.addon.toolCallStarted(
      Date.now(),
      str(e.runId ?? ctx?.runId),
      str(ctx?.sessionKey),
      str(ctx?.sessionId),
      str(ctx?.agentId),
      str(e.toolCallId ?? ctx?.toolCallId),
      str(e.toolName ?? ctx?.toolName),
      boundedJson(e.params),
    ),
  after_tool_call: (e, ctx) =>
    state.addon.toolCallEnded(
      Date.now(),
      str(e.runId ?? ctx?.runId),
      str(ctx?.sessionKey),
      str(ctx?.sessionId),
      str(ctx?.agentId),
      str(e.toolCallId ?? ctx?.toolCallId),
      str(e.toolName ?? ctx?.toolName),
      e.error != null || e.result?.isError === true,
      errorText(e.error),
      num(e.durationMs),
      toolResultText(e.result),
    ),
  agent_end: (e, ctx) => {
    // A turn whose last model reply is an error failed (a 429, a 500...), though OpenClaw reports
    // `success: true`; the reply carries the error's text.
    const last = lastAssistant(e.messages);
    const failedReply = last?.stopReason === "error";
    state.addon.agentEnded(
      Date.now(),
      str(e.runId ?? ctx?.runId),
      str(ctx?.sessionKey),
      str(ctx?.sessionId),
      str(ctx?.agentId),
      e.success !== false && !failedReply,
      errorText(e.error ?? (failedReply ? last.errorMessage : "")),
      num(e.durationMs),
      last ? contentText(last.content) : "",
    );
  },
  session_start: (e, ctx) =>
    state.addon.sessionStarted(Date.now(), str(e.sessionKey ?? ctx?.sessionKey), str(e.sessionId ?? ctx?.sessionId), str(ctx?.agentId), str(e.resumedFrom)),
  session_end: (e, ctx) =>
    state.addon.sessionEnded(
      Date.now(),
      str(e.sessionKey ?? ctx?.sessionKey),
      str(e.sessionId ?? ctx?.sessionId),
      str(ctx?.agentId),
      str(e.reason),
      num(e.messageCount),
      num(e.durationMs),
    ),
  subagent_spawned: (e, ctx) =>
    state.addon.subagentSpawned(
      Date.now(),
      str(e.runId ?? ctx?.runId),
      str(ctx?.requesterSessionKey),
      str(e.childSessionKey ?? ctx?.childSessionKey),
      str(e.agentId),
      str(e.label),
      str(e.resolvedModel),
    ),
  subagent_ended: (e, ctx) =>
    state.addon.subagentEnded(
      Date.now(),
      str(e.runId ?? ctx?.runId),
      str(ctx?.requesterSessionKey),
      str(e.targetSessionKey),
      str(e.outcome),
      errorText(e.error),
    ),
};

function guarded(name, handler) {
  // Returns nothing (undefined) whatever happens: modifying and gating hooks must see no result.
  return (event, ctx) => {
    try {
      if (state.phase === "started" || started()) handler(event ?? {}, ctx);
    } catch (error) {
      reportOnce(`the ${name} hook`, error);
    }
  };
}

function warnWithoutConversationAccess(api) {
  if (state.warnedAccess) return;
  const hooks = api.config?.plugins?.entries?.[PLUGIN_ID]?.hooks;
  if (hooks?.allowConversationAccess === true) return;
  state.warnedAccess = true;
  log(
    "warn",
    "MLflow: plugins.entries.mlflow.hooks.allowConversationAccess is not true, so OpenClaw blocks the hooks that start and end a turn (llm_input, before_model_resolve, agent_end) and turns cannot be traced; set plugins.entries.mlflow.hooks.allowConversationAccess: true in openclaw.json",
  );
}

// ---- `openclaw mlflow doctor` and `openclaw mlflow spool`: in a CLI process of its own ----

const CLI_ROOT = {
  name: "mlflow",
  description: "MLflow tracing of agent turns: troubleshooting (doctor) and the spool",
  hasSubcommands: true,
};

function registerCommands(api, program) {
  const root = program.command("mlflow").description(CLI_ROOT.description);
  root
    .command("doctor")
    .description("Check the MLflow plugin's setup: settings, server, credentials, experiment, a test trace")
    .option("--json", "print the report as JSON, for scripts")
    .action(async (options) => {
      const addon = createRequire(import.meta.url)(path.join(nativeDir(api), ADDON));
      const report = await addon.doctor(nativeDir(api), settingsJson(api));
      process.stdout.write(options.json ? `${report.json}\n` : report.text);
      process.exitCode = report.ok ? 0 : 1;
    });
  const spool = root
    .command("spool")
    .description("What waits in the spool and for which experiment; move it to this experiment or discard it");
  const runSpool = (words) => async () => {
    const addon = createRequire(import.meta.url)(path.join(nativeDir(api), ADDON));
    try {
      process.stdout.write(`${await addon.command(nativeDir(api), settingsJson(api), ["spool", ...words])}\n`);
    } catch (error) {
      process.stderr.write(`${error?.message ?? error}\n`);
      process.exitCode = 1;
    }
  };
  spool.command("list", { isDefault: true }).description("what waits, and for which experiment").action(runSpool(["list"]));
  spool
    .command("move")
    .description("what waits for other experiments (or --experiment's) is sent to this one at the next start")
    .option("--experiment <nameOrId>", "only what waits for this experiment")
    .action((options) => runSpool(["move", ...(options.experiment ? ["--experiment", options.experiment] : [])])());
  spool
    .command("discard")
    .description("delete what waits for another experiment (--experiment NAME|ID, or --all)")
    .option("--experiment <nameOrId>", "what waits for this experiment")
    .option("--all", "what waits for every other experiment")
    .action((options) =>
      runSpool(["discard", ...(options.experiment ? ["--experiment", options.experiment] : []), ...(options.all ? ["--all"] : [])])(),
    );
}

export default {
  id: PLUGIN_ID,
  name: "MLflow",
  description: "Every agent turn into MLflow, in native code",
  register(api) {
    state.api = api;
    if (api.registrationMode === "full" || api.registrationMode === undefined) warnWithoutConversationAccess(api);
    for (const [name, handler] of Object.entries(HANDLERS)) api.on(name, guarded(name, handler));
    api.on("gateway_stop", () => stopAtGatewayStop(), { timeoutMs: GATEWAY_STOP_TIMEOUT_MS });
    api.registerCli?.(({ program }) => registerCommands(api, program), { descriptors: [CLI_ROOT] });
  },
};
