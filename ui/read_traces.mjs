// What an operator reads in MLflow's Traces tab, for the browser test (tests/tests/mlflow_ui.rs):
// the table's rows by column, and the text of one trace's view, opened by clicking its row.
//   node ui/read_traces.mjs <tracking uri> <experiment id> <input of the trace to open>
// Prints one JSON object: { "rows": [{ "Input": ..., "Session": ..., "State": ... }], "trace": "..." }.
import { openBrowser, openTrace, openTraces, tracesTable } from "./mlflow_ui.mjs";

const [uri, experiment, input] = process.argv.slice(2);
if (!input) {
  console.error("usage: node ui/read_traces.mjs <tracking uri> <experiment id> <input of a trace>");
  process.exit(2);
}
const { browser, page } = await openBrowser();
try {
  await openTraces(page, uri, experiment);
  const table = await tracesTable(page);
  const view = await openTrace(page, input);
  // A failed span's error is in its Events tab (MLflow opens it on the failed span; click it if not).
  const events = view.getByRole("tab", { name: /^Events/ });
  if (await events.count()) await events.first().click();
  console.log(JSON.stringify({ rows: table, trace: await view.innerText() }));
} finally {
  await browser.close();
}
