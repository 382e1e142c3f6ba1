// `make screenshots`: the README's pictures of MLflow's UI, taken from the demo's experiment in
// headless Chromium, so that they can be taken again after an MLflow upgrade.
//   node ui/screenshots.mjs <tracking uri> <experiment name> <output directory>
import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  closeTrace, experimentId, filterBy, openBrowser, openTrace, openTraces, resizeColumn, runs, selectSpan, setColumns, tracesTable,
} from "./mlflow_ui.mjs";

// Turns of the demo's built-in scenario (host-harness/src/demo.rs) the pictures show.
const TURN_WITH_MODEL_CALLS = "Research the history of the Eiffel Tower";
const FAILED_TURN = "Compare the battery life";
const SESSION = "agent:main:main";

const [uri, experimentName, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node ui/screenshots.mjs <tracking uri> <experiment name> <output directory>");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const experiment = await experimentId(uri, experimentName);

const { browser, page } = await openBrowser();
const shot = async (name, what) => {
  const file = path.join(outDir, name);
  await page.screenshot({ path: file });
  console.log(`screenshots: ${file}: ${what}`);
};
try {
  await openTraces(page, uri, experiment);
  await setColumns(page, { User: true, Cost: true, model: true, Output: false, Tags: false });
  await resizeColumn(page, "Input", -100);
  await resizeColumn(page, "User", -80);
  await resizeColumn(page, "Session", 120);
  await shot("traces-tab.png", "the Traces tab with the User, Cost and model columns on");

  let view = await openTrace(page, TURN_WITH_MODEL_CALLS);
  await selectSpan(view, /^llm\./);
  await shot("trace-model-span.png", "a turn's span tree, a model span's tokens and cost");
  await view.getByRole("tab", { name: /^Inputs/ }).first().click();
  await view.getByText("Tool calls").first().waitFor();
  await shot("model-span-conversation.png", "a model span's Inputs / Outputs: the conversation it received and the tool it asked for");
  await closeTrace(page);

  view = await openTrace(page, FAILED_TURN);
  await view.getByText("exception.message").waitFor();
  await shot("failed-message.png", "a failed message: its error text in the Events tab");
  await closeTrace(page);

  await filterBy(page, "Session", SESSION);
  const shown = (await tracesTable(page)).length;
  await shot("session-filter.png", `Filters -> Session = ${SESSION} (${shown} traces)`);

  await page.goto(`${uri}/#/experiments/${experiment}`);
  await page.getByText("Token Usage").first().waitFor();
  await page.getByText("Total Cost").first().waitFor();
  await shot("overview.png", "the experiment's Overview: traces, latency, errors, tokens and cost over time");

  // The run with the most metrics: the built-in scenario's (several models, an error outcome).
  const run = (await runs(uri, experiment)).sort((a, b) => (b.data.metrics?.length ?? 0) - (a.data.metrics?.length ?? 0))[0];
  if (!run) throw new Error(`experiment ${experimentName} has no run: were the demo's metrics logged?`);
  await page.goto(`${uri}/#/experiments/${experiment}/runs/${run.info.run_id}/model-metrics`);
  await page.getByText("cost.usd").first().waitFor();
  await shot("run-metrics.png", `the run "${run.info.run_name}": its metric charts`);
} catch (e) {
  // What the browser showed when a step failed: the first thing to look at after an MLflow upgrade.
  await page.screenshot({ path: path.join(outDir, "failed-step.png") }).catch(() => {});
  console.error(`screenshots: a step failed; the page at that moment: ${path.join(outDir, "failed-step.png")}`);
  throw e;
} finally {
  await browser.close();
}
