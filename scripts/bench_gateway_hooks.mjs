// Per-hook cost of the package's handlers on a Node 24 JavaScript thread: the packaged index.js and
// its native addon, driven with the payloads of a real OpenClaw turn (tests/fixtures hooks.jsonl, with
// llm_input's system prompt grown back to a real 200 KB), timed around each handler call.
//
//   node scripts/bench_gateway_hooks.mjs PACKAGE_DIR RECORDING MLFLOW_URI [TURNS]
//
// This is the handler and the addon call, as the gateway runs them, outside the gateway process
// (which adds its own load on the same thread, not ours). Prints one JSON object.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, recording, mlflowUri, turnsArg] = process.argv.slice(2);
const TURNS = Number(turnsArg ?? 2000);
const handlers = {};
const api = {
  registrationMode: "full",
  rootDir: path.resolve(packageDir),
  pluginConfig: { trackingUri: mlflowUri, experimentName: "bench-gateway-hooks", flushIntervalMs: 1000 },
  config: { plugins: { entries: { mlflow: { hooks: { allowConversationAccess: true } } } } },
  logger: { info() {}, warn() {}, error() {}, debug() {} },
  on(name, fn) {
    handlers[name] = fn;
  },
};
const plugin = (await import(pathToFileURL(path.join(packageDir, "index.js")).href)).default;
plugin.register(api);

// One local turn of the recording (the first run), in order, as [hook, event, ctx].
const lines = fs.readFileSync(recording, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const firstRun = lines.find((l) => l.hook === "llm_input").event.runId;
const undef = (v) => (v === "[undefined]" ? undefined : v && typeof v === "object" && !Array.isArray(v) ? clean(v) : v);
const clean = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, undef(v)]));
const turn = lines
  .filter((l) => handlers[l.hook] && (l.ctx?.runId === firstRun || l.event?.runId === firstRun || (l.hook === "before_message_write" && l.ctx?.sessionKey === "agent:main:main")))
  .filter((l) => l.ts <= lines.find((x) => x.hook === "agent_end" && x.event.runId === firstRun).ts)
  .map((l) => [l.hook, clean(l.event ?? {}), clean(l.ctx ?? {})]);
for (const [hook, event] of turn) {
  if (hook === "llm_input") event.systemPrompt = event.systemPrompt.padEnd(200 * 1024, " tool and policy text.");
}
const sizes = Object.fromEntries(turn.map(([h, e]) => [h, JSON.stringify(e).length]));

handlers.gateway_start?.({}, {});
const samples = {};
const t0 = process.hrtime.bigint();
for (let i = 0; i < TURNS; i++) {
  const runId = `bench-${i}`;
  for (const [hook, event, ctx] of turn) {
    const e = event.runId ? { ...event, runId, callId: event.callId && event.callId.replace(firstRun, runId) } : event;
    const c = ctx.runId ? { ...ctx, runId } : ctx;
    const start = process.hrtime.bigint();
    handlers[hook](e, c);
    const ns = Number(process.hrtime.bigint() - start);
    (samples[hook] ??= []).push(ns);
  }
}
const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
await handlers.gateway_stop?.({}, {});

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const perHook = {};
for (const [hook, ns] of Object.entries(samples)) {
  ns.sort((a, b) => a - b);
  perHook[hook] = {
    calls: ns.length,
    payload_bytes: sizes[hook],
    p50_us: pct(ns, 50) / 1000,
    p99_us: pct(ns, 99) / 1000,
    max_us: ns[ns.length - 1] / 1000,
    mean_us: ns.reduce((a, b) => a + b, 0) / ns.length / 1000,
  };
}
const perTurnUs = Object.values(perHook).reduce((sum, h) => sum + (h.mean_us * h.calls) / TURNS, 0);
console.log(JSON.stringify({ turns: TURNS, hooks_per_turn: turn.length, elapsed_ms: elapsedMs, per_turn_us: perTurnUs, per_hook: perHook }));
