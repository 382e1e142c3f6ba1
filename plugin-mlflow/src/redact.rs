//! Secret redaction in captured content, applied on the exporter thread before anything leaves the
//! process, and before content is cut to `maxContentBytes` (a secret across the cut is redacted
//! whole: the text arrives with a margin beyond the cut, `intake::REDACTION_MARGIN`). Best effort:
//! the rules follow the public rule sets of gitleaks and detect-secrets for the formats an agent's
//! conversation is likely to carry; the configuration's `redactPatterns` adds more.
//!
//! JSON (tool parameters and results) is redacted string by string, decoded: a key at the start of
//! a line is preceded by a newline there, not by the JSON escape `\n`. Text that is not JSON (or
//! JSON cut short) is redacted as it is, where a token may follow an escape (`\n`, `\t`, `\r`):
//! the anchored rules accept that as a boundary too.

use regex::Regex;

pub const MARKER: &str = "[REDACTED]";

/// Tokens with a recognisable shape, each replaced whole where it starts a word (`token_start`). One
/// regular expression of them all: their literal prefixes let it skip ordinary text quickly.
const TOKENS: &[&str] = &[
    r"sk-ant-[A-Za-z0-9_\-]{16,}",                                       // Anthropic
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",                 // OpenAI
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",                         // Stripe
    r"AIza[0-9A-Za-z_\-]{35}",                                           // Google API key
    r"ya29\.[A-Za-z0-9_\-]{20,}",                                        // Google OAuth access token
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",                                        // AWS access key id
    r"gh[pousr]_[A-Za-z0-9]{36,}",                                       // GitHub
    r"github_pat_[A-Za-z0-9_]{22,}",                                     // GitHub fine-grained
    r"glpat-[A-Za-z0-9_\-]{20,}",                                        // GitLab
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",                                    // Slack
    r"hf_[A-Za-z0-9]{30,}",                                              // Hugging Face
    r"npm_[A-Za-z0-9]{36}",                                              // npm
    r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",                       // SendGrid
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", // JWT
];

