//! What the server says about itself once it answers: whether it takes our credentials, its
//! version and OTLP ingestion, its backend, the experiment, and its clock.

use crate::config::{Auth, ExperimentRef};
use crate::exporter::mlflow_rest::{MlflowRest, RawReply, RestError};
use crate::exporter::transport::TraceEndpoint;
use openclaw_plugin_api::DoctorCheck;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The first MLflow release whose server ingests OTLP traces at `/v1/traces`.
pub const FIRST_OTLP_VERSION: (u32, u32, u32) = (3, 6, 0);

/// Who we say we are, without the secret.
pub fn who(auth: &Auth) -> String {
    match auth {
        Auth::None => "no credentials".into(),
        Auth::Bearer(_) => "a bearer token".into(),
        Auth::Basic { username, .. } => format!("basic auth as {username:?}"),
    }
}

/// A call every user must be allowed: the experiments list.
pub fn credentials(rest: &MlflowRest, auth: &Auth) -> DoctorCheck {
    const NAME: &str = "credentials";
    let sent = who(auth);
    match rest.get_raw("/api/2.0/mlflow/experiments/search?max_results=1") {
        Ok(RawReply { status: 200..=299, .. }) => DoctorCheck::pass(NAME, format!("accepted ({sent})")),
        Ok(RawReply { status: 401, .. }) if *auth == Auth::None => DoctorCheck::fail(
            NAME,
            "the server asks for credentials (401) and none are configured",
            "set trackingToken, or trackingUsername and trackingPassword (or MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)",
        ),
        Ok(RawReply { status: 401, .. }) => DoctorCheck::fail(
            NAME,
            format!("refused (401) with {sent}"),
            "check the token or the user name and password (trackingToken / trackingUsername / trackingPassword, or MLFLOW_TRACKING_*)",
        ),
        Ok(RawReply { status: 403, .. }) => DoctorCheck::fail(
            NAME,
            format!("{sent}: accepted, but not allowed to read experiments (403)"),
            "give this user READ (and EDIT, to log traces) permission on the experiment in MLflow",
        ),
        Ok(reply) => DoctorCheck::fail(
            NAME,
            format!("the experiments list answered {}: {}", reply.status, first_line(&reply.body)),
            "check that the URL is the MLflow server's root, without a path",
        ),
        Err(e) => DoctorCheck::fail(NAME, format!("no answer: {e}"), "see the checks above"),
    }
}

/// "3.17.2rc0" -> (3, 17, 2)
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// The version the server reports, and whether its OTLP endpoint exists (an empty request is a
/// 400 "no spans" where it does, a 404 where it does not).
pub fn version(rest: &MlflowRest, traces: &TraceEndpoint) -> DoctorCheck {
    const NAME: &str = "MLflow version";
    let (a, b, c) = FIRST_OTLP_VERSION;
    let upgrade = format!("upgrade the MLflow server to {a}.{b}.{c} or later (pip install -U 'mlflow>={a}.{b}')");
    let reported = match rest.get_raw("/version") {
        Ok(RawReply { status: 200, body, .. }) => Some(body.trim().to_string()),
        _ => None,
    };
    let endpoint = traces.post(&[]).status;
    match (reported.as_deref().and_then(parse_version), endpoint) {
        (Some(v), _) if v < FIRST_OTLP_VERSION => DoctorCheck::fail(
            NAME,
            format!("{}: too old to ingest OTLP traces (from {a}.{b}.{c})", reported.unwrap_or_default()),
            upgrade,
        ),
        (_, 404) => DoctorCheck::fail(
            NAME,
            format!(
                "{}: POST /v1/traces answered 404, so this server does not ingest OTLP traces",
                reported.unwrap_or("version not reported".into())
            ),
            upgrade,
        ),
        (_, 0) => DoctorCheck::fail(NAME, "POST /v1/traces got no answer", "see the checks above"),
        (Some(_), _) => {
            DoctorCheck::pass(NAME, format!("{}; ingests OTLP traces at /v1/traces", reported.unwrap_or_default()))
        }
        (None, _) => DoctorCheck::pass(NAME, "version not reported; /v1/traces exists"),
    }
}

/// The tracking store behind the server: traces need a SQL database.
pub fn backend(rest: &MlflowRest) -> DoctorCheck {
    const NAME: &str = "backend store";
    let info = match rest.get_raw("/api/3.0/mlflow/server-info") {
        Ok(RawReply { status: 200, body, .. }) => serde_json::from_str::<Value>(&body).ok(),
        _ => None,
    };
    match info.as_ref().and_then(|i| i.get("store_type")).and_then(Value::as_str) {
        Some(store) if store.contains("File") => DoctorCheck::fail(
            NAME,
            format!("{store}: a file store cannot hold traces (MLflow answers 501 to every trace)"),
            "run MLflow on a database: mlflow server --backend-store-uri sqlite:///path/mlflow.db (or postgresql://...); `mlflow migrate-filestore` moves existing runs",
        ),
        Some(store) => DoctorCheck::pass(NAME, format!("{store} (a database: holds traces)")),
        None => DoctorCheck::pass(NAME, "not reported by this server version; the test trace shows whether it holds traces"),
    }
}

