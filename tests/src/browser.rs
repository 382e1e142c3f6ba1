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

/// Opens the experiment's Traces tab, reads the table, then clicks the row whose Input shows
/// `open_input` and reads its trace view (on its Events tab if it has one).
pub fn read_traces_tab(tracking_uri: &str, experiment_id: &str, open_input: &str) -> TracesTab {
    let node = required("OPENCLAW_TEST_NODE");
    let script = workspace_root().join("ui/read_traces.mjs");
    let out =
        Command::new(node).arg(&script).args([tracking_uri, experiment_id, open_input]).output().expect("runs node");
    assert!(
        out.status.success(),
        "reading MLflow's Traces tab in Chromium failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{} printed no JSON ({e}): {}", script.display(), String::from_utf8_lossy(&out.stdout))
    });
    TracesTab {
        rows: serde_json::from_value(seen["rows"].clone()).expect("rows of column texts"),
        trace_view: seen["trace"].as_str().unwrap_or_default().to_string(),
    }
}
