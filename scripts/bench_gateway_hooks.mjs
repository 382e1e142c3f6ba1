// An OpenClaw plugin package's cost on a Node 24 JavaScript thread, as the gateway runs it: the
// package's index.js is registered as the gateway would (`register(api)`, `api.on(...)`), then
// driven with the payloads of a real OpenClaw turn (tests/fixtures hooks.jsonl, llm_input's system
// prompt grown back to a real 200 KB), each turn with its own run id, timed around each handler.
//
//   node scripts/bench_gateway_hooks.mjs PACKAGE_DIR RECORDING PLUGIN_CONFIG_JSON TURNS WARMUP [--wait]
//
// The first WARMUP turns are timed apart ("cold": V8 has not optimised the handlers yet, a fresh
// gateway's first turns); the next TURNS are the steady state. Run back to back, as fast as the
// thread goes. With --wait, after the last turn it prints `SENT {...}` and waits for a line on
// stdin (the driver's word that every trace is in MLflow) before reading the CPU it used, so the
// CPU per turn (over all WARMUP + TURNS turns) includes the export work the plugin does on this
// thread, and the time from the first turn to that word is the end-to-end time. Then it stops the plugin
// as gateway_stop does and prints one JSON object.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const [packageDir, recording, configJson, turnsArg, warmupArg, waitFlag] = process.argv.slice(2);
const TURNS = Number(turnsArg ?? 2000);
const WARMUP = Number(warmupArg ?? 0);
const handlers = {};
const api = {
  registrationMode: "full",
  rootDir: path.resolve(packageDir),
  pluginConfig: JSON.parse(configJson),
  config: { plugins: { entries: { mlflow: { hooks: { allowConversationAccess: true } } } } },
  logger: { info() {}, warn() {}, error: (line) => process.stderr.write(`${line}\n`), debug() {} },
  on(name, fn) {
    handlers[name] = fn;
  },
};
const plugin = (await import(pathToFileURL(path.join(packageDir, "index.js")).href)).default;
plugin.register(api);

// One turn of the recording (its first run: two model calls, one tool call), in order.
const lines = fs.readFileSync(recording, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const firstRun = lines.find((l) => l.hook === "llm_input").event.runId;
const turnEnd = lines.find((x) => x.hook === "agent_end" && x.event.runId === firstRun).ts;
const undef = (v) => (v === "[undefined]" ? undefined : v && typeof v === "object" && !Array.isArray(v) ? clean(v) : v);
const clean = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, undef(v)]));
const ofFirstRun = (l) =>
  l.ctx?.runId === firstRun || l.event?.runId === firstRun || (l.hook === "before_message_write" && l.ctx?.sessionKey === "agent:main:main");
const turn = lines
  .filter((l) => handlers[l.hook] && ofFirstRun(l) && l.ts <= turnEnd)
  .map((l) => [l.hook, clean(l.event ?? {}), clean(l.ctx ?? {})]);
for (const [hook, event] of turn) {
  if (hook === "llm_input") event.systemPrompt = event.systemPrompt.padEnd(200 * 1024, " tool and policy text.");
}
const sizes = Object.fromEntries(turn.map(([h, e]) => [h, JSON.stringify(e).length]));

// CPU time of this (the JavaScript) thread and of the whole process, in ms.
const TICK_MS = 10; // USER_HZ is 100 on Linux
function threadCpuMs() {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

handlers.gateway_start?.({}, {});
const stamp = `${process.pid}-${Date.now()}`;
function drive(from, count, samples) {
  for (let i = from; i < from + count; i++) {
    const runId = `bench-${stamp}-${i}`;
    const sessionKey = `agent:main:bench-${i % 8}`; // eight conversations interleaved
    for (const [hook, event, ctx] of turn) {
      const e = { ...event };
      if (e.runId) e.runId = runId;
      if (e.callId) e.callId = e.callId.replace(firstRun, runId);
      if (e.sessionKey) e.sessionKey = sessionKey;
      const c = { ...ctx, sessionKey };
      if (c.runId) c.runId = runId;
      const start = process.hrtime.bigint();
      handlers[hook](e, c);
      const ns = Number(process.hrtime.bigint() - start);
      (samples[hook] ??= []).push(ns);
    }
  }
}

function summary(samples, turns) {
  const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  const perHook = {};
  let perTurnUs = 0;
  for (const [hook, ns] of Object.entries(samples)) {
    ns.sort((a, b) => a - b);
    const mean = ns.reduce((a, b) => a + b, 0) / ns.length / 1000;
    perHook[hook] = {
      calls: ns.length,
      payload_bytes: sizes[hook],
      p50_us: pct(ns, 50) / 1000,
      p99_us: pct(ns, 99) / 1000,
      max_us: ns[ns.length - 1] / 1000,
      mean_us: mean,
    };
    perTurnUs += (mean * ns.length) / turns;
  }
  return { turns, handler_us_per_turn: perTurnUs, per_hook: perHook };
}

const cpu0 = { thread: threadCpuMs(), process: processCpuMs() };
const t0 = Date.now();
const cold = {};
drive(0, WARMUP, cold);
const steady = {};
drive(WARMUP, TURNS, steady);
const sentMs = Date.now() - t0;
let landedMs = null;
if (waitFlag === "--wait") {
  // Yield to the event loop while waiting (a JavaScript exporter sends from this thread).
  console.log(`SENT ${JSON.stringify({ turns: WARMUP + TURNS, sent_ms: sentMs })}`);
  const input = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => input.once("line", resolve));
  input.close();
  landedMs = Date.now() - t0;
}
const cpu = { thread: threadCpuMs() - cpu0.thread, process: processCpuMs() - cpu0.process };
const all = WARMUP + TURNS;
// As the gateway stops a plugin: gateway_stop, awaited for at most 5 s.
try {
  await Promise.race([handlers.gateway_stop?.({}, {}), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
} catch (error) {
  process.stderr.write(`gateway_stop: ${error?.message ?? error}\n`);
}

console.log(
  JSON.stringify({
    hooks_per_turn: turn.length,
    cold: WARMUP ? summary(cold, WARMUP) : null,
    steady: summary(steady, TURNS),
    turns: all,
    sent_ms: sentMs,
    landed_ms: landedMs,
    js_thread_cpu_ms_per_turn: cpu.thread / all,
    process_cpu_ms_per_turn: cpu.process / all,
  }),
);
process.exit(0); // whatever the plugin still has in flight
