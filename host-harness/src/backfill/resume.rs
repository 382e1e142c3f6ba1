//! Where a backfill got to, per destination: for each session window, the last transcript entry
//! whose turn was delivered. Kept beside the plugin's spool (`<state dir>/mlflow/backfill/`), never
//! in OpenClaw's database. Resuming only saves time: a turn sent twice lands on the same trace.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Resume {
    path: PathBuf,
    /// session id -> last `seq` delivered
    delivered: BTreeMap<String, i64>,
}

impl Resume {
    /// The record for `destination` (the plugin's settings as JSON: a backfill into another
    /// experiment or server starts from the beginning).
    pub fn load(state_dir: &Path, destination: &Value) -> Result<Resume, String> {
        let name = format!("{:016x}.json", fnv1a(destination.to_string().as_bytes()));
        let path = state_dir.join("mlflow").join("backfill").join(name);
        let delivered = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| serde_json::from_value(v["delivered"].clone()).ok())
                .ok_or_else(|| format!("{}: not a backfill record; delete it to start over", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Resume { path, delivered })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last entry of `session_id` already delivered (-1: none).
    pub fn delivered_through(&self, session_id: &str) -> i64 {
        self.delivered.get(session_id).copied().unwrap_or(-1)
    }

    pub fn mark(&mut self, session_id: &str, seq: i64) {
        let at = self.delivered.entry(session_id.to_string()).or_insert(-1);
        *at = (*at).max(seq);
    }

    /// Written whole to a temporary file and renamed over the record, so an interruption leaves the
    /// old record or the new one.
    pub fn save(&self) -> Result<(), String> {
        let dir = self.path.parent().expect("the record is in a directory");
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = self.path.with_extension("json.tmp");
        let body = json!({"version": 1, "delivered": self.delivered}).to_string();
        crate::private_file::write(&tmp, body).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}
