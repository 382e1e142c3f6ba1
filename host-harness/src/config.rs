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

/// Objects and arrays nested deeper than this are refused before parsing (the JSON5 parser recurses
/// once per level and would overflow the stack); serde_json's own limit is the same.
const MAX_NESTING: usize = 128;

/// Reads the file as JSON5 (real `openclaw.json` files have comments and trailing commas).
/// A missing file is an empty configuration, as in OpenClaw.
pub fn load(path: &Path) -> Result<Value, String> {
    match std::fs::read_to_string(path) {
        Ok(text) if nested_deeper_than(&text, MAX_NESTING) => Err(format!(
            "{}: objects and arrays nested more than {MAX_NESTING} deep; an openclaw.json needs a handful",
            path.display()
        )),
        Ok(text) => json5::from_str::<Value>(&text).map_err(|e| format!("{}: not valid JSON5: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Default::default())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Whether JSON5 `text` opens more than `max` objects or arrays inside one another (brackets in
/// strings and comments do not count).
fn nested_deeper_than(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        s if s == c => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                chars.by_ref().find(|&s| s == '\n');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for s in chars.by_ref() {
                    if last == '*' && s == '/' {
                        break;
                    }
                    last = s;
                }
            }
            '{' | '[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        assert!(!nested_deeper_than("{ a: [ { b: '[[[[' }, \"{{{{\" ] } // [[[[\n /* {{{{ */", 3));
        assert!(nested_deeper_than("{ a: [ { b: [1] } ] }", 3));
        assert!(!nested_deeper_than("{ a: [ { b: [1] } ] }", 4));
    }

    #[test]
    fn a_file_nested_fifty_thousand_deep_is_refused_naming_it() {
        let dir = std::env::temp_dir().join(format!("oc-host-deep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("openclaw.json");
        std::fs::write(&path, format!("{{ a: {}{} }}", "[".repeat(50_000), "]".repeat(50_000))).unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.starts_with(&path.display().to_string()) && err.contains("nested more than 128 deep"), "{err}");
    }

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
