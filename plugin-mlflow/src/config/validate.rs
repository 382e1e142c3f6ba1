//! The third layer: each value checked against what its setting expects. Every message names where
//! the value came from (the file's key, or the environment variable) and what was expected.

use serde_json::Value;

/// Where a value came from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// A key of the plugin's section (`otlp.endpoint` for a nested one).
    File(&'static str),
    Env(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(key) => write!(f, "mlflow config `{key}`"),
            Source::Env(var) => f.write_str(var),
        }
    }
}

/// One setting's value as given, and where.
#[derive(Debug)]
pub struct Given {
    pub value: Value,
    pub source: Source,
}

impl Given {
    /// The file's value of `key`; `null` counts as unset.
    pub fn file(value: Option<Value>, key: &'static str) -> Option<Given> {
        value.filter(|v| !v.is_null()).map(|value| Given { value, source: Source::File(key) })
    }

    pub fn refuse(&self, expected: &str) -> String {
        format!("{}: expected {expected}, got {}", self.source, self.value)
    }
}

pub fn flag(given: Option<Given>, default: bool) -> Result<bool, String> {
    match given {
        None => Ok(default),
        Some(Given { value: Value::Bool(b), .. }) => Ok(b),
        Some(other) => Err(other.refuse("true or false")),
    }
}

pub fn whole(given: Option<Given>, default: u64, min: u64, max: u64) -> Result<u64, String> {
    match given {
        None => Ok(default),
        Some(g) => match g.value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(g.refuse(&format!("an integer from {min} to {max}"))),
        },
    }
}

pub fn millis(given: Option<Given>, default: u64, min: u64, max: u64) -> Result<std::time::Duration, String> {
    whole(given, default, min, max).map(std::time::Duration::from_millis)
}

pub fn count(given: Option<Given>, default: u64, min: u64, max: u64) -> Result<usize, String> {
    whole(given, default, min, max).map(|n| n as usize)
}

/// A non-empty string, trimmed.
pub fn text(given: Option<Given>) -> Result<Option<String>, String> {
    match given {
        None => Ok(None),
        Some(Given { value: Value::String(s), .. }) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(other) => Err(other.refuse("a non-empty string")),
    }
}

/// A string with its source, for checks that need both.
pub fn sourced_text(given: Option<Given>) -> Result<Option<(String, Source)>, String> {
    let source = given.as_ref().map(|g| g.source);
    Ok(text(given)?.zip(source))
}

/// An http(s) URL without its trailing slash.
pub fn http_url(uri: &str, source: Source, example: &str) -> Result<String, String> {
    let lower = uri.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(uri.trim_end_matches('/').to_string()),
        _ => Err(format!("{source}: expected {example}, got {uri:?}")),
    }
}

pub fn experiment_id(id: &str, source: Source) -> Result<String, String> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(id.to_string())
    } else {
        Err(format!("{source}: expected an experiment ID such as \"1\" or \"618306372346351001\", got {id:?}"))
    }
}

/// An MLflow workspace name as MLflow accepts it (its `WorkspaceNameValidator`: Kubernetes-style,
/// 2-63 characters, lowercase letters, digits and inner hyphens, four names reserved).
pub fn workspace(name: &str, source: Source) -> Result<String, String> {
    const RESERVED: [&str; 4] = ["workspaces", "api", "ajax-api", "static-files"];
    let bytes = name.as_bytes();
    let well_formed = (2..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    if well_formed && !RESERVED.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{source}: expected an MLflow workspace name (2-63 lowercase letters, digits or inner hyphens, not {}), got {name:?}",
            RESERVED.join("/")
        ))
    }
}
