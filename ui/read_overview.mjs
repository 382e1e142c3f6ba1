// What an operator reads on one sub-tab of an experiment's Overview (MLflow 3.17: the experiment's
// first page, with the tabs Usage, Quality and Tool calls), for the browser tests: the tab's text
// once it shows each of the given texts (its charts fetch their data after the tab renders).
//   node ui/read_overview.mjs <tracking uri> <experiment id> <tab> [<text it shows>...]
// Prints one JSON object: { "text": "..." }, one line per element.
import { openBrowser } from "./mlflow_ui.mjs";

const [uri, experiment, tab, ...shows] = process.argv.slice(2);
if (!tab) {
  console.error("usage: node ui/read_overview.mjs <tracking uri> <experiment id> <tab> [<text it shows>...]");
  process.exit(2);
}
const { browser, page } = await openBrowser();
try {
  await page.goto(`${uri}/#/experiments/${experiment}`);
  await page.getByRole("tab", { name: tab, exact: true }).click();
  const panel = page.getByRole("tabpanel").last();
  for (const text of shows) await panel.getByText(text, { exact: true }).first().waitFor();
  console.log(JSON.stringify({ text: await panel.innerText() }));
} finally {
  await browser.close();
}
