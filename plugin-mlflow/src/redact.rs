//! Secret redaction in captured content, applied on the exporter thread before anything leaves the
//! process. Patterns cover the major providers' API keys, bearer tokens, passwords in URLs, private
//! key blocks, JWTs and cloud keys; the configuration's `redactPatterns` adds more.

use regex::Regex;

pub const MARKER: &str = "[REDACTED]";

/// (pattern, replacement): `$1` keeps a prefix that helps a reader see what was there.
const BUILTIN: &[(&str, &str)] = &[
    (r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----", "[REDACTED PRIVATE KEY]"),
    (r"\bsk-ant-[A-Za-z0-9_\-]{16,}", MARKER),
    (r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", MARKER),
    (r"\bAIza[0-9A-Za-z_\-]{35}", MARKER),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", MARKER),
    (r"\bgh[pousr]_[A-Za-z0-9]{36,}", MARKER),
    (r"\bgithub_pat_[A-Za-z0-9_]{22,}", MARKER),
    (r"\bxox[abprs]-[A-Za-z0-9\-]{10,}", MARKER),
    (r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", MARKER),
    (r#"(?i)(\bauthorization["']?\s*[:=]\s*["']?(?:basic|token|digest)\s+)[^\s"',]+"#, "${1}[REDACTED]"),
    (r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/\-]{8,}=*", "${1}[REDACTED]"),
    // scheme://user:password@host
    (r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+@", "${1}[REDACTED]@"),
    // "password": "...", api_key=..., secret: ...
    (
        r#"(?i)((?:password|passwd|api[_-]?key|secret|access[_-]?token)["']?\s*[:=]\s*["']?)[^\s"',}&]{4,}"#,
        "${1}[REDACTED]",
    ),
];

pub struct Redactor {
    rules: Vec<(Regex, String)>,
}

impl Redactor {
    /// `extra` patterns were validated when the configuration was parsed.
    pub fn new(extra: &[String]) -> Redactor {
        let builtin = BUILTIN.iter().map(|(p, r)| (Regex::new(p).expect("built-in pattern"), r.to_string()));
        let extra = extra.iter().filter_map(|p| Regex::new(p).ok()).map(|re| (re, MARKER.to_string()));
        Redactor { rules: builtin.chain(extra).collect() }
    }

    /// The text with every secret replaced, and whether anything was.
    pub fn redact(&self, text: &str) -> (String, bool) {
        let mut out = std::borrow::Cow::Borrowed(text);
        for (re, replacement) in &self.rules {
            if re.is_match(&out) {
                out = std::borrow::Cow::Owned(re.replace_all(&out, replacement.as_str()).into_owned());
            }
        }
        let changed = matches!(out, std::borrow::Cow::Owned(_));
        (out.into_owned(), changed)
    }
}

/// How much of a server's text is looked at for secrets (an error body is read up to 1 MiB).
const SERVER_TEXT_SCANNED: usize = 16 << 10;

/// Text a server sent (an error body), made fit for a log line: secrets redacted (a proxy may
/// reflect the request's `Authorization`), control characters escaped (a newline or an ANSI escape
/// would forge or colour lines), cut to `max_chars`.
pub fn server_text(raw: &str, max_chars: usize) -> String {
    static BUILTIN_ONLY: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(|| Redactor::new(&[]));
    let mut end = raw.len().min(SERVER_TEXT_SCANNED);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    let (redacted, _) = BUILTIN_ONLY.redact(&raw[..end]);
    let mut out = String::with_capacity(max_chars.min(redacted.len()) + 8);
    for (count, c) in redacted.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        Redactor::new(&[]).redact(text).0
    }

    #[test]
    fn provider_keys_are_removed() {
        for secret in [
            "sk-ant-api03-Zx9fQ2hTn4Lk8Pw1Rb6Yc3Vd0Me5Ua7Gs2Hj4Kl6Np8Qr0St-AbCdEfGh",
            "sk-proj-4fHq9ZkT2mNw8LbX1cVr5yJd7PsGa3Qe6UiOo0BtRn",
            "AIzaSyD4fHq9ZkT2mNw8LbX1cVr5yJd7PsGa3Qe",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_1234567890abcdefghijABCDEFGHIJ123456",
            "xoxb-123456789012-abcdefghijkl",
        ] {
            let out = redacted(&format!("use {secret} please"));
            assert!(!out.contains(secret), "{secret} survived: {out}");
            assert!(out.contains(MARKER), "{out}");
        }
    }

    #[test]
    fn bearer_tokens_url_passwords_jwts_and_private_keys_are_removed() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let text = format!(
            "Authorization: Bearer abc123def456ghi789\nfetch https://admin:hunter2@intranet.example.com/x\ntoken {jwt}\n\
             -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n{{\"password\": \"s3cr3t-pw\"}}"
        );
        let out = redacted(&text);
        for secret in ["abc123def456ghi789", "hunter2", jwt, "b3BlbnNzaC1rZXktdjEAAAAA", "s3cr3t-pw"] {
            assert!(!out.contains(secret), "{secret} survived: {out}");
        }
        assert!(out.contains("https://admin:[REDACTED]@intranet.example.com/x"), "{out}");
        assert!(out.contains("Bearer [REDACTED]"), "{out}");
    }

    #[test]
    fn a_servers_text_cannot_forge_log_lines_or_leak_a_reflected_credential() {
        let body = "bad gateway\n2026-12-02 [ERROR] forged line\u{1b}[31m\r\nyou sent Authorization: Basic b3BzOnMzY3JldA==, Authorization: Bearer tok-123456789";
        let out = server_text(body, 500);
        assert!(!out.contains('\n') && !out.contains('\r') && !out.contains('\u{1b}'), "{out}");
        assert!(out.contains("bad gateway\\n2026-12-02 [ERROR] forged line\\u{1b}[31m"), "{out}");
        assert!(!out.contains("b3BzOnMzY3JldA==") && !out.contains("tok-123456789"), "{out}");
        assert_eq!(server_text("abcdef", 3), "abc…");
        assert_eq!(server_text("ünïcödé", 7), "ünïcödé");
    }

    #[test]
    fn ordinary_text_is_left_alone_and_extra_patterns_apply() {
        let text = "The secret word is PAPAYA. Tomorrow at 09:30, Room 4.";
        assert_eq!(Redactor::new(&[]).redact(text), (text.to_string(), false));
        let (out, changed) = Redactor::new(&["PAPAYA".into()]).redact(text);
        assert!(changed);
        assert_eq!(out, "The secret word is [REDACTED]. Tomorrow at 09:30, Room 4.");
    }
}
