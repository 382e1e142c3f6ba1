//! The third layer: each value checked against what its setting expects. Every message names where
//! the value came from (the file's key, or the environment variable) and what was expected.

use super::manifest;
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

/// A true/false setting of the file; unset, the manifest's default.
pub fn flag(value: Option<Value>, key: &'static str) -> Result<bool, String> {
    let default = manifest::rule(key).default_flag();
    flag_or(Given::file(value, key), default)
}

/// A true/false value with a default of the caller's (see `enabled`).
pub fn flag_or(given: Option<Given>, default: bool) -> Result<bool, String> {
    match given {
        None => Ok(default),
        Some(Given { value: Value::Bool(b), .. }) => Ok(b),
        Some(other) => Err(other.refuse("true or false")),
    }
}

/// A whole-number setting of the file, within the manifest's minimum and maximum; unset, its
/// default.
pub fn whole(value: Option<Value>, key: &'static str) -> Result<u64, String> {
    let rule = manifest::rule(key);
    let (min, max) = (rule.minimum_whole(), rule.maximum_whole());
    match Given::file(value, key) {
        None => Ok(rule.default_whole()),
        Some(g) => match g.value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(g.refuse(&format!("an integer from {min} to {max}"))),
        },
    }
}

pub fn millis(value: Option<Value>, key: &'static str) -> Result<std::time::Duration, String> {
    whole(value, key).map(std::time::Duration::from_millis)
}

pub fn count(value: Option<Value>, key: &'static str) -> Result<usize, String> {
    whole(value, key).map(|n| n as usize)
}

/// A fractional setting, within the manifest's minimum and maximum (no default: the caller's
/// fallback applies, e.g. an environment variable).
pub fn fraction(given: Given, key: &'static str) -> Result<f64, String> {
    let (min, max) = manifest::rule(key).range();
    given
        .value
        .as_f64()
        .filter(|r| (min..=max).contains(r))
        .ok_or_else(|| given.refuse(&format!("a number from {min} to {max}")))
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

/// An http(s) URL as configured, split: the URL without its `user:password@` (which never goes into
/// a URL the plugin prints or sends) and those credentials, percent-decoded.
#[derive(Debug, PartialEq)]
pub struct HttpUrl {
    pub url: String,
    pub userinfo: Option<(String, String)>,
}

/// An http(s) URL without its trailing slash. An error shows the URL without its credentials.
pub fn http_url(uri: &str, source: Source, example: &str) -> Result<HttpUrl, String> {
    let (url, userinfo) = split_userinfo(uri);
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with(['/', '?', '#']) => {
            Ok(HttpUrl { url: url.trim_end_matches('/').to_string(), userinfo })
        }
        _ => Err(format!("{source}: expected {example}, got {:?}", printable_url(uri))),
    }
}

/// `scheme://user:password@host/...` as `(scheme://host/..., Some((user, password)))`.
fn split_userinfo(uri: &str) -> (String, Option<(String, String)>) {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else { return (uri.to_string(), None) };
    let authority_end = uri[scheme_end..].find(['/', '?', '#']).map_or(uri.len(), |i| scheme_end + i);
    let Some(at) = uri[scheme_end..authority_end].rfind('@').map(|i| scheme_end + i) else {
        return (uri.to_string(), None);
    };
    let (user, password) = uri[scheme_end..at].split_once(':').unwrap_or((&uri[scheme_end..at], ""));
    let url = format!("{}{}", &uri[..scheme_end], &uri[at + 1..]);
    (url, Some((percent_decode(user), percent_decode(password))))
}

/// `%XX` escapes decoded (URL userinfo, `OTEL_EXPORTER_OTLP_HEADERS` values); a `%` that starts
/// no escape stays as it is.
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// A URL as it may be printed (logs, errors, the doctor): without credentials, query or fragment,
/// where tokens are put.
pub fn printable_url(uri: &str) -> String {
    let (url, _) = split_userinfo(uri);
    let cut = url.find("://").map_or(0, |i| i + 3);
    match url[cut..].find(['?', '#']) {
        Some(i) => url[..cut + i].to_string(),
        None => url,
    }
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`): plain HTTP to it stays
/// on the machine.
pub fn is_loopback(url: &str) -> bool {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let authority = &after_scheme[..after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A secret (token, password, header value): a non-empty string, trimmed. A wrong value is described
/// by its type only, never shown.
pub fn secret_text(given: Option<Given>) -> Result<Option<String>, String> {
    match given {
        None => Ok(None),
        Some(Given { value: Value::String(s), .. }) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(Given { value, source }) => {
            Err(format!("{source}: expected a non-empty string, got {} (not shown: a secret)", json_type(&value)))
        }
    }
}

/// "a number", "an array", ...: what a JSON value is, without its content.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(s) if s.trim().is_empty() => "an empty string",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_taken_out_and_never_printed() {
        let parsed = http_url("https://ops:p%40ss@mlflow.example.com:8443/", Source::File("trackingUri"), "x").unwrap();
        assert_eq!(parsed.url, "https://mlflow.example.com:8443");
        assert_eq!(parsed.userinfo, Some(("ops".into(), "p@ss".into())));
        assert_eq!(http_url("http://h:1", Source::File("k"), "x").unwrap().userinfo, None);
        let err = http_url("ftp://ops:hunter2@h", Source::File("trackingUri"), "an http URL").unwrap_err();
        assert!(!err.contains("hunter2") && err.contains("ftp://h"), "{err}");
        assert_eq!(printable_url("http://u:p@h:4318/v1/traces?api-key=k#f"), "http://h:4318/v1/traces");
    }

    #[test]
    fn loopback_hosts_are_this_machine() {
        for url in [
            "http://localhost:5000",
            "http://127.0.0.1",
            "http://127.9.9.9:1/x",
            "http://[::1]:5000",
            "http://u:p@localhost",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in
            ["http://mlflow.mlflow.svc:5000", "http://10.0.0.5", "http://localhost.example.com", "http://[::2]:1"]
        {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
