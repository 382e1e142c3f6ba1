// The shipped package driven as the gateway drives it, with a recording's hook calls: for the golden
// test that the live path (index.js -> addon -> plugin) and `openclaw-host replay` make the same
// traces of the same hooks.
//
//   node tests/golden/drive_package.mjs PACKAGE_DIR RECORDING PLUGIN_CONFIG_JSON
//
// `register(api)` with an `api` shaped like OpenClaw's (registrationMode, rootDir, pluginConfig,
// config, logger, on), `gateway_start`, then each recorded hook call in order to the handler the
// package registered for it (payloads as recorded: the recorder's "[undefined]" back to undefined),
// then `gateway_stop`, awaited as OpenClaw awaits it. The package's log lines go to stderr.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, recording, configJson] = process.argv.slice(2);
if (!configJson) {
  console.error("usage: node tests/golden/drive_package.mjs PACKAGE_DIR RECORDING PLUGIN_CONFIG_JSON");
  process.exit(2);
}
const handlers = {};
const line = (level) => (text) => process.stderr.write(`${level}: ${text}\n`);
const api = {
  registrationMode: "full",
  rootDir: path.resolve(packageDir),
  pluginConfig: JSON.parse(configJson),
  config: { plugins: { entries: { mlflow: { hooks: { allowConversationAccess: true } } } } },
  logger: { info: line("info"), warn: line("warn"), error: line("error"), debug() {} },
  on(name, fn) {
    handlers[name] = fn;
  },
};
const plugin = (await import(pathToFileURL(path.join(packageDir, "index.js")).href)).default;
plugin.register(api);

const UNDEFINED = "[undefined]";
const restore = (v) => {
  if (v === UNDEFINED) return undefined;
  if (Array.isArray(v)) return v.map(restore);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, restore(x)]));
  return v;
};

handlers.gateway_start?.({}, {});
let driven = 0;
for (const text of fs.readFileSync(recording, "utf8").split("\n")) {
  if (!text) continue;
  const { hook, event, ctx } = JSON.parse(text);
  const handler = handlers[hook];
  if (!handler) continue;
  handler(restore(event ?? {}), restore(ctx ?? {}));
  driven += 1;
}
await handlers.gateway_stop?.({}, {});
console.log(JSON.stringify({ driven }));
