// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, which the Makefile
// installs into .cache/ui (browser downloads are not possible here, so Playwright never fetches one).
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CHROMIUM = process.env.OPENCLAW_UI_CHROMIUM || "/usr/bin/chromium";
const MODULES = process.env.OPENCLAW_UI_MODULES || path.join(root, ".cache", "ui");

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: run 'make browser' (installs Debian's chromium) or set OPENCLAW_UI_CHROMIUM`);
  }
  let chromium;
  try {
    ({ chromium } = createRequire(path.join(MODULES, "package.json"))("playwright-core"));
  } catch (e) {
    throw new Error(`playwright-core is not installed in ${MODULES}: run 'make browser' (${e.message})`);
  }
  // The flags keep Chromium off the network it cannot reach here (background fetches, updates).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
