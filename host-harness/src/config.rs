//! `openclaw.json`: where it is, and which part of it belongs to which plugin.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// `--config`, else `$OPENCLAW_CONFIG_PATH`, else `~/.openclaw/openclaw.json`.
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    if let Some(path) = std::env::var_os("OPENCLAW_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    home().join(".openclaw").join("openclaw.json")
}

/// `--plugins-dir`, else `~/.openclaw/plugins`.
pub fn plugins_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf).unwrap_or_else(|| home().join(".openclaw").join("plugins"))
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Reads the file as JSON5 (real `openclaw.json` files have comments and trailing commas).
/// A missing file is an empty configuration, as in OpenClaw.
pub fn load(path: &Path) -> Result<Value, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => json5::from_str::<Value>(&text).map_err(|e| format!("{}: not valid JSON5: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Default::default())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json5_with_comments_and_trailing_commas() {
        let dir = std::env::temp_dir().join(format!("oc-host-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("openclaw.json");
        std::fs::write(&path, "{\n // a comment\n diagnostics: { mlflow: { enabled: true, }, },\n}\n").unwrap();
        let value = load(&path).unwrap();
        assert_eq!(value.pointer("/diagnostics/mlflow/enabled"), Some(&Value::Bool(true)));
    }
}
