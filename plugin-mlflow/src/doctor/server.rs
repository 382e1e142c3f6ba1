//! What the server says about itself once it answers: whether it takes our credentials, its
//! version and OTLP ingestion, its backend, the experiment, and its clock.

use crate::config::{Auth, ExperimentRef};
use crate::exporter::mlflow_release::MlflowRelease;
use crate::exporter::mlflow_rest::{MlflowRest, RawReply, RestError, WorkspaceState};
use crate::exporter::transport::TraceEndpoint;
use openclaw_plugin_api::DoctorCheck;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Who we say we are, without the secret.
pub fn who(auth: &Auth) -> String {
    match auth {
        Auth::None => "no credentials".into(),
        Auth::Bearer(_) => "a bearer token".into(),
        Auth::Basic { username, .. } => format!("basic auth as {username:?}"),
    }
}

/// A call every user must be allowed: the experiments list, asked outside any workspace (the
/// workspace has its own check, next).
pub fn credentials(rest: &MlflowRest, auth: &Auth, workspace: Option<&str>) -> DoctorCheck {
    const NAME: &str = "credentials";
    let sent = who(auth);
    match rest.without_workspace().get_raw("/api/2.0/mlflow/experiments/search?max_results=1") {
        Ok(RawReply { status: 200..=299, .. }) => DoctorCheck::pass(NAME, format!("accepted ({sent})")),
        // Refused the default workspace's list only: the user's permissions are in its own.
        Ok(RawReply { status: 403, .. }) if workspace.is_some() => {
            DoctorCheck::pass(NAME, format!("accepted ({sent}); permissions are checked in the workspace"))
        }
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

/// The workspace every call names: it must exist on a server that has workspaces.
pub fn workspace(rest: &MlflowRest, wanted: Option<&str>) -> DoctorCheck {
    const NAME: &str = "workspace";
    let Some(name) = wanted else {
        return DoctorCheck::pass(NAME, "not set (a server with workspaces uses its default one)");
    };
    let unset = "or remove `workspace` (and MLFLOW_WORKSPACE) to use the server's default";
    match rest.workspace(name) {
        Ok(WorkspaceState::Exists) => {
            DoctorCheck::pass(NAME, format!("{name:?} exists; every call names it (X-MLFLOW-WORKSPACE)"))
        }
        Ok(WorkspaceState::Missing) => DoctorCheck::fail(
            NAME,
            format!("the server has no workspace {name:?}"),
            format!("have an MLflow admin create it (POST /api/3.0/mlflow/workspaces {{\"name\": \"{name}\"}}), correct the name, {unset}"),
        ),
        Ok(WorkspaceState::Disabled) => DoctorCheck::fail(
            NAME,
            format!("{name:?} is set, but the server runs without workspaces"),
            format!("start it with `mlflow server --enable-workspaces` (or MLFLOW_ENABLE_WORKSPACES=true), {unset}"),
        ),
        Ok(WorkspaceState::NotOffered) => DoctorCheck::fail(
            NAME,
            format!("{name:?} is set, but this server has no workspaces (MLflow 3.10 and later have them)"),
            format!("upgrade the MLflow server, {unset}"),
        ),
        Err(e) => DoctorCheck::fail(NAME, format!("{name:?}: {e}"), "see the credentials check"),
    }
}

/// The release the server reports, and whether its OTLP endpoint exists (an empty request is a
/// 400 "no spans" where it does, a 404 where it does not).
pub fn version(rest: &MlflowRest, traces: &TraceEndpoint) -> (DoctorCheck, Option<MlflowRelease>) {
    const NAME: &str = "MLflow version";
    let first = MlflowRelease::FIRST_OTLP;
    let upgrade = format!("upgrade the MLflow server to {first} or later (pip install -U 'mlflow>={first}')");
    let release = rest.release();
    let endpoint = traces.post(&[]).status;
    let check = match (release, endpoint) {
        (Some(r), _) if r < first => {
            DoctorCheck::fail(NAME, format!("{r}: too old to ingest OTLP traces (from {first})"), upgrade)
        }
        (_, 404) => DoctorCheck::fail(
            NAME,
            format!(
                "{}: POST /v1/traces answered 404, so this server does not ingest OTLP traces",
                release.map_or("version not reported".into(), |r| r.to_string())
            ),
            upgrade,
        ),
        (_, 0) => DoctorCheck::fail(NAME, "POST /v1/traces got no answer", "see the checks above"),
        (Some(r), _) if !r.fills_trace_info() => DoctorCheck::pass(
            NAME,
            format!("{r}; ingests OTLP traces at /v1/traces; before 3.14 the plugin sets each trace's session, user, tags and run link over REST (two calls a trace)"),
        ),
        (Some(r), _) => DoctorCheck::pass(NAME, format!("{r}; ingests OTLP traces at /v1/traces")),
        (None, _) => DoctorCheck::pass(NAME, "version not reported; /v1/traces exists"),
    };
    (check, release)
}

/// What the release's UI cannot show of what the plugin sends, when there is something.
pub fn shown(release: MlflowRelease) -> Option<DoctorCheck> {
    let shows_cost = MlflowRelease::SHOWS_COST;
    (release < shows_cost).then(|| {
        DoctorCheck::warn(
            "what MLflow shows",
            format!("MLflow {release}'s UI shows no cost (from {shows_cost}); each trace keeps it in its metadata (mlflow.trace.cost) and each model span in mlflow.llm.cost"),
            format!("upgrade the MLflow server to {shows_cost} or later to see cost in the UI"),
        )
    })
}

/// The tracking store behind the server: traces need a SQL database.
pub fn backend(rest: &MlflowRest) -> DoctorCheck {
    const NAME: &str = "backend store";
    let info = match rest.get_raw("/api/3.0/mlflow/server-info") {
        Ok(RawReply { status: 200, body, .. }) => serde_json::from_str::<Value>(&body).ok(),
        _ => None,
    };
    let reported = info.as_ref().and_then(|i| i.get("store_type")).and_then(Value::as_str);
    // Before 3.10 there is no server-info; reading a trace that does not exist tells a file store
    // (501, as for every trace call) from a database (an empty answer). Changes nothing.
    let read = || match rest.get_raw("/api/3.0/mlflow/traces/batchGet?trace_ids=tr-00000000000000000000000000000000") {
        Ok(RawReply { status: 501, .. }) => Some("FileStore"),
        _ => None,
    };
    match reported.or_else(read) {
        Some(store) if store.contains("File") => DoctorCheck::fail(
            NAME,
            format!("{store}: a file store cannot hold traces (MLflow answers 501 to every trace)"),
            "run MLflow on a database: mlflow server --backend-store-uri sqlite:///path/mlflow.db (or postgresql://...); `mlflow migrate-filestore` moves existing runs",
        ),
        Some(store) => DoctorCheck::pass(NAME, format!("{store} (a database: holds traces)")),
        None => DoctorCheck::pass(NAME, "not reported by this server version; the test trace shows whether it holds traces"),
    }
}

/// The experiment traces go to: found (or to be created by name), and not deleted; its ID when it
/// exists. Changes nothing.
pub fn experiment(rest: &MlflowRest, wanted: &ExperimentRef) -> (DoctorCheck, Option<String>) {
    const NAME: &str = "experiment";
    let found = rest.find_experiment(wanted);
    let id = found.as_ref().ok().and_then(Option::as_ref).map(|e| text(e, "experiment_id"));
    let check = match found {
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
        Err(e @ RestError::Unauthenticated) => DoctorCheck::fail(NAME, e.to_string(), "see the credentials check"),
        Err(e @ RestError::Forbidden) => DoctorCheck::fail(
            NAME,
            format!("{e}: this user may not read the experiment"),
            "have an MLflow admin grant it READ, and EDIT to log traces",
        ),
        Err(e) => DoctorCheck::fail(NAME, e.to_string(), "check the experiment's ID or name"),
    };
    (check, id)
}

/// Whether this user may write traces (and the run) to the experiment: an empty OTLP request meets
/// MLflow's permission check (403) before its body is read (400, "no spans"), so nothing is
/// written. `experiment_id`: `None` when the plugin will create the experiment.
pub fn permission(
    rest: &MlflowRest,
    traces: &mut TraceEndpoint,
    experiment_id: Option<&str>,
    auth: &Auth,
) -> DoctorCheck {
    const NAME: &str = "permission";
    let Some(id) = experiment_id else {
        return DoctorCheck::pass(
            NAME,
            "the experiment is created at the first export, by this user, who may then write to it",
        );
    };
    traces.set_header("x-mlflow-experiment-id", id.to_string());
    let reply = traces.post(&[]);
    match reply.status {
        403 => {
            let user = match auth {
                Auth::Basic { username, .. } => Some(username.as_str()),
                _ => None,
            };
            let has = user
                .and_then(|u| rest.experiment_permission(u, id))
                .map_or(String::new(), |p| format!(" (its permission there: {p})"));
            let grant = match user {
                Some(u) => format!("have an MLflow admin grant EDIT: POST /api/3.0/mlflow/users/permissions/grant {{\"username\": \"{u}\", \"resource_type\": \"experiment\", \"resource_id\": \"{id}\", \"permission\": \"EDIT\"}}, or the experiment's Permissions in the MLflow UI"),
                None => "have an MLflow admin grant this identity EDIT on the experiment".into(),
            };
            DoctorCheck::fail(
                NAME,
                format!("{} may read experiment {id} but not write to it: POST /v1/traces answered 403{has}; the plugin needs EDIT to log traces and its run, and keeps traces spooled until then", auth.principal()),
                grant,
            )
        }
        401 => DoctorCheck::fail(NAME, "POST /v1/traces answered 401", "see the credentials check"),
        0 => DoctorCheck::fail(NAME, format!("POST /v1/traces: {}", reply.summary()), "see the checks above"),
        _ => DoctorCheck::pass(NAME, format!("{} may write traces to experiment {id}", auth.principal())),
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

/// The first line of a server's answer, fit for the report.
pub fn first_line(body: &str) -> String {
    crate::redact::server_text(body.lines().next().unwrap_or(""), 200)
}

#[cfg(test)]
mod tests {
    use super::*;

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
