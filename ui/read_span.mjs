// What an operator reads on one span of a trace, for the browser tests: the span's tabs and the
// text of the tab it opens on (for a model call, Inputs / Outputs, where MLflow draws a
// conversation in chat format as messages: "User", "Assistant", "Tool calls", the tool's result).
//   node ui/read_span.mjs <tracking uri> <experiment id> <input of the trace> <span name> [<nth match>]
// Prints one JSON object: { "tabs": ["Inputs / Outputs", "Attributes", ...], "panel": "..." }, the
// panel's text as the page shows it (one line per element).
import { openBrowser, openTrace, openTraces } from "./mlflow_ui.mjs";

const [uri, experiment, input, spanName, nth = "0"] = process.argv.slice(2);
if (!spanName) {
  console.error("usage: node ui/read_span.mjs <tracking uri> <experiment id> <input of a trace> <span name> [<nth match>]");
  process.exit(2);
}
const { browser, page } = await openBrowser();
try {
  await openTraces(page, uri, experiment);
  const view = await openTrace(page, input);
  await view.getByText(spanName, { exact: true }).nth(Number(nth)).click();
  await view.getByRole("tab", { name: /^Inputs/ }).first().waitFor();
  const tabs = (await view.getByRole("tab").allInnerTexts()).map((t) => t.trim());
  // The span's pane follows its tab labels in the view's text.
  const text = await view.innerText();
  const labels = `${tabs.join("\n")}\n`;
  const panel = text.includes(labels) ? text.slice(text.lastIndexOf(labels) + labels.length) : text;
  console.log(JSON.stringify({ tabs, panel }));
} finally {
  await browser.close();
}
