//! MLflow's UI read in headless Chromium (ui/read_traces.mjs, playwright-core with Debian's
//! chromium, both installed by `make browser`): what an operator sees, not what the API returns.

use crate::{openclaw::required, workspace_root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// The Traces tab as read: its rows by column header, and the text of one trace's view.
pub struct TracesTab {
    pub rows: Vec<BTreeMap<String, String>>,
    pub trace_view: String,
}

/// One span's pane in a trace view, as read: its tab labels and the text of the tab it opens on
/// (one line per element on the page).
pub struct SpanPane {
    pub tabs: Vec<String>,
    pub panel: String,
}

/// Opens the trace whose Input shows `open_input`, selects the `nth` span named `span_name` (from
/// 0, in the span tree's order) and reads its pane.
pub fn read_span(tracking_uri: &str, experiment_id: &str, open_input: &str, span_name: &str, nth: usize) -> SpanPane {
    let seen = run_script("ui/read_span.mjs", &[tracking_uri, experiment_id, open_input, span_name, &nth.to_string()]);
    SpanPane {
        tabs: serde_json::from_value(seen["tabs"].clone()).expect("tab labels"),
        panel: seen["panel"].as_str().unwrap_or_default().to_string(),
    }
}

/// The text of one sub-tab of the experiment's Overview tab (`Usage`, `Quality`, `Tool calls`), read
/// once it shows each of `shows`: texts, or roles with names as `button "tool.read"`.
pub fn read_overview_tab(tracking_uri: &str, experiment_id: &str, tab: &str, shows: &[&str]) -> String {
    let args: Vec<&str> = [tracking_uri, experiment_id, tab].into_iter().chain(shows.iter().copied()).collect();
    run_script("ui/read_overview.mjs", &args)["text"].as_str().unwrap_or_default().to_string()
}

/// Runs one of `ui/`'s scripts with the tests' Node and returns the JSON object it prints.
fn run_script(script: &str, args: &[&str]) -> Value {
    let node = required("OPENCLAW_TEST_NODE");
    let script = workspace_root().join(script);
    let out = Command::new(node).arg(&script).args(args).output().expect("runs node");
    assert!(
        out.status.success(),
        "{} failed in Chromium ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{} printed no JSON ({e}): {}", script.display(), String::from_utf8_lossy(&out.stdout))
    })
}

/// Opens the experiment's Traces tab, reads the table, then clicks the row whose Input shows
/// `open_input` and reads its trace view (on its Events tab if it has one).
pub fn read_traces_tab(tracking_uri: &str, experiment_id: &str, open_input: &str) -> TracesTab {
    let seen = run_script("ui/read_traces.mjs", &[tracking_uri, experiment_id, open_input]);
    TracesTab {
        rows: serde_json::from_value(seen["rows"].clone()).expect("rows of column texts"),
        trace_view: seen["trace"].as_str().unwrap_or_default().to_string(),
    }
}
