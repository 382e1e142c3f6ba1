// MLflow 3.x's UI as an operator uses it: the experiment's Traces tab, a trace's view, the run's
// metric charts. Selectors are the UI's accessible roles and visible labels (what a person reads),
// so an MLflow upgrade that renames one fails loudly here rather than producing a wrong picture.
import { launch } from "./browser.mjs";

const WAIT_MS = 60_000;

// A browser page on MLflow with the first-visit prompts (the assistant panel, the "Detect issues"
// tip) already dismissed, as they are for anyone after their first click.
export async function openBrowser({ width = 1600, height = 900 } = {}) {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width, height } });
  await context.addInitScript(() => {
    localStorage.setItem("mlflow.assistant.fab.autoOpenedOnFirstLoad_v1", "true");
    localStorage.setItem("mlflow.assistant.panelOpen_v1", "false");
    localStorage.setItem("mlflow.detectIssues.guidanceShown_v1", "true");
  });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  return { browser, page };
}

export async function experimentId(uri, name) {
  const url = `${uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`no experiment named ${name} at ${uri} (HTTP ${response.status})`);
  return (await response.json()).experiment.experiment_id;
}

// The experiment's runs (newest first), from the REST API: the charts page needs a run's id.
export async function runs(uri, experiment) {
  const response = await fetch(`${uri}/api/2.0/mlflow/runs/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ experiment_ids: [experiment], order_by: ["attributes.start_time DESC"] }),
  });
  if (!response.ok) throw new Error(`runs/search answered HTTP ${response.status}`);
  return (await response.json()).runs ?? [];
}

// Opens the Traces tab and waits until it has loaded its list (the footer reads "N of M").
export async function openTraces(page, uri, experiment) {
  await page.goto(`${uri}/#/experiments/${experiment}/traces`);
  await page.getByText(/^\d+ of \d+$/).waitFor();
}

// The table as the user reads it: one object per row, keyed by the column headers.
export async function tracesTable(page) {
  const headers = await page.getByRole("columnheader").allInnerTexts();
  const rows = [];
  for (const row of await page.getByRole("row").all()) {
    const cells = await row.getByRole("cell").allInnerTexts();
    if (cells.length === 0) continue; // the header row
    rows.push(Object.fromEntries(headers.map((h, i) => [h.trim(), (cells[i] ?? "").trim()]).filter(([h]) => h)));
  }
  return rows;
}

// Display -> Columns: turns the named columns on (true) or off (false).
export async function setColumns(page, wanted) {
  await page.getByRole("button", { name: "Display" }).click();
  await page.getByRole("menuitem", { name: "Columns" }).hover();
  for (const [name, on] of Object.entries(wanted)) {
    const item = page.getByRole("menuitemcheckbox", { name, exact: true }).first();
    if ((await item.getAttribute("aria-checked")) !== String(on)) await item.click();
  }
  await page.keyboard.press("Escape");
  await page.keyboard.press("Escape");
}

// Drags a column header's right edge by dx pixels, as a user widens a truncated column.
export async function resizeColumn(page, name, dx) {
  const box = await page.getByRole("columnheader").filter({ hasText: new RegExp(`^${name}$`) }).boundingBox();
  const x = box.x + box.width - 2, y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx, y, { steps: 5 });
  await page.mouse.up();
}

// Filters -> <field> = <value> -> Apply filters.
export async function filterBy(page, field, value) {
  await page.getByRole("button", { name: "Filters" }).click();
  await page.getByRole("combobox", { name: "Filter field" }).click();
  await page.getByRole("option", { name: field, exact: true }).click();
  await page.getByRole("textbox", { name: "Filter value" }).fill(value);
  await page.getByRole("button", { name: "Apply filters" }).click();
}

// Clicks the row whose Input starts with `input` and waits for the trace view (a dialog).
export async function openTrace(page, input) {
  await page.getByRole("row").filter({ hasText: input }).first().getByRole("cell").nth(1).click();
  const view = page.getByRole("dialog");
  await view.getByText("Spans", { exact: true }).waitFor();
  return view;
}

// Closes the trace view and waits for the table to be back.
export async function closeTrace(page) {
  const view = page.getByRole("dialog");
  await view.getByRole("button", { name: "Close trace panel" }).click();
  await view.waitFor({ state: "detached" });
  await page.waitForURL((url) => !url.href.includes("traceId="));
}

// In an open trace view, selects the first span whose name matches.
export async function selectSpan(view, name) {
  await view.getByText(name).first().click();
}