/// (pattern, replacement): `$1` keeps what says what was there.
const RULES: &[(&str, &str)] = &[
    // A private key block (PEM, OpenSSH, PGP): to its END line, or to the end of the text when the
    // END line is not there (cut off).
    (
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        "[REDACTED PRIVATE KEY]",
    ),
    (r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_\-]+", "https://hooks.slack.com/[REDACTED]"),
    (r#"(?i)((?-u:\b)authorization["']?\s*[:=]\s*["']?(?:basic|token|digest)\s+)[^\s"',]+"#, "${1}[REDACTED]"),
    (r"(?i)((?-u:\b)bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*", "${1}[REDACTED]"),
    (r#"(?i)((?-u:\b)(?:set-)?cookie\s*:\s*)[^\r\n"\\]+"#, "${1}[REDACTED]"),
    // scheme://user:password@host
    (r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+@", "${1}[REDACTED]@"),
    // Azure storage: AccountKey=..., a SAS signature sig=...
    (r"(?i)((?-u:\b)AccountKey=)[A-Za-z0-9+/=]{20,}", "${1}[REDACTED]"),
    (r"(?i)([?&;]sig=)[A-Za-z0-9%+/=]{10,}", "${1}[REDACTED]"),
];

/// Names whose value is a secret: in an assignment (`DB_PASSWORD=...`, `"api_key": "..."`) and as a
/// JSON object's key.
const SECRET_NAMES: &str = r"[A-Za-z0-9_.\-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?)";

/// An assignment to a secret-sounding name: password: "...", DB_PASSWORD=..., GITHUB_TOKEN=...,
/// aws_secret_access_key = ..., "api_key": "..." (a quoted value whole, several words included).
fn assignment_rule() -> (String, &'static str) {
    let value = r#"\\?["']?\s*[:=]\s*)(?:\\?"[^"\r\n]{3,}?\\?"|'[^'\r\n]{3,}'|[^\s"',}&]{4,})"#;
    (format!("(?i)((?-u:\\b){SECRET_NAMES}{value}"), "${1}[REDACTED]")
}

/// The rules, compiled at their first use: on the thread that redacts (the assembler's), not on the
/// one that starts the plugin (the gateway's JavaScript thread, at `init`).
pub struct Redactor {
    /// `redactPatterns`, until compiled.
    extra: Vec<String>,
    compiled: std::sync::OnceLock<Rules>,
}

struct Rules {
    /// The rules with a replacement, then `redactPatterns`.
    rules: Vec<(Regex, String)>,
    /// `TOKENS`, as one alternation.
    tokens: Regex,
    secret_name: Regex,
}

/// Whether a token match at `start` starts a word: at the start, after a character that is not part
/// of a word, or after a JSON escape (`\n`, `\r`, `\t`) in JSON text.
fn token_start(text: &str, start: usize) -> bool {
    let before = &text.as_bytes()[..start];
    match before {
        [] => true,
        [.., b'\\', b'n' | b'r' | b't'] => true,
        [.., last] => !(last.is_ascii_alphanumeric() || *last == b'_'),
    }
}

impl Redactor {
    /// `extra` patterns were validated when the configuration was parsed.
    pub fn new(extra: &[String]) -> Redactor {
        Redactor { extra: extra.to_vec(), compiled: std::sync::OnceLock::new() }
    }

    fn rules(&self) -> &Rules {
        self.compiled.get_or_init(|| {
            let tokens = format!("(?:{})", TOKENS.join("|"));
            let (assignment, replacement) = assignment_rule();
            let rules: Vec<(Regex, String)> = RULES
                .iter()
                .map(|(p, r)| (Regex::new(p).expect("built-in pattern"), r.to_string()))
                .chain([(Regex::new(&assignment).expect("built-in pattern"), replacement.to_string())])
                .chain(self.extra.iter().filter_map(|p| Regex::new(p).ok()).map(|re| (re, MARKER.to_string())))
                .collect();
            Rules {
                rules,
                tokens: Regex::new(&tokens).expect("built-in tokens"),
                secret_name: Regex::new(&format!("(?i)^{SECRET_NAMES}$")).expect("built-in pattern"),
            }
        })
    }

    /// A JSON value with every string in it redacted (decoded: real newlines), and whether anything
    /// was.
    pub fn redact_json(&self, value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => {
                let (out, changed) = self.redact(s);
                if changed {
                    *s = out;
                }
                changed
            }
            serde_json::Value::Array(items) => items.iter_mut().fold(false, |any, v| self.redact_json(v) | any),
            serde_json::Value::Object(map) => map.iter_mut().fold(false, |any, (k, v)| {
                let named_secret =
                    matches!(v, serde_json::Value::String(s) if s.len() >= 3) && self.rules().secret_name.is_match(k);
                if named_secret {
                    *v = serde_json::Value::String(MARKER.into());
                }
                (named_secret || self.redact_json(v)) | any
            }),
            _ => false,
        }
    }

    /// The text with every secret replaced, and whether anything was.
    pub fn redact(&self, text: &str) -> (String, bool) {
        let mut out = std::borrow::Cow::Borrowed(text);
        let rules = self.rules();
        for (re, replacement) in &rules.rules {
            if re.is_match(&out) {
                out = std::borrow::Cow::Owned(re.replace_all(&out, replacement.as_str()).into_owned());
            }
        }
        let mut replaced = false;
        let tokens = rules.tokens.replace_all(&out, |caps: &regex::Captures| {
            let found = caps.get(0).expect("the whole match");
            if token_start(&out, found.start()) {
                replaced = true;
                MARKER.to_string()
            } else {
                found.as_str().to_string()
            }
        });
        if replaced {
            out = std::borrow::Cow::Owned(tokens.into_owned());
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
    let (redacted, _) = BUILTIN_ONLY.redact(&raw[..raw.floor_char_boundary(SERVER_TEXT_SCANNED)]);
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
    fn a_key_at_the_start_of_a_line_in_json_text_is_redacted_too() {
        // JSON text (a cut tool payload): a new line is the escape \n, so the key follows an `n`.
        let token = "ghp_1234567890abcdefghijABCDEFGHIJ123456";
        for text in [
            format!(r#"{{"content": "line one\n{token}\nline three"}}"#),
            format!(r#"{{"content": "tab\t{token}"}}"#),
            format!("plain text\n{token}"),
        ] {
            let out = redacted(&text);
            assert!(!out.contains(token), "{text:?} -> {out}");
        }
        let mut json: serde_json::Value = serde_json::from_str(&format!(
            r#"{{"a": ["x\n{token}", {{"b": "AKIAIOSFODNN7EXAMPLE"}}], "n": 1, "creds": {{"aws_secret_access_key": "wJalrXUtnFEMI", "max_tokens": 4096}}}}"#
        ))
        .unwrap();
        assert!(Redactor::new(&[]).redact_json(&mut json));
        assert_eq!(
            json,
            serde_json::json!({"a": ["x\n[REDACTED]", {"b": "[REDACTED]"}], "n": 1, "creds": {"aws_secret_access_key": "[REDACTED]", "max_tokens": 4096}})
        );
    }

    #[test]
    fn a_private_key_cut_before_its_end_line_is_redacted_to_the_end() {
        let text = "here is my key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx3\nbmFtZQ==";
        assert_eq!(redacted(text), "here is my key\n[REDACTED PRIVATE KEY]");
        let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----\nbye";
        assert_eq!(redacted(pgp), "[REDACTED PRIVATE KEY]\nbye");
    }

    #[test]
    fn the_common_secret_formats_are_redacted() {
        for (text, secret) in [
            ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
            ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
            ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
            ("Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "9944b09199c62bcf"),
            ("GITHUB_TOKEN=abcd1234efgh5678", "abcd1234efgh5678"),
            ("DB_PASSWORD=s3cr3t-pa55", "s3cr3t-pa55"),
            ("OPENAI_API_KEY=anything-secret-here", "anything-secret-here"),
            ("APP_SECRET: 'quoted value'", "quoted value"),
            (r#"{"password": "correct horse battery staple"}"#, "horse battery staple"),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
            ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "T00000000/B0000"),
            ("ya29.a0AfH6SMBx7p3Q2Qe9Zl0kq4mN8vR5sT1uW3yY6", "a0AfH6SMBx7p3"),
            ("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "hf_abcdefghij"),
            ("glpat-xxxxxxxxxxxxxxxxxxxx1234", "glpat-xxxxxxxx"),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghij"),
            ("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", "TwL2iGABf9DHoTf"),
            (
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9v==",
                "Zm9vYmFyYmF6",
            ),
            ("https://x.blob.core.windows.net/c/b?sv=2022-11-02&sig=abcDEF123%2Bghi%3D", "abcDEF123"),
            ("Cookie: session=abc123; csrftoken=def456", "abc123"),
        ] {
            let out = redacted(text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert!(out.contains("[REDACTED"), "{text} -> {out}");
        }
        // Counts and ordinary words next to secret-sounding names stay.
        for text in [r#"{"max_tokens": 4096, "input_tokens": 12}"#, "The secret word is PAPAYA.", "token usage: 1,234"]
        {
            assert_eq!(redacted(text), text);
        }
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