/// The experiment traces go to: found (or to be created by name), and not deleted. Changes nothing.
pub fn experiment(rest: &MlflowRest, wanted: &ExperimentRef) -> DoctorCheck {
    const NAME: &str = "experiment";
    match rest.find_experiment(wanted) {
        Ok(Some(e)) => {
            let (id, name) = (text(&e, "experiment_id"), text(&e, "name"));
            if text(&e, "lifecycle_stage") == "deleted" {
                DoctorCheck::fail(
                    NAME,
                    format!("{name:?} (ID {id}) is deleted: the gateway would restore it at its first export, bringing back what was deleted"),
                    format!("restore it yourself (MLflow UI, or `mlflow experiments restore --experiment-id {id}`), or name another experiment (experimentName)"),
                )
            } else {
                DoctorCheck::pass(NAME, format!("{name:?}, ID {id}"))
            }
        }
        Ok(None) => match wanted {
            ExperimentRef::Name(name) => DoctorCheck::pass(
                NAME,
                format!("{name:?} does not exist yet; the plugin creates it at its first export"),
            ),
            ExperimentRef::Id(id) => DoctorCheck::fail(
                NAME,
                format!("no experiment with ID {id}"),
                "correct experimentId (or MLFLOW_EXPERIMENT_ID), or use experimentName, which is created when missing",
            ),
        },
        Err(e @ RestError::Unauthorized(_)) => DoctorCheck::fail(NAME, e.to_string(), "see the credentials check"),
        Err(e) => DoctorCheck::fail(NAME, e.to_string(), "check the experiment's ID or name"),
    }
}

fn text(experiment: &Value, key: &str) -> String {
    experiment.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The gateway's clock against the server's `Date`. The server read its clock somewhere between
/// `asked` and `answered` and the header drops the fraction of a second, so only a difference
/// outside that window is skew (a slow reply is not a skewed clock). Traces carry the gateway's
/// times, so a skew misplaces them in MLflow's time filters.
pub fn clock(server_date: Option<&str>, asked: SystemTime, answered: SystemTime) -> DoctorCheck {
    const NAME: &str = "clock skew";
    let Some(server) = server_date.and_then(|d| httpdate::parse_http_date(d).ok()) else {
        return DoctorCheck::warn(NAME, "the server sent no Date header to compare with", "");
    };
    let server_latest = server + Duration::from_secs(1);
    let (ahead, skew) = match (asked.duration_since(server_latest), server.duration_since(answered)) {
        (Ok(d), _) => ("ahead of", d),
        (_, Ok(d)) => ("behind", d),
        _ => ("in step with", Duration::ZERO),
    };
    let secs = skew.as_secs_f64();
    let line = format!("this machine is {secs:.0} s {ahead} the server");
    let fix = "synchronise both clocks (NTP: chrony or systemd-timesyncd)";
    if skew <= Duration::from_secs(2) {
        DoctorCheck::pass(NAME, format!("within 2 s of the server ({line})"))
    } else if skew <= Duration::from_secs(300) {
        DoctorCheck::warn(NAME, format!("{line}: traces show shifted by that much"), fix)
    } else {
        DoctorCheck::fail(NAME, format!("{line}: traces land outside the time range people look at"), fix)
    }
}

pub fn first_line(body: &str) -> String {
    body.lines().next().unwrap_or("").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(parse_version("3.17.2"), Some((3, 17, 2)));
        assert_eq!(parse_version("3.6.0rc0"), Some((3, 6, 0)));
        assert!(parse_version("3.5.1").unwrap() < FIRST_OTLP_VERSION);
        assert!(parse_version("3.10.0").unwrap() > FIRST_OTLP_VERSION);
        assert_eq!(parse_version("<html>"), None);
    }

    #[test]
    fn clock_skew_is_judged_from_the_date_header() {
        let server = httpdate::parse_http_date("Thu, 26 Nov 2026 12:00:00 GMT").unwrap();
        let date = Some("Thu, 26 Nov 2026 12:00:00 GMT");
        let at = |t: SystemTime| clock(date, t, t);
        assert_eq!(at(server + Duration::from_millis(1500)).verdict, openclaw_plugin_api::Verdict::Pass);
        let behind = at(server - Duration::from_secs(30));
        assert_eq!(behind.verdict, openclaw_plugin_api::Verdict::Warn);
        assert!(behind.detail.contains("30 s behind"), "{behind:?}");
        let ahead = at(server + Duration::from_secs(5));
        assert_eq!(ahead.verdict, openclaw_plugin_api::Verdict::Warn);
        assert!(ahead.detail.contains("4 s ahead"), "the header's lost fraction is not skew: {ahead:?}");
        assert_eq!(at(server + Duration::from_secs(3600)).verdict, openclaw_plugin_api::Verdict::Fail);
        // A reply that took 6 s, the server's clock read at its start: no skew.
        let slow = clock(date, server - Duration::from_millis(200), server + Duration::from_secs(6));
        assert_eq!(slow.verdict, openclaw_plugin_api::Verdict::Pass, "{slow:?}");
        // The same reply with the server's clock 10 s behind ours: still seen.
        let skewed = clock(date, server + Duration::from_secs(10), server + Duration::from_secs(16));
        assert!(skewed.detail.contains("9 s ahead"), "{skewed:?}");
    }
}
