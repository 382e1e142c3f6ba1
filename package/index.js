// openclaw-mlflow: the gateway's side of the plugin. It registers OpenClaw's hooks and hands each
// one to the native host (native/openclaw-mlflow-host.node), which translates it and drives the
// stable-ABI plugins beside it (native/libopenclaw_mlflow.so): they copy the event and queue it;
// their own threads build the traces and send them.
//
// Hooks run on the gateway's only JavaScript thread, so every handler here is a hot path:
// - it hands the payload to the native host by reference (never JSON.stringify of one), which reads
//   the few fields it needs, content cut to maxContentBytes and a margin for redaction;
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

const STATE = Symbol.for("openclaw-mlflow.host");
const state = (globalThis[STATE] ??= {
  addon: null, // the native host, once started
  phase: "idle", // idle -> started | failed; started -> stopped -> (gateway_start) started
  api: null, // the latest registration's api (logger, config)
  startedWith: null, // the settings (JSON) the native host was last started with
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

function startIfIdle() {
  if (state.phase === "started") return true;
  if (state.phase !== "idle" || !state.api) return false;
  return start();
}

// A gateway restarted in place (gateway_stop, then gateway_start in one process) starts the plugins
// again, with the configuration of the moment. Only gateway_start does: the hooks that follow a
// stop (session_end per open session) must not.
function restartIfStopped(why = "with the gateway") {
  if (state.phase !== "stopped" || !state.addon || !state.api) return startIfIdle();
  try {
    handOver(state.addon, nativeDir(state.api), state.api);
    log("info", `MLflow host restarting ${why}`);
    return true;
  } catch (error) {
    return failedTo("restart", error);
  }
}

// An edit under plugins.entries reloads the plugins in the running gateway. OpenClaw 2026.9 stops
// and starts them (gateway_stop, gateway_start); 2026.7 only registers them again, with the edited
// settings. Then the host stops and starts again here: the stop flushes what the old settings
// accepted, and the hooks that follow wait, in order, for the new start.
function restartIfEdited() {
  if (state.phase !== "started" || state.startedWith === settingsJson(state.api)) return;
  stopAtGatewayStop();
  restartIfStopped("with the edited settings (plugins.entries)");
}

// The plugins start on the addon's own thread: this only hands the settings over.
function handOver(addon, dir, api) {
  const settings = settingsJson(api);
  addon.start(dir, settings, logLevel(api), drainLogs);
  state.startedWith = settings;
  state.phase = "started";
  drainLogs();
}

function failedTo(what, error) {
  state.phase = "failed";
  drainLogs();
  log("error", `MLflow: the native host could not ${what}, so no turn is traced: ${error?.message ?? error}`);
  return false;
}

function start() {
  const api = state.api;
  // Loading the addon happens once, on the gateway's thread (the plugins start on the addon's own):
  // said in the log, so it can be checked.
  const began = performance.now();
  try {
    const dir = nativeDir(api);
    const addon = createRequire(import.meta.url)(path.join(dir, ADDON));
    const loaded = performance.now();
    state.addon = addon;
    handOver(addon, dir, api);
    const [load, start] = [loaded - began, performance.now() - loaded].map((ms) => ms.toFixed(1));
    log("info", `MLflow host starting (on the gateway's thread: addon loaded in ${load} ms, start handed off in ${start} ms)`);
    hookExit();
    return true;
  } catch (error) {
    return failedTo("start", error);
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

// ---- the hooks: each handed whole to the native host, which reads the few fields it needs ----

// Which fields of which hook become which part of a trace is decided once, in native code
// (plugin-host's openclaw::payload), for this live path and for `openclaw-host replay` alike. It
// reads a field at a time and copies strings only up to the content budget, so a payload's size
// (llm_input's 100-220 KB) costs nothing here.
const TRACED_HOOKS = [
  "message_received",
  "before_model_resolve",
  "llm_input",
  "model_call_started",
  "model_call_ended",
  "before_message_write",
  "before_tool_call",
  "after_tool_call",
  "agent_end",
  "session_start",
  "session_end",
  "subagent_spawned",
  "subagent_ended",
];

function traced(name) {
  // Returns nothing (undefined) whatever happens: modifying and gating hooks must see no result.
  return (event, ctx) => {
    try {
      if (state.phase === "started" || startIfIdle()) state.addon.hook(name, Date.now(), event, ctx);
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
    if (api.registrationMode === "full" || api.registrationMode === undefined) {
      warnWithoutConversationAccess(api);
      restartIfEdited();
    }
    api.on("gateway_start", () => void restartIfStopped());
    for (const name of TRACED_HOOKS) api.on(name, traced(name));
    api.on("gateway_stop", () => stopAtGatewayStop(), { timeoutMs: GATEWAY_STOP_TIMEOUT_MS });
    api.registerCli?.(({ program }) => registerCommands(api, program), { descriptors: [CLI_ROOT] });
  },
};
