// What an operator reads on one sub-tab of an experiment's Overview (MLflow 3.17: the experiment's
// first page, with the tabs Usage, Quality and Tool calls), for the browser tests: the tab's text
// once it shows each of the given things (its charts and tables fetch their data after the tab
// renders). A thing is a text, or a role and an accessible name as Playwright's ARIA snapshots write
// them, e.g. `button "tool.read"`: the Tool calls table's row, where the text alone would also match
// a chart's legend, which can show before the table has its rows.
//   node ui/read_overview.mjs <tracking uri> <experiment id> <tab> [<thing it shows>...]
// Prints one JSON object: { "text": "..." }, one line per element.
import { openBrowser } from "./mlflow_ui.mjs";

const [uri, experiment, tab, ...shows] = process.argv.slice(2);
if (!tab) {
  console.error("usage: node ui/read_overview.mjs <tracking uri> <experiment id> <tab> [<thing it shows>...]");
  process.exit(2);
}
const { browser, page } = await openBrowser();
try {
  await page.goto(`${uri}/#/experiments/${experiment}`);
  await page.getByRole("tab", { name: tab, exact: true }).click();
  const panel = page.getByRole("tabpanel").last();
  for (const thing of shows) {
    const role = thing.match(/^([a-z]+) "(.*)"$/);
    const shown = role ? panel.getByRole(role[1], { name: role[2], exact: true }) : panel.getByText(thing, { exact: true });
    await shown.first().waitFor();
  }
  console.log(JSON.stringify({ text: await panel.innerText() }));
} finally {
  await browser.close();
}
