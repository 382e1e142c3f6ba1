//! Which MLflow release the server runs (its `/version`), and what its OTLP ingestion makes of our
//! spans. Every release from 3.6 stores the spans; before 3.14 it fills less of the trace from
//! them, and `older_ingest` adds the rest (README, "Supported versions").

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MlflowRelease(pub u32, pub u32, pub u32);

impl MlflowRelease {
    /// The first release whose server ingests OTLP traces at `/v1/traces`.
    pub const FIRST_OTLP: MlflowRelease = MlflowRelease(3, 6, 0);
    /// From here a string attribute holding JSON is read as that JSON (3.6 keeps it a string:
    /// escaped JSON in the previews, no token usage).
    const READS_JSON_TEXT: MlflowRelease = MlflowRelease(3, 7, 0);
    /// From here the trace's session and user (unquoted), its tags and its run come from the
    /// request itself (`session.id`, `user.id`, `mlflow.traceTag.*`, `x-mlflow-run-id`).
    const FILLS_TRACE_INFO: MlflowRelease = MlflowRelease(3, 14, 0);
    /// The first release whose UI shows cost.
    pub const SHOWS_COST: MlflowRelease = MlflowRelease(3, 10, 0);

    /// "3.17.2rc0" -> 3.17.2; `None` for what is not a version.
    pub fn parse(text: &str) -> Option<MlflowRelease> {
        let mut parts = text.trim().split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(MlflowRelease(major, minor, patch))
    }

    /// Whether the request alone makes the whole trace (session, user, tags, run link); if not,
    /// the plugin completes the trace's info over REST once its spans are in.
    pub fn fills_trace_info(self) -> bool {
        self >= Self::FILLS_TRACE_INFO
    }

    /// Whether JSON text in a string attribute is read as JSON; if not, it is sent as the
    /// structured value itself.
    pub fn reads_json_text(self) -> bool {
        self >= Self::READS_JSON_TEXT
    }
}

impl fmt::Display for MlflowRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order_by_number_not_text() {
        assert_eq!(MlflowRelease::parse("3.17.2rc0"), Some(MlflowRelease(3, 17, 2)));
        assert_eq!(MlflowRelease::parse(" 3.6.0\n"), Some(MlflowRelease(3, 6, 0)));
        assert_eq!(MlflowRelease::parse("3.10"), Some(MlflowRelease(3, 10, 0)));
        assert_eq!(MlflowRelease::parse("<html>"), None);
        assert!(MlflowRelease(3, 10, 1) > MlflowRelease(3, 9, 0));
        assert!(!MlflowRelease(3, 13, 0).fills_trace_info() && MlflowRelease(3, 14, 0).fills_trace_info());
        assert!(!MlflowRelease(3, 6, 0).reads_json_text() && MlflowRelease(3, 7, 0).reads_json_text());
    }
}
